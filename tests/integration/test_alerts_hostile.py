"""A receiver that hangs, refuses or answers one byte a second leaves PID 1's own work as
it was: reaping, signal forwarding and the output relay, measured against a baseline run
without any notifier, in the same test.

Each run has a program crashing in a loop (so alerts never stop coming and the courier is
always stuck on the bad receiver), a program printing numbered stamps, and one that
prints each signal it gets.  What is compared is what users see: every line relayed,
every signal forwarded, every exit reaped, and the median delay of each, which may grow
with the machine's noise but not with the receiver's hang (a bound of 3 x the baseline's
plus 50 ms, far below the courier's 2 s timeout that a blocking send would show).
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PYTHON, ROOT, wait_for
from tests.supervised import Supervised, seconds

RUN = 3.0  # seconds each run lasts
SIGNALS = 15  # SIGUSR1s sent during a run

STAMPER = """\
import sys, time
for n in range(10**6):
    print('stamp', n, time.time(), flush=True)
    time.sleep(0.02)
"""


class Slow:
    """Accepts, reads the request, then answers one byte a second."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        clients: list[socket.socket] = []
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
                clients.append(client)
            except OSError:
                pass
            for client in clients:
                try:
                    client.send(b"H")
                except OSError:
                    pass
            self.stop.wait(1.0)
        for client in clients:
            client.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def receivers() -> Iterator[dict[str, str]]:
    hang = socket.create_server(("127.0.0.1", 0))  # listens, never accepts: connects hang
    refuse = socket.socket()
    refuse.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    slow = Slow()
    yield {
        "hang": f"http://127.0.0.1:{hang.getsockname()[1]}/",
        "refuse": f"http://127.0.0.1:{refuse.getsockname()[1]}/",
        "slow": f"http://127.0.0.1:{slow.port}/",
    }
    slow.close()
    hang.close()
    refuse.close()


def measure(tmp_path: Path, url: str | None) -> dict[str, Any]:
    """One run; the delays of relaying, reaping and forwarding, and what was lost."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "stamper.py").write_text(STAMPER)
    ini = (
        "[program:crash]\ncommand=sh -c 'sleep 0.1; date +bye%%s.%%N; exit 1'\n"
        "startsecs=0\nbackoff_max=0.1\n"
        f"[program:stamper]\ncommand={PYTHON} {tmp_path}/stamper.py\n"
        f"[program:signals]\ncommand={PYTHON} {ROOT}/tests/bin/print_signals.py\n"
        "forward_signals=USR1\n"
    )
    if url is not None:
        ini += f"[notify:bad]\ntype=webhook\nurl={url}\ntimeout=2\nretries=100\nqueue=1000\n"
    run = Supervised(tmp_path, ini)
    try:
        run.wait_prefix("ready pid=")
        sent: list[float] = []
        end = time.time() + RUN
        while time.time() < end:
            if len(sent) < SIGNALS and time.time() >= end - RUN + len(sent) * RUN / SIGNALS:
                sent.append(time.time())
                os.kill(run.pid, signal.SIGUSR1)
            _read_for(run, 0.02)

        def forwarded() -> bool:
            _read_for(run, 0.05)
            return _lines(run, "signals") > len(sent)  # and the `ready` line

        wait_for(forwarded, 10)
        return _delays(run, sent)
    finally:
        run.close()


def _read_for(run: Supervised, wait: float) -> None:
    """Read the records that come within `wait` seconds, and no longer."""
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            run.next(max(0.001, end - time.monotonic()))
        except AssertionError:
            return


def _lines(run: Supervised, program: str) -> int:
    return sum(1 for r in run.records if r.get("program") == program and "stream" in r)


def _delays(run: Supervised, sent: list[float]) -> dict[str, Any]:
    records = run.records
    stamps = [r for r in records if r.get("program") == "stamper" and "stream" in r]
    numbers = [int(r["event"].split()[1]) for r in stamps]
    relay = [seconds(r["timestamp"]) - float(r["event"].split()[2]) for r in stamps]
    byes = [r for r in records if r.get("program") == "crash" and "stream" in r]
    exits = [r for r in records if r["event"] == "PROCESS_STATE_EXITED"]
    reap = [seconds(e["timestamp"]) - float(b["event"][3:]) for b, e in zip(byes, exits)]
    forwarded = [
        seconds(r["timestamp"]) - t
        for r, t in zip(
            [r for r in records if r.get("program") == "signals" and r["event"] == "10"], sent
        )
    ]
    return {
        "lost_stamps": numbers != list(range(len(numbers))),
        "stamps": len(numbers),
        "exits": len(exits),
        "forwarded": len(forwarded),
        "signals": len(sent),
        "relay": statistics.median(relay),
        "reap": statistics.median(reap),
        "forward": statistics.median(forwarded),
        "alerts": sum(1 for r in records if r["event"].startswith("ALERT_")),
    }


def test_bad_receivers_leave_reaping_signals_and_output_as_they_were(
    tmp_path: Path, receivers: dict[str, str]
) -> None:
    baseline = measure(tmp_path / "baseline", None)
    for mode, url in receivers.items():
        found = measure(tmp_path / mode, url)
        print(f"{mode}: {found}  (baseline {baseline})")
        assert found["alerts"] > 0, f"{mode}: no alert was even attempted"
        assert not found["lost_stamps"] and found["stamps"] >= baseline["stamps"] * 0.8, mode
        assert found["forwarded"] == found["signals"] == SIGNALS, mode
        assert found["exits"] >= baseline["exits"] * 0.7, mode
        for what in ("relay", "reap", "forward"):
            bound = 3 * baseline[what] + 0.05
            assert found[what] <= bound, f"{mode}: {what} {found[what]:.4f} s > {bound:.4f} s"

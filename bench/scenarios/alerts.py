"""Scenario 12, alerts: a program crashes; how long until a webhook receiver has the alert.

Three small Python programs, written to the scratch directory, run on the bench's
interpreter:

- the receiver (started by the harness, not supervised): a stdlib `http.server` on
  127.0.0.1, port 0 (it prints the port the kernel picked).  For each POST it reads the
  whole body, takes time.monotonic() (CLOCK_MONOTONIC: one clock for every process of the
  machine), answers 200 and prints the time and the body on one line, which the harness
  reads on a thread;
- the program `crash` (supervised): it opens a FIFO for reading, which blocks until the
  harness opens it for writing; on the harness's byte it appends its pid and its own
  time.monotonic() to a stamps file and exits 1 (an unexpected exit: exitcodes=0).
  autorestart=true and startsecs=0 on both systems, so each crash is a
  PROCESS_STATE_EXITED from RUNNING and a restart at once (initsup: backoff_max=0, so its
  crash-loop backoff does not stretch the run; it does not touch the figure);
- supervisord's listener: `[eventlistener:hook]` on PROCESS_STATE_EXITED, a
  `supervisor.childutils` listener that builds the webhook body initsup sends (the same
  keys, filled from the event's payload) and POSTs it with urllib, then answers OK.

initsup: `[notify:hook] type=webhook`, url= the receiver, events=PROCESS_STATE_EXITED;
every send is a fresh courier child (a Python of its own), so the first alert of a run
and the later ones are reported apart too.  supervisord: `supervisord -n -c FILE` with the
listener above; its loop wakes on a 1 s poll timeout (a SIGCHLD does not end the poll), so
its listener hears of an exit one or two such passes later: 1 or 2 s, seldom less.  tini
and dumb-init have no alerts at all: no row of theirs.

One run: the system starts; N times (full 20, tiny 3), once the system says the program
is RUNNING (initsup's PROCESS_STATE_RUNNING record, supervisord's `success: crash entered
RUNNING state`, both on their stdout), the harness writes the byte and waits for the POST
whose body names the pid that crashed.  Figure: the receiver's arrival time minus the
program's stamp, for every crash (the median over all runs), the 95th percentile of each
run, the first crash of each run and the later ones.  The system is stopped with SIGTERM,
and none of the run's processes may be left (found by the run's marker in their command
lines).
"""

from __future__ import annotations

import errno
import json
import os
import random
import shlex
import signal
import statistics
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

from bench.configs import Options, config_command, write_config
from bench.core import Figure, Medians, Sample, Target, Tools, bound_target
from bench.proc import check_gone, marked, snapshot, started, wait_for

CRASHES = {"full": 20, "tiny": 3}
ALERT_TARGET_MS = 50.0
TIMEOUT = 15.0  # seconds one step (a RUNNING, a POST) may take

RECEIVER = """\
import http.server, json, sys, time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.monotonic()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        try:
            text = json.dumps(json.loads(body))
        except ValueError:
            text = json.dumps(body.decode(errors="replace"))
        sys.stdout.write(f"{now!r} {text}\\n")
        sys.stdout.flush()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
sys.stdout.write(f"{server.server_address[1]}\\n")
sys.stdout.flush()
server.serve_forever()
"""

CRASHER = """\
import os, sys, time

fifo, stamps = sys.argv[1], sys.argv[2]  # argv[3]: the run's marker
with open(fifo, "rb") as told:  # blocks until the harness opens it to write
    told.read(1)
fd = os.open(stamps, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(fd, f"{os.getpid()} {time.monotonic()!r}\\n".encode())
os._exit(1)
"""

LISTENER = """\
import json, os, socket, sys, time, urllib.request
from supervisor import childutils

url = sys.argv[1]  # argv[2]: the run's marker
pod = {key: os.environ.get(var) for key, var in
       (("name", "POD_NAME"), ("namespace", "POD_NAMESPACE"), ("node", "NODE_NAME"),
        ("uid", "POD_UID"))}
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    fields = childutils.get_headers(payload)
    body = {
        "event": headers["eventname"], "program": fields["processname"],
        "group": fields["groupname"], "time": time.time(),
        "state": headers["eventname"].rpartition("_")[2], "from_state": fields["from_state"],
        "pid": int(fields["pid"]), "exit_code": None, "signal": None, "core_dumped": False,
        "expected": fields["expected"] == "1", "restarts": 0, "stderr_tail": "",
        "message": "", "detail": "", "hostname": socket.gethostname(), "pod": pod,
        "suppressed": 0, "firing": True,
    }
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except OSError as exc:
        sys.stderr.write(f"hook: {exc}\\n")
    childutils.listener.ok(sys.stdout)
"""

RUNNING = {
    "initsup": (b'"event":"PROCESS_STATE_RUNNING"', b'"program":"crash"'),
    "supervisord": (b"success: crash entered RUNNING state",),
}


class Alerts:
    name = "alerts"
    title = "Alerts"
    figures = (
        Figure("alert", "crash until the webhook receiver has the alert", "ms"),
        Figure("alert_p95", "the same, 95th percentile of a run", "ms"),
        Figure("first", "the same, the first crash of a run", "ms"),
        Figure("later", "the same, the later crashes", "ms"),
    )
    runs = {"full": 3, "tiny": 1}

    def describe(self) -> str:
        return (
            f"A program crashes {CRASHES['full']} times (exit 1, restarted at once): from its "
            "own stamp just before it exits until a local HTTP receiver has the POST naming "
            "its pid. initsup: `[notify:hook] type=webhook`; supervisord: an "
            "`[eventlistener:hook]` on PROCESS_STATE_EXITED, a childutils listener posting "
            "the same JSON with urllib. tini and dumb-init have no alerts (n/a)."
        )

    def systems(self, tools: Tools) -> list[str]:
        found = ["initsup"] if has_notifiers(tools) else []
        if "supervisord" not in tools.missing:
            found.append("supervisord")
        return found

    def run_once(self, system: str, size: str, tools: Tools) -> list[Sample]:
        delays = crash_and_wait(system, CRASHES[size], tools)
        ms = [delay * 1000 for delay in delays]
        samples = [Sample("alert", system, value) for value in ms]
        samples.append(Sample("alert_p95", system, p95(ms)))
        samples.append(Sample("first", system, ms[0]))
        samples += [Sample("later", system, value) for value in ms[1:]]
        return samples

    def targets(self, medians: Medians) -> list[Target]:
        return [bound_target("alert", medians, ALERT_TARGET_MS, "ms")]


def has_notifiers(tools: Tools) -> bool:
    """Whether the initsup measured sends alerts (its courier is there)."""
    return (tools.root / "initsup" / "alerts" / "courier.py").exists()


def p95(values: list[float]) -> float:
    """The 95th percentile (statistics' default method; the largest of fewer than 20)."""
    if len(values) < 20:
        return max(values)
    return statistics.quantiles(values, n=20)[-1]


def crash_and_wait(system: str, count: int, tools: Tools) -> list[float]:
    """Run the system with the crashing program; seconds from each crash to its alert."""
    scratch, run = tools.scratch, f"1000.{random.randrange(10**8, 10**9)}"
    fifo, stamps = scratch / "crash.fifo", scratch / "crash.stamps"
    for leftover in (fifo, stamps, scratch / "supervisord.log", scratch / "supervisord.pid"):
        leftover.unlink(missing_ok=True)
    os.mkfifo(fifo)
    receiver_script = scratch / "receiver.py"
    receiver_script.write_text(RECEIVER)
    receive = [tools.python, str(receiver_script), run]
    with started(receive, env=tools.env(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) as rp:
        receiver = Receiver(rp)
        url = f"http://127.0.0.1:{receiver.port}/alerts"
        config = write_files(system, tools, url, fifo, stamps, run)
        command = config_command(system, tools, config)
        with started(
            command,
            env=tools.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as proc:
            assert proc.stdout is not None
            watch = Watch(proc.stdout, RUNNING[system])
            delays = []
            for n in range(count):
                watch.wait(n + 1, proc, f"{system}: the program RUNNING ({n + 1})")
                pid, crashed = crash(fifo, stamps, n)
                arrived = receiver.wait(pid, f"{system}: the alert of pid {pid}")
                delays.append(arrived - crashed)
            tree = {**marked(run), **snapshot(proc.pid), **snapshot(rp.pid)}
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    check_gone(tree, f"{system}, {run!r}")
    watch.join(10)
    receiver.join(10)
    return delays


def write_files(system: str, tools: Tools, url: str, fifo: Path, stamps: Path, run: str) -> Path:
    """The crashing program (and supervisord's listener) in scratch; the system's config."""
    scratch = tools.scratch
    crasher = scratch / "crash.py"
    crasher.write_text(CRASHER)
    program: Options = {
        "command": shlex.join([tools.python, str(crasher), str(fifo), str(stamps), run]),
        "startsecs": "0",
        "autorestart": "true",
        "stdout_logfile": "NONE",
        "stderr_logfile": "NONE",
    }
    if system == "initsup":
        program["backoff_max"] = "0"
        hook = {"type": "webhook", "url": url, "events": "PROCESS_STATE_EXITED"}
        return write_config(system, scratch, {"crash": program}, more={"notify:hook": hook})
    listener = scratch / "hook.py"
    listener.write_text(LISTENER)
    listeners = {
        "hook": {
            "command": shlex.join([tools.python, str(listener), url, run]),
            "events": "PROCESS_STATE_EXITED",
            "stderr_logfile": str(scratch / "hook.stderr"),
        }
    }
    return write_config(system, scratch, {"crash": program}, listeners)


def crash(fifo: Path, stamps: Path, n: int) -> tuple[int, float]:
    """Tell the program to crash; its pid and its stamp (the nth line of the stamps)."""
    fd = wait_for(lambda: _open_writer(fifo), TIMEOUT, "the program to open its FIFO")
    assert fd is not None
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)
    lines = wait_for(lambda: _lines(stamps, n + 1), TIMEOUT, "the program's stamp")
    pid, stamp = lines[n].split()
    return int(pid), float(stamp)


def _open_writer(fifo: Path) -> int | None:
    """The FIFO opened to write once the program has it open to read, else None."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no reader yet
            return None
        raise


def _lines(path: Path, at_least: int) -> list[str]:
    """The complete lines of path, once there are at_least of them."""
    try:
        lines = path.read_text().split("\n")[:-1]
    except FileNotFoundError:
        return []
    return lines if len(lines) >= at_least else []


class Watch:
    """A system's stdout drained on a thread, counting the lines that hold every pattern."""

    def __init__(self, stream: IO[bytes], patterns: tuple[bytes, ...]) -> None:
        self.count = 0
        self.last: deque[bytes] = deque(maxlen=5)
        self._stream, self._patterns = stream, patterns
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._stream:
            with self._changed:
                self.last.append(line)
                if all(pattern in line for pattern in self._patterns):
                    self.count += 1
                    self._changed.notify_all()

    def wait(self, count: int, proc: subprocess.Popen[bytes], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        with self._changed:
            while self.count < count:
                left = deadline - time.monotonic()
                if left <= 0 or proc.poll() is not None:
                    tail = b"".join(self.last).decode(errors="replace")
                    raise TimeoutError(f"not within {TIMEOUT:g} s: {what}; last output: {tail}")
                self._changed.wait(min(left, 0.5))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        self._stream.close()


class Receiver:
    """The receiver child's port, and each POST's arrival time by the pid its body names."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._stream = proc.stdout
        self.port = int(self._stream.readline() or b"0")
        if not self.port:
            raise RuntimeError("the receiver did not start")
        self.arrivals: dict[int, float] = {}
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._stream:
            arrived, _, text = line.decode().partition(" ")
            for body in _alerts(json.loads(text)):
                pid = body.get("pid")
                if isinstance(pid, int):
                    with self._changed:
                        self.arrivals.setdefault(pid, float(arrived))
                        self._changed.notify_all()

    def wait(self, pid: int, what: str) -> float:
        with self._changed:
            if not self._changed.wait_for(lambda: pid in self.arrivals, TIMEOUT):
                raise TimeoutError(f"not within {TIMEOUT:g} s: {what}")
            return self.arrivals[pid]

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        self._stream.close()


def _alerts(body: Any) -> list[dict[str, Any]]:
    """The alerts of one webhook body: the body itself, or each of a batch's."""
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if isinstance(body, dict) and isinstance(body.get("alerts"), list):
        return _alerts(body["alerts"])
    return [body] if isinstance(body, dict) else []


SCENARIO = Alerts()

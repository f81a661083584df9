"""A real Supervisor driven inside the pytest process, one pass of its loop at a time.

Why in-process: shutdown tiers, exit codes, reloads and backoff are the supervisor's own
decisions.  Through the real binary they take seconds of real time and are seen only from
outside; here a story holds the clock (a FakeClock: a timer fires only when the story
advances time), delivers signals as the loop does (recorded by the receiver, so the loop
calls its on_signal hook), and reads what initsup writes from a real pipe, one JSON record
per line.  Programs are real child processes, kept quick (`sh -c 'exit 3'`, `sleep 30`
stopped by SIGTERM).

Why a second thread: `Supervisor.run()` owns the loop until shutdown, and a story acts
between passes.  So run() runs on a thread of its own, whose loop (ScenarioLoop) serves
one pass each time the story asks and then waits for the next request.  Only one of the
two threads runs at any moment: the story reads the supervisor's state only while the
loop waits, and nothing is shared while it changes.

Why SIGCHLD before every pass: the pytest process catches no signal (a story must not
change its signal state), so the loop would never hear of a child's end.  Recording
SIGCHLD before each pass makes the loop reap, with `waitpid(-1)`, as it does after a
real one.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from initsup import config
from initsup.config.reader import Loader
from initsup.loop import EventLoop
from initsup.model import Config
from initsup.output import OutputWriter
from initsup.signals import InheritedSignals, SignalReceiver
from initsup.spawn import Spawner
from initsup.supervisor import Supervisor
from tests.fakes import FakeClock
from tests.supervised import VALIDATOR

Record = dict[str, Any]
TURN_TIMEOUT = 10.0  # real seconds one pass may take before the story gives up on it
POLL = 0.01  # real seconds a waiting pass may block for output or a child's end


class StorySignals(SignalReceiver):
    """The loop's signal receiver, with no handler and no wakeup fd of the process's: the
    signals are those the story records, and the pytest process's own signal state is
    never touched."""

    def __init__(self) -> None:  # not super().__init__(): it would take set_wakeup_fd
        self._fds = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def record(self, signum: int) -> None:
        """What CPython's C-level handler does when signum arrives: its number, in the pipe."""
        os.write(self._fds[1], bytes([signum]))

    def fileno(self) -> int:
        return self._fds[0]

    def take(self) -> list[int]:
        try:
            return list(os.read(self._fds[0], 65536))
        except BlockingIOError:
            return []

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)


class _Abandon(BaseException):
    """Ends a run the story gave up on (a BaseException: the loop's guard lets it by)."""


class ScenarioLoop(EventLoop):
    """An EventLoop whose run() serves the passes a story asks for, one at a time."""

    def __init__(self, signals: StorySignals, clock: FakeClock) -> None:
        super().__init__(signals, on_error=_unowned_error, clock=clock)
        self.turns: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.ready: queue.SimpleQueue[str] = queue.SimpleQueue()  # "turn" or "ended"
        self.failure: Exception | None = None  # the story's own code failed in a turn
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True
        super().stop()

    def run(self) -> None:
        """Serve one turn each time the story asks (Scenario.turn), until stop()."""
        while not self.stopped:
            self.ready.put("turn")
            turn = self.turns.get()
            try:
                turn()
            except Exception as exc:
                self.failure = exc


class RecordingSpawner(Spawner):
    """The real Spawner, keeping every pid it started (the story reaps what is left)."""

    def __init__(self) -> None:
        super().__init__(InheritedSignals.capture(), frozenset(), frozenset())
        self.pids: list[int] = []

    def spawn(self, argv: Sequence[str], env: Mapping[str, str], **kwargs: Any) -> int:
        pid = super().spawn(argv, env, **kwargs)
        self.pids.append(pid)
        return pid


class Scenario:
    """initsup's supervisor on an INI text, a fake clock and a pipe, told what happens."""

    def __init__(self, tmp_path: Path, ini: str, main: list[str] | None = None) -> None:
        self.path = tmp_path / "initsup.ini"
        self.path.write_text(ini)
        self._main = main
        loaded = self.load()  # first: a bad configuration leaves nothing open
        self.clock = FakeClock(1000.0)
        self.signals = StorySignals()
        self.loop = ScenarioLoop(self.signals, self.clock)
        self._read_fd, write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self._write_fd = write_fd
        self.writer = OutputWriter(self.loop, write_fd)
        self.spawner = RecordingSpawner()
        self.loaders: list[Loader] = []
        self.supervisor = Supervisor(
            loaded, self.loop, self.writer, self.writer, self.spawner, self._reloader
        )
        self.records: list[Record] = []
        self._partial = b""
        self._thread: threading.Thread | None = None
        self.exit_code: int | None = None
        self._crash: BaseException | None = None
        self.ended = False

    # -- given ---------------------------------------------------------------------------

    def load(self) -> Config:
        """The configuration file as it is now (no environment: INITSUP_* stay out)."""
        loaded, _ = config.load(str(self.path), {}, self._main)
        loaded.options.log_format = "json"
        return loaded

    def _reloader(self) -> Loader:
        # A real reader child, reaped by the loop like the real one; the file itself is
        # read here, in the parent, so the story does not depend on how the model is
        # marshalled across the pipe.
        loader = Loader(lambda: b"read", lambda _: (self.load(), []))
        self.loaders.append(loader)
        return loader

    def start(self) -> Scenario:
        """Supervisor.run(): add the groups, start the autostart programs, serve."""
        self._thread = threading.Thread(target=self._serve, name="initsup", daemon=True)
        self._thread.start()
        self._await_turn()
        return self

    def _serve(self) -> None:
        try:
            self.exit_code = self.supervisor.run()
        except BaseException as exc:
            self._crash = exc
        finally:
            self.loop.ready.put("ended")

    # -- when ----------------------------------------------------------------------------

    def turn(self, action: Callable[[], None]) -> None:
        """Run action on the loop's thread, between passes (here, once the run ended)."""
        if self.ended or self._thread is None:
            action()
        else:
            self.loop.turns.put(action)
            self._await_turn()
        self._read_output()

    def _await_turn(self) -> None:
        try:
            said = self.loop.ready.get(timeout=TURN_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"a pass took over {TURN_TIMEOUT} s") from None
        if said == "ended":
            self.ended = True
            if self._thread is not None:
                self._thread.join(TURN_TIMEOUT)
        self._read_output()
        failure, self.loop.failure = self.loop.failure, None
        if failure is not None:
            raise failure
        if self._crash is not None and not isinstance(self._crash, _Abandon):
            raise AssertionError("Supervisor.run() raised") from self._crash

    def step(self, wait: float = 0.0) -> None:
        """One pass of the loop: reap (as after a SIGCHLD), serve ready fds, due timers;
        then, given a wait, a pass that waits up to that long for output first."""

        def one_pass() -> None:
            self.signals.record(signal.SIGCHLD)
            self.loop.run_once(0)
            if wait:
                self.loop.run_once(wait)

        self.turn(one_pass)

    def signal(self, signum: int) -> None:
        """signum arrives: the loop takes it from the receiver and calls on_signal."""

        def deliver() -> None:
            self.signals.record(signum)
            self.loop.run_once(0)

        self.turn(deliver)

    def advance(self, seconds: float) -> None:
        """Let seconds pass on the clock, running each timer at its own deadline."""
        target = self.clock.now + seconds
        while not self.ended:
            deadline = self._next_deadline()
            if deadline is None or deadline > target + 1e-9:
                break
            self.clock.now = max(self.clock.now, deadline)
            self.step()
        self.clock.now = max(self.clock.now, target)
        self.step()

    def _next_deadline(self) -> float | None:
        found: list[float | None] = []
        self.turn(lambda: found.append(self.loop.next_timeout()))
        timeout = found[0]
        return None if timeout is None else self.clock.now + timeout

    def until(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        """Serve passes until predicate() holds; fail after timeout real seconds."""
        give_up = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > give_up:
                events = [(r["event"], r.get("program")) for r in self.records]
                raise AssertionError(f"not reached in {timeout} s; records: {events}")
            self.step(POLL)

    def until_record(self, event: str, timeout: float = 5.0, **fields: Any) -> Record:
        """The first record of event with fields, serving passes until it comes."""
        self.until(lambda: self.find(event, **fields), timeout)
        found = self.find(event, **fields)
        assert found is not None
        return found

    def finish(self, timeout: float = 5.0) -> int:
        """Serve passes until run() returns; its exit code."""
        self.until(lambda: self.ended, timeout)
        assert self.exit_code is not None
        return self.exit_code

    def kill(self, program: str, signum: int) -> None:
        """Something outside initsup sends signum to a program's process."""
        os.kill(self.pid(program), signum)

    # -- then ----------------------------------------------------------------------------

    def find(self, event: str, **fields: Any) -> Record | None:
        """The first record of event whose fields have these values."""
        for record in self.records:
            if record["event"] == event and all(record.get(k) == v for k, v in fields.items()):
                return record
        return None

    def events(self, program: str) -> list[str]:
        """The names of a program's state events, in order."""
        return [
            r["event"]
            for r in self.records
            if r.get("program") == program and r["event"].startswith("PROCESS_STATE_")
        ]

    def transitions(self, *states: str) -> list[tuple[str, str]]:
        """(STATE, program) of every state event into one of states, in order."""
        wanted = {f"PROCESS_STATE_{s}" for s in states}
        return [(r["event"][14:], r["program"]) for r in self.records if r["event"] in wanted]

    def state(self, program: str) -> str:
        """The state a program's process is in now (its group is its name unless given)."""
        key = program if ":" in program else f"{program}:{program}"
        return self.supervisor.processes[key].state.name

    def pid(self, program: str) -> int:
        key = program if ":" in program else f"{program}:{program}"
        return self.supervisor.processes[key].pid

    def _read_output(self) -> None:
        while True:
            try:
                chunk = os.read(self._read_fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            for line in lines:
                record: Record = json.loads(line)
                VALIDATOR.validate(record)
                self.records.append(record)

    # -- after ---------------------------------------------------------------------------

    def close(self) -> list[str]:
        """End the run (by force if the story left it running), kill and reap what is left,
        close every fd; what went wrong on the way, for the fixture to report."""
        problems: list[str] = []
        if self._thread is not None and not self.ended:
            self._stop_run(problems)
        for pid in self.spawner.pids + [loader.pid for loader in self.loaders]:
            if _reap_now(pid):
                problems.append(f"pid {pid} was left running (or unreaped)")
        for loader in self.loaders:
            loader.close()
        self.supervisor.close()
        self.writer.close()
        self.loop.close()
        self.signals.close()
        os.close(self._write_fd)
        self._read_output()
        os.close(self._read_fd)
        errors = [r["event"] for r in self.records if r["event"].startswith("internal error")]
        return problems + errors

    def _stop_run(self, problems: list[str]) -> None:
        try:
            self.signal(signal.SIGTERM)
            if not self.ended:
                self.signal(signal.SIGTERM)  # the second one kills what is left
            self.finish()
        except AssertionError as exc:
            problems.append(f"the run did not end: {exc}")
            self.loop.turns.put(_abandon)
            self._await_turn()


def _abandon() -> None:
    raise _Abandon


def _reap_now(pid: int) -> bool:
    """Kill pid if it is still ours and reap it; whether it was still there."""
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return True  # a zombie nobody reaped
    except ChildProcessError:
        return False  # reaped already: the normal case
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return True


def _unowned_error(where: str, exc: BaseException) -> None:
    raise AssertionError(f"the loop failed in {where} before the Supervisor took it") from exc

"""One supervised process: supervisord's state machine, driven by deadlines instead of a tick.

The process never touches the OS itself.  It asks its host to spawn, to send signals, to
run something later and to publish events; the supervisor is the real host and the unit
tests use a fake one.  That keeps this file the whole behaviour, top to bottom:

    start   STOPPED/EXITED/FATAL/BACKOFF -> STARTING -> (startsecs pass) -> RUNNING
            a spawn error or an exit within startsecs -> BACKOFF, retried after 1, 2, 3 s...
            -> FATAL once startretries is used up
    exit    RUNNING -> EXITED, then restarted per autorestart: at once the first time,
            then after 1, 2, 4... s capped at backoff_max (initsup's addition: supervisord
            restarts a crash-looping program forever without delay)
    give up an automatic restart (either path above) that would be one more than
            max_tries within max_tries_window seconds (or than max_tries_if_coredumped,
            counting restarts after ends that dumped core) -> FATAL instead, from
            EXITED or BACKOFF (meetbill/supervise's policy; EXITED -> FATAL is initsup's)
    stop    STARTING/RUNNING -> STOPPING (stopsignal) -> SIGKILL after stopwaitsecs
            -> STOPPED;  BACKOFF -> STOPPED

Every transition goes through `_change`, which checks it against `states.ALLOWED_FROM`,
publishes the event with supervisord's payload, and logs-and-ignores an impossible one.
"""

from __future__ import annotations

from collections.abc import Callable

from initsup import events, exits
from initsup.loop import Timer
from initsup.model import ProcessConfig
from initsup.signals import signal, signal_name
from initsup.states import SIGNALLABLE_STATES, ProcessState, allowed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from initsup.health.facts import Facts

    class Host(Protocol):
        """What a process needs from whoever runs it."""

        def now(self) -> float: ...
        def wall(self) -> float: ...
        def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...
        def spawn(self, process: Process) -> int: ...
        def send(self, pid: int, signum: int, to_group: bool) -> None: ...
        def publish(self, event: events.Event) -> None: ...
        def log(self, level: str, message: str, **fields: Any) -> None: ...
        def changed(self, process: Process) -> None: ...
        @property
        def shutting_down(self) -> bool: ...


S = ProcessState
TOO_QUICK = "Exited too quickly (process log may have details)"


class SpawnFailed(Exception):
    """The host could not start the process; `description` is supervisord's spawnerr."""

    def __init__(self, description: str, exit_code: int) -> None:
        super().__init__(description)
        self.description = description
        self.exit_code = exit_code


def backoff(restarts: int, cap: float) -> float:
    """The delay before the restart-th automatic restart in a row: at once, then 1, 2,
    4... s, capped.  2.0 ** n overflows at n = 1024 (after ~17 h of flapping, or 1 s
    with backoff_max=0); past 2 ** 64 s the cap has long been reached anyway."""
    if restarts <= 1:
        return 0.0
    return min(cap, 2.0 ** min(restarts - 2, 64))


def _unexpected(name: str, exc: Exception) -> SpawnFailed:
    return SpawnFailed(f"couldn't spawn {name}: {type(exc).__name__}: {exc}", 126)


class Process:
    """One process of a program, and everything supervisord tracks about it."""

    def __init__(self, config: ProcessConfig, host: Host) -> None:
        self.config = config
        self.host = host
        self.state = S.STOPPED
        self.pid = 0
        self.backoff = 0  # supervisord's `tries`: failed starts in a row
        self.crashes = 0  # restarts after RUNNING in a row (initsup's backoff)
        self.spawnerr = ""
        self.exit_code: int | None = None  # shell view of the last end: code or 128+sig
        self.exitstatus = 0  # supervisord's: the exit code, -1 for a signal
        self.started_at = 0.0  # host.now() of the last spawn
        self.running_at = 0.0
        self.start_wall = 0.0  # wall-clock times, for status displays
        self.stop_wall = 0.0
        self.killed = False  # SIGKILL was needed to stop it
        self.restarts = 0  # automatic restarts so far (autorestart, BACKOFF retries)
        self.spawns = 0  # every spawn that got a pid, by hand or automatic (for /metrics)
        self.last_signal = 0  # the signal of the last end; 0: an exit, or a failed start
        self.last_core_dumped = False  # whether the last end dumped core
        # host.now() of the automatic restarts within max_tries_window: all of them, and
        # those after an end that dumped core (the give-up policy's history)
        self._restarted_at: list[float] = []
        self._dumped_at: list[float] = []
        self._will_restart = False
        self._timer: Timer | None = None
        # Its health and readiness (initsup.health), when it has a check, notify= or
        # dependencies; None: RUNNING is ready, and that is all there is to know.
        self.facts: Facts | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def group(self) -> str:
        return self.config.group

    @property
    def namespec(self) -> str:
        """`name` when the group has the program's own name, else `group:name`
        (supervisorctl's way of naming a process)."""
        return self.name if self.group == self.name else f"{self.group}:{self.name}"

    @property
    def ended_for_good(self) -> bool:
        """FATAL, or EXITED with no restart coming: what makes an essential program end all."""
        return self.state == S.FATAL or (self.state == S.EXITED and not self._will_restart)

    # -- requests ----------------------------------------------------------------------

    def start(self) -> bool:
        """Start the process if it is not running; False if it already was."""
        if self.state not in (S.STOPPED, S.EXITED, S.FATAL, S.BACKOFF):
            return False
        if self.state != S.BACKOFF:
            self.backoff = 0
            self._restarted_at.clear()  # any start but a restart counts afresh (max_tries)
            self._dumped_at.clear()
        self._spawn()
        return True

    def stop(self) -> bool:
        """Ask the process to stop; False if it was not running (nothing to do).

        A process waiting in BACKOFF is STOPPED, never FATAL, for a shutdown too
        (supervisord's stop_all gives it up, FATAL: a listener watching FATAL would then
        report every ordinary `docker stop` of a container whose program was retrying).
        """
        if self.state in (S.STARTING, S.RUNNING) and self.pid <= 0:
            self._lost(self.pid, stopped=True)  # nothing to signal: pid 0 is our own group
            return True
        if self.state in (S.STARTING, S.RUNNING):
            self._cancel_timer()
            pid = self.pid
            self._change(S.STOPPING, pid=pid, message=self._stopping_message())
            self.host.send(pid, self.config.stopsignal, self.config.stopasgroup)
            self._timer = self.host.call_later(self.config.stopwaitsecs, self._kill)
            return True
        if self.state == S.BACKOFF:
            self._cancel_timer()
            self._change(S.STOPPED, message=f"stopped: {self.name} (while in BACKOFF)")
            return True
        if self.state == S.EXITED and self._timer is not None:
            self._cancel_timer()  # a restart was pending: call it off
            self._will_restart = False
            self.host.log("info", f"{self.name}: pending restart cancelled", program=self.name)
        return False

    def kill_now(self) -> None:
        """SIGKILL at once (a second shutdown request does not wait for stopwaitsecs)."""
        if self.state in (S.STARTING, S.RUNNING):
            self.stop()
        if self.state == S.STOPPING:
            self._cancel_timer()
            self._kill()

    def signal(self, signum: int) -> bool:
        """Send signum to the running process; False if it has no pid."""
        if self.state not in SIGNALLABLE_STATES:
            return False
        self.host.send(self.pid, signum, False)
        return True

    # -- what happens to it ------------------------------------------------------------

    def exited(self, status: int) -> None:
        """The host reaped our pid with this wait status."""
        pid, self.pid = self.pid, 0
        try:
            self._exited(pid, status)
        finally:
            # Whatever went wrong on the way, a process with no pid is not running: left
            # RUNNING with pid 0 it would never restart, and a stop would signal pid 0.
            if self.pid == 0 and self.state in (S.STARTING, S.RUNNING, S.STOPPING):
                self._lost(pid)

    def _exited(self, pid: int, status: int) -> None:
        now = self.host.now()
        self.stop_wall = self.host.wall()
        self._cancel_timer()
        end = exits.decode(status)
        self.exitstatus = end.exitstatus
        self.exit_code = end.code
        self.last_signal = end.signum
        self.last_core_dumped = end.core_dumped
        how = end.words
        extra = end.fields()
        if self.state == S.STOPPING:  # STOPPING -> STOPPED: the end of a stop we asked for
            level = "warning" if self.killed else "info"
            message = f"stopped: {self.name} ({how})"
            self._change(S.STOPPED, pid=pid, level=level, extra=extra, message=message)
        elif self.state == S.STARTING and now - self.started_at < self.config.startsecs:
            self.spawnerr = TOO_QUICK  # STARTING -> BACKOFF: whatever the exit code
            self._enter_backoff(f"exited: {self.name} ({how}; not expected)", extra)
        else:
            self._exited_after_running(pid, how, extra, now)

    def _exited_after_running(
        self, pid: int, how: str, extra: dict[str, object], now: float
    ) -> None:
        """RUNNING -> EXITED, then the restart autorestart and the backoff ask for."""
        self.backoff = 0
        if self.state == S.STARTING:  # startsecs=0, or the deadline not yet run
            self._running(pid)
        expected = self.exitstatus in self.config.exitcodes
        delay = self._restart_delay(expected, now)
        refused = None if delay is None else self._refused(delay)
        self._will_restart = delay is not None  # until FATAL says otherwise, just below
        word = "expected" if expected else "not expected"
        self._change(
            S.EXITED,
            pid=pid,
            expected=expected,
            extra=extra,
            level="info" if expected else "warning",
            message=f"exited: {self.name} ({how}; {word})",
        )
        if delay is None or self.state != S.EXITED:
            return
        if refused is not None:
            self._give_up(refused)
            return
        if delay <= 0:
            self._respawn()
            return
        self.host.log(
            "info",
            f"{self.name}: restarting in {delay:g} s (ended {self.crashes} times in a row)",
            program=self.name,
            delay=delay,
        )
        self._timer = self.host.call_later(delay, self._restart)

    def _restart_delay(self, expected: bool, now: float) -> float | None:
        """Seconds until the automatic restart, or None when autorestart says no."""
        policy = self.config.autorestart
        if policy == "false" or (policy == "unexpected" and expected) or self.host.shutting_down:
            return None
        if now - self.running_at >= self.config.backoff_reset:
            self.crashes = 0
        self.crashes += 1
        return backoff(self.crashes, self.config.backoff_max)

    def _restart(self) -> None:
        self._timer = None
        self._will_restart = False
        if self.state == S.EXITED and not self.host.shutting_down:
            self._respawn()

    def _refused(self, delay: float) -> tuple[str, str] | None:
        """Whether the give-up policy refuses the automatic restart the last end asks for,
        due in delay seconds: (the key that refused it, why in words), or None.

        Restarts are counted when they are spawned (_respawn), and the one due at T is
        refused when N came within the max_tries_window seconds up to T: so no window
        ever holds more than N of them, at most 1 + N spawns.  A limit on ends that
        dumped core is the more telling reason, so it is asked first.
        """
        config = self.config
        window = config.max_tries_window
        now = self.host.now()
        # Forget only what no later restart can share a window with: the restart due at
        # `due` may still come sooner (a start by hand from BACKOFF, then an exit).
        self._restarted_at = [t for t in self._restarted_at if now - t < window]
        self._dumped_at = [t for t in self._dumped_at if now - t < window]
        due = now + delay
        restarts = sum(1 for t in self._restarted_at if due - t < window)
        dumps = sum(1 for t in self._dumped_at if due - t < window)
        most = config.max_tries_if_coredumped
        if self.last_core_dumped and 0 < most <= dumps:
            return "max_tries_if_coredumped", (
                f"{dumps + 1} exits that dumped core within {window:g} s"
                f" (max_tries_if_coredumped={most})"
            )
        if 0 < config.max_tries <= restarts:
            return "max_tries", (
                f"{restarts + 1} restarts within {window:g} s (max_tries={config.max_tries})"
            )
        return None

    # -- the steps -------------------------------------------------------------------

    def _spawn(self) -> None:
        self._cancel_timer()
        self.killed = False
        self.spawnerr = ""
        self.started_at = self.host.now()
        self.start_wall = self.host.wall()
        self._will_restart = False
        try:
            pid = self.host.spawn(self)
            if pid <= 0:  # never a pid to track: signalling it would reach initsup's group
                raise ValueError(f"the spawn returned pid {pid}")
        except Exception as exc:  # SpawnFailed, or a host's bug: a failed start either way
            failed = exc if isinstance(exc, SpawnFailed) else _unexpected(self.name, exc)
            self._spawn_failed(failed)
            return
        self.pid = pid
        self.spawns += 1
        self._change(
            S.STARTING,
            tries=self.backoff,
            extra={"pid": pid},
            message=f"spawned: '{self.name}' with pid {pid}",
        )
        self._timer = self.host.call_later(self.config.startsecs, self._started)

    def _respawn(self) -> None:
        """An automatic restart (autorestart, or a BACKOFF retry), counted, and kept for
        the give-up policy (after an end that dumped core: for its core limit too)."""
        self.restarts += 1
        now = self.host.now()
        if self.config.max_tries:
            self._restarted_at.append(now)
        if self.last_core_dumped and self.config.max_tries_if_coredumped:
            self._dumped_at.append(now)
        self._spawn()

    def _spawn_failed(self, exc: SpawnFailed) -> None:
        self.spawnerr = exc.description
        self.exit_code = exc.exit_code
        self.last_signal = 0  # this end was a failed start: no signal, no core
        self.last_core_dumped = False
        self._change(S.STARTING, tries=self.backoff, message=f"spawnerr: {exc.description}")
        self._enter_backoff(f"spawnerr: {exc.description}", {})

    def _started(self) -> None:
        self._timer = None
        if self.state == S.STARTING:
            self.backoff = 0
            self._running(self.pid)

    def _running(self, pid: int) -> None:
        self.running_at = self.host.now()
        secs = self.config.startsecs
        self._change(
            S.RUNNING,
            pid=pid,
            message=f"success: {self.name} entered RUNNING state, process has stayed "
            f"up for > than {secs:g} seconds (startsecs)",
        )

    def _enter_backoff(self, message: str, extra: dict[str, object]) -> None:
        self.backoff += 1
        self._change(S.BACKOFF, tries=self.backoff, level="warning", extra=extra, message=message)
        if self.backoff > self.config.startretries:  # supervisord's limit applies first
            self._give_up()
            return
        refused = None if self.host.shutting_down else self._refused(float(self.backoff))
        if refused is not None:
            self._give_up(refused)
        else:
            self._timer = self.host.call_later(float(self.backoff), self._retry)

    def _retry(self) -> None:
        self._timer = None
        if self.state == S.BACKOFF and not self.host.shutting_down:
            self._respawn()

    def _give_up(self, refused: tuple[str, str] | None = None) -> None:
        """FATAL: startretries used up (refused None), or the give-up policy's refusal."""
        self._cancel_timer()
        self.backoff = 0
        self._will_restart = False
        why = "too many start retries too quickly" if refused is None else refused[1]
        if refused is not None:  # what `ctl status` and getProcessInfo say of this FATAL
            self.spawnerr = refused[1]
        self._change(
            S.FATAL,
            level="error",
            extra=None if refused is None else {"gave_up": refused[0]},
            message=f"gave up: {self.name} entered FATAL state, {why}",
        )

    def _lost(self, pid: int, stopped: bool = False) -> None:
        """End up STOPPED or EXITED after an error left a live state with no pid."""
        self._cancel_timer()
        was = self.state
        self.state = S.STOPPED if stopped or was == S.STOPPING else S.EXITED
        self._will_restart = False
        self.host.log(
            "error",
            f"{self.name}: {was.name} with no pid after an internal error; "
            f"now {self.state.name} (start it again by hand)",
            program=self.name,
            pid=pid,
        )
        self.host.changed(self)

    def _kill(self) -> None:
        self._timer = None
        if self.state != S.STOPPING or not self.pid:
            return
        self.killed = True
        self.host.log(
            "warning",
            f"killing '{self.name}' ({self.pid}) with SIGKILL",
            program=self.name,
            pid=self.pid,
        )
        self.host.send(self.pid, signal.SIGKILL, self.config.killasgroup)

    def _stopping_message(self) -> str:
        target = "process group" if self.config.stopasgroup else "pid"
        return (
            f"stopping: {self.name} with {signal_name(self.config.stopsignal)} to {target} "
            f"{self.pid}, SIGKILL after {self.config.stopwaitsecs:g} s"
        )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _change(
        self,
        to_state: ProcessState,
        *,
        message: str,
        tries: int = 0,
        pid: int = 0,
        expected: bool = False,
        extra: dict[str, object] | None = None,
        level: str = "info",
    ) -> None:
        old = self.state
        if not allowed(old, to_state):
            self.host.log(
                "error",
                f"{self.name}: impossible transition {old.name} -> {to_state.name} ignored",
                program=self.name,
            )
            return
        self.state = to_state
        fields: dict[str, Any] = {"message": message}
        fields.update(extra or {})
        self.host.publish(
            events.process_state(
                to_state,
                self.name,
                self.group,
                old,
                tries=tries,
                pid=pid,
                expected=expected,
                extra=fields,
                level=level,
            )
        )
        self.host.changed(self)

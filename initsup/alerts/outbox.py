"""One notifier's sends: a bounded queue, a rate limit, one courier at a time, retries.

PID 1 never touches the network for an alert.  Each send is a job (a JSON object) that a
courier child (courier.py) carries out with blocking stdlib calls; the loop only writes
the job to the child's stdin, reads its one reply line and reaps it through
reaper.Owners.  A courier that overstays its job's timeout (by courier.OVERSTAY) is killed.  A
failed send that is worth another attempt is retried after 1, 2, 4... s (capped at
MAX_BACKOFF), `retries` times; the queue holds at most `queue` sends, the oldest dropped
past it.  Every send ends in one JSON record: ALERT_SENT, ALERT_FAILED (with retry_in
while attempts remain) or ALERT_DROPPED.
"""

from __future__ import annotations

import os
from collections import deque

from initsup import events
from initsup.alerts import courier
from initsup.signals import send as send_signal
from initsup.signals import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from initsup.alerts.formats import Format, Job
    from initsup.children import Children
    from initsup.loop import EventLoop, Timer
    from initsup.model_notify import NotifierConfig
    from initsup.reaper import Owners

    class Host(Protocol):
        """What an outbox needs from the supervisor."""

        loop: EventLoop
        owners: Owners
        children: Children  # start_helper(): the courier's start

        def publish(self, event: events.Event) -> None: ...


MAX_BACKOFF = 60.0
READ_SIZE = 65536


class Send:
    """One job and what it is about (for its records), with its attempts so far."""

    __slots__ = ("about", "attempt", "job")

    def __init__(self, job: Job, about: dict[str, Any]) -> None:
        self.job = job
        self.about = about  # alert (its event), program, group (count, suppressed): records
        self.attempt = 0


class Outbox:
    """The sends of one notifier, in order, one courier at a time."""

    def __init__(self, notifier: NotifierConfig, fmt: Format, host: Host) -> None:
        self.notifier = notifier
        self._format = fmt
        self._host = host
        self._queue: deque[Send] = deque()
        self._courier: _Courier | None = None
        self._timer: Timer | None = None  # a retry's backoff or the rate limit's wait
        self.counts = {"sent": 0, "failed": 0, "dropped": 0}  # sends since made (/metrics)
        self._tokens = float(notifier.rate_limit)  # the rate limit's bucket, full
        self._filled_at = host.loop.clock()
        self.on_idle: Callable[[], None] | None = None  # called when the last send ends

    @property
    def idle(self) -> bool:
        return not self._queue and self._courier is None

    def put(self, jobs: list[Job], about: dict[str, Any], first: bool = False) -> None:
        """Queue jobs (all about the same alert or batch); first: ahead of the queue."""
        sends = [Send(job, about) for job in jobs]
        if first:
            self._queue.extendleft(reversed(sends))
        else:
            self._queue.extend(sends)
        while len(self._queue) > self.notifier.queue:
            dropped = self._queue.pop() if first else self._queue.popleft()
            self._record("ALERT_DROPPED", dropped, "warning", reason="the queue is full")
        self._next()

    def close(
        self, why: str = "initsup is exiting", reaped: Callable[[], None] | None = None
    ) -> bool:
        """Kill a courier under way and drop what waits, each with its record; whether a
        courier was killed (reaped() is called once it has been reaped)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        courier, self._courier = self._courier, None
        # Said at once: initsup may be about to exit, with no later pass for them.
        if courier is not None:
            courier.abandon(reaped)
            self._record("ALERT_DROPPED", courier.send, "warning", now=True, reason=why)
        while self._queue:
            dropped = self._queue.popleft()
            self._record("ALERT_DROPPED", dropped, "warning", now=True, reason=why)
        return courier is not None

    # -- one send after another ----------------------------------------------------

    def _next(self) -> None:
        if self._courier is not None or self._timer is not None:
            return
        if not self._queue:
            if self.on_idle is not None:
                self.on_idle()
            return
        wait = self._rate_wait()
        if wait > 0:
            self._timer = self._host.loop.call_later(wait, self._wake)
            return
        send = self._queue.popleft()
        send.attempt += 1
        try:
            self._courier = _Courier(self._host, send, self._done)
        except Exception as exc:  # no pipe (EMFILE): a failed attempt, never PID 1's end
            failure = courier.failed(f"courier not started: {exc}")
            self._timer = self._host.loop.call_later(0, lambda: self._not_started(send, failure))

    def _not_started(self, send: Send, failure: dict[str, Any]) -> None:
        # From the loop, not from _next: a queue of failures never nests calls.
        self._timer = None
        self._done(send, failure)

    def _wake(self) -> None:
        self._timer = None
        self._next()

    def _rate_wait(self) -> float:
        """Seconds until the rate limit lets the next send go (taking its token if 0)."""
        limit = self.notifier.rate_limit
        if not limit:
            return 0.0
        now = self._host.loop.clock()
        self._tokens = min(float(limit), self._tokens + (now - self._filled_at) * limit / 60)
        self._filled_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) * 60 / limit

    def _done(self, send: Send, reply: dict[str, Any]) -> None:
        self._courier = None
        if reply["ok"]:
            self._record("ALERT_SENT", send, "info", status=reply["status"], detail=reply["detail"])
            follow = self._format.answered(send.job, reply)
        else:
            follow = self._format.answered(send.job, reply)
            if not follow:
                self._failed(send, reply)
        if follow:
            self.put(follow, send.about, first=True)
            return
        self._next()

    def _failed(self, send: Send, reply: dict[str, Any]) -> None:
        fields = {"status": reply["status"], "detail": reply["detail"]}
        if reply["retry"] and send.attempt <= self.notifier.retries:
            delay = min(MAX_BACKOFF, 2.0 ** (send.attempt - 1))
            self._record("ALERT_FAILED", send, "warning", retry_in=delay, **fields)
            self._queue.appendleft(send)
            self._timer = self._host.loop.call_later(delay, self._wake)
        else:
            self._record("ALERT_FAILED", send, "error", final=True, **fields)

    def _record(self, name: str, send: Send, level: str, now: bool = False, **fields: Any) -> None:
        about = send.about
        words = {
            "ALERT_SENT": "sent",
            "ALERT_FAILED": "could not be sent",
            "ALERT_DROPPED": "dropped",
        }[name]
        self.counts[name.removeprefix("ALERT_").lower()] += 1  # sent, failed, dropped
        detail = fields.get("detail") or fields.get("reason") or ""
        message = f"alert {about.get('alert')} for {about.get('program')} {words}"
        message += f" ({self.notifier.name}: {detail})" if detail else f" ({self.notifier.name})"
        record = {
            "notifier": self.notifier.name,
            "type": self.notifier.kind,
            **about,
            "attempt": send.attempt,
            **fields,
            "message": message,
        }
        event = events.Event(name, "", record, level=level)
        if now:
            self._host.publish(event)
        else:
            publish_soon(self._host, event)


class _Courier:
    """One courier child under way: its job written, its reply read, its exit reaped."""

    def __init__(self, host: Host, send: Send, done: Callable[[Send, dict[str, Any]], None]):
        self._host = host
        self.send = send
        self._done = done
        self._data = courier.encode_job(send.job)
        self._cap = courier.MAX_REPLY
        self._out = bytearray()
        self._pid: int | None = None
        self._in: int | None = None
        self._reply_fd: int | None = None
        self._deadline: Timer | None = None
        self._killed = False
        self._finished = False
        self._reaped: Callable[[], None] | None = None
        in_r, self._in = os.pipe()
        try:
            self._reply_fd, out_w = os.pipe()
        except OSError:  # EMFILE: the caller records a failed attempt
            os.close(in_r)
            self._close()
            raise
        try:
            self._pid = host.children.start_helper(courier.command(), in_r, out_w)
        except Exception as exc:  # ExecError, OSError (EMFILE, EAGAIN)
            self._close()
            failure = courier.failed(f"courier not started: {exc}")
            host.loop.call_later(0, lambda: self._finish(failure))
            return
        finally:
            os.close(in_r)
            os.close(out_w)
        host.owners.add(self._pid, self)
        os.set_blocking(self._in, False)
        os.set_blocking(self._reply_fd, False)
        host.loop.add_writer(self._in, self._write)
        host.loop.add_reader(self._reply_fd, self._read)
        self._allowed = courier.allowed_seconds(send.job)
        self._deadline = host.loop.call_later(self._allowed, self._overstayed)

    def _write(self) -> None:
        fd = self._in
        if fd is None:
            return
        try:
            written = os.write(fd, self._data[:65536])
        except BlockingIOError:
            return
        except OSError:  # EPIPE: the courier is gone; its exit says the rest
            written = len(self._data)
        self._data = self._data[written:]
        if not self._data:
            self._host.loop.remove_writer(fd)
            os.close(fd)
            self._in = None

    def _read(self) -> None:
        fd = self._reply_fd
        if fd is None:
            return
        try:
            chunk = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:  # the last MAX_REPLY bytes: the reply line comes last
            self._out += chunk
            del self._out[: -self._cap]
        else:
            self._host.loop.remove_reader(fd)
            os.close(fd)
            self._reply_fd = None

    def exited(self, pid: int, status: int) -> None:
        """reaper.Owner: the courier has been reaped."""
        self._pid = None
        if self._reaped is not None:
            self._reaped()  # an abandoned courier: someone waits for it to be gone
        try:
            while self._reply_fd is not None:
                before = len(self._out)
                self._read()
                if self._reply_fd is not None and len(self._out) == before:
                    break  # nothing more now: a grandchild holds the pipe; not waited for
            if self._killed:
                reply = courier.failed(
                    f"timed out: the courier was killed after {self._allowed:g} s"
                )
            else:
                reply = courier.read_reply(bytes(self._out))
            self._finish(reply)
        except Exception as exc:  # never raise into Owners.reap: other exits wait there
            self._finish(courier.failed(f"internal error: {type(exc).__name__}: {exc}"))

    def _overstayed(self) -> None:
        if self._pid is not None:
            self._killed = True
            send_signal(self._pid, signal.SIGKILL, True)

    def abandon(self, reaped: Callable[[], None] | None = None) -> None:
        """Kill the courier and never report: its exit is still reaped through Owners
        (then reaped() is called)."""
        self._finished = True
        self._reaped = reaped if self._pid is not None else None
        self._overstayed()
        self._close()
        if self._pid is None and reaped is not None:
            reaped()  # never started, or reaped already

    def _finish(self, reply: dict[str, Any]) -> None:
        if self._finished:
            return
        self._finished = True
        self._close()
        self._done(self.send, reply)

    def _close(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        loop = self._host.loop
        if self._in is not None:
            loop.remove_writer(self._in)
            os.close(self._in)
            self._in = None
        if self._reply_fd is not None:
            loop.remove_reader(self._reply_fd)
            os.close(self._reply_fd)
            self._reply_fd = None


def publish_soon(host: Host, event: events.Event) -> None:
    """Publish an alert's record from the loop's next pass, never from inside another
    event's delivery: every subscriber then sees the event that caused it first."""
    host.loop.call_later(0, lambda: host.publish(event))

"""One send of an alert, done by a helper child so that PID 1's loop never waits on a network.

PID 1 starts `command()` with a job (one JSON object, `encode_job`) on its stdin; the
child does the one HTTP(S) request (courier_http.py) or SMTP conversation
(courier_smtp.py) with plain blocking calls, writes one JSON reply line on its stdout
(`ok`, `status`, `detail`, `retry`, `body`) and exits 0.  A child, because DNS lookups
(getaddrinfo has no timeout and no non-blocking form), TLS handshakes and smtplib all
block: in a child they block nobody, and PID 1 only reads a pipe and reaps a pid through
reaper.Owners, killing it after `allowed_seconds(job)`.

The job's `timeout` is a deadline for the whole send: every socket step gets what is left
of it, and a watchdog (this module's main thread, while a second thread works) writes
"timed out after N s" and ends the child when a step overstays it (a lookup, a server
that accepts and never answers, one that drips a byte a second).  Whatever happens (bad
JSON, an unknown kind, a bug) the reply line is written.  `read_reply` is PID 1's side:
whatever the child wrote becomes a valid reply, and nothing raises.

Start-up is part of every alert's latency, so the child imports only what its job needs:
no http.client or urllib.request (they import the email package, about 25 ms), ssl only
for https, smtps and STARTTLS, smtplib only for mail.
"""

from __future__ import annotations

import os
import sys
import time

from initsup import jsoncodec
from initsup.alerts.courier_net import Failed, failed, network_failure, reply, timed_out

TYPE_CHECKING = False
if TYPE_CHECKING:
    from initsup.alerts.courier_net import Job, Reply

__all__ = ["allowed_seconds", "command", "encode_job", "failed", "main", "read_reply"]

MAX_JOB = 1 << 20  # bytes of a job read from stdin at most
MAX_REPLY = 64 << 10  # bytes of the child's output read_reply looks at (a reply is < 30 KiB)
MAX_TIMEOUT = 600.0  # a job's timeout is cut to this
DEFAULT_TIMEOUT = 5.0
# The watchdog lets the working thread's own timeout (the same deadline) speak first, as
# it names what overstayed; PID 1 kills the child only at timeout + OVERSTAY.
WATCHDOG_GRACE = 0.3
OVERSTAY = 2.0
KINDS = ("http", "smtp")


# -- PID 1's side ---------------------------------------------------------------------------


def command() -> list[str]:
    """The argv that runs the courier as a child: a fresh, isolated interpreter without
    site-packages, with the directory holding the `initsup` package first on its path (a
    checkout, site-packages, or initsup.pyz itself, which zipimport reads)."""
    here = os.path.abspath(__file__)  # .../initsup/alerts/courier.py, maybe inside the pyz
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    code = (
        f"import sys; sys.path.insert(0, {root!r}); from initsup.alerts.courier import main; main()"
    )
    return [sys.executable or "python3", "-I", "-S", "-c", code]


def encode_job(job: Job) -> bytes:
    """The job as the child's stdin: one JSON document."""
    return jsoncodec.dumps_record(job).encode("utf-8", "replace")


def allowed_seconds(job: Job) -> float:
    """How long PID 1 lets the child run before it kills it: its deadline plus OVERSTAY."""
    return job_timeout(job) + OVERSTAY


def job_timeout(job: Job) -> float:
    """The job's timeout in seconds: DEFAULT_TIMEOUT when absent or not a positive
    number, at most MAX_TIMEOUT."""
    value = job.get("timeout", DEFAULT_TIMEOUT)
    if type(value) not in (int, float) or not value > 0:  # NaN too
        return DEFAULT_TIMEOUT
    return float(min(value, MAX_TIMEOUT))


def read_reply(data: bytes) -> Reply:
    """The reply in what the child wrote on its stdout; never raises.

    The last line that is a JSON object with a boolean `ok` is the reply, its fields
    checked; nothing, garbage, a traceback or a huge blob is a failed, retryable reply
    that says so."""
    try:
        return _read_reply(data)
    except Exception as exc:  # outside input must not raise into PID 1's loop
        return failed(f"courier's answer unreadable: {type(exc).__name__}")


def _read_reply(data: bytes) -> Reply:
    text = bytes(data[-MAX_REPLY:]).decode("utf-8", "replace")
    for line in reversed(text.splitlines()):
        if not line.strip():
            continue
        try:
            value = jsoncodec.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("ok"), bool):
            status, detail = value.get("status"), value.get("detail")
            if type(status) is not int or not 0 <= status <= 999:
                status = 0
            body, retry = value.get("body"), value.get("retry")
            return reply(
                value["ok"],
                status,
                detail if isinstance(detail, str) else "",
                retry if isinstance(retry, bool) else True,
                body if isinstance(body, str) else "",
            )
    if not text.strip():
        return failed("courier said nothing")
    return failed(f"courier's answer is not a reply: {text.strip()[:100]}")


# -- the child ------------------------------------------------------------------------------


def main() -> None:
    """Run as the child: read the job, do it, write one reply line, exit 0."""
    try:
        answer = _answer(_read_job())
    except BaseException as exc:  # the reply line is written whatever happened
        answer = failed(f"courier failed: {type(exc).__name__}: {exc}", retry=False)
    _write_line(answer)
    os._exit(0)  # after a watchdog's timeout the working thread is still there: end it too


def _read_job() -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_JOB:
        try:
            chunk = os.read(0, 65536)
        except InterruptedError:
            continue
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _write_line(answer: Reply) -> None:
    data = (jsoncodec.dumps_record(answer) + "\n").encode("utf-8", "replace")
    while data:
        try:
            data = data[os.write(1, data) :]
        except InterruptedError:
            continue
        except OSError:  # nobody reads: nothing more to do
            return


def _answer(data: bytes) -> Reply:
    if len(data) > MAX_JOB:
        return failed(f"job over {MAX_JOB} bytes", retry=False)
    if not data.strip():
        return failed("no job on stdin", retry=False)
    try:
        job = jsoncodec.loads(data.decode("utf-8", "replace"))
    except ValueError as exc:
        return failed(f"job is not JSON: {exc}", retry=False)
    if not isinstance(job, dict):
        return failed("job is not a JSON object", retry=False)
    if job.get("kind") not in KINDS:
        return failed(f"unknown job kind {job.get('kind')!r}", retry=False)
    return _watched(job)


def _watched(job: Job) -> Reply:
    """The job done by a second thread while this one keeps its deadline.

    `_thread`, not `threading`: threading's imports cost about 4 ms of every alert.  An
    interpreter without a usable `_thread` does the job in this thread, bounded by the
    deadline each socket step is given (and by PID 1, which kills an overstaying child)."""
    timeout = job_timeout(job)
    deadline = time.monotonic() + timeout
    try:
        import _thread

        done = _thread.allocate_lock()
        done.acquire()
        answers: list[Reply] = []

        def work() -> None:
            try:
                answers.append(_guarded(job, deadline, timeout))
            finally:
                done.release()

        _thread.start_new_thread(work, ())
    except Exception:  # no _thread, or not the one known here
        return _guarded(job, deadline, timeout)
    done.acquire(timeout=timeout + WATCHDOG_GRACE)
    return answers[0] if answers else failed(timed_out(timeout))


def _guarded(job: Job, deadline: float, timeout: float) -> Reply:
    try:
        return _do(job, deadline, timeout)
    except BaseException as exc:  # a bug here is a reply, never a silent child
        return failed(f"courier failed: {type(exc).__name__}: {exc}", False)


def _do(job: Job, deadline: float, timeout: float) -> Reply:
    try:
        if job["kind"] == "http":
            from initsup.alerts import courier_http

            return courier_http.send(job, deadline)
        from initsup.alerts import courier_smtp

        return courier_smtp.send(job, deadline)
    except Failed as exc:
        return failed(exc.detail, exc.retry, exc.status)
    except OSError as exc:
        return failed(*network_failure(exc, timeout))

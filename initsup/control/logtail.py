"""supervisord's streamed log tails over HTTP: `GET /logtail/<namespec>[/<stdout|stderr>]`
and `GET /mainlogtail`, what `supervisorctl tail -f`, `fg` and `maintail -f` read.

As supervisord's handlers: anything but GET is 400; a name that is no process (a group,
an unknown name) or a stream without a log of its own (stderr sent to stdout) is 404;
otherwise a 200 text/plain response that starts with the last HEAD bytes and then
carries every chunk as it is written, until the client hangs up.  The bytes come from
the recent-output rings and their followers (control/api.py), not from files.
"""

from __future__ import annotations

from initsup.control import api
from initsup.control.http_parse import unquote
from initsup.control.rpcbase import Fault
from initsup.control.rpcprocesses import lookup

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.control.api import Host
    from initsup.control.handlers import Handler, Request, Responder
    from initsup.process import Process

HEAD = 1024  # bytes of what was written before that a tail starts with (supervisord's)
CONTENT_TYPE = "text/plain;charset=utf-8"
PREFIX = "/logtail"
STREAMS = ("stdout", "stderr")


def logtail(host: Host) -> Handler:
    """The handler of GET /logtail/<namespec>[/<stdout|stderr>] (stdout when left out)."""

    def handle(request: Request, responder: Responder) -> None:
        if request.method != "GET":
            responder.send(400, b"400 Bad Request: a log tail is read with GET\n")
            return
        found = target(host, request.path)
        if found is None:
            responder.send(404, b"404 Not Found: no such process or log\n")
            return
        process, stream = found
        _stream(
            responder,
            api.recent_output(host, process, stream, HEAD),
            lambda write: api.follow_output(host, process, stream, write),
        )

    return handle


def mainlogtail(host: Host) -> Handler:
    """The handler of GET /mainlogtail: the records initsup writes."""

    def handle(request: Request, responder: Responder) -> None:
        if request.method != "GET":
            responder.send(400, b"400 Bad Request: a log tail is read with GET\n")
            return
        _stream(
            responder,
            api.main_log(host, HEAD),
            lambda write: api.follow_main_log(host, write),
        )

    return handle


def target(host: Host, path: str) -> tuple[Process, str] | None:
    """The process and stream a /logtail path names, or None (404)."""
    rest = path[len(PREFIX) :] if path.startswith(PREFIX) else path
    rest = unquote(rest)
    name, _, stream = rest.lstrip("/").partition("/")
    stream = stream or "stdout"
    if stream not in STREAMS:
        return None
    try:
        _, process = lookup(host, name)
    except Fault:
        return None
    if process is None or (stream == "stderr" and process.config.redirect_stderr):
        return None
    return process, stream


def _stream(
    responder: Responder,
    first: bytes,
    follow: Callable[[Callable[[bytes], None]], Callable[[], None]],
) -> None:
    responder.start(200, CONTENT_TYPE)
    if first:  # an empty chunk would end the response
        responder.write(first)

    def write(data: bytes) -> None:
        if data:
            responder.write(data)

    responder.when_gone(follow(write))

"""GET /metrics: every process's state, restarts, exits, health, and initsup's own counts,
for Prometheus, in its text format 0.0.4 or in OpenMetrics 1.0.0 when Accept asks for it.

The handler reads the request (initsup.control.metrics_ask), gathers the families
(initsup.control.metrics_families) and writes them (initsup.control.metrics_text).
Anything but GET and HEAD is 405.  The body is gzipped for a client that takes gzip, as
Prometheus does: the exposition of 1,000 programs is about 0.9 MB of repeated labels.
Credentials are the HTTP server's business: it asks for them on this path as on every
other but the probes, so a Prometheus scraping a server with a username set needs
`basic_auth`.

This module is imported when the routes are made, so it imports only the small request
reader; the families and the formats come with the first scrape.
"""

from __future__ import annotations

from initsup.control import metrics_ask, negotiation

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from initsup.control.api import Host
    from initsup.control.handlers import Handler, Request, Responder

PATH = "/metrics"
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
ERROR_TYPE = "text/plain; charset=utf-8"


def handlers(host: Host) -> dict[str, Handler]:
    """`/metrics` and its handler."""
    return {PATH: handler(host)}


def handler(host: Host) -> Handler:
    """The handler of GET /metrics."""
    started: list[float | None] = []  # initsup's start, read from /proc once

    def handle(request: Request, responder: Responder) -> None:
        if request.method not in ("GET", "HEAD"):
            headers = {"Allow": "GET, HEAD", **HEADERS}
            responder.send(
                405, b"Method Not Allowed: /metrics is read with GET\n", ERROR_TYPE, headers
            )
            return
        compat, unknown = metrics_ask.parse_query(request.query)
        if unknown:
            responder.send(400, _unknown(unknown), ERROR_TYPE, HEADERS)
            return
        openmetrics = metrics_ask.wants_openmetrics(request.headers.get("accept", ""))
        if not started:
            from initsup.control.counts import started_wall

            started.append(started_wall())
        body, content_type = exposition(host, started[0], compat, openmetrics)
        headers = {"Vary": "Accept, Accept-Encoding", **HEADERS}
        if negotiation.wants_gzip(request.headers.get("accept-encoding", "")):
            body = negotiation.gzipped(body)
            headers["Content-Encoding"] = "gzip"
        responder.send(200, body, content_type, headers)

    return handle


def exposition(
    host: Host, started: float | None, compat: set[str], openmetrics: bool
) -> tuple[bytes, str]:
    """(the exposition of everything, its Content-Type), at this moment."""
    import time

    from initsup.control import metrics_families, metrics_text

    families = metrics_families.families(host, time.time(), started, compat)
    content_type = metrics_text.OPENMETRICS if openmetrics else metrics_text.TEXT
    return metrics_text.render(families, openmetrics), content_type


def _unknown(names: list[str]) -> bytes:
    """The 400's body: which compat names are unknown (a few, cut short: they are the
    client's words) and which there are."""
    shown = ", ".join(repr(name[:40]) for name in names[:3])
    known = ", ".join(metrics_ask.COMPATS)
    text = f"Bad Request: no such compat name: {shown} (there is {known})\n"
    return text.encode("utf-8", "backslashreplace")

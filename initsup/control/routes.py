"""What initsup serves over HTTP, and the servers that serve it.

The routes are one table for every way in: `/RPC2` (supervisord's XML-RPC interface),
`/logtail/<name>[/<stream>]` and `/mainlogtail` (the streams of supervisorctl's `tail -f`
and `maintail -f`), `/initsup/ctl` (`initsup ctl`'s own requests, for a server it
reaches by URL), and `/livez`, `/readyz`, `/startupz` (Kubernetes' probes, the only
paths a client without credentials may ask: kubelet sends none).  The
control socket makes its HTTP server on its first HTTP client (`unix_factory`); an
[inet_http_server] gets one of its own at start (`serve_tcp`).  Each server has the
credentials of its own section, as supervisord's two servers do.

Imported only when HTTP is first needed, like initsup.control.http: the XML-RPC modules
(xmlrpc.client, expat) wait for the first XML-RPC request.
"""

from __future__ import annotations

from initsup.control import http_ctl, logtail, metrics, page, probes_http
from initsup.control.http import HttpServer

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.control.api import EventFeed, Host
    from initsup.control.handlers import Handler, Request, Responder
    from initsup.model import HttpServerConfig


def routes(host: Host, feed: EventFeed) -> tuple[dict[str, Handler], dict[str, Handler]]:
    """(exact paths, path prefixes) and their handlers."""
    probes, probe_prefixes = probes_http.handlers(host)
    handlers = {
        "/RPC2": rpc(host, feed),
        "/mainlogtail": logtail.mainlogtail(host),
        "/initsup/ctl": http_ctl.handler(host, feed),
        **metrics.handlers(host),
        **page.handlers(host),
        **probes,
    }
    return handlers, {"/logtail/": logtail.logtail(host), **probe_prefixes}


# Paths answered without credentials (and what lies below them): the probes.
OPEN_PATHS = tuple(probes_http.PATHS)


def rpc(host: Host, feed: EventFeed) -> Handler:
    """POST /RPC2: one XML-RPC call (or multicall), answered when it is done."""

    def handle(request: Request, responder: Responder) -> None:
        from initsup.control import xmlrpc  # its first request pays for xmlrpc.client

        if request.method != "POST":  # supervisord answers 400 to anything but POST too
            responder.send(400, b"XML-RPC takes POST requests only\n")
            return
        try:
            xmlrpc.call(host, feed, request.body, lambda xml: responder.send(200, xml, "text/xml"))
        except xmlrpc.Refused as exc:
            host.logger.warning(f"XML-RPC request refused: {exc.reason}", status=exc.status)
            responder.send(exc.status, exc.reason.encode() + b"\n")

    return handle


def credentials(config: HttpServerConfig | None) -> tuple[str, str] | None:
    """The (username, password) a server's section asks of every request, if any."""
    if config is None or not config.username:
        return None
    return config.username, config.password or ""


def unix_factory(
    host: Host, feed: Callable[[], EventFeed], config: HttpServerConfig | None
) -> Callable[[], HttpServer]:
    """What the control socket calls on its first HTTP client (config: its section)."""

    def make() -> HttpServer:
        handlers, prefixes = routes(host, feed())
        return _server(host, handlers, prefixes, config)

    return make


def serve_tcp(host: Host, feed: EventFeed, config: HttpServerConfig) -> HttpServer:
    """An HTTP server listening where [inet_http_server] says (raises OSError if it cannot)."""
    handlers, prefixes = routes(host, feed)
    server = _server(host, handlers, prefixes, config)
    try:
        server.listen_tcp(config.address or "", config.port)
    except BaseException:
        server.close()
        raise
    return server


def _server(
    host: Host,
    handlers: dict[str, Handler],
    prefixes: dict[str, Handler],
    config: HttpServerConfig | None,
) -> HttpServer:
    return HttpServer(
        host.loop, host.logger, handlers, prefixes, credentials(config), open_paths=OPEN_PATHS
    )

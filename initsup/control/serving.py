"""Where a running initsup can be reached: its control socket (initsup ctl's JSON lines
and, on the same socket, HTTP), the symlink at the socket's default path, and the TCP port
of an [inet_http_server].

The unix socket's HTTP side is made on its first HTTP client, so a configuration that
never sees one never imports the HTTP or XML-RPC modules.  A TCP server is asked for by
the configuration itself, so it is made at start.  Nothing here stops initsup: a socket
that cannot be opened is logged, and initsup supervises on without it.
"""

from __future__ import annotations

import os

from initsup.control.server import ControlServer, default_socket_path
from initsup.launch import user_ids

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.control.api import EventFeed, Host
    from initsup.control.http import HttpServer
    from initsup.model import HttpServerConfig, InitOptions
    from initsup.socketlink import SocketLink


class Endpoints:
    """The ways in of one initsup run; close() closes every one of them."""

    def __init__(self, host: Host, options: InitOptions) -> None:
        self.path = options.socket or default_socket_path(os.environ)
        self.control: ControlServer | None = None
        self.link: SocketLink | None = None
        self.tcp: list[HttpServer] = []
        self._unix_http: HttpServer | None = None
        self._open_control(host, options)
        for server in options.http_servers:
            if server.kind == "inet":
                self._open_tcp(host, server)

    def _open_control(self, host: Host, options: InitOptions) -> None:
        unix = next((s for s in options.http_servers if s.kind == "unix"), None)
        try:
            self.control = ControlServer(
                host, self.path, options.socket_mode, http=self._unix_factory(host, unix)
            )
        except OSError as exc:  # a read-only /run, another initsup: run on without control
            host.logger.warning(f"no control socket at {self.path} ({exc}): initsup ctl won't work")
            return
        default = default_socket_path(os.environ)
        if os.path.realpath(default) != os.path.realpath(self.path):  # else no link to make
            from initsup.socketlink import link_default_path

            self.link = link_default_path(host.logger, self.path)
        if unix is not None and unix.owner is not None:
            self._chown(host, unix.owner, unix.group)
        if options.user is not None:
            self._allow(host, options.user, "[supervisord] user=")

    def _chown(self, host: Host, owner: str, group: str | None) -> None:
        """[unix_http_server] chown=: the socket's owner, whose clients are answered too
        (supervisord's socket is theirs to use: the peer check must not undo that)."""
        import grp

        try:
            gid = -1
            if group is not None:
                gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
            os.chown(self.path, _uid(owner), gid)
        except (OSError, KeyError) as exc:
            host.logger.warning(f"could not chown {self.path} to {owner} ({exc})")
            return
        self._allow(host, owner, "chown=")

    def _allow(self, host: Host, user: str, why: str) -> None:
        assert self.control is not None
        try:
            self.control.allowed.add(_uid(user))
        except KeyError:
            host.logger.warning(f"{why}{user} names no user: its clients are refused")

    def _unix_factory(
        self, host: Host, config: HttpServerConfig | None
    ) -> Callable[[], HttpServer]:
        def make() -> HttpServer:
            from initsup.control.routes import unix_factory

            self._unix_http = unix_factory(host, self._feed, config)()
            return self._unix_http

        return make

    def _feed(self) -> EventFeed:
        assert self.control is not None  # the unix side's HTTP exists only with it
        return self.control.events

    def _open_tcp(self, host: Host, config: HttpServerConfig) -> None:
        from initsup.control.api import EventFeed
        from initsup.control.routes import serve_tcp

        feed = self.control.events if self.control is not None else EventFeed(host.bus)
        where = f"{config.address or '*'}:{config.port}"
        try:
            self.tcp.append(serve_tcp(host, feed, config))
        except OSError as exc:
            host.logger.error(f"[inet_http_server] cannot listen on {where} ({exc})")
            return
        host.logger.info(f"serving HTTP on {where}")

    def close(self) -> None:
        """Stop listening everywhere and remove the socket and its symlink."""
        for server in self.tcp:
            server.close()
        if self._unix_http is not None:
            self._unix_http.close()
        if self.link is not None:
            self.link.close()
        if self.control is not None:
            self.control.close()


def _uid(user: str) -> int:
    """The uid of a user name or number (KeyError for a name nobody has)."""
    ids = user_ids(user)
    assert ids is not None
    return ids[0]

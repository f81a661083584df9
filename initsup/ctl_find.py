"""Where `initsup ctl` finds the server, and how it logs in: its flags, `-c FILE`, the
environment.

supervisorctl's flags mean what they mean there: `-s URL` (unix:///path or
http://host:port) wins, then `-c FILE`'s [supervisorctl] serverurl; `-u`/`-p` win over
the file's username and password.  Where supervisorctl falls back to
http://localhost:9001, initsup ctl goes where initsup itself listens: `-c FILE`'s
[unix_http_server] file=, else the control socket's usual places (INITSUP_SOCKET, then
/run, then $TMPDIR), because initsup always serves its unix socket and serves TCP only
when [inet_http_server] asks for it.  Imported only when a flag or file asks for more
than the usual socket.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class Target:
    """The server to talk to and how: a unix socket or an HTTP URL, and the shell's
    settings from [supervisorctl]."""

    def __init__(self, url: str) -> None:
        self.url = url  # unix:///path or http://host:port
        self.username: str | None = None
        self.password: str | None = None
        self.prompt = "supervisor"
        self.history_file: str | None = None

    @property
    def socket_path(self) -> str | None:
        """The unix socket's path, or None for an HTTP server."""
        return self.url[len("unix://") :] if self.url.startswith("unix://") else None


class FindError(Exception):
    """A server that cannot be named: a bad URL, a file that cannot be read."""


def check_url(url: str) -> str:
    """A server URL as [supervisorctl] serverurl= takes it (unix:///PATH, http://HOST:PORT)."""
    from initsup.config.convert import server_url

    try:
        return server_url(url)
    except ValueError as exc:
        raise FindError(f"-s {url}: {exc}") from None


def find(flags: dict[str, str], environ: Mapping[str, str], default_socket: str) -> Target:
    """The server flags (`s`, `c`, `u`, `p`, `r`, `socket`) and the environment name.

    default_socket is where the control socket is when nothing else names a server.
    """
    file_settings = _from_file(flags["c"], environ) if "c" in flags else None
    if "s" in flags:
        target = Target(check_url(flags["s"]))
    elif "socket" in flags:
        target = Target("unix://" + flags["socket"])
    elif file_settings is not None and file_settings[0]:
        target = Target(file_settings[0])
    else:
        target = Target("unix://" + default_socket)
    if file_settings is not None:
        ctl = file_settings[1]
        if ctl is not None:
            target.username, target.password = ctl.username, ctl.password
            target.prompt, target.history_file = ctl.prompt, ctl.history_file
    target.username = flags.get("u", target.username)
    target.password = flags.get("p", target.password)
    target.history_file = flags.get("r", target.history_file)
    return target


def _from_file(path: str, environ: Mapping[str, str]) -> tuple[str | None, Any]:
    """(the server URL the file names, or None; its [supervisorctl] as a CtlConfig, or
    None), read with initsup's own reader so that the file means what it means to initsup.
    """
    from initsup.config.servers import ctl_config, http_servers
    from initsup.config.sources import Report, read_files

    if not os.path.isfile(path):
        raise FindError(f"could not find config file {path}")
    report = Report()
    names: dict[str, object] = {"ENV_" + key: value for key, value in environ.items()}
    names["here"] = os.path.dirname(os.path.abspath(path))
    names["host_node_name"] = os.uname().nodename
    sections, _ = read_files(path, names, report)
    ctl = ctl_config(sections, names, report)
    servers = http_servers(sections, names, report)
    if report.problems:
        raise FindError("; ".join(report.problems))
    if ctl is not None and ctl.serverurl:
        return ctl.serverurl, ctl
    unix = [server.address for server in servers if server.kind == "unix" and server.address]
    return (f"unix://{unix[0]}" if unix else None), ctl

"""[unix_http_server], [inet_http_server] and [supervisorctl] -> the model, checked once.

supervisord serves XML-RPC on the HTTP servers these sections describe, and supervisorctl
reads [supervisorctl] to find one.  Reading them here, with every other option, means a
bad port, mode, owner or password is found when the file is loaded (all problems at once,
each naming file, section, key and value), not when a server starts.  The rules are
supervisord 4's: a username needs a password and the reverse, chmod defaults to 0700.
"""

from __future__ import annotations

from initsup import model
from initsup.config import convert
from initsup.config.sources import convert_raw

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.config.sources import Names, Report, Section


def http_servers(
    sections: dict[str, Section], names: Names, report: Report
) -> list[model.HttpServerConfig]:
    """The HTTP servers the file describes: [unix_http_server], then [inet_http_server]."""
    result = []
    unix = sections.get("unix_http_server")
    if unix is not None:
        made = _unix_server(unix, names, report)
        if made is not None:
            result.append(made)
    inet = sections.get("inet_http_server")
    if inet is not None:
        made = _inet_server(inet, names, report)
        if made is not None:
            result.append(made)
    return result


def _values(
    section: Section,
    converters: dict[str, Callable[[str], object]],
    names: Names,
    report: Report,
) -> tuple[dict[str, Any], bool]:
    """Each known key's converted value, unknown keys warned; False if any value failed."""
    names = {**names, "here": section.here}
    values: dict[str, Any] = {}
    before = len(report.problems)
    for key, raw in section.options.items():
        converter = converters.get(key)
        if converter is None:
            report.warnings.append(raw.say("is not an option initsup knows, ignored"))
            continue
        values[key] = convert_raw(raw, converter, names, report)
    return values, len(report.problems) == before


def _credentials(section: Section, values: dict[str, Any], report: Report) -> bool:
    """supervisord's rule: a username and a password, both or neither."""
    if ("username" in values) == ("password" in values):
        return True
    report.problems.append(
        f"{section.where()}: has a username without a password, or a password without"
        " a username: give both, or neither"
    )
    return False


def _unix_server(section: Section, names: Names, report: Report) -> model.HttpServerConfig | None:
    """[unix_http_server]: file (none: initsup's default socket), chmod, chown, credentials."""
    converters: dict[str, Callable[[str], object]] = {
        "file": _path,
        "chmod": convert.octal_mode,
        "chown": convert.owner,
        "username": convert.text,
        "password": convert.password,
    }
    values, good = _values(section, converters, names, report)
    if not (_credentials(section, values, report) and good):
        return None
    mode = values.get("chmod")
    user, group = values.get("chown") or (None, None)
    return model.HttpServerConfig(
        "unix",
        address=values.get("file"),
        mode=0o700 if mode is None else mode,
        owner=user,
        group=group,
        username=values.get("username"),
        password=values.get("password"),
    )


def _inet_server(section: Section, names: Names, report: Report) -> model.HttpServerConfig | None:
    """[inet_http_server]: port (required, as supervisord), username and password."""
    converters: dict[str, Callable[[str], object]] = {
        "port": convert.inet_address,
        "username": convert.text,
        "password": convert.password,
    }
    values, good = _values(section, converters, names, report)
    if "port" not in section.options:
        report.problems.append(f"{section.where()}: has no port (e.g. port=127.0.0.1:9001)")
        good = False
    if not (_credentials(section, values, report) and good):
        return None
    host, port = values["port"]
    return model.HttpServerConfig(
        "inet",
        address=host,
        port=port,
        username=values.get("username"),
        password=values.get("password"),
    )


def ctl_config(
    sections: dict[str, Section], names: Names, report: Report
) -> model.CtlConfig | None:
    """[supervisorctl]: serverurl, username, password, prompt, history_file; None if absent."""
    section = sections.get("supervisorctl")
    if section is None:
        return None
    converters: dict[str, Callable[[str], object]] = {
        "serverurl": convert.server_url,
        "username": convert.text,
        "password": convert.password,
        "prompt": convert.text,
        "history_file": _path,
    }
    values, good = _values(section, converters, names, report)
    if not good:
        return None
    return model.CtlConfig(
        serverurl=values.get("serverurl"),
        username=values.get("username"),
        password=values.get("password"),
        prompt=values.get("prompt", "supervisor"),
        # supervisorctl: an empty history_file means no history
        history_file=values.get("history_file"),
    )


def _path(text: str) -> str | None:
    """A path made absolute as supervisord does; empty means unset (a default, no history)."""
    return convert.normpath(text) if text.strip() else None

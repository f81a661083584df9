"""[notify:NAME] sections (and INITSUP_NOTIFY_<NAME> variables) -> model.NotifierConfig.

Every value is checked here, once: a URL of the wrong scheme for its type, an unknown
event name, a header that could smuggle a second header, a token variable that is not
set.  A key that does not apply to the section's type is said and ignored.  A
`kubernetes` notifier without url= finds the API server as in-cluster clients do, from
KUBERNETES_SERVICE_HOST and _PORT; outside a pod it is kept and sends nothing, with a
warning, so one image runs in and out of Kubernetes.
"""

from __future__ import annotations

import os

from initsup import events
from initsup.config import convert
from initsup.config.sources import convert_raw
from initsup.model_notify import NotifierConfig

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from initsup.config.sources import Names, Report, Section

KINDS = ("webhook", "slack", "mail", "alertmanager", "kubernetes")
HTTP_KINDS = frozenset({"webhook", "slack", "alertmanager", "kubernetes"})
TLS_MODES = ("auto", "starttls", "none")
APIS = ("v1", "events.k8s.io/v1")
# Keys that mean something for some types only: said and ignored elsewhere.
ONLY_FOR = {
    "to": {"mail"},
    "from": {"mail"},
    "subject": {"mail"},
    "tls": {"mail"},
    "headers": HTTP_KINDS,
    "token_file": HTTP_KINDS,
    "token_env": HTTP_KINDS,
    "api": {"kubernetes"},
    "serviceaccount": {"kubernetes"},
    "labels": {"alertmanager"},
}


# -- converters ----------------------------------------------------------------------


def kind(text: str) -> str:
    word = text.strip().lower()
    if word not in KINDS:
        raise ValueError(f"must be one of {', '.join(KINDS)}")
    return word


def http_url(text: str) -> str:
    """An http:// or https:// URL with a host, no spaces."""
    url = text.strip()
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not sep:
        raise ValueError("must be an http:// or https:// URL")
    _host_port(rest.partition("/")[0], 443 if scheme.lower() == "https" else 80)
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("must be a URL without spaces or control characters")
    return url


def smtp_url(text: str) -> str:
    """smtp://host[:port] (25) or smtps://host[:port] (465), nothing after the port."""
    url = text.strip()
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in ("smtp", "smtps") or not sep:
        raise ValueError("must be smtp://host[:port] or smtps://host[:port]")
    host, port = _host_port(rest.rstrip("/"), 465 if scheme.lower() == "smtps" else 25)
    if "/" in rest.rstrip("/"):
        raise ValueError("must be smtp://host[:port] or smtps://host[:port], no path")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme.lower()}://{shown}:{port}"


def _host_port(authority: str, default: int) -> tuple[str, int]:
    if "@" in authority:
        raise ValueError("must not hold credentials (use username= and password=)")
    if authority.startswith("["):
        host, _, after = authority[1:].partition("]")
        digits = after[1:] if after.startswith(":") else ""
        if after and not digits:
            raise ValueError("has a malformed [IPv6] host")
    else:
        host, colon, digits = authority.partition(":")
        if not colon:
            digits = ""
    if not host:
        raise ValueError("names no host")
    if not digits:
        return host, default
    if not (digits.isascii() and digits.isdigit() and 0 < int(digits) < 65536):
        raise ValueError("must name a port from 1 to 65535")
    return host, int(digits)


def alert_events(text: str) -> frozenset[str]:
    """supervisord's event names (supertypes included) and initsup's own."""
    words = [word.strip().upper() for word in text.split(",") if word.strip()]
    if not words:
        raise ValueError("must name at least one event, e.g. PROCESS_STATE_FATAL")
    unknown = [w for w in words if w not in events.EVENT_TYPES and w not in events.OWN_EVENTS]
    if unknown:
        own = ", ".join(events.OWN_EVENTS)
        raise ValueError(
            f"names unknown events {', '.join(map(repr, unknown))} (supervisord's names,"
            f" such as PROCESS_STATE_EXITED or PROCESS_STATE, or initsup's: {own})"
        )
    return frozenset(words)


def one_line(text: str) -> str:
    """Text for a mail header or an address: one line (no header smuggled in)."""
    value = text.strip()
    if any(c in value for c in "\r\n"):
        raise ValueError("must be one line")
    return value


def addresses(text: str) -> list[str]:
    found = [one_line(item) for item in text.split(",") if item.strip()]
    if not found or any(" " in a or "@" not in a for a in found):
        raise ValueError("must be mail addresses separated by commas, e.g. ops@example.com")
    return found


def headers(text: str) -> dict[str, str]:
    """`Name: value` pairs, one per line or separated by commas."""
    lines = text.splitlines() if "\n" in text.strip() else text.split(",")
    found: dict[str, str] = {}
    for line in (item.strip() for item in lines):
        if not line:
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or not all(c.isalnum() or c in "-_" for c in name):
            raise ValueError(f"names {line!r}: expected Name: value (one per line or comma)")
        found[name] = value.strip()
    if not found:
        raise ValueError("must name headers as Name: value")
    return found


def labels(text: str) -> dict[str, str]:
    found = convert.key_value_pairs(text)
    for name in found:
        if not (name[:1].isalpha() or name[:1] == "_") or not name.replace("_", "a").isalnum():
            raise ValueError(
                f"names label {name!r}: Alertmanager's names are [a-zA-Z_][a-zA-Z0-9_]*"
            )
    return found


def tls_mode(text: str) -> str:
    word = text.strip().lower()
    if word not in TLS_MODES:
        raise ValueError(f"must be one of {', '.join(TLS_MODES)}")
    return word


def api(text: str) -> str:
    word = text.strip()
    if word not in APIS:
        raise ValueError(f"must be one of {', '.join(APIS)}")
    return word


def _bounded(low: float, high: float, number: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(text: str) -> Any:
        value = number(text)
        if not low <= value <= high:
            raise ValueError(f"must be from {low:g} to {high:g}")
        return value

    return check


def existing_file(text: str) -> str:
    path = convert.normpath(text)
    if not os.path.isfile(path):
        raise ValueError("must name a file that exists")
    return path


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "events": alert_events,
    "programs": lambda text: frozenset(convert.comma_list(text)),
    "expected": convert.boolean,
    "to": addresses,
    "from": one_line,
    "subject": one_line,
    "headers": headers,
    "token_file": convert.normpath,
    "username": one_line,
    "password": convert.text,
    "tls": tls_mode,
    "ca_file": existing_file,
    "api": api,
    "serviceaccount": convert.normpath,
    "labels": labels,
    "alarm_interval": _bounded(0, 86400, convert.seconds),
    "rate_limit": _bounded(0, 100000, convert.count),
    "batch": _bounded(0, 86400, convert.seconds),
    "timeout": _bounded(0.1, 300, convert.seconds),
    "retries": _bounded(0, 100, convert.count),
    "queue": _bounded(1, 100000, convert.count),
    "stderr_lines": _bounded(0, 1000, convert.count),
}
_FIELD = {"from": "sender"}  # keys whose NotifierConfig field has another name


# -- sections -> notifiers ---------------------------------------------------------


def notifiers(
    sections: Mapping[str, Section],
    names: Names,
    environ: Mapping[str, str],
    processes: Iterable[str],
    report: Report,
) -> list[NotifierConfig]:
    """Every [notify:x] section as a NotifierConfig; processes: the names programs=
    may use (program, process and group names)."""
    known = set(processes)
    found = []
    for section in sections.values():
        if section.kind != "notify":
            continue
        try:
            convert.name(section.name)
        except ValueError as exc:
            report.problems.append(f"{section.where()}: the name {section.name!r} {exc}")
            continue
        made = _notifier(section, {**names, "here": section.here}, environ, report)
        if made is not None:
            _check_programs(made, section, known, report)
            found.append(made)
    return sorted(found, key=lambda n: n.name)


def _notifier(
    section: Section, names: Names, environ: Mapping[str, str], report: Report
) -> NotifierConfig | None:
    opts = section.options
    if "type" not in opts:
        report.problems.append(
            f"{section.where()}: needs type= (one of {', '.join(KINDS)})"
            f" or INITSUP_NOTIFY_{section.name.upper()}=<type>"
        )
        return None
    what = convert_raw(opts["type"], kind, names, report)
    if what is None:
        return None
    values: dict[str, Any] = {}
    for key, raw in opts.items():
        if key in ("type", "url", "token_env"):
            continue
        converter = _CONVERTERS.get(key)
        if converter is None:
            report.warnings.append(raw.say("is not an option initsup knows, ignored"))
        elif what not in ONLY_FOR.get(key, {what}):
            report.warnings.append(
                raw.say(f"applies to type {'/'.join(sorted(ONLY_FOR[key]))} only, ignored")
            )
        else:
            value = convert_raw(raw, converter, names, report)
            if value is not None:
                values[_FIELD.get(key, key)] = value
    if "token_env" in opts and what in HTTP_KINDS:
        values["token"] = convert_raw(opts["token_env"], _variable(environ), names, report)
    url = _url(section, what, names, environ, report)
    if what == "mail" and "to" not in opts:
        report.problems.append(f"{section.where()}: type=mail needs to= (the recipients)")
    if url is None:
        return None
    return NotifierConfig(section.name, what, url, **values)


def _variable(environ: Mapping[str, str]) -> Callable[[str], str]:
    def value(text: str) -> str:
        name = text.strip()
        token = environ.get(name)
        if not token:
            raise ValueError(f"names variable {name!r}, which is not set (or empty)")
        return token.strip()

    return value


def _url(
    section: Section, what: str, names: Names, environ: Mapping[str, str], report: Report
) -> str | None:
    raw = section.options.get("url")
    if raw is not None:
        return convert_raw(raw, smtp_url if what == "mail" else http_url, names, report)
    if what != "kubernetes":
        example = "smtp://host:port" if what == "mail" else "https://host/path"
        report.problems.append(f"{section.where()}: type={what} needs url= ({example})")
        return None
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    if not host:
        report.warnings.append(
            f"{section.where()}: no url= and no KUBERNETES_SERVICE_HOST (not in a"
            " Kubernetes pod): this notifier sends nothing"
        )
        return ""
    port = environ.get("KUBERNETES_SERVICE_PORT", "443")
    return f"https://{f'[{host}]' if ':' in host else host}:{port}"


def _check_programs(
    notifier: NotifierConfig, section: Section, known: set[str], report: Report
) -> None:
    unknown = sorted(notifier.programs - known)
    if unknown:
        raw = section.options["programs"]
        report.problems.append(raw.say(f"names unknown programs {', '.join(map(repr, unknown))}"))

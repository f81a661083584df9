"""Health checks, readiness and start order in a program section -> model values.

The keys are Docker's healthcheck names (`healthcheck=`, `healthcheck_url=`,
`healthcheck_tcp=`, `healthcheck_interval=`...), `notify=` (sd_notify), `on_unhealthy=`,
`depends_on=`, and supervisord-dependent-startup's own (`dependent_startup=`,
`dependent_startup_wait_for=`), read as that plugin reads them so its users' files work
unchanged.  The dependency graph is checked once every section is read: a name that is
no program, or a cycle, is a configuration error naming the chain.  The plugin's own
[eventlistener] is recognised and not run: initsup orders start-up itself.
"""

from __future__ import annotations

from initsup import model
from initsup.config import convert
from initsup.config.sources import convert_raw

TYPE_CHECKING = False  # typing costs start-up time; see docs/decisions.md
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from initsup.config.sources import Names, Raw, Report, Section

# dependent_startup_wait_for's states, as the plugin accepts them; RUNNING means ready.
WAIT_STATES = frozenset({"STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"})
CHECK_KINDS = {"healthcheck": "command", "healthcheck_url": "http", "healthcheck_tcp": "tcp"}
ON_UNHEALTHY = ("none", "restart", "stop")
KEYS = frozenset(
    [
        *CHECK_KINDS,
        "healthcheck_interval",
        "healthcheck_timeout",
        "healthcheck_retries",
        "healthcheck_start_period",
        "notify",
        "on_unhealthy",
        "depends_on",
        "dependent_startup",
        "dependent_startup_wait_for",
        "dependent_startup_inherit_priority",
    ]
)
PLUGIN_MODULE = "supervisord_dependent_startup"  # in its listener's command=, either spelling


# -- converters ----------------------------------------------------------------------


def positive_seconds(text: str) -> float:
    """A number of seconds above zero; fractions allowed."""
    value = convert.seconds(text)
    if value <= 0:
        raise ValueError("must be a number of seconds above 0 (e.g. 10 or 0.5)")
    return value


def retries(text: str) -> int:
    value = convert.count(text)
    if value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def command_text(text: str) -> str:
    """healthcheck=: a command line, run by /bin/sh -c as Docker's string form."""
    if not text.strip():
        raise ValueError("must be a command (run by /bin/sh -c)")
    if "\n" in text.strip():
        raise ValueError("must be one line")
    return text.strip()


def http_url(text: str) -> tuple[str, int, str]:
    """healthcheck_url=: http://host[:port][/path] -> (host, port, path)."""
    url = text.strip()
    if url.lower().startswith("https://"):
        raise ValueError("must be an http:// URL: checks inside the container use plain HTTP")
    if not url.lower().startswith("http://"):
        raise ValueError("must be an http://host[:port]/path URL")
    rest = url[7:]
    authority, slash, path = rest.partition("/")
    path = slash + path if slash else "/"
    host, port = authority, 80
    if authority.startswith("["):  # [::1]:8080
        bracket = authority.find("]")
        host, after = authority[1:bracket], authority[bracket + 1 :]
        if bracket < 0 or (after and not after.startswith(":")):
            raise ValueError("has a malformed [IPv6] host")
        port = _port(after[1:]) if after else 80
    elif ":" in authority:
        host, _, digits = authority.rpartition(":")
        port = _port(digits)
    if not host or "@" in host or any(c.isspace() for c in url) or "#" in path:
        raise ValueError("must be an http://host[:port]/path URL (no credentials, spaces or #)")
    return host, port, path


def tcp_address(text: str) -> tuple[str, int]:
    """healthcheck_tcp=: host:port, or a bare port (127.0.0.1's)."""
    host, port = convert.inet_address(text)
    return (host or "127.0.0.1"), port


def _port(digits: str) -> int:
    if not (digits.isascii() and digits.isdigit() and 0 < int(digits) < 65536):
        raise ValueError("must name a port from 1 to 65535")
    return int(digits)


def on_unhealthy(text: str) -> str:
    word = text.strip().lower()
    if word not in ON_UNHEALTHY:
        raise ValueError("must be none, restart or stop")
    return word


def depends_on(text: str) -> dict[str, frozenset[str]]:
    """depends_on=a,b (commas or spaces): each must be ready, or done."""
    names = [n for part in text.split(",") for n in part.split()]
    if not names:
        raise ValueError("must name programs, e.g. depends_on=db,cache")
    for name in names:
        if ":" in name:
            raise ValueError(
                f"names {name!r}: use program names (no states; see dependent_startup_wait_for)"
            )
    return {name: frozenset({model.READY}) for name in names}


def wait_for(text: str) -> dict[str, frozenset[str]]:
    """dependent_startup_wait_for=a:running b:exited,fatal (the plugin's form; a bare name
    is a:running).  RUNNING means ready; the other states: reached since the start."""
    found: dict[str, frozenset[str]] = {}
    for item in text.split():
        name, _, states = item.partition(":")
        words = {s.strip().upper() for s in (states or "running").split(",") if s.strip()}
        wrong = sorted(words - WAIT_STATES)
        if not name or not words or wrong:
            raise ValueError(
                f"names {item!r}: expected program:state[,state] with states among"
                f" {', '.join(sorted(s.lower() for s in WAIT_STATES))}"
            )
        found[name] = frozenset(model.READY if w == "RUNNING" else w for w in words)
    if not found:
        raise ValueError("must name programs, e.g. db:running migrate:exited")
    return found


_TIMING: dict[str, Callable[[str], Any]] = {
    "healthcheck_interval": positive_seconds,
    "healthcheck_timeout": positive_seconds,
    "healthcheck_retries": retries,
    "healthcheck_start_period": convert.seconds,
}
_CHECK_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "healthcheck": command_text,
    "healthcheck_url": http_url,
    "healthcheck_tcp": tcp_address,
}


# -- one process's values ----------------------------------------------------------


def process_values(opts: dict[str, Raw], names: Names, report: Report) -> dict[str, Any]:
    """ProcessConfig keyword arguments from a section's health and start-order keys."""
    kwargs: dict[str, Any] = {}
    for key in ("notify", "dependent_startup", "dependent_startup_inherit_priority"):
        if key in opts:
            kwargs[key] = convert_raw(opts[key], convert.boolean, names, report)
    if "on_unhealthy" in opts:
        kwargs["on_unhealthy"] = convert_raw(opts["on_unhealthy"], on_unhealthy, names, report)
    deps: dict[str, frozenset[str]] = {}
    for key, converter in (("depends_on", depends_on), ("dependent_startup_wait_for", wait_for)):
        if key in opts:
            for name, wanted in (convert_raw(opts[key], converter, names, report) or {}).items():
                deps[name] = deps.get(name, frozenset()) | wanted
    if deps:
        kwargs["depends_on"] = deps
    kwargs["health"] = _check(opts, names, report)
    if kwargs.pop("dependent_startup", False):
        # The plugin asks for autostart=false so that supervisord leaves the start to
        # it; initsup is the one that starts such a program, in its order.
        kwargs["autostart"] = True
    kwargs.pop("dependent_startup_inherit_priority", None)  # start order is the graph's
    return kwargs


def _check(opts: dict[str, Raw], names: Names, report: Report) -> model.HealthCheck | None:
    given = [key for key in CHECK_KINDS if key in opts]
    timing: dict[str, Any] = {
        k[len("healthcheck_") :]: convert_raw(opts[k], c, names, report)
        for k, c in _TIMING.items()
        if k in opts
    }
    if len(given) > 1:
        report.problems.append(
            opts[given[1]].say(f"cannot be given with {given[0]}=: a program has one check")
        )
        return None
    if not given:
        for key in _TIMING:
            if key in opts:
                report.warnings.append(
                    opts[key].say(
                        "is ignored: the program has no healthcheck, healthcheck_url"
                        " or healthcheck_tcp"
                    )
                )
        return None
    key = given[0]
    value = convert_raw(opts[key], _CHECK_CONVERTERS[key], names, report)
    if value is None or None in timing.values():
        return None
    kind = CHECK_KINDS[key]
    if kind == "command":
        return model.HealthCheck(kind, command=value, **timing)
    if kind == "http":
        host, port, path = value
        return model.HealthCheck(kind, host=host, port=port, path=path, **timing)
    host, port = value
    return model.HealthCheck(kind, host=host, port=port, **timing)


# -- the whole configuration ---------------------------------------------------------


def check_graph(
    groups: list[model.GroupConfig], sections: dict[str, Section], report: Report
) -> None:
    """Every dependency names a program, and no chain of them comes back to its start."""
    programs: dict[str, dict[str, frozenset[str]]] = {}
    for group in groups:
        for process in group.processes:
            programs.setdefault(process.program, {}).update(process.depends_on)
    for name, deps in programs.items():
        unknown = sorted(d for d in deps if d not in programs)
        if unknown:
            report.problems.append(
                _say(sections, name, f"names {', '.join(unknown)}, which is no program")
            )
    cycle = _find_cycle({n: [d for d in deps if d in programs] for n, deps in programs.items()})
    if cycle is not None:
        chain = " -> ".join(cycle)
        report.problems.append(_say(sections, cycle[0], f"makes a cycle: {chain}"))


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of graph (name -> names it depends on) as a path back to its start."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(start, iter(sorted(graph[start])))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return [*path[path.index(child) :], child]
            elif child not in done:
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
                on_path.add(child)
    return None


def _say(sections: dict[str, Section], program: str, message: str) -> str:
    section = sections.get(f"program:{program}") or sections.get(f"eventlistener:{program}")
    if section is not None:
        for key in ("depends_on", "dependent_startup_wait_for"):
            raw = section.options.get(key)
            if raw is not None:
                return raw.say(message)
        return f"{section.where()}: {message}"
    return f"program {program!r}: {message}"


def drop_plugin_listener(
    groups: list[model.GroupConfig], sections: dict[str, Section], report: Report
) -> list[model.GroupConfig]:
    """groups without supervisord-dependent-startup's own listener, said when there."""
    kept = []
    for group in groups:
        commands = [" ".join(p.command) for p in group.processes]
        if group.listener is not None and any(
            PLUGIN_MODULE in c.replace("-", "_") for c in commands
        ):
            section = sections.get(f"eventlistener:{group.name}")
            where = section.where() if section is not None else f"[eventlistener:{group.name}]"
            report.warnings.append(
                f"{where}: is supervisord-dependent-startup, which initsup does not run:"
                " initsup starts dependent_startup programs itself, in the order of"
                " dependent_startup_wait_for, so nothing starts twice"
            )
            continue
        kept.append(group)
    return kept

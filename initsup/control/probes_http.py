"""GET /livez, /readyz and /startupz: Kubernetes' three probes, as kube-apiserver answers them.

Each path asks one question (initsup.health.verdicts) of the watched programs, or of one
program at `/readyz/<name>` (NAME or GROUP:NAME; 404 for an unknown one).  Machines read
only the status, 200 or 503; the body is "ok", or, with `?verbose` or on a failure, one
line per check (`[+]program:web ok`, `[-]program:db failed: STARTING, not ready`) and a
last line (`readyz check passed`).  `?exclude=program:web` (repeatable) leaves a check
out.  /readyz has one more check, `shutdown`, failed from the first SIGTERM on, so that
load balancers stop sending before the programs stop.

kubelet's httpGet probes send no credentials, so these paths answer a client without any
even when the server asks for them (initsup.control.routes opens them); such a client
learns the status and nothing more: `?verbose` asks it for credentials (401) and a
failure's body is the last line alone.
"""

from __future__ import annotations

from initsup.control import api
from initsup.control.http_auth import CHALLENGE
from initsup.control.http_parse import unquote

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from initsup.control.api import Host
    from initsup.control.handlers import Handler, Request, Responder

    Check = tuple[str, bool, str]  # (name, good, why not)

# Each path and the question it asks (initsup.health.verdicts.QUESTIONS, imported with
# the first probe: a server nobody probes loads none of initsup.health).
PATHS = {"/livez": "live", "/readyz": "ready", "/startupz": "started"}
MAX_QUERY = 4096  # characters of a query string read; a probe's is a few words
TEXT = "text/plain; charset=utf-8"
HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def handlers(host: Host) -> tuple[dict[str, Handler], dict[str, Handler]]:
    """(exact paths, path prefixes) of the probes, for initsup.control.routes."""
    exact = {path: handler(host, path) for path in PATHS}
    return exact, {path + "/": exact[path] for path in PATHS}


def handler(host: Host, path: str) -> Handler:
    """The handler of one probe path (and of the per-program paths below it)."""
    question = PATHS[path]
    word = path[1:]  # "readyz": the last line's first word

    def handle(request: Request, responder: Responder) -> None:
        if request.method not in ("GET", "HEAD"):
            responder.send(405, b"Method Not Allowed\n", TEXT, {"Allow": "GET, HEAD", **HEADERS})
            return
        verbose, excluded = parse_query(request.query)
        if verbose and not request.authenticated:
            responder.send(401, b"Unauthorized\n", TEXT, {"WWW-Authenticate": CHALLENGE})
            return
        name = request.path[len(path) + 1 :]
        checks = _checks(host, question, name)
        if checks is None:
            responder.send(404, f"no such program: {name}\n".encode(), TEXT, HEADERS)
            return
        unmatched = _unmatched(checks, excluded)
        checks = [check for check in checks if not _excluded(check[0], excluded)]
        good = all(ok for _, ok, _ in checks)
        status = 200 if good else 503
        if good and not verbose:
            body = "ok"
        elif request.authenticated:
            body = "".join(_line(check) for check in checks) + unmatched + _verdict(word, good)
        else:
            body = _verdict(word, good)
        responder.send(status, body.encode("utf-8", "backslashreplace"), TEXT, HEADERS)

    return handle


def _checks(host: Host, question: str, name: str) -> list[Check] | None:
    """Every check of a probe: the watched programs' (and readyz's shutdown), or the one
    named program's; None when the name is no program."""
    processes = None
    if name:
        name = unquote(name)
        found, missed = api.resolve(host, name)
        if missed or len(found) != 1 or api.is_group(name):
            return None
        processes = found
    return [
        ("program:" + api.namespec(p) if p is not None else "shutdown", good, why)
        for p, good, why in api.judge(host, question, processes)
    ]


def _excluded(name: str, excluded: set[str]) -> bool:
    """Whether ?exclude= names the check: `program:web`, or `web` alone."""
    return name in excluded or (name.startswith("program:") and name[8:] in excluded)


def _unmatched(checks: list[Check], excluded: set[str]) -> str:
    """kube-apiserver's warning line for ?exclude= names that are no check ("" if none):
    a misspelt exclusion would otherwise leave a check in without a word."""
    names = {name for name, _, _ in checks}
    names |= {name[8:] for name in names if name.startswith("program:")}
    missing = sorted(excluded - names)
    if not missing:
        return ""
    quoted = ",".join(f'"{name}"' for name in missing)
    return f"warn: some health checks cannot be excluded: no matches for {quoted}\n"


def _line(check: Check) -> str:
    name, good, why = check
    return f"[+]{name} ok\n" if good else f"[-]{name} failed: {why}\n"


def _verdict(word: str, good: bool) -> str:
    return f"{word} check {'passed' if good else 'failed'}\n"


def parse_query(query: str) -> tuple[bool, set[str]]:
    """(whether `verbose` is asked, the check names to exclude) of a query string.

    Outside input: anything goes in, nothing raises; only the first MAX_QUERY characters
    are read.
    """
    verbose = False
    excluded: set[str] = set()
    for field in query[:MAX_QUERY].split("&"):
        key, _, value = field.partition("=")
        key = unquote(key, plus=True)
        if key == "verbose":
            verbose = True
        elif key == "exclude" and value:
            excluded.add(unquote(value, plus=True))
    return verbose, excluded

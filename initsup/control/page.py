"""The status page at `/`, its actions at `/control` and its data at `/api/status`.

GET `/` is one self-contained page (initsup.control.page_html) of every process, with a
form per process, per group and for all; POST `/control` runs the form's action through
the control API (initsup.control.page_actions), as `initsup ctl` would, and answers 303
See Other back to `/`, where the outcome is shown; GET `/api/status` is `initsup ctl
status --json`'s document, for scripts and for the page's own refresh.

State changes only by POST, and only from the page: each server (the control socket's
HTTP side, [inet_http_server]'s) makes a random token once, puts it in every form, and
answers 403, changing nothing, to a POST without it or sent from a page of another origin
(initsup.control.page_form).  Credentials, when the section sets them, are asked by the
HTTP server before any of this runs.  The outcome shown after the redirect is kept here
(the last KEEP of them) and named by a number in the query, so the page never shows text
a link could bring.
"""

from __future__ import annotations

import os
import time

from initsup import __version__
from initsup.control import api, counts, negotiation, page_actions, page_form, page_html

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable

    from initsup.control.api import Host
    from initsup.control.handlers import Handler, Request, Responder

KEEP = 32  # outcomes kept for the page after a redirect
MAX_QUERY = 64  # characters of the page's query read (`done=N`)
HTML = "text/html; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
# What every answer of these paths carries: never sniffed, never cached, no Referer
# with a query to other sites.
SAFE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Outcomes:
    """The last KEEP outcomes of actions, by number, for the page after the redirect."""

    def __init__(self) -> None:
        self.kept: dict[int, str] = {}
        self.last = 0

    def add(self, text: str) -> int:
        self.last += 1
        self.kept[self.last] = text
        self.kept.pop(self.last - KEEP, None)
        return self.last

    def get(self, query: str) -> str:
        """The outcome a query's `done=N` names, or ""."""
        for field in query[:MAX_QUERY].split("&"):
            key, _, value = field.partition("=")
            if key == "done" and value.isdigit() and len(value) < 12:
                return self.kept.get(int(value), "")
        return ""


def handlers(host: Host) -> dict[str, Handler]:
    """The page's paths and their handlers; one token and one set of outcomes per server
    (routes are made once per HTTP server)."""
    token = os.urandom(32).hex()
    outcomes = Outcomes()
    return {
        "/": page(host, token, outcomes),
        "/control": control(host, token, outcomes),
        "/api/status": status(host),
    }


def _refuse(responder: Responder, status: int, text: str, allow: str = "") -> None:
    headers = dict(SAFE, Allow=allow) if allow else SAFE
    responder.send(status, f"{status} {text}\n".encode(), TEXT, headers)


def page(host: Host, token: str, outcomes: Outcomes) -> Handler:
    """GET `/`: the status page."""
    policy: list[str] = []  # the CSP, made (hashed) on the first page
    started: list[float | None] = []  # initsup's start, read from /proc once

    def handle(request: Request, responder: Responder) -> None:
        if request.method not in ("GET", "HEAD"):
            _refuse(responder, 405, "Method Not Allowed: the page is read with GET", "GET, HEAD")
            return
        if not policy:
            policy.append(page_html.csp())
            started.append(counts.started_wall())
        now = time.time()
        body = page_html.render(
            api.status(host, now),
            __version__,
            os.uname().nodename,
            started[0],
            now,
            token,
            outcomes.get(request.query),
        )
        headers = dict(SAFE, **{"Content-Security-Policy": policy[0]})
        _send(request, responder, body, HTML, headers)

    return handle


def status(host: Host) -> Handler:
    """GET `/api/status`: `initsup ctl status --json`'s document."""

    def handle(request: Request, responder: Responder) -> None:
        if request.method not in ("GET", "HEAD"):
            _refuse(responder, 405, "Method Not Allowed: read it with GET", "GET, HEAD")
            return
        from initsup import jsoncodec

        text = jsoncodec.dumps(api.status(host, time.time()))
        body = text.encode("utf-8", "backslashreplace") + b"\n"
        _send(request, responder, body, JSON, dict(SAFE))

    return handle


def _send(
    request: Request, responder: Responder, body: bytes, kind: str, headers: dict[str, str]
) -> None:
    """A 200 with body, gzipped for a client that takes it (a phone on a slow link: the
    page of 1,000 programs is 0.66 MB, a twentieth of that gzipped)."""
    headers["Vary"] = "Accept-Encoding"
    if negotiation.wants_gzip(request.headers.get("accept-encoding", "")):
        body = negotiation.gzipped(body)
        headers["Content-Encoding"] = "gzip"
    responder.send(200, body, kind, headers)


def control(host: Host, token: str, outcomes: Outcomes) -> Handler:
    """POST `/control`: a form's action, then 303 See Other to the page."""

    def handle(request: Request, responder: Responder) -> None:
        if request.method != "POST":
            _refuse(responder, 405, "Method Not Allowed: actions are POSTed", "POST")
            return
        form = _checked_form(host, request, responder, token)
        if form is None:
            return
        page_actions.act(host, form["action"], form["name"], _redirect(responder, outcomes))

    return handle


def _checked_form(
    host: Host, request: Request, responder: Responder, token: str
) -> dict[str, str] | None:
    """The form of a POST that may act; None when refused (answered 4xx)."""
    try:
        form = page_form.parse_form(request.body, request.headers.get("content-type", ""))
    except page_form.FormError as exc:
        _refuse(responder, exc.status, exc.reason)
        return None
    if not page_form.same_origin(request.headers):
        host.logger.warning("status page: a POST from another origin was refused")
        _refuse(responder, 403, "Forbidden: the form came from another site")
        return None
    if not page_form.token_matches(form["token"], token):
        host.logger.warning("status page: a POST without the page's token was refused")
        _refuse(responder, 403, "Forbidden: the form's token is not this page's; reload it")
        return None
    if form["action"] not in page_actions.ACTIONS:
        _refuse(responder, 400, "Bad Request: action is start, stop or restart")
        return None
    return form


def _redirect(responder: Responder, outcomes: Outcomes) -> Callable[[str], None]:
    def answer(text: str) -> None:
        location = f"/?done={outcomes.add(text)}" if text else "/"
        headers = dict(SAFE, Location=location)
        responder.send(303, b"See Other\n", TEXT, headers)

    return answer

"""The status page's markup (initsup.control.page_html): hostile names and descriptions
stay text, every control has a visible label, and the Content-Security-Policy's hashes are
those of the page's one inline style and one inline script."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from typing import Any

from initsup.control import api, page_html

TOKEN = "ab" * 32
HOSTILE = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>"


def info(name: str, group: str | None = None, **fields: Any) -> dict[str, Any]:
    """A process of api.status, RUNNING unless told."""
    values = {
        "name": name,
        "group": group or name,
        "pid": 42,
        "statename": "RUNNING",
        "description": "pid 42, uptime 0:00:05",
        "essential": False,
        "ready": True,
        "healthy": None,
        "restarts": 0,
        "now": 1000,
    }
    values.update(fields)
    return values


class Page(HTMLParser):
    """The parts of a rendered page the tests look at."""

    def __init__(self, html: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self.text: list[str] = []
        self._in: str | None = None
        self.feed(html.decode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag in self.raw:
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.raw[self._in].append(data)
        else:
            self.text.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]


def render(status: list[dict[str, Any]], message: str = "", started: float | None = 900.0) -> Page:
    return Page(page_html.render(status, "1.2.3", "box", started, 1000.0, TOKEN, message))


def test_hostile_names_and_descriptions_stay_text() -> None:
    page = render(
        [info(HOSTILE, group="g<b>", description=HOSTILE, spawnerr=HOSTILE, essential=True)],
        message=HOSTILE,
    )
    assert not page.all("img")
    assert len(page.all("script")) == 1  # the page's own
    assert not any(t == "b" and "g" in a for t, a in page.tags)
    text = "".join(page.text)
    assert text.count(HOSTILE) >= 3  # the name, the description, the message: as text
    rows = page.all("tr", **{"data-name": f"g<b>:{HOSTILE}"})
    assert len(rows) == 1
    hidden = page.all("input", name="name")
    assert f"g<b>:{HOSTILE}" in [a["value"] for a in hidden]
    assert "g<b>:*" in [a["value"] for a in hidden]  # the group's form


def test_every_control_has_a_visible_label_and_posts_to_control() -> None:
    page = render([info("web"), info("w_0", "workers"), info("w_1", "workers")])
    forms = page.all("form")
    assert len(forms) == 5  # all, the group, and each process
    assert all(f["method"] == "post" and f["action"] == "/control" for f in forms)
    raw = page_html.render([info("web")], "1", "box", None, 0, TOKEN).decode()
    for action in ("start", "stop", "restart"):
        assert f'value="{action}" aria-label="{action} web">{action}</button>' in raw
    assert '<a class="tail" href="/logtail/web" aria-label="tail web">tail</a>' in (raw)
    assert [a["value"] for a in page.all("input", name="token")] == [TOKEN] * 5
    assert len(page.all("button", name="action")) == 15
    assert page.all("meta", name="viewport")


def test_the_page_shows_what_the_issue_lists() -> None:
    page = render(
        [
            info("db", essential=True, healthy=False, ready=False, restarts=3),
            info("web", statename="STOPPED", pid=0, description="Dec 06 09:00 AM"),
        ]
    )
    text = "".join(page.text)
    assert "version 1.2.3" in text
    assert "up 0:01:40" in text
    assert "essential: db" in text
    assert "unhealthy" in text and "Dec 06 09:00 AM" in text and "STOPPED" in text
    row = page.all("tr", **{"data-name": "db"})[0]
    assert row  # the script finds each row by its name
    assert "essential" in text


def test_no_uptime_when_the_start_is_unknown() -> None:
    assert not render([info("web")], started=None).all("span", id="up")
    assert render([info("web")]).all("span", id="up")


def test_csp_hashes_are_those_of_the_inline_blocks() -> None:
    page = render([info("web")])
    policy = page_html.csp()
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for kind, directive in (("style", "style-src"), ("script", "script-src")):
        (block,) = page.raw[kind]
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert directives[directive] == f"'sha256-{digest}'"
    assert "unsafe" not in policy
    for key, value in (
        ("connect-src", "'self'"),
        ("form-action", "'self'"),
        ("frame-ancestors", "'none'"),
        ("base-uri", "'none'"),
    ):
        assert directives[key] == value


def test_no_inline_style_or_handler_attributes_which_the_policy_would_block() -> None:
    page = render([info(HOSTILE), info("web")], message="m")
    for _, attrs in page.tags:
        assert "style" not in attrs
        assert not [name for name in attrs if name.startswith("on")]


def test_tail_links_escape_the_name_as_a_path() -> None:
    assert page_html.quote_path("grp:web_1") == "grp:web_1"
    assert page_html.quote_path("a b/é?") == "a%20b%2F%C3%A9%3F"
    raw = page_html.render([info("a b", "g&")], "1", "box", None, 0, TOKEN).decode()
    assert 'href="/logtail/g%26:a%20b"' in raw


def test_health_words() -> None:
    assert page_html.health(info("a", healthy=True)) == "healthy"
    assert page_html.health(info("a", healthy=True, ready=False)) == "healthy, not ready"
    assert page_html.health(info("a", healthy=False)) == "unhealthy"
    assert page_html.health(info("a", statename="STARTING", ready=False)) == "not ready"
    assert page_html.health(info("a")) == "ready"
    assert page_html.health(info("a", statename="STOPPED", ready=False)) == ""


def test_the_script_words_health_as_the_page_does() -> None:
    """The refresh rewrites the cell with the script's own function: the same cases."""
    script = page_html.SCRIPT
    for word in ('"unhealthy"', '"healthy"', '"healthy, not ready"', '"ready"', '"not ready"'):
        assert word in script
    assert re.search(r'p\.statename === "STARTING" \|\| p\.statename === "RUNNING"', script)


def test_text_that_utf8_cannot_hold_does_not_break_the_page() -> None:
    body = page_html.render([info("\udcff")], "1", "box", None, 0, TOKEN)
    assert b"\\udcff" in body


def test_uptime() -> None:
    """The page's uptime is written as supervisord's descriptions write it."""
    assert api.uptime(3723) == "1:02:03"
    assert api.uptime(86400 + 5) == "1 day, 0:00:05"
    assert api.uptime(-3) == "0:00:00"

"""The status page's HTML: the document, its one inline style and its one inline script.

A pure function of data (`initsup ctl status --json`'s document, initsup's version and
start, the essential programs, the form token, an outcome message) to one self-contained
page: no file, no font, no image and no script from anywhere else, so it works offline,
behind a proxy and under a Content-Security-Policy that allows only these two inline
blocks, named by their sha256 hashes (`csp`).  Nothing in the markup needs JavaScript:
every action is a POST form, and "tail" is a link to the raw stream; the script only
refreshes the table from /api/status and opens a live tail in a panel.

Every value is escaped: program names come from the configuration (and from environment
variables), descriptions from a program's spawn error or health check output.
"""

from __future__ import annotations

from initsup.control.api import uptime

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from typing import Any

    Info = dict[str, Any]  # one process of api.status

# Narrow screens (phones) show each process as a card: the table's cells stack, each
# with its column's name in front, and the buttons wrap.
STYLE = """
:root{color-scheme:light dark;--line:#8884;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700}
body{font:15px/1.4 system-ui,sans-serif;margin:0;padding:0 1rem 2rem;max-width:80rem}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.2rem 1.2rem;
border-bottom:1px solid var(--line);padding:.6rem 0}
h1{font-size:1.3rem;margin:0}
header p{margin:0}
.msg{border:1px solid var(--line);border-left:4px solid var(--ok);padding:.4rem .6rem;
margin:.8rem 0;white-space:pre-wrap}
.msg.err{border-left-color:var(--bad)}
.bulk{display:flex;flex-wrap:wrap;gap:.4rem 1.5rem;margin:.8rem 0}
form{display:flex;flex-wrap:wrap;align-items:center;gap:.3rem;margin:0}
button,a.tail{font:inherit;font-size:.85rem;padding:.15rem .55rem;border:1px solid var(--line);
border-radius:4px;background:#8881;color:inherit;cursor:pointer;text-decoration:none}
button:hover,a.tail:hover{background:#8883}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);
vertical-align:middle}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ess{font-size:.75rem;border:1px solid currentColor;border-radius:3px;padding:0 .25rem;
margin-left:.3rem}
.s-RUNNING{color:var(--ok);font-weight:600}
.s-FATAL,.s-BACKOFF,.s-EXITED,.s-UNKNOWN,.bad{color:var(--bad);font-weight:600}
.s-STARTING,.s-STOPPING{color:var(--warn);font-weight:600}
#tail{position:fixed;left:0;right:0;bottom:0;max-height:45vh;display:flex;
flex-direction:column;background:Canvas;border-top:2px solid var(--line)}
#tail[hidden]{display:none}
body:has(#tail:not([hidden])){padding-bottom:46vh}
#tail div{display:flex;justify-content:space-between;align-items:center;padding:.3rem 1rem}
#tail pre{margin:0;padding:.3rem 1rem;overflow:auto;flex:1;font-size:.8rem;
white-space:pre-wrap;word-break:break-all}
#note{font-size:.8rem;opacity:.75}
@media (max-width:44rem){
thead{display:none}
table,tbody,tr,td{display:block}
tr{border:1px solid var(--line);border-radius:6px;margin:.6rem 0;padding:.3rem}
td{border:0;padding:.15rem .3rem}
td:empty{display:none}
td.num{text-align:left}
td::before{opacity:.65;font-size:.85rem}
td:nth-child(1)::before{content:"program: "}
td:nth-child(2)::before{content:"state: "}
td:nth-child(3)::before{content:"description: "}
td:nth-child(4)::before{content:"health: "}
td:nth-child(5)::before{content:"restarts: "}
td:nth-child(6)::before{content:"pid: "}
}
"""

# Refresh: every REFRESH ms, /api/status; each row's cells are set from its process (a
# process added or removed by a reload reloads the page).  Tail: the link's click opens
# the panel and reads /logtail/<name> with fetch's body reader, live, until closed.
SCRIPT = """
"use strict";
(() => {
  const REFRESH = 2000, KEEP = 65536;
  const rows = new Map();
  for (const tr of document.querySelectorAll("tr[data-name]")) rows.set(tr.dataset.name, tr);
  const note = document.getElementById("note");
  const up = document.getElementById("up");
  const spec = (p) => (p.group === p.name ? p.name : p.group + ":" + p.name);
  const health = (p) => {
    if (p.healthy === false) return "unhealthy";
    if (p.healthy === true) return p.ready ? "healthy" : "healthy, not ready";
    if (p.statename === "STARTING" || p.statename === "RUNNING") {
      return p.ready ? "ready" : "not ready";
    }
    return "";
  };
  const clock = (s) => {
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    const m = String(Math.floor(s % 3600 / 60)).padStart(2, "0");
    const t = h + ":" + m + ":" + String(s % 60).padStart(2, "0");
    return d ? d + (d === 1 ? " day, " : " days, ") + t : t;
  };
  const set = (el, text) => { if (el.textContent !== text) el.textContent = text; };
  const show = (list) => {
    if (list.length !== rows.size || list.some((p) => !rows.has(spec(p)))) {
      location.reload();
      return;
    }
    for (const p of list) {
      const cells = rows.get(spec(p)).cells;
      set(cells[1], p.statename);
      cells[1].className = "s-" + p.statename;
      set(cells[2], p.description);
      set(cells[3], health(p));
      cells[3].className = p.healthy === false ? "bad" : "";
      set(cells[4], String(p.restarts));
      set(cells[5], p.pid ? String(p.pid) : "");
    }
    if (up && list.length) set(up, clock(list[0].now - Number(up.dataset.started)));
    set(note, "updated " + new Date().toLocaleTimeString());
  };
  const refresh = () => {
    fetch(new URL("/api/status", location.origin), { cache: "no-store" })
      .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(show)
      .catch((e) => set(note, "not updated: " + e.message))
      .finally(() => setTimeout(refresh, REFRESH));
  };
  setTimeout(refresh, REFRESH);

  const panel = document.getElementById("tail");
  const out = panel.querySelector("pre");
  const title = panel.querySelector("strong");
  let reading = null;
  const close = () => {
    if (reading) reading.abort();
    reading = null;
    panel.hidden = true;
  };
  const open = (name) => {
    close();
    const ctl = new AbortController();
    reading = ctl;
    set(title, "tail of " + name);
    out.textContent = "";
    panel.hidden = false;
    fetch(new URL("/logtail/" + encodeURIComponent(name), location.origin), { signal: ctl.signal })
      .then((r) => {
        if (!r.ok) throw new Error("HTTP " + r.status);
        const reader = r.body.getReader(), text = new TextDecoder();
        const pump = () => reader.read().then(({ done, value }) => {
          if (done) return;
          let all = out.textContent + text.decode(value, { stream: true });
          if (all.length > KEEP) all = all.slice(all.length - KEEP / 2);
          const bottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
          out.textContent = all;
          if (bottom) out.scrollTop = out.scrollHeight;
          return pump();
        });
        return pump();
      })
      .catch((e) => {
        if (reading === ctl) out.textContent += "\\n[tail ended: " + e.message + "]";
      });
  };
  for (const a of document.querySelectorAll("a.tail")) {
    const name = a.closest("tr").dataset.name;
    a.addEventListener("click", (event) => { event.preventDefault(); open(name); });
  }
  panel.querySelector("button").addEventListener("click", close);
})();
"""

# The characters a namespec keeps in a /logtail link; the rest are %-escaped.
_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:")


def escape(value: object) -> str:
    """Text made safe in HTML element content and in double- or single-quoted attributes."""
    return (
        str(value)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def quote_path(name: str) -> str:
    """A namespec as one %-escaped path segment (UTF-8), for /logtail/<name>."""
    if all(char in _URL_SAFE for char in name):
        return name
    data = name.encode("utf-8", "surrogateescape")
    return "".join(chr(b) if chr(b) in _URL_SAFE else f"%{b:02X}" for b in data)


def csp() -> str:
    """The page's Content-Security-Policy: nothing from anywhere, but its own inline style
    and script (by hash), requests to its own origin (refresh, tail) and forms posted
    there; never framed."""
    return (
        "default-src 'none'; "
        f"style-src '{_sha256(STYLE)}'; script-src '{_sha256(SCRIPT)}'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def _sha256(text: str) -> str:
    import binascii
    import hashlib  # the first page pays for it, not every HTTP server

    digest = hashlib.sha256(text.encode()).digest()
    return "sha256-" + binascii.b2a_base64(digest, newline=False).decode()


def namespec(info: Info) -> str:
    """supervisorctl's name of a process in api.status (as Process.namespec)."""
    name, group = str(info["name"]), str(info["group"])
    return name if group == name else f"{group}:{name}"


def health(info: Info) -> str:
    """The health cell: the check's verdict when there is one, else readiness while the
    process is starting or running (the script's `health` says the same)."""
    healthy = info.get("healthy")
    if healthy is False:
        return "unhealthy"
    if healthy is True:
        return "healthy" if info.get("ready") else "healthy, not ready"
    if info.get("statename") in ("STARTING", "RUNNING"):
        return "ready" if info.get("ready") else "not ready"
    return ""


def _buttons(name: str, token: str) -> str:
    """The hidden fields and the three action buttons of one form, for a namespec, a
    GROUP:* or all."""
    label = escape(name)
    return (
        f'<input type="hidden" name="name" value="{label}">'
        f'<input type="hidden" name="token" value="{token}">'
        + "".join(
            f'<button name="action" value="{action}" aria-label="{action} {label}">'
            f"{action}</button>"
            for action in ("start", "stop", "restart")
        )
    )


def _row(info: Info, token: str) -> str:
    name = namespec(info)
    label = escape(name)
    state = escape(info["statename"])
    essential = '<span class="ess">essential</span>' if info.get("essential") else ""
    health_class = ' class="bad"' if info.get("healthy") is False else ""
    return (
        f'<tr data-name="{label}"><td><b>{label}</b>{essential}</td>'
        f'<td class="s-{state}">{state}</td><td>{escape(info["description"])}</td>'
        f"<td{health_class}>{escape(health(info))}</td>"
        f'<td class="num">{int(info["restarts"])}</td>'
        f'<td class="num">{int(info["pid"]) or ""}</td>'
        f'<td><form method="post" action="/control">{_buttons(name, token)}'
        f'<a class="tail" href="/logtail/{escape(quote_path(name))}" '
        f'aria-label="tail {label}">tail</a></form></td></tr>'
    )


def _bulk(status: list[Info], token: str) -> str:
    """The forms for all, and for each group that is more than one program of its name."""
    members: dict[str, list[str]] = {}
    for info in status:
        members.setdefault(str(info["group"]), []).append(str(info["name"]))
    forms = [f'<form method="post" action="/control"><b>all</b>{_buttons("all", token)}</form>']
    for group, names in members.items():
        if names != [group]:
            forms.append(
                f'<form method="post" action="/control"><span>group <b>{escape(group)}</b>'
                f"</span>{_buttons(group + ':*', token)}</form>"
            )
    return '<section class="bulk" aria-label="all and groups">' + "".join(forms) + "</section>"


def _message(text: str) -> str:
    """The outcome of the last action, marked when any of it failed."""
    if not text:
        return ""
    kind = "msg err" if "ERROR" in text else "msg"
    return f'<p class="{kind}" role="status">{escape(text)}</p>'


def render(
    status: list[Info],
    version: str,
    host: str,
    started: float | None,
    now: float,
    token: str,
    message: str = "",
) -> bytes:
    """The whole page, as UTF-8 (what text cannot be encoded shows as escapes)."""
    essential = [escape(namespec(i)) for i in status if i.get("essential")]
    since = "" if started is None else f'up <span id="up" data-started="{started:.0f}">'
    since += "" if started is None else f"{uptime(now - started)}</span>"
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>initsup on {escape(host)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>initsup on {escape(host)}</h1><p>version {escape(version)}</p>",
        f"<p>{since}</p><p>essential: {', '.join(essential) or 'none'}</p></header>",
        _message(message),
        _bulk(status, token),
        "<table><thead><tr><th>program</th><th>state</th><th>description</th>",
        "<th>health</th><th>restarts</th><th>pid</th><th>actions</th></tr></thead><tbody>",
        *(_row(info, token) for info in status),
        '</tbody></table><p id="note"></p>',
        '<section id="tail" hidden aria-label="tail"><div><strong></strong>',
        '<button type="button">close</button></div><pre></pre></section>',
        f"<script>{SCRIPT}</script></body></html>\n",
    ]
    return "".join(parts).encode("utf-8", "backslashreplace")

"""What a scrape of /metrics asks for: the format (its Accept header), gzip or not
(Accept-Encoding) and the extra names (its query string).

Both are outside input, read by PID 1: each is read only up to a cap, and nothing in
them can raise.  The format is OpenMetrics when Accept names
`application/openmetrics-text` (version 1.0.0, or none) with a q-value above zero and at
least that of the text format 0.0.4; anything else, no Accept, `*/*` or a type initsup
does not write, gets the text format, as Prometheus' own client libraries answer: a
scraper that cannot say what it wants still gets metrics.  Prometheus asks
`application/openmetrics-text;version=1.0.0,...;q=0.75,text/plain;version=0.0.4;q=0.5,...`
and so gets OpenMetrics (initsup.control.negotiation reads the ranges and q-values, and
Accept-Encoding for gzip).

The query: `compat=node_supervisord` adds node_exporter's old supervisord collector's
series (repeatable, or comma-separated); an unknown compat name is an error the scraper
sees (400), so that a misspelt scrape parameter does not go unnoticed.  Other fields are
ignored.
"""

from __future__ import annotations

from initsup.control.http_parse import unquote
from initsup.control.negotiation import MAX_HEADER, MAX_RANGES, media_range, quality

MAX_QUERY = 4096  # characters of a query string read
COMPATS = ("node_supervisord",)  # the extra name sets `compat=` may ask for

OPENMETRICS = "application/openmetrics-text"
TEXT = "text/plain"
# The versions of each format initsup writes ("" : the client named no version).
VERSIONS = {OPENMETRICS: ("", "1.0.0"), TEXT: ("", "0.0.4")}


def wants_openmetrics(accept: str) -> bool:
    """Whether an Accept header prefers OpenMetrics to the text format (see above)."""
    best = {OPENMETRICS: 0.0, TEXT: 0.0}
    named = {OPENMETRICS: False, TEXT: False}
    wildcard = 0.0  # the q of text/* or */*: the text format's, when not named itself
    for part in accept[:MAX_HEADER].split(",")[:MAX_RANGES]:
        kind, params = media_range(part)
        q = quality(params.get("q", "1"))
        if q is None:
            continue  # a range with a q-value that is none is left out, not guessed at
        if kind in VERSIONS:
            named[kind] = True
            if params.get("version", "") in VERSIONS[kind]:
                best[kind] = max(best[kind], q)
        elif kind in ("*/*", "text/*"):
            wildcard = max(wildcard, q)
    text = best[TEXT] if named[TEXT] else wildcard
    return best[OPENMETRICS] > 0 and best[OPENMETRICS] >= text


def parse_query(query: str) -> tuple[set[str], list[str]]:
    """(the compat name sets asked for, the names asked that initsup does not know)."""
    compat: set[str] = set()
    unknown: list[str] = []
    for field in query[:MAX_QUERY].split("&"):
        key, _, value = field.partition("=")
        if unquote(key, plus=True) != "compat":
            continue
        for word in unquote(value, plus=True).split(","):
            name = word.strip()
            if name in COMPATS:
                compat.add(name)
            elif name and name not in unknown:
                unknown.append(name)
    return compat, unknown

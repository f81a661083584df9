"""Reading what a client takes: Accept-style headers (media ranges with parameters and
q-values), and gzip for a client whose Accept-Encoding takes it.

Headers are outside input read by PID 1: each is read only up to MAX_HEADER characters
and MAX_RANGES ranges, and nothing here raises, whatever the text.  /metrics (0.9 MB of
repeated labels for 1,000 programs) and the status page (0.66 MB) are gzipped for a
client that takes it, at zlib's fastest level.
"""

from __future__ import annotations

MAX_HEADER = 4096  # characters of an Accept or Accept-Encoding header read
MAX_RANGES = 64  # ranges of it considered


def wants_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header takes gzip: named with a q-value above zero, or
    left to `*` with one (Prometheus sends `gzip`)."""
    named: float | None = None
    anything = 0.0
    for part in accept_encoding[:MAX_HEADER].split(",")[:MAX_RANGES]:
        coding, params = media_range(part)
        q = quality(params.get("q", "1"))
        if q is None:
            continue
        if coding in ("gzip", "x-gzip"):
            named = max(named or 0.0, q)
        elif coding == "*":
            anything = max(anything, q)
    return (named if named is not None else anything) > 0


def media_range(part: str) -> tuple[str, dict[str, str]]:
    """(`type/subtype` in lower case, its parameters: lower-case names, unquoted values)."""
    kind, *rest = part.split(";")
    params = {}
    for param in rest[:16]:
        name, _, value = param.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def quality(text: str) -> float | None:
    """A q-value (0 to 1, at most three decimals as RFC 9110 has it, read leniently), or
    None when it is none."""
    if len(text) > 8:
        return None
    try:
        q = float(text)
    except ValueError:
        return None
    return q if 0.0 <= q <= 1.0 else None  # NaN fails both comparisons


def gzipped(body: bytes) -> bytes:
    """The body in gzip's framing, at zlib's fastest level: 1,000 programs' 0.9 MB of
    metrics become about 50 kB for 1.5 ms of CPU (level 6 would save a sixth more for
    twice the time)."""
    import zlib  # built into the interpreter: gzip's own module would bring io and more

    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 16+15: a gzip header and trailer
    return packer.compress(body) + packer.flush()

"""The two exposition formats of /metrics: Prometheus' text format 0.0.4 and OpenMetrics
1.0.0, written from one list of families.

The formats differ in a few places only, and this is where those live: a counter's TYPE
line is named with `_total` in the text format and without it in OpenMetrics (whose
samples keep it); an info family (`initsup_build_info`) is a gauge in the text format and
OpenMetrics' `info` type; OpenMetrics ends with `# EOF`.  Prometheus stores the same
series names either way, so a dashboard does not care which format a scrape used.

Label values are escaped once, by `label` (backslash, double quote, newline, as both
formats ask), and made valid UTF-8 first: a name holding an undecodable byte (a
surrogate escape) is written as its backslash escape rather than refusing the scrape.
The text is built with list joins and no per-sample objects: a scrape of 1,000 programs
writes about 16,000 lines.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Iterable

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

GAUGE = "gauge"
COUNTER = "counter"
INFO = "info"


class Family:
    """One metric family: its name as Prometheus stores its samples (a counter's with
    `_total`, an info's with `_info`), type, help text, and samples.

    A sample is what follows the name on its line: `{labels} value`, or ` value` for a
    family without labels (see `sample`).  `openmetrics_type` overrides the type in
    OpenMetrics only: node_exporter's counter without `_total`, which OpenMetrics would
    have to rename, is a gauge there so that its series keeps its name.
    """

    __slots__ = ("help", "name", "openmetrics_type", "samples", "type")

    def __init__(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: list[str] | None = None,
        openmetrics_type: str = "",
    ) -> None:
        self.name = name
        self.type = kind
        self.help = help_text  # plain words: no backslash, quote or newline to escape
        self.samples: list[str] = samples if samples is not None else []
        self.openmetrics_type = openmetrics_type or kind


def label(value: str) -> str:
    """A label value escaped for both formats (without its quotes)."""
    if not value.isascii():
        # lone surrogates (undecodable bytes of a name) cannot be UTF-8: write them as
        # their escape text, whose backslash is escaped below like any other
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    if "\n" in value:
        value = value.replace("\n", "\\n")
    return value


def labels(**pairs: str) -> str:
    """`{name="value",...}` with every value escaped."""
    return "{" + ",".join(f'{name}="{label(value)}"' for name, value in pairs.items()) + "}"


def number(value: float) -> str:
    """A sample value: integers without a fraction, other floats as Python's shortest repr."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value) or math.isinf(value):  # never made; written validly all the same
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return str(int(value)) if value.is_integer() else repr(value)


def sample(value: float, label_text: str = "") -> str:
    """A sample's text after its name: `{labels} value` (label_text from `labels`)."""
    return f"{label_text} {number(value)}"


def render(families: Iterable[Family], openmetrics: bool) -> bytes:
    """The exposition of the families, in OpenMetrics or in the text format."""
    out: list[str] = []
    for family in families:
        name = family.name
        kind = family.openmetrics_type if openmetrics else family.type
        if openmetrics and kind == COUNTER and name.endswith("_total"):
            title = name[:-6]  # OpenMetrics names the family without the suffix
        elif openmetrics and kind == INFO:
            title = name[:-5]  # ..._info
        else:
            title = name
        if not openmetrics and kind == INFO:
            kind = GAUGE
        out.append(f"# HELP {title} {family.help}\n# TYPE {title} {kind}\n")
        if family.samples:
            out.append(name)
            out.append(f"\n{name}".join(family.samples))
            out.append("\n")
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")

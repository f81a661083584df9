"""`/metrics` in Prometheus' text format and OpenMetrics (being built)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from initsup.control.api import Host
    from initsup.control.handlers import Handler


def handlers(host: Host) -> dict[str, Handler]:
    """`/metrics` and its handler."""
    return {}

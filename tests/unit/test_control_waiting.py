"""A request that waits for processes (start, stop, restart) fails as a request: an error
answer and a close, never an exception into the supervisor that called it back."""

from __future__ import annotations

from initsup.control import commands
from tests.control_host import ControlHost, Recorder


def test_a_failing_report_is_the_requests_failure() -> None:
    """The answer failing while the supervisor tells of a change: the request fails, the
    wait is forgotten, the supervisor's call returns normally."""
    host = ControlHost()
    process = host.add("victim")
    process.start()
    host.advance(1)  # startsecs: RUNNING
    reply = Recorder(fail_on_out=True)
    commands.cmd_stop(host, host.feed, reply, ["victim"])
    assert reply.failed == []
    host.exit("victim", 0)  # STOPPING -> STOPPED: host.changed() must not raise
    assert [what for _, what, _ in reply.failed] == ["failed"]
    process.start()
    host.advance(1)
    host.exit("victim", 0)  # later changes no longer reach the forgotten wait
    assert [what for _, what, _ in reply.failed] == ["failed"]

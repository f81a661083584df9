"""`initsup ctl`'s commands in-process, over the real waits and output feeds and a fake
clock: what each answers, in which order, and when (the wording itself is pinned by
tests/integration/test_ctl.py against a real initsup)."""

from __future__ import annotations

import signal

from initsup import events
from initsup.control import api, commands
from initsup.process import Process, SpawnFailed
from tests.control_host import ControlHost, Recorder


def _run(host: ControlHost, command: str, *args: str) -> Recorder:
    reply = Recorder()
    commands.COMMANDS[command](host, host.feed, reply, list(args))
    return reply


def _running(host: ControlHost, *names: str) -> list[Process]:
    processes = [host.add(name) for name in names]
    for process in processes:
        process.start()
    host.advance(1)
    return processes


def test_start_handles_one_name_at_a_time() -> None:
    """`start a b`, as supervisorctl: a's line once it is RUNNING, then b's (already
    started) at once; `start all` passes over what runs."""
    host = ControlHost()
    a = host.add("a")
    _running(host, "b")
    reply = _run(host, "start", "a", "b")
    assert reply.out_lines() == [] and reply.code is None
    host.advance(1)  # a's startsecs
    assert reply.out_lines() == ["a: started", "b: ERROR (already started)"]
    assert reply.code == 0 and a.state.name == "RUNNING"
    reply = _run(host, "start", "all")
    assert reply.out_lines() == [] and reply.code == 0


def test_a_spawn_error_is_exit_7() -> None:
    host = ControlHost()
    host.add("a")
    host.fail_spawns.append(SpawnFailed("can't find command", 127))
    reply = _run(host, "start", "a")
    assert reply.out_lines() == ["a: ERROR (spawn error)"] and reply.code == 7


def test_stop_and_restart_wait_for_the_exit() -> None:
    """`stop` answers once the process has stopped; `restart` then starts it again."""
    host = ControlHost()
    _running(host, "a")
    host.add("b")
    reply = _run(host, "stop", "a", "b")
    assert reply.out_lines() == [] and reply.code is None
    host.exit("a", 0)
    assert reply.out_lines() == ["a: stopped", "b: ERROR (not running)"] and reply.code == 0
    reply = _run(host, "restart", "a")
    assert reply.out_lines() == ["a: ERROR (not running)"] and reply.code is None
    host.advance(1)
    assert reply.out_lines() == ["a: ERROR (not running)", "a: started"] and reply.code == 0


def test_a_client_that_leaves_is_answered_no_more() -> None:
    host = ControlHost()
    _running(host, "a")
    reply = _run(host, "stop", "a")
    reply.gone()
    host.exit("a", 0)
    assert reply.out_lines() == [] and reply.code is None


def test_nothing_starts_while_shutting_down() -> None:
    host = ControlHost()
    a = host.add("a")
    host.shutting_down = True
    reply = _run(host, "start", "a")
    assert reply.lines == [("err", "Error: initsup is shutting down")] and reply.code == 6
    assert a.state.name == "STOPPED"


def test_names_resolve_as_supervisorctl_resolves_them() -> None:
    """NAME, GROUP:NAME, GROUP:*, all; errors as data, worded by the commands."""
    host = ControlHost()
    web = host.add("web")
    one, two = host.add("w1", group="pool"), host.add("w2", group="pool")
    other = host.add("w1", group="other")
    assert api.resolve(host, "web") == ([web], None)
    assert api.resolve(host, "pool:*") == ([one, two], None)
    assert api.resolve(host, "pool:w2") == ([two], None)
    assert api.resolve(host, "all") == ([web, one, two, other], None)
    assert api.resolve(host, "w1") == ([], ("w1", api.AMBIGUOUS))
    assert api.resolve(host, "nope:") == ([], ("nope", api.NO_SUCH_GROUP))
    assert api.resolve(host, "nope") == ([], ("nope", api.NO_SUCH_PROCESS))
    reply = _run(host, "status", "w1", "nope:*")
    assert reply.out_lines()[:2] == [
        "w1: ERROR (ambiguous: use GROUP:NAME)",
        "nope: ERROR (no such group)",
    ]
    assert reply.code == 4


def test_signal_words_each_outcome() -> None:
    host = ControlHost()
    _running(host, "a")
    host.add("b")
    reply = _run(host, "signal", "HUP", "a", "b")
    assert reply.out_lines() == ["a: signalled", "b: ERROR (not running)"] and reply.code == 7
    assert host.sent[-1][1] == int(signal.SIGHUP)
    reply = _run(host, "signal", "NOPE", "a")
    assert reply.out_lines() == ["a: ERROR (bad signal name)"] and reply.code == 1


def test_tail_reads_recent_output_and_follows_it() -> None:
    """The last BYTES (-0: all of it); stderr is stdout's when redirected; -f follows."""
    host = ControlHost()
    host.add("a")
    host.add("b", redirect_stderr=True)
    host.output.record(("a:a", "stdout"), b"hello world\n")
    host.output.record(("b:b", "stdout"), b"both\n")
    # supervisorctl prints what it read as a line: one newline more
    assert _run(host, "tail", "-6", "a").lines == [("data", "world\n\n")]
    assert _run(host, "tail", "-0", "a").lines == [("data", "hello world\n\n")]
    assert _run(host, "tail", "b", "stderr").lines == [("data", "both\n\n")]
    assert _run(host, "tail", "a", "stderr").lines == [("data", "\n")]
    reply = _run(host, "tail", "-f", "a")
    host.output.record(("a:a", "stdout"), b"more\xff")
    assert reply.lines == [
        ("out", "==> Press Ctrl-C to exit <=="),
        ("data", "hello world\n"),
        ("data", "more\\xff"),
    ]
    assert reply.following and reply.code is None
    reply.gone()
    host.output.record(("a:a", "stdout"), b"unseen")
    assert reply.lines[-1] == ("data", "more\\xff")


def test_events_shows_the_latest_and_follows() -> None:
    host = ControlHost()
    for n in range(api.RECENT_EVENTS + 5):
        host.bus.publish(events.remote_communication("t", str(n)))
    assert len(host.feed.recent(1000)) == api.RECENT_EVENTS
    reply = _run(host, "events", "-f")
    assert len(reply.lines) == 50 and reply.code is None
    _run(host, "sendcomm", "kind", "late")
    assert reply.lines[-1][1]["event"] == "REMOTE_COMMUNICATION"
    reply.gone()
    _run(host, "sendcomm", "kind", "later")
    assert len(reply.lines) == 51


def test_reread_update_and_shutdown_go_to_the_host() -> None:
    host = ControlHost()
    assert _run(host, "reread").lines == [("out", "web: changed")]
    assert _run(host, "update").code == 0
    assert host.rereads == [False, True]
    reply = _run(host, "shutdown")
    assert reply.lines == [("out", "Shut down")] and reply.code == 0
    assert host.shutdowns == ["asked to by initsup ctl"]

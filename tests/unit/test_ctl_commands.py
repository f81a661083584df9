"""supervisorctl's remaining commands (add, remove, clear, maintail, fg, reload, avail) and
its exact answers to errors, in-process over the fake host (side by side with the real
supervisorctl in tests/integration/test_supervisorctl_compat.py)."""

from __future__ import annotations

from initsup import feeds
from initsup.control import commands, helptext
from initsup.model import GroupConfig, ProcessConfig
from tests.control_host import ControlHost, Recorder


def _run(host: ControlHost, command: str, *args: str) -> Recorder:
    reply = Recorder()
    commands.COMMANDS[command](host, host.feed, reply, list(args))
    return reply


def _answer(reply: Recorder) -> tuple[list[str], int | None]:
    return [str(value) for _, value in reply.lines], reply.code


def test_usage_errors_print_the_error_then_the_help() -> None:
    host = ControlHost()
    cases = {
        ("start",): ("Error: start requires a process name", 2),
        ("stop",): ("Error: stop requires a process name", 1),
        ("restart",): ("Error: restart requires a process name", 1),
        ("signal", "HUP"): ("Error: signal requires a signal name and a process name", 1),
        ("tail",): ("Error: too few arguments", 1),
        ("clear",): ("Error: clear requires a process name", 1),
        ("version", "x"): ("Error: version accepts no arguments", 1),
        ("avail", "x"): ("Error: avail accepts no arguments", 1),
        ("reread", "x"): ("Error: reread accepts no arguments", 1),
        ("reload", "x"): ("Error: reload accepts no arguments", 1),
        ("shutdown", "x"): ("Error: shutdown accepts no arguments", 1),
        ("maintail", "a", "b"): ("Error: too many arguments", 1),
        ("fg",): ("ERROR: no process name supplied", 1),
    }
    for (command, *args), (error, code) in cases.items():
        lines, got = _answer(_run(host, command, *args))
        assert lines == [error, *helptext.HELP[command]] and got == code, command
    assert host.shutdowns == [] and host.restarts == 0


def test_missing_names_are_answered_one_by_one() -> None:
    host = ControlHost()
    host.add("web").start()
    host.advance(1)
    assert _answer(_run(host, "stop", "nosuch:*")) == (["nosuch: ERROR (no such group)"], 1)
    assert _answer(_run(host, "start", "nosuch:*")) == (["nosuch: ERROR (no such group)"], 2)
    assert _answer(_run(host, "signal", "HUP", "nosuch")) == (
        ["nosuch: ERROR (no such process)"],
        1,
    )
    assert _answer(_run(host, "restart", "nosuch:*")) == (
        ["nosuch: ERROR (no such group)"] * 2,
        2,
    )
    reply = _run(host, "stop", "nosuch", "web")
    host.exit("web", 0)
    assert _answer(reply) == (["nosuch: ERROR (no such process)", "web: stopped"], 1)
    assert _answer(_run(host, "pid", "nosuch")) == (["No such process nosuch"], 1)


def test_thousands_of_names_answered_at_once_do_not_nest() -> None:
    host = ControlHost()
    assert _run(host, "stop", *["x"] * 5000).code == 1


def test_start_of_a_missing_command_is_no_such_file() -> None:
    host = ControlHost()
    missing = host.add("missing", command=["/nonexistent/cmd"])
    host.add("plain", command=["/etc"])
    assert _answer(_run(host, "start", "missing")) == (["missing: ERROR (no such file)"], 1)
    assert missing.state.name == "STOPPED" and not host.spawned_pids()
    assert _answer(_run(host, "start", "plain")) == (["plain: ERROR (file is not executable)"], 1)


def test_group_signals_pass_over_what_is_not_running() -> None:
    host = ControlHost()
    host.add("web").start()
    host.add("idle")
    host.advance(1)
    assert _answer(_run(host, "signal", "HUP", "all")) == (["web: signalled"], 0)
    assert _answer(_run(host, "signal", "HUP", "idle")) == (["idle: ERROR (not running)"], 7)
    assert _answer(_run(host, "signal", "HUP", "idle:*")) == ([], 0)


def test_pid_all_lists_every_process_by_name() -> None:
    host = ControlHost()
    host.add("b").start()
    host.add("a")
    lines, code = _answer(_run(host, "pid", "all", "nosuch"))
    assert lines == ["0", str(host.processes["b:b"].pid)] and code == 0
    assert _answer(_run(host, "pid", "a")) == (["0"], 7)


def test_avail_lists_the_configured_groups_added_or_not() -> None:
    host = ControlHost()
    host.add("web", priority=5)
    later = GroupConfig("later", 7, [ProcessConfig("w", ["/bin/sh"], group="later")])
    host.configured = [host.groups["web"], later]
    lines, code = _answer(_run(host, "avail"))
    assert code == 0
    assert lines == [
        f"{'later:w':<32} avail     auto      7:999",
        f"{'web':<32} in use    auto      999:5",
    ]


def test_add_and_remove_groups() -> None:
    host = ControlHost()
    host.add("web").start()
    host.advance(1)
    later = GroupConfig("later", 7, [ProcessConfig("w", ["/bin/sh"], group="later")])
    host.configured = [host.groups["web"], later]
    assert _answer(_run(host, "add")) == ([], 0)
    assert _answer(_run(host, "add", "later", "web", "nosuch")) == (
        [
            "later: added process group",
            "ERROR: process group already active",
            "ERROR: no such process/group: nosuch",
        ],
        1,
    )
    assert "later:w" in host.processes
    assert _answer(_run(host, "remove", "web", "later", "nosuch")) == (
        [
            "ERROR: process/group still running: web",
            "later: removed process group",
            "ERROR: no such process/group: nosuch",
        ],
        1,
    )
    assert "later:w" not in host.processes


def test_clear_forgets_recent_output() -> None:
    host = ControlHost()
    host.add("a")
    host.add("w", group="pool")
    host.output.record(("a:a", "stdout"), b"old\n")
    host.output.record(("pool:w", "stderr"), b"old\n")
    assert _answer(_run(host, "clear", "a", "nosuch", "pool:*")) == (
        ["a: cleared", "nosuch: ERROR (no such process)", "pool:*: ERROR (no such process)"],
        1,
    )
    assert host.output.recent(("a:a", "stdout")) == b""
    assert host.output.recent(("pool:w", "stderr")) == b"old\n"
    assert _answer(_run(host, "clear", "all")) == (["a: cleared", "pool:w: cleared"], 0)
    assert host.output.recent(("pool:w", "stderr")) == b""


def test_maintail_reads_and_follows_the_main_log() -> None:
    host = ControlHost()
    host.output.record(feeds.MAIN_LOG, b'{"event": "one"}\n{"event": "two"}\n')
    assert _answer(_run(host, "maintail", "-17")) == (['{"event": "two"}\n\n'], 0)
    assert _answer(_run(host, "maintail", "x")) == (["Error: bad argument x"], 1)
    assert _answer(_run(host, "maintail", "-x")) == (["Error: bad argument -x"], 1)
    reply = _run(host, "maintail", "-f")
    host.output.record(feeds.MAIN_LOG, b"three\n")
    assert reply.following and reply.code is None
    assert _answer(reply)[0][0] == "==> Press Ctrl-C to exit <=="
    assert _answer(reply)[0][-1] == "three\n"
    reply.gone()
    host.output.record(feeds.MAIN_LOG, b"unseen\n")
    assert _answer(reply)[0][-1] == "three\n"


def test_fg_follows_both_streams_of_a_running_process() -> None:
    host = ControlHost()
    host.add("web").start()
    host.add("idle")
    host.advance(1)
    assert _answer(_run(host, "fg", "idle")) == (["ERROR: process not running"], 1)
    assert _answer(_run(host, "fg", "nosuch")) == (["ERROR: bad process name supplied"], 1)
    assert _answer(_run(host, "fg", "a", "b")) == (["ERROR: too many process names supplied"], 1)
    reply = _run(host, "fg", "web")
    host.output.record(("web:web", "stdout"), b"out\n")
    host.output.record(("web:web", "stderr"), b"err\n")
    assert _answer(reply) == (["==> Press Ctrl-C to exit <==", "out\n", "err\n"], None)
    reply.gone()
    host.output.record(("web:web", "stderr"), b"unseen\n")
    assert len(reply.lines) == 3


def test_reload_restarts_initsup() -> None:
    host = ControlHost()
    assert _answer(_run(host, "reload")) == (["Restarted supervisord"], 0)
    assert host.restarts == 1
    host.shutting_down = True
    assert _answer(_run(host, "reload")) == (["ERROR: already shutting down"], 1)
    assert host.restarts == 1


def test_help_lists_supervisorctl_commands_then_initsup_ones() -> None:
    listing = helptext.listing()
    assert listing[1] == "default commands (type help <topic>):"
    assert "initsup commands (type help <topic>):" in listing
    assert helptext.help_lines("nosuch") == ["*** No help on nosuch"]
    assert set(commands.COMMANDS) >= set(helptext.HELP) - {"help", "exit", "quit", "open"}


def test_update_of_named_groups() -> None:
    """As supervisorctl: read the configuration, say which names are no group, then stop
    and remove the named groups gone, stop, remove and add back those changed, add those
    new, in that order; the others are left as they are."""
    host = ControlHost()
    for name in ("web", "db", "cache"):
        host.add(name)
    host.configured = [host.groups["web"], host.groups["cache"], GroupConfig("new", 999, [])]
    host.diff = (["new"], ["web", "cache"], ["db"])
    reply = _run(host, "update", "nosuch", "web", "new", "db", "other")
    host.advance(1)
    assert _answer(reply) == (
        [
            "ERROR: no such group: nosuch",
            "ERROR: no such group: other",
            "db: stopped",
            "db: removed process group",
            "web: stopped",
            "web: updated process group",
            "new: added process group",
        ],
        1,
    )
    assert set(host.groups) == {"web", "cache", "new"}  # cache changed, but was not named
    assert _run(host, "update", "all").code == 0 and host.rereads == [False, True]


def test_the_lazy_admin_commands_are_all_in_the_table() -> None:
    from initsup.control import admin

    assert set(admin.COMMANDS) == set(commands.ADMIN) <= set(commands.COMMANDS)

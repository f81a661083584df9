"""supervisord's information, configuration, group, log and event methods in-process,
compared with supervisord's own rpcinterface where that is cheap: the fields of its
structs, its description texts, its readFile and tailFile over the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from supervisor.options import readFile, tailFile
from supervisor.rpcinterface import SupervisorNamespaceRPCInterface
from supervisor.tests.base import (
    DummyOptions,
    DummyPConfig,
    DummyPGroupConfig,
    DummyProcessGroup,
    DummySupervisor,
    PopulatedDummySupervisor,
)

from initsup import events, feeds
from initsup.control import rpcbase, rpclogs, rpcmethods
from initsup.model import GroupConfig, LogTarget, ProcessConfig
from initsup.process import SpawnFailed
from tests.control_host import ControlHost
from tests.unit.test_xmlrpc import fault, request, value


def _theirs() -> SupervisorNamespaceRPCInterface:
    options = DummyOptions()
    config = DummyPConfig(options, "foo", "/bin/foo")
    return SupervisorNamespaceRPCInterface(PopulatedDummySupervisor(options, "foo", config))


def test_process_info_has_supervisords_fields_and_i4_ints() -> None:
    host = ControlHost()
    host.add("a", stdout=LogTarget("/var/log/a.log"), redirect_stderr=True)
    info = value(request(host, "supervisor.getProcessInfo", "a"))
    assert set(info) == set(_theirs().getProcessInfo("foo"))
    assert info["logfile"] == info["stdout_logfile"] == "/var/log/a.log"
    assert info["stderr_logfile"] == ""
    process = host.processes["a:a"]
    process.start_wall = 2**40  # past 2038: capped, as supervisord's capped_int
    assert rpcmethods.process_info(process, 2**41)["start"] == rpcbase.MAXINT
    assert fault(request(host, "supervisor.getProcessInfo", "a:*")) == (10, "BAD_NAME: a:*")


def _described(info: dict[str, Any]) -> str:
    return str(_theirs()._interpretProcessInfo(info))


def test_descriptions_are_supervisords() -> None:
    """Running (uptime between the whole seconds reported), stopped, exited, never
    started, backoff and fatal, each through supervisord's own _interpretProcessInfo."""
    host = ControlHost()
    a, b, c = host.add("a"), host.add("b"), host.add("c")
    for process in (a, b):
        process.start()
    host.advance(1)
    # 90061.7 s: a day, an hour, a minute and a second, counted between whole seconds
    a.start_wall, now = 1_799_909_938.5, 1_800_000_000.2
    host.exit("b", 3)
    host.fail_spawns.append(SpawnFailed("can't find command '/usr/bin/c'", 127))
    c.start()  # BACKOFF, with the spawn error as its description
    for process in (a, b, c):
        info = rpcmethods.process_info(process, now)
        assert info["description"] == _described(info), process.name
    assert rpcmethods.process_info(a, now)["description"] == "pid 1000, uptime 1 day, 1:01:02"
    d = host.add("d")
    assert rpcmethods.process_info(d, now)["description"] == "Not started"
    host.exit("b", 3)


def test_all_process_info_is_in_name_order() -> None:
    host = ControlHost()
    host.add("z")
    host.add("w2", group="pool")
    host.add("w1", group="pool")
    infos = value(request(host, "supervisor.getAllProcessInfo"))
    assert [(i["group"], i["name"]) for i in infos] == [("pool", "w1"), ("pool", "w2"), ("z", "z")]


def _supervisords_config_fields() -> set[str]:
    options = DummyOptions()
    supervisord = DummySupervisor(options, "x")
    group = DummyPGroupConfig(options, "g", pconfigs=[DummyPConfig(options, "p", "/bin/p")])
    supervisord.process_groups = {"g": DummyProcessGroup(group)}
    options.process_group_configs = [group]
    interface = SupervisorNamespaceRPCInterface(supervisord)
    return set(interface.getAllConfigInfo()[0])


def test_config_info_lists_the_configuration_last_read() -> None:
    host = ControlHost()
    host.add("web")
    web = host.groups["web"].processes[0]
    spare = ProcessConfig("spare", ["/bin/sleep", "a b"], priority=5, startsecs=0.5, user="0")
    root = ProcessConfig("root", ["/bin/true"], user="root")
    host.configured = [host.groups["web"], GroupConfig("extra", 7, [spare, root])]
    infos = value(request(host, "supervisor.getAllConfigInfo"))
    assert [(i["name"], i["inuse"]) for i in infos] == [
        ("root", False),
        ("spare", False),
        ("web", True),
    ]
    assert infos.pop(0)["uid"] == 0  # the user's id, as supervisord gives it
    assert set(infos[0]) == _supervisords_config_fields()
    assert infos[0]["command"] == "/bin/sleep 'a b'"
    assert (infos[0]["group"], infos[0]["group_prio"], infos[0]["process_prio"]) == ("extra", 7, 5)
    assert (infos[0]["startsecs"], infos[0]["uid"], infos[0]["directory"]) == (0.5, 0, "none")
    assert infos[1]["command"] == web.command[0] and infos[1]["uid"] == "none"
    assert infos[1]["stopsignal"] == 15 and infos[1]["exitcodes"] == [0]


def test_groups_are_added_and_removed() -> None:
    host = ControlHost()
    host.configured = [GroupConfig("extra", 7, [ProcessConfig("spare", ["/bin/true"])])]
    assert value(request(host, "supervisor.addProcessGroup", "extra")) is True
    assert fault(request(host, "supervisor.addProcessGroup", "extra")) == (
        90,
        "ALREADY_ADDED: extra",
    )
    assert fault(request(host, "supervisor.addProcessGroup", "nope")) == (10, "BAD_NAME: nope")
    request(host, "supervisor.startProcess", "extra:spare", False)
    assert fault(request(host, "supervisor.removeProcessGroup", "extra")) == (
        91,
        "STILL_RUNNING: extra",
    )
    host.advance(1)
    host.exit("extra:spare", 0)  # EXITED, expectedly: not restarted
    assert value(request(host, "supervisor.removeProcessGroup", "extra")) is True
    assert fault(request(host, "supervisor.removeProcessGroup", "extra")) == (
        10,
        "BAD_NAME: extra",
    )


def test_reload_config_answers_the_difference_when_read() -> None:
    host = ControlHost()
    host.diff = (["new"], ["web"], [])
    assert value(request(host, "supervisor.reloadConfig")) == [[["new"], ["web"], []]]
    assert host.rereads == [False]
    later: list[Any] = []
    host.reread_diff = later.append  # type: ignore[method-assign,assignment]
    answers = request(host, "supervisor.reloadConfig")
    assert answers == []
    later[0](None, ["web.ini: [program:web] command: empty", "second problem"])
    code, text = fault(answers)
    assert (code, text.splitlines()[0]) == (
        92,
        "CANT_REREAD: web.ini: [program:web] command: empty",
    )


def test_shutdown_and_restart_go_to_the_host() -> None:
    host = ControlHost()
    assert value(request(host, "supervisor.restart")) is True and host.restarts == 1
    assert value(request(host, "supervisor.shutdown")) is True
    assert host.shutdowns == ["asked to by XML-RPC (supervisor.shutdown)"]


# -- logs ------------------------------------------------------------------------------

RANGES = [(0, 0), (0, 5), (3, 4), (-4, 0), (-100, 0), (100, 0), (9, 100), (-3, 2), (2, -1)]


@pytest.mark.parametrize(("offset", "length"), RANGES)
def test_read_range_is_supervisords_read_file(tmp_path: Path, offset: int, length: int) -> None:
    data = b"0123456789ab"
    path = tmp_path / "log"
    path.write_bytes(data)
    try:
        expected: Any = readFile(str(path), offset, length)
    except ValueError as exc:
        expected = exc.args[0]
    try:
        got: Any = rpclogs.read_range(data, len(data), offset, length)
    except rpcbase.Fault as exc:
        got = exc.text
    assert got == expected


@pytest.mark.parametrize(("offset", "length"), [*RANGES, (12, 5), (11, 5), (5, 0)])
def test_tail_range_is_supervisords_tail_file(tmp_path: Path, offset: int, length: int) -> None:
    data = b"0123456789ab"
    path = tmp_path / "log"
    path.write_bytes(data)
    assert rpclogs.tail_range(data, len(data), offset, length) == tailFile(
        str(path), offset, length
    )


def test_offsets_count_every_byte_written_and_the_ring_keeps_the_last() -> None:
    """An offset before the ring's first byte gives what is left of the range."""
    kept, written = b"6789", 10  # bytes 0-5 have left the ring
    assert rpclogs.read_range(kept, written, 0, 0) == b"6789"
    assert rpclogs.read_range(kept, written, 4, 4) == b"67"
    assert rpclogs.read_range(kept, written, 0, 3) == b""
    assert rpclogs.read_range(kept, written, -6, 0) == b"6789"
    assert rpclogs.tail_range(kept, written, 0, 8) == ["6789", 10, True]
    assert rpclogs.tail_range(kept, written, 9, 2) == ["89", 10, False]
    assert rpclogs.tail_range(kept, written, 8, 100) == ["6789", 10, False]  # the last 100


def test_process_logs_are_read_tailed_and_cleared() -> None:
    host = ControlHost()
    host.add("a")
    host.add("b", redirect_stderr=True)
    host.output.record(("a:a", "stdout"), b"hello \x1b[1mworld\n")
    host.output.record(("a:a", "stderr"), b"oops\xff\n")
    assert value(request(host, "supervisor.readProcessStdoutLog", "a", -6, 0)) == "world\n"
    assert value(request(host, "supervisor.readProcessLog", "a", 0, 5)) == "hello"
    assert value(request(host, "supervisor.readProcessStderrLog", "a", 0, 0)) == "oops\ufffd\n"
    # characters XML cannot carry at all become U+FFFD, so every client can read the answer
    assert value(request(host, "supervisor.tailProcessStdoutLog", "a", 0, 10)) == [
        "\ufffd[1mworld\n",
        16,
        True,
    ]
    assert value(request(host, "supervisor.tailProcessStderrLog", "a", 0, 100))[1:] == [6, False]
    assert fault(request(host, "supervisor.readProcessStdoutLog", "a", 0, -1)) == (
        3,
        "BAD_ARGUMENTS",
    )
    # stderr sent to stdout has no log of its own, as in supervisord
    assert fault(request(host, "supervisor.readProcessStderrLog", "b", 0, 0)) == (20, "NO_FILE")
    assert value(request(host, "supervisor.tailProcessStderrLog", "b", 0, 10)) == ["", 0, False]
    assert fault(request(host, "supervisor.tailProcessLog", "x", 0, 1)) == (10, "BAD_NAME: x")
    assert value(request(host, "supervisor.clearProcessLogs", "a")) is True
    assert value(request(host, "supervisor.readProcessStdoutLog", "a", 0, 0)) == ""
    host.output.record(("b:b", "stdout"), b"x")
    assert value(request(host, "supervisor.clearAllProcessLogs")) == [
        {"name": "a", "group": "a", "status": 80, "description": "OK"},
        {"name": "b", "group": "b", "status": 80, "description": "OK"},
    ]
    assert host.output.recent(("b:b", "stdout")) == b""


def test_the_main_log_is_read_and_cleared() -> None:
    host = ControlHost()
    host.output.record(feeds.MAIN_LOG, b'{"event": "started"}\n')
    assert value(request(host, "supervisor.readLog", -10, 0)) == 'started"}\n'
    assert value(request(host, "supervisor.readMainLog", 0, 2)) == '{"'
    assert value(request(host, "supervisor.clearLog")) is True
    assert value(request(host, "supervisor.readLog", 0, 0)) == ""


# -- stdin and events ------------------------------------------------------------------


def test_stdin_faults_in_supervisords_order() -> None:
    host = ControlHost()
    host.add("a")
    assert fault(request(host, "supervisor.sendProcessStdin", "nope", 5)) == (
        2,
        "INCORRECT_PARAMETERS: 5",
    )
    assert fault(request(host, "supervisor.sendProcessStdin", "nope", "x")) == (
        10,
        "BAD_NAME: nope",
    )
    assert fault(request(host, "supervisor.sendProcessStdin", "a", "x")) == (
        70,
        "NOT_RUNNING: a",
    )
    request(host, "supervisor.startProcess", "a", False)
    code, text = fault(request(host, "supervisor.sendProcessStdin", "a", "x"))
    assert code == 20 and text.startswith("NO_FILE: a (") and "/dev/null" in text


def test_remote_comm_events_reach_the_bus() -> None:
    host = ControlHost()
    assert value(request(host, "supervisor.sendRemoteCommEvent", "kind", "data")) is True
    assert host.events[-1].name == "REMOTE_COMMUNICATION"
    assert host.events[-1].payload == events.remote_communication("kind", "data").payload

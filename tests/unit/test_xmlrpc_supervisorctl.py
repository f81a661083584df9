"""supervisorctl itself (the PyPI package's Controller, unmodified) against the XML-RPC
endpoint in-process: its requests go through an xmlrpc.client transport that hands the
body to call() and moves the fake clock until the answer comes.  What it prints and its
exit codes are what it prints against supervisord for the same states."""

from __future__ import annotations

import io
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xmlrpc import client

import pytest
from supervisor.options import ClientOptions
from supervisor.supervisorctl import Controller

from initsup import feeds
from initsup.control import xmlrpc as rpc
from initsup.model import GroupConfig, ProcessConfig
from tests.control_host import ControlHost


class ExitingHost(ControlHost):
    """A host whose processes exit 0.1 s after a SIGTERM."""

    def send(self, pid: int, signum: int, to_group: bool) -> None:
        super().send(pid, signum, to_group)
        if signum == signal.SIGTERM:
            for key, process in self.processes.items():
                if process.pid == pid:
                    self.call_later(0.1, self._exiter(key))

    def _exiter(self, key: str) -> Callable[[], None]:
        return lambda: self.exit(key, 0)


class InProcess(client.Transport):
    """An xmlrpc.client transport that answers through call(), advancing the clock."""

    def __init__(self, host: ControlHost) -> None:
        super().__init__()
        self.host = host

    def request(self, host: Any, handler: Any, request_body: Any, verbose: bool = False) -> Any:
        answers: list[bytes] = []
        rpc.call(self.host, self.host.feed, request_body, answers.append)
        for _ in range(300):
            if answers:
                break
            self.host.advance(0.1)
        parser, unmarshaller = self.getparser()
        parser.feed(answers[0])
        parser.close()
        return unmarshaller.close()


@pytest.fixture
def ctl(tmp_path: Path) -> Any:
    host = ExitingHost()
    host.add("a")
    host.add("w1", group="pool")
    host.add("w2", group="pool")
    conf = tmp_path / "ctl.conf"
    conf.write_text("[supervisorctl]\nserverurl=unix:///nonexistent.sock\n")
    options = ClientOptions()
    options.realize(args=["-c", str(conf)])
    proxy = client.ServerProxy("http://127.0.0.1", transport=InProcess(host))
    options.getServerProxy = lambda: proxy

    def run(command: str) -> tuple[list[str], int]:
        out = io.StringIO()
        controller = Controller(options, stdout=out)
        controller.exitstatus = 0
        controller.onecmd(command)
        return out.getvalue().splitlines(), controller.exitstatus

    run.host = host  # type: ignore[attr-defined]
    return run


def test_status_start_stop_as_supervisorctl_prints_them(ctl: Any) -> None:
    lines, code = ctl("status")
    assert code == 3 and lines[0].split() == ["a", "STOPPED", "Not", "started"]
    assert ctl("start a") == (["a: started"], 0)
    assert ctl("start a") == (["a: ERROR (already started)"], 0)
    assert ctl("start pool:*") == (["pool:w1: started", "pool:w2: started"], 0)
    assert ctl("status a")[0][0].split()[:4] == ["a", "RUNNING", "pid", "1000,"]
    assert ctl("signal HUP pool:*") == (["pool:w1: signalled", "pool:w2: signalled"], 0)
    assert ctl("stop all") == (["a: stopped", "pool:w1: stopped", "pool:w2: stopped"], 0)
    assert ctl("stop a") == (["a: ERROR (not running)"], 0)
    assert ctl("start nope") == (["nope: ERROR (no such process)"], 1)
    assert ctl("stop nope:*") == (["nope: ERROR (no such group)"], 1)
    assert ctl("signal NOPE a") == (["a: ERROR (bad signal name)"], 1)


def test_version_pid_tail_clear_maintail(ctl: Any) -> None:
    from supervisor.options import VERSION

    host = ctl.host
    assert ctl("version") == ([VERSION], 0)
    assert ctl("pid a") == (["0"], 7)  # not running
    host.output.record(("a:a", "stdout"), b"hello\n")
    host.output.record(feeds.MAIN_LOG, b"started\n")
    assert ctl("tail a") == (["hello", ""], 0)
    assert ctl("maintail") == (["started", ""], 0)
    assert ctl("clear a") == (["a: cleared"], 0)
    assert ctl("tail a") == ([""], 0)


def test_avail_reread_add_remove(ctl: Any) -> None:
    host = ctl.host
    extra = GroupConfig("extra", 5, [ProcessConfig("spare", ["/bin/true"])])
    host.configured = [*host.groups.values(), extra]
    lines, code = ctl("avail")
    assert code == 0 and [line.split()[:2] for line in lines] == [
        ["a", "in"],
        ["extra:spare", "avail"],
        ["pool:w1", "in"],
        ["pool:w2", "in"],
    ]
    host.diff = (["extra"], [], [])
    assert ctl("reread") == (["extra: available"], 0)
    assert ctl("add extra") == (["extra: added process group"], 0)
    assert ctl("add extra") == (["ERROR: process group already active"], 0)
    assert ctl("remove nope") == (["ERROR: no such process/group: nope"], 1)
    assert ctl("remove extra") == (["extra: removed process group"], 0)

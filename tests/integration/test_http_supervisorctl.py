"""supervisorctl itself against the HTTP side of the control socket: its XML-RPC
transport (one kept-alive connection per session, Basic auth) and its tail -f client
(HTTP/1.1, chunked), run unchanged in a subprocess."""

from __future__ import annotations

import signal
import subprocess
import sys
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from initsup.control.server import ControlServer
from tests.control_host import ControlHost
from tests.helpers import env
from tests.http_harness import Served

if TYPE_CHECKING:
    from initsup.control.handlers import Request, Responder

SUPERVISORCTL = Path(sys.executable).parent / "supervisorctl"


class Rpc:
    """The two calls supervisorctl's version and tail -f make, answered as supervisord."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.hosts: list[str] = []

    def __call__(self, request: Request, responder: Responder) -> None:
        _, method = xmlrpc.client.loads(request.body)
        self.calls.append(str(method))
        answers = {"supervisor.getVersion": "3.0", "supervisor.getSupervisorVersion": "4.2.5"}
        body = xmlrpc.client.dumps((answers[str(method)],), methodresponse=True)
        responder.send(200, body.encode(), "text/xml")


@pytest.fixture
def control(tmp_path: Path) -> Iterator[tuple[Served, Rpc, Path]]:
    if not SUPERVISORCTL.exists():
        pytest.skip("supervisorctl is not installed next to this Python")
    rpc = Rpc()
    served = Served(credentials=("admin", "pw"), tcp=False, handlers={"/RPC2": rpc})
    host = ControlHost()
    host.loop, host.logger = served.loop, served.logger
    socket_path = tmp_path / "initsup.sock"
    server = ControlServer(host, str(socket_path), 0o600, http=lambda: served.server)
    conf = tmp_path / "ctl.conf"
    conf.write_text(
        f"[supervisorctl]\nserverurl=unix://{socket_path}\nusername=admin\npassword=pw\n"
    )
    try:
        yield served, rpc, conf
    finally:
        server.close()
        served.close()


def test_an_interactive_session(
    control: tuple[Served, Rpc, Path],
) -> None:
    served, rpc, conf = control

    def session() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SUPERVISORCTL), "-c", str(conf)],
            input="version\nversion\nversion\n",
            capture_output=True,
            text=True,
            env=env(),
            timeout=30,
        )

    result = served.call(session, timeout=30)
    assert result.stdout.count("4.2.5") == 3, result
    assert rpc.calls.count("supervisor.getSupervisorVersion") == 3
    # supervisorctl makes a new ServerProxy (a new connection) for each call and leaves
    # it open: each went when the client did.
    served.pump(lambda: not served.server.connections)
    assert served.events() == [] and served.errors == []


def test_tail_f_reads_the_chunked_stream_until_interrupted(
    control: tuple[Served, Rpc, Path],
) -> None:
    served, _, conf = control
    proc = subprocess.Popen(
        [str(SUPERVISORCTL), "-c", str(conf), "tail", "-f", "web"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env(),
    )
    try:
        output = proc.stdout
        assert output is not None
        lines: list[bytes] = []

        def read() -> None:
            for line in iter(output.readline, b""):
                lines.append(line)

        reader = served.start(read)
        served.pump(lambda: b"hello\n" in lines, timeout=30)
        stream = served.streams[0]
        assert stream.request.path == "/logtail/web/stdout"
        stream.responder.write(b"more output\n")
        served.pump(lambda: b"more output\n" in lines, timeout=30)
        proc.send_signal(signal.SIGINT)  # Ctrl-C: supervisorctl closes its connection
        served.pump(lambda: stream.gone == 1, timeout=30)
        served.pump(reader.done, timeout=30)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()

"""Children find the server, and `initsup ctl` finds the socket, wherever it is.

Every program and listener gets SUPERVISOR_SERVER_URL (and [unix_http_server]'s username
and password), as supervisor.childutils.getRPCInterface(os.environ) reads them; a
program's own serverurl= and then its environment= win, as in supervisord.  When
[unix_http_server] file= puts the control socket elsewhere, the default path is a symlink
to it while initsup runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from tests.supervised import Supervised

Start = Callable[..., Supervised]
ENVDUMP = "[program:envdump]\ncommand=sh -c 'env | sort'\nstartsecs=0\nautorestart=false\n"


def _env_lines(s: Supervised) -> set[str]:
    s.wait("PROCESS_STATE_EXITED", program="envdump")
    return {r["event"] for r in s.records if r.get("stream") == "stdout"}


def test_programs_get_the_server_url_and_credentials(supervise: Start, tmp_path: Path) -> None:
    real = tmp_path / "real.sock"
    ini = f"[unix_http_server]\nfile={real}\nusername=admin\npassword=secret\n{ENVDUMP}"
    ini += "[program:own]\ncommand=sh -c 'env | sort'\nstartsecs=0\nautorestart=false\n"
    ini += "environment=SUPERVISOR_SERVER_URL=http://elsewhere:9001\n"
    ini += "[program:byurl]\ncommand=sh -c 'env | sort'\nstartsecs=0\nautorestart=false\n"
    ini += "serverurl=http://127.0.0.1:9002\n"
    s = supervise(ini=ini)
    lines = _env_lines(s)
    s.wait("PROCESS_STATE_EXITED", program="own")
    s.wait("PROCESS_STATE_EXITED", program="byurl")
    byurl = {r["event"] for r in s.records if r.get("program") == "byurl"}
    assert "SUPERVISOR_SERVER_URL=http://127.0.0.1:9002" in byurl  # its serverurl=
    assert f"SUPERVISOR_SERVER_URL=unix://{real}" in lines
    assert {"SUPERVISOR_USERNAME=admin", "SUPERVISOR_PASSWORD=secret"} <= lines
    assert f"INITSUP_SOCKET={real}" in lines
    own = {r["event"] for r in s.records if r.get("program") == "own"}
    assert "SUPERVISOR_SERVER_URL=http://elsewhere:9001" in own  # environment= wins
    assert s.stop() == 0


def test_a_hashed_password_is_not_given(supervise: Start, tmp_path: Path) -> None:
    sha = "{SHA}" + "a" * 40
    ini = f"[unix_http_server]\nfile={tmp_path / 'x.sock'}\nusername=u\npassword={sha}\n"
    s = supervise(ini=ini + ENVDUMP)
    lines = _env_lines(s)
    assert "SUPERVISOR_USERNAME=u" in lines
    assert not any(line.startswith("SUPERVISOR_PASSWORD=") for line in lines)
    assert s.stop() == 0


def test_ctl_finds_a_socket_elsewhere_through_the_default_path(
    supervise: Start, tmp_path: Path
) -> None:
    real = tmp_path / "supervisor.sock"
    default = tmp_path / "initsup.sock"  # what the test's INITSUP_SOCKET names
    default.symlink_to(tmp_path / "gone.sock")  # stale: an earlier run's
    s = supervise(ini=f"[unix_http_server]\nfile={real}\n{ENVDUMP}")
    s.wait("PROCESS_STATE_EXITED", program="envdump")
    assert os.readlink(default) == str(real)
    status = s.ctl("status")  # through INITSUP_SOCKET, the default path
    assert "envdump" in status.stdout, status
    assert s.stop() == 0
    assert not default.is_symlink() and not real.exists()


def test_what_is_not_stale_is_left_alone(supervise: Start, tmp_path: Path) -> None:
    default = tmp_path / "initsup.sock"
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listening.bind(str(default))
        listening.listen(1)
        real = tmp_path / "supervisor.sock"
        s = supervise(ini=f"[unix_http_server]\nfile={real}\n{ENVDUMP}")
        warned = s.wait_prefix(f"no symlink at {default} to the control socket")
        assert f"initsup ctl needs --socket {real}" in warned["event"]
        assert s.stop() == 0
        assert not default.is_symlink() and default.is_socket()
    finally:
        listening.close()
    default.unlink()
    default.write_text("mine")
    s = supervise(ini=f"[unix_http_server]\nfile={tmp_path / 'other.sock'}\n{ENVDUMP}")
    warned = s.wait_prefix(f"no symlink at {default}")
    assert "neither a symlink nor a socket" in warned["event"]
    assert s.stop() == 0
    assert default.read_text() == "mine"


def test_the_same_socket_by_another_path_needs_no_symlink(supervise: Start, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "var").symlink_to(tmp_path / "run")
    via_link = tmp_path / "var" / "initsup.sock"  # the default path, by another name
    s = supervise(
        ini=f"[unix_http_server]\nfile={via_link}\n{ENVDUMP}",
        variables={"INITSUP_SOCKET": str(tmp_path / "run" / "initsup.sock")},
    )
    s.wait("PROCESS_STATE_EXITED", program="envdump")
    assert (tmp_path / "run" / "initsup.sock").is_socket()
    assert not any("no symlink" in str(r["event"]) for r in s.records)
    assert s.stop() == 0

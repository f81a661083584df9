"""[unix_http_server] chown= and [supervisord] user=: the socket is given to that user, and
that user's clients are answered (under supervisord the socket is theirs); any other user
is still refused.  Needs root, to chown and to run clients as other users."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.supervised import Supervised

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="chown and other users need root"),
    pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="no /usr/bin/python3"),
]


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user may reach (pytest's own are root's alone)."""
    directory = Path(tempfile.mkdtemp(prefix="initsup-owner-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# A control client run as another user: the system's python3, as the checkout and its
# environment may be out of that user's reach; it prints whatever initsup answers.
CLIENT = """
import socket, sys
conn = socket.socket(socket.AF_UNIX)
conn.connect(sys.argv[1])
conn.sendall(b'{"cmd": "status", "args": []}\\n')
conn.settimeout(20)
while True:
    data = conn.recv(65536)
    if not data:
        break
    sys.stdout.write(data.decode())
"""


def ctl_as(user: str, socket: Path) -> subprocess.CompletedProcess[str]:
    entry = pwd.getpwnam(user)
    return subprocess.run(
        ["/usr/bin/python3", "-c", CLIENT, str(socket)],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
        cwd="/",
    )


@pytest.mark.parametrize(
    "section", ["[unix_http_server]\nchown=nobody\n", "[supervisord]\nuser=nobody\n"]
)
def test_the_socket_s_user_is_answered_and_others_are_not(
    supervise: Callable[..., Supervised], open_dir: Path, section: str
) -> None:
    socket = open_dir / "http.sock"
    head = f"[unix_http_server]\nfile={socket}\nchmod=0777\n"
    ini = (
        head + section.replace("[unix_http_server]\n", "") if "chown" in section else head + section
    )
    running = supervise(ini=ini + "[program:web]\ncommand=sleep 1000\nstartsecs=0\n")
    running.wait("PROCESS_STATE_RUNNING", program="web")
    if "chown" in section:
        assert socket.stat().st_uid == pwd.getpwnam("nobody").pw_uid
    answered = ctl_as("nobody", socket)
    assert "RUNNING" in answered.stdout, answered
    refused = ctl_as("daemon", socket)
    assert "may not control initsup" in refused.stdout + refused.stderr, refused

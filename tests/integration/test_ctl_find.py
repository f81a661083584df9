"""`initsup ctl -c FILE` and `-s URL` against a running initsup whose socket
[unix_http_server] file= moved: the file's serverurl, or without one its socket, is found."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.helpers import INITSUP, env, wait_for
from tests.supervised import Supervised

Start = Callable[..., Supervised]


def _ctl(*args: str) -> subprocess.CompletedProcess[str]:
    # INITSUP_SOCKET points elsewhere: only the flags can find the server
    return subprocess.run(
        [*INITSUP, "ctl", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env(INITSUP_SOCKET="/nonexistent/initsup.sock"),
    )


def test_the_file_and_the_url_name_the_server(supervise: Start, tmp_path: Path) -> None:
    sock = tmp_path / "moved.sock"
    s = supervise(ini=f"[unix_http_server]\nfile={sock}\n[program:web]\ncommand=sleep 1000\n")
    s.wait("PROCESS_STATE_RUNNING", program="web")
    wait_for(lambda: os.path.exists(sock))
    conf = tmp_path / "initsup.ini"
    assert _ctl("-c", str(conf), "status", "web").stdout.startswith("web   ")
    assert _ctl("-s", f"unix://{sock}", "pid", "web").returncode == 0
    ctl_conf = tmp_path / "ctl.conf"
    ctl_conf.write_text(f"[supervisorctl]\nserverurl=unix://{sock}\nprompt=box\n")
    shell = subprocess.run(
        [*INITSUP, "ctl", "-c", str(ctl_conf)],
        input="version\n",
        capture_output=True,
        text=True,
        timeout=30,
        env=env(INITSUP_SOCKET="/nonexistent/initsup.sock"),
    )
    assert "box> " in shell.stdout and shell.returncode == 0
    gone = _ctl("status")
    assert (gone.returncode, gone.stdout) == (4, "unix:///nonexistent/initsup.sock no such file\n")
    bad = _ctl("-s", "ftp://x", "status")
    assert bad.returncode == 2 and bad.stdout.startswith("Error: -s ftp://x: must be unix://")
    unknown = _ctl("-z", "status")
    assert (unknown.returncode, unknown.stdout) == (
        2,
        "Error: option -z not recognized\nFor help, use initsup ctl -h\n",
    )

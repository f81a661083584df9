"""supervisord's command line and its [supervisord] process options, met as a migrating
user meets them: `initsup -n -c FILE` and friends, in a fresh interpreter.

Each option either does what it does in supervisord (the command line beating the file),
or is refused or ignored with a one-line reason.
"""

from __future__ import annotations

import os
import pwd
import resource
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import env, run
from tests.supervised import Supervised

Start = Callable[..., Supervised]
ONE_SHOT = "startsecs=0\nautorestart=false\n"


def _ini(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "supervisord.conf"
    path.write_text(text)
    return path


def _output(s: Supervised, program: str) -> list[str]:
    s.wait("PROCESS_STATE_EXITED", program=program)
    return [r["event"] for r in s.records if r.get("program") == program and "stream" in r]


def test_n_c_file_supervises_the_file(supervise: Start, tmp_path: Path) -> None:
    path = _ini(tmp_path, f"[program:hello]\ncommand=echo hello\n{ONE_SHOT}")
    s = supervise(args=["-n", "-c", str(path)])
    assert _output(s, "hello") == ["hello"]
    assert s.stop() == 0
    s = supervise(args=["--nodaemon", f"--configuration={path}"])
    assert _output(s, "hello") == ["hello"]
    assert s.stop() == 0


def test_command_line_beats_the_file(supervise: Start, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    path = _ini(
        tmp_path,
        "[supervisord]\nuser=root\numask=022\nloglevel=info\n"
        f"[program:where]\ncommand=sh -c 'id -u; umask; pwd'\n{ONE_SHOT}",
    )
    pidfile = tmp_path / "initsup.pid"
    s = supervise(
        args=[
            *("-c", str(path), "-u", "nobody", "-m", "027"),
            *("-d", str(workdir), "-j", str(pidfile), "-e", "warn"),
        ]
    )
    lines = [s.next()["event"] for _ in range(3)]  # -e warn: only the program's output
    assert lines == [str(pwd.getpwnam("nobody").pw_uid), "0027", str(workdir)]
    assert pidfile.read_text() == f"{s.pid}\n"
    assert s.stop() == 0
    assert not [r for r in s.records if r["level"] == "info" and "stream" not in r]  # -e warn
    assert not pidfile.exists()  # removed at exit


def test_user_keeps_initsup_root_and_says_so(supervise: Start, tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("initsup stays root only when it is root")
    s = supervise(ini=f"[supervisord]\nuser=nobody\n[program:who]\ncommand=id -u\n{ONE_SHOT}")
    said = s.wait_prefix("user=nobody: programs without a user= of their own run as nobody")
    assert "initsup stays root" in said["event"]
    assert _output(s, "who") == [str(pwd.getpwnam("nobody").pw_uid)]
    assert s.stop() == 0


def test_minfds_raises_the_soft_limit_or_refuses_with_supervisords_reason(
    supervise: Start, tmp_path: Path
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 1000:
        pytest.skip("the hard limit is below the 1000 files this test raises the soft one to")
    limit = "[program:limit]\ncommand=sh -c 'ulimit -Sn'\n" + ONE_SHOT
    lowered = ["sh", "-c", 'ulimit -Sn 500 && exec "$@"', "sh"]  # initsup starts at 500
    s = supervise(ini=f"[supervisord]\nminfds=1000\n{limit}", prefix=lowered)
    assert _output(s, "limit") == ["1000"]
    assert s.wait_prefix("Increased RLIMIT_NOFILE limit to 1000")["level"] == "info"
    assert s.stop() == 0

    too_many = 1 << 30  # beyond any nr_open: even root cannot raise the hard limit there
    path = _ini(tmp_path, f"[supervisord]\nminfds={too_many}\n{limit}")
    done = run(["-c", str(path)], env=env(INITSUP_SOCKET=str(tmp_path / "x.sock")))
    assert done.returncode == 2
    assert b"The minimum number of file descriptors required to run this process is" in (
        done.stdout
    )
    assert b"PROCESS_STATE" not in done.stdout  # nothing started


def test_silent_keeps_initsups_records_off_stdout(supervise: Start, tmp_path: Path) -> None:
    path = _ini(tmp_path, f"[program:hello]\ncommand=echo hello\n{ONE_SHOT}")
    s = supervise(args=["-c", str(path), "--silent"])
    record = s.next()
    assert (record["event"], record["program"]) == ("hello", "hello")  # the program's, only
    done = s.ctl("status")
    assert "hello" in done.stdout
    assert s.stop() == 0
    assert all(r.get("stream") == "stdout" for r in s.records)


def test_ignored_options_say_why(tmp_path: Path) -> None:
    path = _ini(tmp_path, f"[program:hello]\ncommand=echo hello\n{ONE_SHOT}")
    done = run(["check", "-c", str(path), "-l", "/x.log", "-y", "1MB", "-q", "/tmp", "-k", "-t"])
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    assert "warning: --logfile, --logfile_maxbytes: ignored: initsup's own log is its" in err
    assert "warning: --nocleanup, --childlogdir: ignored: AUTO child logs go to initsup's" in err
    assert "warning: --strip_ansi: ignored: program output is passed on unchanged" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-u", "nobody", "--", "true"], b"-u is supervisord's, for supervisor mode only"),
        (["-e", "debug", "true"], b"-e debug is supervisord's log level"),
        (["-c", "FILE", "-e", "3"], b"-e 3 applies to single-command mode only"),
        (["-c", "FILE", "-a", "many"], b"--minfds='many': minfds must be a whole number"),
        (["-c", "FILE", "-d", "/nonexistent"], b"must be a directory that exists"),
    ],
)
def test_refused_with_a_reason(tmp_path: Path, args: list[str], message: bytes) -> None:
    path = _ini(tmp_path, f"[program:hello]\ncommand=echo hello\n{ONE_SHOT}")
    done = run([str(path) if a == "FILE" else a for a in args])
    assert done.returncode == 2
    assert message in done.stderr, done.stderr


def test_single_command_mode_keeps_tinis_flags() -> None:
    done = run(["-s", "-v", "-e", "3", "--", "sh", "-c", "exit 3"])
    assert done.returncode == 0  # -e 3: exit code 3 remapped to 0, as tini
    done = run(["-n", "--", "sh", "-c", "exit 4"])  # -n: accepted, initsup never daemonizes
    assert done.returncode == 4


DEBIAN_CONF = """\
; supervisor config file

[unix_http_server]
file=/var/run/supervisor.sock   ; (the path to the socket file)
chmod=0700                       ; sockef file mode (default 0700)

[supervisord]
logfile=/var/log/supervisor/supervisord.log ; (main log file;default $CWD/supervisord.log)
pidfile=/var/run/supervisord.pid ; (supervisord pidfile;default supervisord.pid)
childlogdir=/var/log/supervisor            ; ('AUTO' child log dir, default $TEMP)

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix:///var/run/supervisor.sock ; use a unix:// URL  for a unix socket

[include]
files = {confd}/*.conf
"""


def test_debians_stock_supervisord_conf_checks_with_true_warnings(tmp_path: Path) -> None:
    confd = tmp_path / "conf.d"
    confd.mkdir()
    (confd / "web.conf").write_text("[program:web]\ncommand=sleep 30\n")
    path = _ini(tmp_path, DEBIAN_CONF.format(confd=confd))
    done = run(["check", "-c", str(path)])
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines() == [
        f"initsup: warning: {path}: [supervisord] logfile: ignored: initsup's own log is its"
        " stdout (readLog reads it from memory)",
        f"initsup: warning: {path}: [supervisord] childlogdir: ignored: AUTO child logs go to"
        " initsup's stdout, not to files",
    ]


def test_a_reload_finds_a_relative_file_after_directory_moved_initsup(
    supervise: Start, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _ini(tmp_path, f"[supervisord]\ndirectory={elsewhere}\n[program:a]\ncommand=sleep 30\n")
    in_tmp = ["sh", "-c", 'cd "$0" && exec "$@"', str(tmp_path)]
    s = supervise(args=["-c", "supervisord.conf"], prefix=in_tmp)
    s.wait("PROCESS_STATE_RUNNING", program="a")
    _ini(
        tmp_path,
        f"[supervisord]\ndirectory={elsewhere}\n[program:a]\ncommand=sleep 30\n"
        "[program:b]\ncommand=sleep 30\n",
    )
    os.kill(s.pid, signal.SIGHUP)
    s.wait("PROCESS_STATE_RUNNING", program="b")
    assert s.wait_prefix("configuration reloaded: 1 added")["added"] == ["b"]
    assert s.stop() == 0

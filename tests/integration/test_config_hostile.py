"""Hostile and absurd configuration files, through `initsup check` and a run (fresh interpreters).

Whatever a file holds, the loader answers in bounded time and memory with problem lines that
each name file, section, key and value, and a run with such a file starts nothing and exits 2.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import INITSUP, env

# Starts something visible, so a run that gets past loading would show.
_MARKER_PROGRAM = "[program:marker]\ncommand=touch {marker}\nstartsecs=0\nautorestart=false\n"


def initsup(*args: str, timeout: float = 20.0) -> tuple[int, str]:
    """Run initsup with args in a session of its own; (exit code, stderr).

    On a hang the whole session is killed (the loader is a forked child of its own).
    """
    proc = subprocess.Popen(
        [*INITSUP, *args],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(
            f"initsup {' '.join(args)} did not finish within {timeout} s"
        ) from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, err.decode("utf-8", "replace")


def refused(tmp_path: Path, text: str, *expected: str) -> list[str]:
    """Check that `check` and a run both refuse the file, each problem line naming expected.

    The file also holds a program that would touch a marker: a run must start nothing.
    """
    marker = tmp_path / "started"
    path = tmp_path / "hostile.ini"
    path.write_text(_MARKER_PROGRAM.format(marker=marker) + text)
    code, err = initsup("check", "-c", str(path))
    assert code == 2, err
    lines = err.splitlines()
    assert lines and all(line.startswith("initsup: ") for line in lines), err
    assert "Traceback" not in err and "Error: " not in err, err
    errors = [line for line in lines if line.startswith("initsup: configuration error: ")]
    for part in expected:
        assert any(part in line for line in errors), (part, err)
    code, err = initsup("-c", str(path))
    assert code == 2, err
    assert not marker.exists()
    return errors


def test_a_format_width_of_300_billion_is_an_error_not_a_memory_error(tmp_path: Path) -> None:
    """D11: %(program_name)300000000000s names the value, with no MemoryError."""
    refused(
        tmp_path,
        "[program:a]\ncommand=echo %(program_name)300000000000s\n",
        "hostile.ini: [program:a] command = 'echo %(program_name)300000000000s':",
        "format width over 4096",
    )


def test_an_include_of_dev_zero_is_refused_by_name(tmp_path: Path) -> None:
    """D9/D11: /dev/zero is not read until memory runs out: it is not a regular file."""
    refused(
        tmp_path,
        "[include]\nfiles = /dev/zero\n",
        "/dev/zero: cannot read: a character device, not a regular file",
    )


def test_an_include_matching_a_fifo_does_not_block(tmp_path: Path) -> None:
    """D9: conf.d/* matching a FIFO without a writer is an error naming it, at once."""
    (tmp_path / "conf.d").mkdir()
    os.mkfifo(tmp_path / "conf.d" / "pipe")
    start = time.monotonic()
    refused(
        tmp_path,
        "[include]\nfiles = conf.d/*\n",
        f"{tmp_path}/conf.d/pipe: cannot read: a FIFO, not a regular file",
    )
    assert time.monotonic() - start < 15


def test_the_main_file_must_be_a_regular_file(tmp_path: Path) -> None:
    """D9: -c FIFO and -c /dev/zero are refused without reading them."""
    fifo = tmp_path / "fifo.ini"
    os.mkfifo(fifo)
    for path, kind in ((str(fifo), "a FIFO"), ("/dev/zero", "a character device")):
        code, err = initsup("check", "-c", path)
        assert code == 2
        problem = f"{path}: cannot read: {kind}, not a regular file"
        assert err == f"initsup: configuration error: {problem}\n"


def test_a_file_over_16_mib_is_refused(tmp_path: Path) -> None:
    """Every file read is capped at 16 MiB."""
    big = tmp_path / "big.conf"
    big.write_text("; padding\n" * (2 * 1024 * 1024))
    refused(tmp_path, f"[include]\nfiles = {big}\n", f"{big}: cannot read: larger than 16 MiB")


def test_an_include_chain_of_1200_files_stops_at_a_depth_of_100(tmp_path: Path) -> None:
    """D11: no RecursionError: the 102nd file in the chain is named as too deep."""
    for i in range(1200):
        (tmp_path / f"c{i}.conf").write_text(f"[include]\nfiles = c{i + 1}.conf\n")
    errors = refused(tmp_path, "[include]\nfiles = c0.conf\n", "not read: includes nested")
    assert errors == [
        f"initsup: configuration error: {tmp_path}/c100.conf: not read: includes nested"
        " more than 100 deep"
    ]


def test_a_nul_byte_in_include_files_is_named(tmp_path: Path) -> None:
    """D11: files = conf<NUL>d/*.conf is a problem naming the value, not a ValueError."""
    refused(
        tmp_path,
        "[include]\nfiles = conf\0d/*.conf\n",
        "[include] files = 'conf\\x00d/*.conf': must not contain a NUL byte",
    )


@pytest.mark.parametrize("key", ["command", "environment", "directory"])
def test_nul_bytes_in_values_are_errors(tmp_path: Path, key: str) -> None:
    """D4: a NUL byte in command=, environment= or directory= is refused at load."""
    value = {"command": "sleep 1\0", "environment": 'A="x\0y"', "directory": "/tm\0p"}[key]
    options = {"command": "sleep 1", key: value}
    body = "".join(f"{k}={v}\n" for k, v in options.items())
    refused(
        tmp_path,
        f"[program:a]\n{body}",
        f"[program:a] {key} = {value!r}: must not contain a NUL byte",
    )


def test_a_ten_megabyte_user_name_never_reaches_the_passwd_lookup(tmp_path: Path) -> None:
    """D11: user=%(process_num)9999999d is refused by its width, a long name by its length."""
    refused(
        tmp_path,
        "[program:a]\ncommand=sleep 1\nuser=%(process_num)9999999d\n",
        "[program:a] user = '%(process_num)9999999d': has a format width over 4096",
    )
    refused(
        tmp_path,
        f"[program:a]\ncommand=sleep 1\nuser={'u' * 300}\n",
        "user name of at most 256 characters",
    )


def test_user_with_a_non_ascii_digit_is_an_error(tmp_path: Path) -> None:
    """D4: user=\u00b2 is not a uid (str.isdigit says it is)."""
    refused(
        tmp_path,
        "[program:a]\ncommand=sleep 1\nuser=\u00b2\n",
        "[program:a] user = '\u00b2': must be a user in the passwd database, or a numeric uid",
    )


def test_a_name_split_over_a_continuation_line_stays_on_one_line(tmp_path: Path) -> None:
    """D11: `%(foo` + continuation `bar)s`: the problem shows \\n, not a raw newline."""
    errors = refused(
        tmp_path,
        "[program:a]\ncommand=echo %(foo\n  bar)s\n",
        "refers to unknown name %(foo\\nbar)s",
    )
    assert len(errors) == 1


def test_numprocs_of_a_billion_is_refused_at_once(tmp_path: Path) -> None:
    """D12: numprocs=1000000000 is an error naming the bound, in well under a second."""
    start = time.monotonic()
    refused(
        tmp_path,
        "[program:a]\ncommand=sleep 1\nprocess_name=%(process_num)d\nnumprocs=1000000000\n",
        "[program:a] numprocs = '1000000000': must be a whole number from 1 to 10000",
    )
    assert time.monotonic() - start < 10  # two interpreters; in-process: tests/unit


def test_processes_in_all_are_bounded(tmp_path: Path) -> None:
    """D12: two programs of 6,000 processes each pass 10,000 in all: the second is named."""
    body = "command=sleep 1\nprocess_name=%(process_num)d\nnumprocs=6000\nautostart=false\n"
    refused(
        tmp_path,
        f"[program:a]\n{body}[program:b]\n{body}",
        "[program:b]: its 6000 process(es) would make more than 10000 processes in all",
    )


def test_an_include_pattern_matching_over_1000_files_is_refused(tmp_path: Path) -> None:
    """D12: a pattern may match at most 1,000 files."""
    (tmp_path / "many").mkdir()
    for i in range(1001):
        (tmp_path / "many" / f"{i}.conf").write_text("")
    refused(
        tmp_path,
        "[include]\nfiles = many/*.conf\n",
        "[include] files = 'many/*.conf': pattern 'many/*.conf' matches more than 1000 files",
    )


def test_warnings_are_printed_with_the_errors_they_explain(tmp_path: Path) -> None:
    """A typo `comand=` is an unknown key (a warning) and makes command missing (an error)."""
    path = tmp_path / "typo.ini"
    path.write_text("[program:web]\ncomand=sleep 1\n")
    code, err = initsup("check", "-c", str(path))
    assert code == 2
    assert err.splitlines() == [
        f"initsup: warning: {path}: [program:web] comand = 'sleep 1':"
        " is not an option initsup knows, ignored",
        f"initsup: configuration error: {path}: [program:web] command: required",
    ]


def test_stdout_logfile_syslog_is_the_stream_with_a_warning(tmp_path: Path) -> None:
    """supervisord 4's deprecated `syslog` is not a file named syslog in the working directory."""
    path = tmp_path / "s.ini"
    path.write_text("[program:web]\ncommand=sleep 1\nstdout_logfile=syslog\n")
    proc = subprocess.run(
        [*INITSUP, "check", "--json", "-c", str(path)],
        env=env(),
        capture_output=True,
        text=True,
        timeout=20,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"path": "stream"' in proc.stdout
    assert "deprecated spelling of stdout_syslog=true; initsup has no syslog" in proc.stderr


def test_fcgi_program_says_its_processes_will_not_run(tmp_path: Path) -> None:
    """[fcgi-program:x] gets a warning of its own, not a generic `not used`."""
    path = tmp_path / "f.ini"
    path.write_text("[program:web]\ncommand=sleep 1\n[fcgi-program:php]\ncommand=php-fpm\n")
    code, err = initsup("check", "-c", str(path))
    assert code == 0
    assert "[fcgi-program:php]: initsup does not run FastCGI programs" in err
    assert "will NOT run" in err


def test_a_log_file_in_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    """D4/issue: found at load (exit 2, nothing started), not as an exception in PID 1."""
    refused(
        tmp_path,
        "[program:a]\ncommand=sleep 1\nstdout_logfile=/nonexistent/dir/a.log\n",
        "[program:a] stdout_logfile = '/nonexistent/dir/a.log': cannot be written:"
        " its directory /nonexistent/dir does not exist",
    )


def test_a_log_file_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    """stderr_logfile naming a directory cannot be opened as a file."""
    refused(
        tmp_path,
        f"[program:a]\ncommand=sleep 1\nstderr_logfile={tmp_path}\n",
        f"[program:a] stderr_logfile = '{tmp_path}': cannot be written: it is a directory",
    )


def test_a_command_that_does_not_resolve_is_a_warning(tmp_path: Path) -> None:
    """A bare name not on the child's PATH, or a missing path: warned about, still loaded."""
    path = tmp_path / "c.ini"
    path.write_text(
        "[program:a]\ncommand=initsup-no-such-program x\n"
        "[program:b]\ncommand=sh -c true\nenvironment=PATH=/nonexistent\n"
        f"[program:c]\ncommand={tmp_path}/missing\n"
        "[program:d]\ncommand=sh -c true\n"
    )
    code, err = initsup("check", "-c", str(path))
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert (
        "[program:a] command = 'initsup-no-such-program x': 'initsup-no-such-program'" in lines[0]
    )
    assert "cannot be run on PATH=" in lines[0]
    assert lines[1].endswith(
        "[program:b] command = 'sh -c true': 'sh' cannot be run on PATH=/nonexistent:"
        " No such file or directory; the program will fail to start"
        " (supervisord, too, finds out only then)"
    )
    assert (
        f"[program:c] command = '{tmp_path}/missing': '{tmp_path}/missing' cannot be run:"
        in (lines[2])
    )


def test_duplicate_sections_and_keys_are_warnings_naming_both_lines(tmp_path: Path) -> None:
    """supervisord merges them silently; initsup merges them the same way and says so."""
    path = tmp_path / "d.ini"
    path.write_text(
        "[program:web]\ncommand=sleep 1\ncommand=sleep 2\n[program:web]\nautostart=false\n"
    )
    proc = subprocess.run(
        [*INITSUP, "check", "-c", str(path)], env=env(), capture_output=True, text=True, timeout=20
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        f"initsup: warning: {path}: line 3: [program:web] command is set again"
        " (first at line 2): the last value counts, as in supervisord",
        f"initsup: warning: {path}: line 4: [program:web] appears again (first at line 1):"
        " its keys are merged into one section, as supervisord does",
    ]
    assert "web (priority 999): sleep 2" in proc.stdout


def test_an_included_file_name_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    """A problem naming `bad<newline>name.conf` shows \\n: one problem, one line."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "bad\nname.conf").write_text("[program:x]\nstartsecs=soon\n")
    errors = refused(tmp_path, "[include]\nfiles = conf.d/*.conf\n", "conf.d/bad\\nname.conf")
    assert len(errors) == 2  # startsecs, and command: required


def test_user_numeric_uid_without_entry_is_accepted_unknown_name_is_not(tmp_path: Path) -> None:
    """Containers run as uids with no passwd entry; a name must exist."""
    path = tmp_path / "u.ini"
    path.write_text("[program:a]\ncommand=sleep 1\nuser=54321\n")
    code, err = initsup("check", "-c", str(path))
    assert code == 0, err
    refused(
        tmp_path,
        "[program:b]\ncommand=sleep 1\nuser=initsup-no-such-user\n",
        "[program:b] user = 'initsup-no-such-user': must be a user in the passwd database,"
        " or a numeric uid",
    )

"""initsup supervising several programs in a container, configured by an INI file or by
INITSUP_PROGRAM_* variables alone, controlled with `docker exec C initsup ctl`.

Each test runs on every base (Python 3.9, 3.11 and 3.13) and looks only from outside.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.docker.engine import Box

LOOP = "while :; do sleep 0.05; done"


def prompt(name: str) -> str:
    """A program that says it is up and exits 0 at once on SIGTERM."""
    return f"sh -c \"trap 'echo {name} bye; exit 0' TERM; echo {name} up; {LOOP}\""


INI = f"""
[program:db]
command={prompt("db")}
priority=10

[program:cache]
command={prompt("cache")}
priority=20

[program:web]
command={prompt("web")}
priority=30
numprocs=2
process_name=web_%(process_num)d

[program:app]
command={prompt("app")}
priority=40
essential=true
"""
PROGRAMS = ["db", "cache", "web_0", "web_1", "app"]


def ini_container(run: Callable[..., Box], image: str, tmp_path: Path, **options: Any) -> Box:
    """The INI file mounted where initsup looks by default; returns once all are RUNNING."""
    config = tmp_path / "initsup.ini"
    config.write_text(INI)
    volumes = {str(config): {"bind": "/etc/initsup.ini", "mode": "ro"}}
    box = run(image, volumes=volumes, **options)
    for program in PROGRAMS:
        box.wait_record("PROCESS_STATE_RUNNING", program=program)
    return box


def stopped_order(box: Box) -> list[str]:
    return [r["program"] for r in box.records() if r["event"] == "PROCESS_STATE_STOPPED"]


def test_ini_container_logs_json_and_docker_stop_stops_in_priority_order(
    run: Callable[..., Box], image: str, tmp_path: Path
) -> None:
    box = ini_container(run, image, tmp_path)
    box.wait_record("db up", program="db", stream="stdout")
    box.stop()  # the default 10 s grace
    # 0: every program stopped on request; 137 would mean docker killed initsup.
    assert box.exit_code() == 0
    order = stopped_order(box)
    assert order[:1] == ["app"] and sorted(order[1:3]) == ["web_0", "web_1"], order
    assert order[3:] == ["cache", "db"], order
    records = box.records()  # every line of `docker logs` is one JSON object
    assert {r["program"] for r in records if r["event"].endswith(" bye")} == set(PROGRAMS)


def test_killing_the_essential_program_ends_the_container_with_its_code(
    run: Callable[..., Box], image: str, tmp_path: Path
) -> None:
    box = ini_container(run, image, tmp_path)
    code, out = box.exec("sh", "-c", "kill -KILL $(initsup ctl pid app)")
    assert code == 0, out
    assert box.exit_code() == 128 + 9
    exited = box.wait_record("PROCESS_STATE_EXITED", program="app")
    assert exited["expected"] is False and exited["signal"] == "SIGKILL", exited
    assert sorted(stopped_order(box)) == sorted(set(PROGRAMS) - {"app"})


def test_ctl_status_and_health_through_docker_exec(
    run: Callable[..., Box], image: str, tmp_path: Path
) -> None:
    box = ini_container(run, image, tmp_path)
    code, out = box.exec("initsup", "ctl", "status")
    assert code == 0, out
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["app", "cache", "db", "web:web_0", "web:web_1"]
    assert all(line.split()[1] == "RUNNING" for line in lines), out
    assert box.exec("initsup", "ctl", "health") == (0, "healthy: 1 essential program(s) RUNNING\n")

    code, out = box.exec("initsup", "ctl", "stop", "cache")
    assert (code, out) == (0, "cache: stopped\n")
    code, out = box.exec("initsup", "ctl", "status", "cache")
    assert code == 3 and out.split()[:2] == ["cache", "STOPPED"], out
    # Health follows the essential programs: app still runs.
    assert box.exec("initsup", "ctl", "health")[0] == 0
    box.stop()
    assert box.exit_code() == 0


def test_a_container_configured_by_environment_variables_only(
    run: Callable[..., Box], image: str
) -> None:
    environment = {
        "INITSUP_PROGRAM_WEB": prompt("web"),
        "INITSUP_PROGRAM_WORKER": prompt("worker"),
        "INITSUP_PROGRAM_WORKER__NUMPROCS": "2",
        "INITSUP_PROGRAM_WORKER__PROCESS_NAME": "worker_%(process_num)d",
        "INITSUP_PROGRAM_APP": f"sh -c \"trap 'exit 5' USR1; echo app up; {LOOP}\"",
        "INITSUP_PROGRAM_APP__ESSENTIAL": "true",
    }
    box = run(image, environment=environment)
    for program in ["web", "worker_0", "worker_1", "app"]:
        box.wait_record("PROCESS_STATE_RUNNING", program=program)
    box.wait_record("app up", program="app")
    code, out = box.exec("initsup", "ctl", "signal", "USR1", "app")
    assert code == 0, out
    assert box.exit_code() == 5
    assert sorted(stopped_order(box)) == ["web", "worker_0", "worker_1"]
    exited = box.wait_record("PROCESS_STATE_EXITED", program="app")
    assert exited["exit_code"] == 5 and exited["expected"] is False, exited


def test_a_non_root_user(run: Callable[..., Box], image: str, tmp_path: Path) -> None:
    box = ini_container(run, image, tmp_path, user="nobody")
    code, status = box.exec("cat", "/proc/1/status")
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == ["65534"] * 4
    # /run is root's: the control socket falls back to /tmp, where `ctl` looks too.
    code, out = box.exec("initsup", "ctl", "status")
    assert code == 0 and out.count("RUNNING") == len(PROGRAMS), out
    assert box.exec("test", "-S", "/tmp/initsup.sock")[0] == 0
    assert box.exec("initsup", "ctl", "health")[0] == 0
    box.stop()
    assert box.exit_code() == 0
    assert stopped_order(box)[0] == "app" and stopped_order(box)[-1] == "db"

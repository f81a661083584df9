"""Unit tests for initsup.config.health: checks, notify, on_unhealthy, the dependency
graph and supervisord-dependent-startup's keys, from files and from variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from initsup import model
from initsup.config import health, load
from tests.unit.configs import (
    _commands_resolve,  # noqa: F401  (autouse: the made-up commands resolve)
    problems,
    program,
    warnings_of,
    write,
)


def test_no_check_and_no_dependency_by_default(tmp_path: Path) -> None:
    process = program(tmp_path, "command=/bin/app\n")
    assert process.health is None
    assert process.notify is False
    assert process.depends_on == {}
    assert process.on_unhealthy == "none"


def test_a_command_check_with_dockers_defaults(tmp_path: Path) -> None:
    process = program(tmp_path, "command=/bin/app\nhealthcheck=curl -f localhost || exit 1\n")
    assert process.health == model.HealthCheck("command", command="curl -f localhost || exit 1")
    assert (process.health.interval, process.health.timeout) == (30.0, 30.0)
    assert (process.health.retries, process.health.start_period) == (3, 0.0)


def test_an_http_check_and_its_timing(tmp_path: Path) -> None:
    process = program(
        tmp_path,
        "command=/bin/app\nhealthcheck_url=http://[::1]:8080/healthz?full=1\n"
        "healthcheck_interval=0.5\nhealthcheck_timeout=2\nhealthcheck_retries=5\n"
        "healthcheck_start_period=10\non_unhealthy=RESTART\n",
    )
    assert process.health == model.HealthCheck(
        "http",
        host="::1",
        port=8080,
        path="/healthz?full=1",
        interval=0.5,
        timeout=2.0,
        retries=5,
        start_period=10.0,
    )
    assert process.on_unhealthy == "restart"


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("http://localhost", ("localhost", 80, "/")),
        ("http://127.0.0.1:9/x", ("127.0.0.1", 9, "/x")),
        ("HTTP://web:8000/a/b", ("web", 8000, "/a/b")),
    ],
)
def test_http_urls(url: str, found: tuple[str, int, str]) -> None:
    assert health.http_url(url) == found


@pytest.mark.parametrize(
    "url",
    [
        "https://x/",
        "ftp://x",
        "http://",
        "http://:80/",
        "http://x:0/",
        "http://x:99999/",
        "http://u:p@x/",
        "http://x/a b",
        "http://[::1/",
        "http://x/#frag",
    ],
)
def test_bad_http_urls(url: str) -> None:
    with pytest.raises(ValueError):
        health.http_url(url)


def test_a_tcp_check_bare_port_is_loopback(tmp_path: Path) -> None:
    process = program(tmp_path, "command=/bin/app\nhealthcheck_tcp=5432\n")
    assert process.health == model.HealthCheck("tcp", host="127.0.0.1", port=5432)


def test_checks_from_variables(tmp_path: Path) -> None:
    cfg, _ = load(
        None,
        {
            "INITSUP_PROGRAM_WEB": "/bin/app",
            "INITSUP_PROGRAM_WEB__HEALTHCHECK_TCP": "db:5432",
            "INITSUP_PROGRAM_WEB__HEALTHCHECK_INTERVAL": "1.5",
            "INITSUP_PROGRAM_WEB__NOTIFY": "true",
            "INITSUP_PROGRAM_WEB__DEPENDS_ON": "db",
            "INITSUP_PROGRAM_DB": "/bin/db",
            "INITSUP_DRAIN": "5",
        },
    )
    web = next(p for p in cfg.processes() if p.name == "web")
    assert web.health == model.HealthCheck("tcp", host="db", port=5432, interval=1.5)
    assert web.notify is True
    assert web.depends_on == {"db": frozenset({"READY"})}
    assert cfg.options.drain == 5.0


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("healthcheck_interval=0\nhealthcheck=true\n", "healthcheck_interval = '0': must be"),
        ("healthcheck_retries=0\nhealthcheck=true\n", "healthcheck_retries = '0': must be"),
        ("healthcheck_url=https://x/\n", "healthcheck_url = 'https://x/': must be an http://"),
        ("on_unhealthy=reboot\n", "on_unhealthy = 'reboot': must be none, restart or stop"),
        ("healthcheck=true\nhealthcheck_tcp=80\n", "cannot be given with healthcheck=:"),
        ("dependent_startup_wait_for=db:sleeping\n", "names 'db:sleeping': expected"),
    ],
)
def test_bad_values_name_file_section_key_and_value(tmp_path: Path, body: str, said: str) -> None:
    path = write(
        tmp_path, f"[program:db]\ncommand=/bin/db\n[program:web]\ncommand=/bin/app\n{body}"
    )
    [problem] = problems(path)
    assert problem.startswith(f"{path}: [program:web] ")
    assert said in problem


def test_timing_without_a_check_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "[program:web]\ncommand=/bin/app\nhealthcheck_interval=5\n")
    [warning] = warnings_of(path)
    assert "healthcheck_interval = '5': is ignored: the program has no healthcheck" in warning


def test_unknown_dependencies_and_cycles_name_the_chain(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[program:a]\ncommand=/bin/a\ndepends_on=b\n"
        "[program:b]\ncommand=/bin/b\ndepends_on=c\n"
        "[program:c]\ncommand=/bin/c\ndepends_on=a, nosuch\n",
    )
    found = problems(path)
    assert (
        f"{path}: [program:c] depends_on = 'a, nosuch': names nosuch, which is no program" in found
    )
    assert f"{path}: [program:a] depends_on = 'b': makes a cycle: a -> b -> c -> a" in found


def test_a_program_depending_on_itself(tmp_path: Path) -> None:
    [problem] = problems(
        None, {"INITSUP_PROGRAM_X": "/bin/x", "INITSUP_PROGRAM_X__DEPENDS_ON": "x"}
    )
    assert problem == "INITSUP_PROGRAM_X__DEPENDS_ON='x': depends_on makes a cycle: x -> x"


def test_the_plugins_file_runs_unchanged(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[program:db]\ncommand=/bin/db\nautostart=false\ndependent_startup=true\n"
        "[program:web]\ncommand=/bin/web\nautostart=false\ndependent_startup=true\n"
        "dependent_startup_wait_for=db:running migrate:exited,fatal\n"
        "dependent_startup_inherit_priority=true\n"
        "[program:migrate]\ncommand=/bin/migrate\nautorestart=false\n"
        "[program:tool]\ncommand=/bin/tool\nautostart=false\n"
        "[eventlistener:dependentstartup]\ncommand=python -m supervisord_dependent_startup\n"
        "autostart=true\nevents=PROCESS_STATE\n",
    )
    cfg, warnings = load(path, {})
    by_name = {p.name: p for p in cfg.processes()}
    assert sorted(by_name) == ["db", "migrate", "tool", "web"]  # the plugin is not run
    assert by_name["db"].autostart and by_name["web"].autostart  # initsup starts them
    assert not by_name["tool"].autostart  # plain autostart=false stays
    assert by_name["web"].depends_on == {
        "db": frozenset({"READY"}),
        "migrate": frozenset({"EXITED", "FATAL"}),
    }
    [said] = [w for w in warnings if "dependentstartup" in w]
    assert said.startswith(f"{path}: [eventlistener:dependentstartup]: is supervisord-dependent")
    assert "nothing starts twice" in said


def test_a_listener_with_another_command_is_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[program:web]\ncommand=/bin/web\n"
        "[eventlistener:mail]\ncommand=crashmail -a\nevents=PROCESS_STATE\n",
    )
    cfg, _ = load(path, {})
    assert [g.name for g in cfg.groups] == ["mail", "web"]

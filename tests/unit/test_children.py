"""A child's environment: `[initsup] environment=` has one owner (the configuration,
which merges it into every program's environment), and the spawn adds only initsup's
own names on top of initsup's environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from initsup import config
from initsup.children import Children
from initsup.model import ProcessConfig

INI = """\
[initsup]
environment=GLOBAL=g,SHARED=global

[program:web]
command=serve
environment=SHARED=own

[eventlistener:watch]
command=listen
events=PROCESS_STATE
"""


def test_every_kind_of_program_gets_the_global_environment(tmp_path: Path) -> None:
    """INI programs, listeners, INITSUP_PROGRAM_* and the main program after -- all
    carry [initsup] environment= in their own environment (their own values win)."""
    path = tmp_path / "initsup.ini"
    path.write_text(INI)
    environ = {"INITSUP_PROGRAM_WORKER": "work"}
    loaded, _ = config.load(str(path), environ, ["main-app"])
    processes = {p.name: p for g in loaded.groups for p in g.processes}
    assert set(processes) == {"web", "watch", "worker", "main"}
    for process in processes.values():
        assert process.environment["GLOBAL"] == "g", process.name
    assert processes["web"].environment["SHARED"] == "own"
    assert processes["main"].environment["SHARED"] == "global"


def _children() -> Children:
    nothing: Any = None
    return Children(nothing, nothing, nothing, "json", nothing, nothing, nothing, nothing)


def test_child_env_layers(monkeypatch: Any) -> None:
    """initsup's environment, then initsup's additions (the socket, the server URL and its
    credentials), then SUPERVISOR_*/INITSUP_* names, then the program's environment=."""
    monkeypatch.setenv("FROM_INITSUP", "1")
    monkeypatch.setenv("SUPERVISOR_ENABLED", "outer")
    monkeypatch.setenv("SUPERVISOR_USERNAME", "outer")
    children = _children()
    children.child_environment["INITSUP_SOCKET"] = "/run/initsup.sock"
    children.child_environment["SUPERVISOR_SERVER_URL"] = "unix:///run/initsup.sock"
    children.child_environment["SUPERVISOR_USERNAME"] = "admin"
    process = ProcessConfig(
        "web",
        ["serve"],
        group="site",
        environment={"INITSUP_SOCKET": "mine", "SUPERVISOR_SERVER_URL": "http://elsewhere"},
    )
    env = children._child_env(process)
    assert env["FROM_INITSUP"] == "1"
    assert env["SUPERVISOR_ENABLED"] == "1"
    assert env["SUPERVISOR_PROCESS_NAME"] == env["INITSUP_PROCESS_NAME"] == "web"
    assert env["SUPERVISOR_GROUP_NAME"] == env["INITSUP_GROUP_NAME"] == "site"
    assert env["INITSUP_SOCKET"] == "mine"
    assert env["SUPERVISOR_SERVER_URL"] == "http://elsewhere"  # environment= wins
    assert env["SUPERVISOR_USERNAME"] == "admin"
    plain = children._child_env(ProcessConfig("db", ["serve"]))
    assert plain["SUPERVISOR_SERVER_URL"] == "unix:///run/initsup.sock"
    own = children._child_env(ProcessConfig("db", ["serve"], serverurl="http://x:9001"))
    assert own["SUPERVISOR_SERVER_URL"] == "http://x:9001"  # serverurl= beats initsup's

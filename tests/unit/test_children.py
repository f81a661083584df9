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
    """initsup's environment, then initsup's additions, then SUPERVISOR_*/INITSUP_*
    names, then the program's environment=; a listener also gets the server URL."""
    monkeypatch.setenv("FROM_INITSUP", "1")
    monkeypatch.setenv("SUPERVISOR_ENABLED", "outer")
    children = _children()
    children.child_environment["INITSUP_SOCKET"] = "/run/initsup.sock"
    children.server_url = "unix:///run/initsup.sock"
    process = ProcessConfig("web", ["serve"], group="site", environment={"INITSUP_SOCKET": "mine"})
    env = children._child_env(process, listener=False)
    assert env["FROM_INITSUP"] == "1"
    assert env["SUPERVISOR_ENABLED"] == "1"
    assert env["SUPERVISOR_PROCESS_NAME"] == env["INITSUP_PROCESS_NAME"] == "web"
    assert env["SUPERVISOR_GROUP_NAME"] == env["INITSUP_GROUP_NAME"] == "site"
    assert env["INITSUP_SOCKET"] == "mine"
    assert "SUPERVISOR_SERVER_URL" not in env
    listener = children._child_env(process, listener=True)
    assert listener["SUPERVISOR_SERVER_URL"] == "unix:///run/initsup.sock"

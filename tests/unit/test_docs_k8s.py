"""docs/health.md's Kubernetes pod specs are valid Kubernetes (its own schemas, through
kubernetes-validate), their probes ask initsup's real endpoints and ctl flags, and its
INI example is a configuration initsup reads."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from initsup.control import commands, probes_http
from tests.helpers import INITSUP, ROOT, env

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (pip install '.[test]')"
)
yaml = pytest.importorskip("yaml", reason="PyYAML comes with kubernetes-validate")

DOC = (ROOT / "docs" / "health.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC, re.MULTILINE | re.DOTALL)


def pods() -> list[dict[str, Any]]:
    return [doc for block in blocks("yaml") for doc in yaml.safe_load_all(block) if doc]


def probes(pod: dict[str, Any]) -> list[dict[str, Any]]:
    kinds = ("startupProbe", "livenessProbe", "readinessProbe")
    return [c[kind] for c in pod["spec"]["containers"] for kind in kinds if kind in c]


def test_the_doc_has_an_http_and_an_exec_variant() -> None:
    found = [pod["metadata"]["name"] for pod in pods()]
    assert len(found) == 2, found
    kinds = {
        next(iter({"httpGet", "exec"} & set(probe))) for pod in pods() for probe in probes(pod)
    }
    assert kinds == {"httpGet", "exec"}


@pytest.mark.parametrize("index", [0, 1])
def test_each_pod_spec_is_valid_against_kubernetes_schemas(index: int) -> None:
    pod = pods()[index]
    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(pod, version, strict=True)  # raises when not


def test_a_broken_spec_is_caught() -> None:
    """The validation above can fail: a probe with a misspelt field is refused."""
    pod = pods()[0]
    pod["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)


def test_probes_ask_initsup_s_real_endpoints_and_flags() -> None:
    for pod in pods():
        for probe in probes(pod):
            if "httpGet" in probe:
                assert probe["httpGet"]["path"] in probes_http.PATHS
            else:
                command = probe["exec"]["command"]
                assert command[:3] == ["initsup", "ctl", "health"]
                assert command[3] in commands._QUESTIONS


def test_the_ini_example_is_read_by_initsup(tmp_path: Any) -> None:
    """Every key of the example is one initsup knows, with the meaning the doc gives."""
    (example,) = blocks("ini")
    path = tmp_path / "initsup.ini"
    path.write_text(example)
    result = subprocess.run(
        [*INITSUP, "check", "-c", str(path), "--json"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is not an option" not in result.stderr
    config = json.loads(result.stdout)
    assert config["options"]["drain"] == 5.0
    programs = {p["name"]: p for g in config["groups"] for p in g["processes"]}
    assert programs["web"]["depends_on"] == {"migrate": ["READY"]}
    assert programs["web"]["health"]["kind"] == "http"
    assert programs["db"]["health"]["command"] == "pg_isready -q"

"""The single-file build (scripts/build_pyz.py): run directly, and as a zip application."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, env, imported_modules


def _build(output: Path) -> Path:
    build = [sys.executable, str(ROOT / "scripts" / "build_pyz.py"), str(output)]
    subprocess.run(build, check=True, stdout=subprocess.DEVNULL, timeout=120)
    return output


@pytest.fixture(scope="module")
def single_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("dist") / "initsup.pyz")


@pytest.fixture(scope="module")
def python3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A python3 with nothing installed: the test environment's own runs start-up hooks."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / "bin" / "python3"


def _bare_env(python3: Path, **extra: str) -> dict[str, str]:
    """No checkout on PYTHONPATH: the file must carry initsup itself; python3 first on PATH."""
    result = env(**extra)
    del result["PYTHONPATH"]
    result["PATH"] = str(python3.parent) + os.pathsep + result.get("PATH", os.defpath)
    return result


def _stderr_of(argv: list[str], python3: Path, cwd: Path, **extra: str) -> str:
    """Run argv with python3 first on PATH and extra in the environment; its stderr."""
    result = subprocess.run(
        argv, env=_bare_env(python3, **extra), cwd=cwd, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_run_directly_it_keeps_the_commands_exit_code(
    single_file: Path, python3: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [str(single_file), "--", "sh", "-c", "exit 5"],
        env=_bare_env(python3),
        cwd=tmp_path,
        timeout=30,
    )
    assert result.returncode == 5


def test_as_a_zip_application_it_runs_the_same(
    single_file: Path, python3: Path, tmp_path: Path
) -> None:
    """`python3 initsup.pyz`, for an image without /bin/sh."""
    result = subprocess.run(
        [str(python3), str(single_file), "--", "sh", "-c", "exit 6"],
        env=_bare_env(python3),
        cwd=tmp_path,
        timeout=30,
    )
    assert result.returncode == 6


def test_it_supervises_a_config(single_file: Path, python3: Path, tmp_path: Path) -> None:
    config = tmp_path / "one.ini"
    config.write_text(
        "[program:once]\ncommand=sh -c 'echo hello'\nstartsecs=0\nautorestart=false\n"
    )
    result = subprocess.run(
        [str(single_file), "-c", str(config), "--", "sh", "-c", "sleep 0.2; exit 3"],
        env=_bare_env(python3),
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 3, result.stderr
    assert b'"event":"hello"' in result.stdout


def test_the_working_directory_is_not_on_its_path(
    single_file: Path, python3: Path, tmp_path: Path
) -> None:
    """python3 -c would search the working directory first; the file takes that place."""
    (tmp_path / "select.py").write_text("raise SystemExit(99)\n")
    (tmp_path / "initsup").mkdir()
    (tmp_path / "initsup" / "__init__.py").write_text("raise SystemExit(98)\n")
    result = subprocess.run(
        [str(single_file), "--", "true"], env=_bare_env(python3), cwd=tmp_path, timeout=30
    )
    assert result.returncode == 0


def test_run_directly_it_skips_runpy(single_file: Path, python3: Path, tmp_path: Path) -> None:
    """runpy, which a zip application's __main__ goes through, imports what initsup never uses."""
    profile = {"PYTHONPROFILEIMPORTTIME": "1"}
    run = _stderr_of([str(single_file), "--", "true"], python3, tmp_path, **profile)
    bare = _stderr_of([str(python3), "-c", "pass"], python3, tmp_path, **profile)
    modules = imported_modules(run) - imported_modules(bare)
    assert "initsup.single" in modules
    assert not modules & {"runpy", "importlib.util", "contextlib"}


def test_the_same_sources_give_the_same_bytes(single_file: Path, tmp_path: Path) -> None:
    again = _build(tmp_path / "again.pyz")
    assert again.read_bytes() == single_file.read_bytes()


def test_it_runs_the_initsup_it_carries(single_file: Path, python3: Path, tmp_path: Path) -> None:
    """Not one installed elsewhere (the test environment has an editable install)."""
    verbose = _stderr_of([str(single_file), "--", "true"], python3, tmp_path, PYTHONVERBOSE="1")
    loaded = [line for line in verbose.splitlines() if line.startswith("import 'initsup.")]
    assert loaded
    assert all(f"{single_file}" in line for line in loaded), loaded

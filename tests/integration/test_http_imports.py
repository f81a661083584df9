"""What the HTTP side costs at start-up: nothing until HTTP is used, and then no heavy
standard modules (http.server, http.client, email)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT, env


def _imported_by(code: str) -> set[str]:
    """The modules a bare interpreter (no site) ends up with after code."""
    prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
    epilogue = "; sys.stdout.write(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-S", "-c", prelude + code + epilogue],
        env=env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


HTTP_MODULES = {
    "initsup.control.http",
    "initsup.control.http_connection",
    "initsup.control.http_auth",
    "initsup.control.http_parse",
}


def test_the_control_socket_does_not_import_the_http_side() -> None:
    modules = _imported_by("from initsup import supervisor\nfrom initsup.control import server")
    assert "initsup.control.server" in modules
    assert not modules & (HTTP_MODULES | {"hashlib", "hmac"})


def test_the_http_side_imports_no_heavy_standard_module() -> None:
    modules = _imported_by("from initsup.control import http")
    assert modules >= HTTP_MODULES
    assert not modules & {"http", "http.server", "http.client", "email", "re", "socket"}

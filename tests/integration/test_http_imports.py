"""What the HTTP side costs at start-up: nothing until HTTP is used, and then no heavy
standard modules (http.server, http.client, email)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import imported_by, imported_in_a_run

HTTP_MODULES = {
    "initsup.control.http",
    "initsup.control.http_connection",
    "initsup.control.http_auth",
    "initsup.control.http_parse",
}


def test_the_control_socket_does_not_import_the_http_side() -> None:
    modules = imported_by("from initsup import supervisor\nfrom initsup.control import server")
    assert "initsup.control.server" in modules
    assert not modules & (HTTP_MODULES | {"hashlib", "hmac"})


def test_the_http_side_imports_no_heavy_standard_module() -> None:
    modules = imported_by("from initsup.control import http")
    assert modules >= HTTP_MODULES
    assert not modules & {"http", "http.server", "http.client", "email", "re", "socket"}


def test_an_idle_supervisor_has_loaded_no_front_end(tmp_path: Path) -> None:
    """Until a client asks, a running initsup has imported neither the control commands
    nor the HTTP and XML-RPC sides: a container nobody controls does not pay for them."""
    ini = "[program:web]\ncommand=sleep 1000\nstartsecs=0\n"
    modules = imported_in_a_run(tmp_path, ini)
    assert "initsup.control.server" in modules
    front_ends = {"initsup.control.commands", "initsup.control.admin", "initsup.control.xmlrpc"}
    assert not modules & (front_ends | HTTP_MODULES)

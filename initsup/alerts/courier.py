"""The courier: the helper child that carries out one send (a placeholder: plain HTTP)."""

from __future__ import annotations

import json
import os
import socket
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def command() -> list[str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        f"import sys; sys.path.insert(0, {root!r}); "
        "from initsup.alerts import courier; courier.main()"
    )
    return [sys.executable or "python3", "-I", "-S", "-c", code]


def read_reply(data: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(data.decode().strip().splitlines()[-1])
        return {
            "ok": bool(reply["ok"]),
            "status": int(reply.get("status", 0)),
            "detail": str(reply.get("detail", ""))[:300],
            "retry": bool(reply.get("retry", False)),
            "body": str(reply.get("body", ""))[:4096],
        }
    except Exception:
        return {
            "ok": False,
            "status": 0,
            "detail": "courier said nothing",
            "retry": True,
            "body": "",
        }


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    try:
        reply = _http(job)
    except OSError as exc:
        reply = {"ok": False, "status": 0, "detail": str(exc), "retry": True, "body": ""}
    sys.stdout.write(json.dumps(reply) + "\n")


def _http(job: dict[str, Any]) -> dict[str, Any]:
    url = job["url"]
    rest = url.partition("://")[2]
    authority, _, path = rest.partition("/")
    host, _, port = authority.partition(":")
    body = job["body"].encode()
    head = f"{job['method']} /{path} HTTP/1.1\r\nHost: {authority}\r\n"
    head += "Content-Type: application/json\r\nConnection: close\r\n"
    head += f"Content-Length: {len(body)}\r\n"
    for name, value in job.get("headers", {}).items():
        head += f"{name}: {value}\r\n"
    with socket.create_connection((host, int(port or 80)), timeout=job["timeout"]) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = sock.recv(65536)
    status = int(data.split(b" ", 2)[1])
    ok = 200 <= status < 300
    return {
        "ok": ok,
        "status": status,
        "detail": f"HTTP {status}",
        "retry": status >= 500,
        "body": "",
    }

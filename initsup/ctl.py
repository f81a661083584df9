"""`initsup ctl`: the client of a running initsup's control socket.

It finds the socket with no flags wherever initsup would have put it, sends one request,
prints what the server answers and exits with the code it gives.  The server words every
line as supervisorctl does; this side only prints.  Kept small: it runs for every
`docker exec ... initsup ctl status` and every Kubernetes exec probe.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys

USAGE = """usage: initsup ctl [--socket PATH] COMMAND [ARG...]

commands (NAME is a process, GROUP:NAME, GROUP:* or all):
  status [--json] [NAME...]     states of the processes (exit 3 if one is not running)
  health                        exit 0 when every essential program (or, with none
                                essential, every autostart program) is RUNNING
  start NAME...                 start, and wait until RUNNING
  stop NAME...                  stop, and wait until stopped
  restart NAME...               stop, then start
  signal SIG NAME...            send a signal
  pid [NAME...]                 initsup's pid, or the processes'
  tail [-f] [-BYTES] NAME [stdout|stderr]
                                recent output (and, with -f, what follows)
  events [-f]                   recent lifecycle events as JSON (and, with -f, new ones)
  reread                        what changed in the configuration
  update                        apply it: restart changed groups, add and remove others
  avail                         every configured process
  version                       initsup's version
  sendcomm TYPE DATA            send listeners a REMOTE_COMMUNICATION event
  shutdown                      stop every program and end initsup

The socket: --socket, else INITSUP_SOCKET, else /run/initsup.sock, else
$TMPDIR/initsup.sock (or /tmp/initsup.sock).
"""


def find_socket(environ: dict[str, str] | os._Environ[str]) -> str:
    """Where the running initsup listens (the first of the places it may have chosen)."""
    explicit = environ.get("INITSUP_SOCKET")
    if explicit:
        return explicit
    fallback = os.path.join(environ.get("TMPDIR") or "/tmp", "initsup.sock")
    for candidate in ("/run/initsup.sock", fallback, "/tmp/initsup.sock"):
        if os.path.exists(candidate):
            return candidate
    return "/run/initsup.sock"


def main(args: list[str]) -> int:
    """Run one ctl command; returns its exit code."""
    path = None
    if args[:1] == ["--socket"] and len(args) > 1:
        path, args = args[1], args[2:]
    elif args[:1] and args[0].startswith("--socket="):
        path, args = args[0].split("=", 1)[1], args[1:]
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    path = path or find_socket(os.environ)
    command, rest = args[0], args[1:]
    try:
        sock = _connect(path)
    except OSError as exc:
        return _unreachable(path, command, exc)
    try:
        request = json.dumps({"cmd": command, "args": rest}) + "\n"
        sock.sendall(request.encode())
        return _print_replies(sock)
    except KeyboardInterrupt:  # ^C ends `tail -f` and `events -f`
        return 0
    except OSError as exc:
        sys.stderr.write(f"error: lost the connection to initsup: {exc}\n")
        return 1
    finally:
        sock.close()


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def _unreachable(path: str, command: str, exc: OSError) -> int:
    """supervisorctl's words and exit codes for a server that is not there."""
    if exc.errno == errno.ENOENT:
        reason = "no such file"
    elif exc.errno == errno.ECONNREFUSED:
        reason = "refused connection"
    elif exc.errno == errno.EACCES:
        reason = "permission denied"
    else:
        reason = exc.strerror or str(exc)
    if command == "shutdown":
        sys.stderr.write(f"ERROR: unix://{path} {reason} (already shut down?)\n")
        return 1
    sys.stderr.write(f"unix://{path} {reason} (is initsup running? see INITSUP_SOCKET)\n")
    if command in ("status", "health") or exc.errno == errno.ECONNREFUSED:
        return 4
    return 7


def _print_replies(sock: socket.socket) -> int:
    buffered = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            sys.stderr.write("error: initsup closed the connection without an answer\n")
            return 1
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        for line in lines:
            reply = json.loads(line)
            if "out" in reply:
                sys.stdout.write(reply["out"] + "\n")
            if "err" in reply:
                sys.stderr.write(reply["err"] + "\n")
            if "data" in reply:
                sys.stdout.write(reply["data"])
            if "json" in reply:
                sys.stdout.write(json.dumps(reply["json"], ensure_ascii=False) + "\n")
            sys.stdout.flush()
            if "exit" in reply:
                return int(reply["exit"])

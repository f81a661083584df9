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
    owner = _server_uid(sock)
    if owner not in (0, os.geteuid()):
        sock.close()
        return _impostor(path, command, owner)
    try:
        request = json.dumps({"cmd": command, "args": rest}) + "\n"
        try:
            sock.sendall(request.encode())
        except (BrokenPipeError, ConnectionResetError):
            pass  # turned away before the request went out: its answer says why
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


def _server_uid(sock: socket.socket) -> int:
    """The uid of the process serving the socket (SO_PEERCRED, set when it listened)."""
    # struct ucred: pid, uid, gid, three 32-bit ints in the machine's order.
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder)


def _impostor(path: str, command: str, uid: int) -> int:
    """The server's rule, mirrored: only root or our own user may be talked to.

    A non-root initsup's socket may sit in a shared $TMPDIR, where another user could
    have bound it first; its answers (and our commands) must not be taken for initsup's.
    """
    sys.stderr.write(
        f"unix://{path} is served by uid {uid}, neither root nor uid {os.geteuid()}: "
        "not talking to it (another user's socket? see INITSUP_SOCKET)\n"
    )
    return 4 if command in ("status", "health") else 7


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
            try:
                reply = json.loads(line)
                if not isinstance(reply, dict):
                    raise ValueError("not an object")
            except ValueError:
                sys.stderr.write(f"error: initsup sent a malformed answer: {line[:200]!r}\n")
                return 1
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

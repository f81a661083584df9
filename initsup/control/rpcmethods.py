"""supervisord's `supervisor.*` XML-RPC methods over the control API, and the table
that names every one of them.

The table is the only way from a method name to code: control/xmlrpc.py looks a name up
in it and nowhere else (supervisord resolved names by attribute lookup, which let a
crafted name reach any object: CVE-2017-11610).  Its aliases are supervisord's, for
clients older than its API 3.0.
"""

from __future__ import annotations

import os
import time

from initsup.control import api, rpclogs, rpcprocesses
from initsup.control.rpcbase import Fault, Later, Method, capped
from initsup.model import TO_NOWHERE, TO_STREAM
from initsup.states import ProcessState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from initsup.control.api import Host
    from initsup.control.rpcbase import Finish
    from initsup.model import GroupConfig, LogTarget, ProcessConfig
    from initsup.process import Process

API_VERSION = "3.0"  # supervisorctl refuses any other answer to getVersion
# The supervisord release whose XML-RPC behaviour initsup reproduces, checked against its
# source: `supervisorctl version` prints it, as it would against that supervisord.
SUPERVISOR_VERSION = "4.3.0"

# supervisord's own states (getState): initsup never reports FATAL (2), it exits instead.
RUNNING, RESTARTING, SHUTDOWN = 1, 0, -1


def get_api_version(host: Host) -> str:
    return API_VERSION


def get_supervisor_version(host: Host) -> str:
    return SUPERVISOR_VERSION


def get_identification(host: Host) -> str:
    return api.identification(host)


def get_state(host: Host) -> dict[str, Any]:
    """RUNNING, or RESTARTING / SHUTDOWN while initsup restarts or shuts down."""
    if host.shutting_down:
        code, name = SHUTDOWN, "SHUTDOWN"
    elif host.restarting:
        code, name = RESTARTING, "RESTARTING"
    else:
        code, name = RUNNING, "RUNNING"
    return {"statecode": code, "statename": name}


def get_pid(host: Host) -> int:
    return os.getpid()


def shutdown(host: Host) -> bool:
    api.shutdown(host, "asked to by XML-RPC (supervisor.shutdown)")
    return True


def restart(host: Host) -> bool:
    api.restart(host)
    return True


def reload_config(host: Host) -> Later:
    """[[added, changed, removed]] group names, once the configuration has been read."""

    def run(finish: Finish) -> None:
        def answer(
            diff: tuple[list[str], list[str], list[str]] | None, problems: list[str]
        ) -> None:
            if diff is None:
                finish(Fault("CANT_REREAD", "\n".join(problems)))
            else:
                finish([[list(diff[0]), list(diff[1]), list(diff[2])]])

        api.reread_diff(host, answer)

    return Later(run)


def add_process_group(host: Host, name: str) -> bool:
    outcome = api.add_group(host, name)
    if outcome != api.ADDED:
        raise Fault(outcome, name)  # ALREADY_ADDED or BAD_NAME
    return True


def remove_process_group(host: Host, name: str) -> bool:
    outcome = api.remove_group(host, name)
    if outcome != api.REMOVED:
        raise Fault(outcome, name)  # BAD_NAME or STILL_RUNNING
    return True


# -- process info ----------------------------------------------------------------------


def _log_path(target: LogTarget) -> str:
    """A log file's path, '' for none (output to initsup's stream counts as none)."""
    return "" if target.path in (TO_STREAM, TO_NOWHERE) else target.path


def process_info(process: Process, now: float) -> dict[str, Any]:
    """supervisord's process info struct, every field of it and no other."""
    start, stop, at = capped(process.start_wall), capped(process.stop_wall), capped(now)
    stdout = _log_path(process.config.stdout)
    stderr = "" if process.config.redirect_stderr else _log_path(process.config.stderr)
    # supervisord counts uptime between the whole seconds it reports
    described_at = process.start_wall + (at - start)
    return {
        "name": process.name,
        "group": process.group,
        "start": start,
        "stop": stop,
        "now": at,
        "state": int(process.state),
        "statename": process.state.name,
        "spawnerr": process.spawnerr or "",
        "exitstatus": capped(process.exitstatus or 0),
        "logfile": stdout,
        "stdout_logfile": stdout,
        "stderr_logfile": stderr,
        "pid": capped(process.pid),
        "description": api.describe(process, described_at),
    }


def get_process_info(host: Host, name: str) -> dict[str, Any]:
    _, process = rpcprocesses.lookup(host, name)
    if process is None:
        raise Fault("BAD_NAME", name)
    return process_info(process, time.time())


def get_all_process_info(host: Host) -> list[dict[str, Any]]:
    now = time.time()
    return [process_info(p, now) for p in api.by_name(host)]


def _uid(user: str | None) -> int | str:
    """The user id a program runs as ('none' for initsup's own), as supervisord gives it."""
    if user is None:
        return "none"
    if user.isdigit():
        return capped(int(user))
    import pwd  # only here: getAllConfigInfo of a program with a user=

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:  # checked at load; a user removed since is reported by name
        return user


def _number(value: float) -> int | float:
    return capped(value) if value == int(value) else value


def _stream_info(prefix: str, target: LogTarget) -> dict[str, Any]:
    return {
        f"{prefix}_capture_maxbytes": capped(target.capture_maxbytes),
        f"{prefix}_events_enabled": target.events_enabled,
        f"{prefix}_logfile": target.path,
        f"{prefix}_logfile_backups": capped(target.backups),
        f"{prefix}_logfile_maxbytes": capped(target.maxbytes),
        f"{prefix}_syslog": False,
    }


def config_info(
    group: GroupConfig, config: ProcessConfig, inuse: bool, uid: int | str
) -> dict[str, Any]:
    """supervisord's config info struct of one process of the configuration."""
    import shlex  # only here: it imports re

    return {
        "autostart": config.autostart,
        "directory": config.directory or "none",
        "uid": uid,
        "command": shlex.join(config.command),
        "exitcodes": sorted(config.exitcodes),
        "group": group.name,
        "group_prio": capped(group.priority),
        "inuse": inuse,
        "killasgroup": config.killasgroup,
        "name": config.name,
        "process_prio": capped(config.priority),
        "redirect_stderr": config.redirect_stderr,
        "startretries": capped(config.startretries),
        "startsecs": _number(config.startsecs),
        "stopsignal": int(config.stopsignal),
        "stopwaitsecs": _number(config.stopwaitsecs),
        "serverurl": "auto",
        **_stream_info("stdout", config.stdout),
        **_stream_info("stderr", config.stderr),
    }


def get_all_config_info(host: Host) -> list[dict[str, Any]]:
    """Every process of the configuration last read, `inuse` when its group runs."""
    uids: dict[str | None, int | str] = {}  # a user database read once per user
    found = []
    for group in host.configured:
        for config in group.processes:
            if config.user not in uids:
                uids[config.user] = _uid(config.user)
            found.append(config_info(group, config, group.name in host.groups, uids[config.user]))
    found.sort(key=lambda entry: entry["name"])  # stable: by group within a name
    return found


# -- stdin and events ------------------------------------------------------------------


def send_process_stdin(host: Host, name: str, chars: object) -> bool:
    """Checked in supervisord's order; a running process then faults NO_FILE, because
    initsup starts every program with /dev/null as its stdin."""
    if not isinstance(chars, (str, bytes)):
        raise Fault("INCORRECT_PARAMETERS", chars)
    _, process = rpcprocesses.lookup(host, name)
    if process is None:
        raise Fault("BAD_NAME", name)
    if not process.pid or process.state == ProcessState.STOPPING:
        raise Fault("NOT_RUNNING", name)
    raise Fault("NO_FILE", f"{name} (initsup gives programs /dev/null as stdin)")


def send_remote_comm_event(host: Host, kind: str, data: str) -> bool:
    api.send_remote_comm(host, kind, data)
    return True


# -- the table -------------------------------------------------------------------------

_NAME = "the process (NAME or GROUP:NAME; GROUP:* for its group)"
_RANGE = "LENGTH bytes from OFFSET (a negative OFFSET: the last bytes)"
_WAIT = "with wait true (the default), answer once the processes have settled"


def _m(function: Any, returns: str, params: tuple[str, ...], help: str, **kw: Any) -> Method:
    return Method(function, returns, params, help, **kw)


_START = _m(
    rpcprocesses.start_process,
    "boolean",
    ("string", "boolean"),
    f"Start {_NAME}; {_WAIT}.",
    optional=1,
)
_STOP = _m(
    rpcprocesses.stop_process,
    "boolean",
    ("string", "boolean"),
    f"Stop {_NAME}; {_WAIT}.",
    optional=1,
)
_READ_LOG = _m(
    rpclogs.read_main,
    "string",
    ("int", "int"),
    f"Read initsup's own log: {_RANGE}.",
)
_READ_OUT = _m(
    rpclogs.read_stdout,
    "string",
    ("string", "int", "int"),
    f"Read a process's recent stdout: {_RANGE}.",
)
_TAIL_OUT = _m(
    rpclogs.tail_stdout,
    "array",
    ("string", "int", "int"),
    "Tail a process's stdout from OFFSET: [text, next offset, overflow].",
)
_CLEAR = _m(
    rpclogs.clear_process, "boolean", ("string",), "Forget a process's recent stdout and stderr."
)
_VERSION = _m(get_api_version, "string", (), "The version of this XML-RPC API.")

# name -> method: the whole supervisor.* namespace a client can reach.
METHODS: dict[str, Method] = {
    "supervisor.getAPIVersion": _VERSION,
    "supervisor.getVersion": _VERSION,
    "supervisor.getSupervisorVersion": _m(
        get_supervisor_version, "string", (), "The supervisord release whose API initsup serves."
    ),
    "supervisor.getIdentification": _m(
        get_identification,
        "string",
        (),
        "The identifier of this initsup ([supervisord] identifier=).",
    ),
    "supervisor.getState": _m(
        get_state,
        "struct",
        (),
        "{statecode, statename}: RUNNING, RESTARTING or SHUTDOWN.",
        guarded=False,
    ),
    "supervisor.getPID": _m(get_pid, "int", (), "The pid of initsup."),
    "supervisor.readLog": _READ_LOG,
    "supervisor.readMainLog": _READ_LOG,
    "supervisor.clearLog": _m(
        rpclogs.clear_main,
        "boolean",
        (),
        "Forget the records of initsup's own log kept for readLog.",
    ),
    "supervisor.shutdown": _m(shutdown, "boolean", (), "Stop every program and end initsup."),
    "supervisor.restart": _m(
        restart, "boolean", (), "Stop every program, read the configuration again and start anew."
    ),
    "supervisor.reloadConfig": _m(
        reload_config,
        "array",
        (),
        "Read the configuration again: [[added, changed, removed]] group names.",
    ),
    "supervisor.addProcessGroup": _m(
        add_process_group,
        "boolean",
        ("string",),
        "Add and start a group of the configuration last read.",
    ),
    "supervisor.removeProcessGroup": _m(
        remove_process_group,
        "boolean",
        ("string",),
        "Remove a group whose processes are all stopped.",
    ),
    "supervisor.startProcess": _START,
    "supervisor.startProcessGroup": _m(
        rpcprocesses.start_group,
        "array",
        ("string", "boolean"),
        f"Start the processes of a group; {_WAIT}.",
        optional=1,
    ),
    "supervisor.startAllProcesses": _m(
        rpcprocesses.start_all, "array", ("boolean",), f"Start every process; {_WAIT}.", optional=1
    ),
    "supervisor.stopProcess": _STOP,
    "supervisor.stopProcessGroup": _m(
        rpcprocesses.stop_group,
        "array",
        ("string", "boolean"),
        f"Stop the processes of a group; {_WAIT}.",
        optional=1,
    ),
    "supervisor.stopAllProcesses": _m(
        rpcprocesses.stop_all, "array", ("boolean",), f"Stop every process; {_WAIT}.", optional=1
    ),
    "supervisor.signalProcess": _m(
        rpcprocesses.signal_process,
        "boolean",
        ("string", "signal"),
        f"Send a signal (name or number) to {_NAME}.",
    ),
    "supervisor.signalProcessGroup": _m(
        rpcprocesses.signal_group,
        "array",
        ("string", "signal"),
        "Send a signal to the processes of a group.",
    ),
    "supervisor.signalAllProcesses": _m(
        rpcprocesses.signal_all, "array", ("signal",), "Send a signal to every process."
    ),
    "supervisor.getAllConfigInfo": _m(
        get_all_config_info,
        "array",
        (),
        "The configuration of every process of the configuration last read.",
    ),
    "supervisor.getProcessInfo": _m(
        get_process_info, "struct", ("string",), "The state of one process."
    ),
    "supervisor.getAllProcessInfo": _m(
        get_all_process_info, "array", (), "The state of every process."
    ),
    "supervisor.readProcessStdoutLog": _READ_OUT,
    "supervisor.readProcessLog": _READ_OUT,
    "supervisor.readProcessStderrLog": _m(
        rpclogs.read_stderr,
        "string",
        ("string", "int", "int"),
        f"Read a process's recent stderr: {_RANGE}.",
    ),
    "supervisor.tailProcessStdoutLog": _TAIL_OUT,
    "supervisor.tailProcessLog": _TAIL_OUT,
    "supervisor.tailProcessStderrLog": _m(
        rpclogs.tail_stderr,
        "array",
        ("string", "int", "int"),
        "Tail a process's stderr from OFFSET: [text, next offset, overflow].",
    ),
    "supervisor.clearProcessLogs": _CLEAR,
    "supervisor.clearProcessLog": _CLEAR,
    "supervisor.clearAllProcessLogs": _m(
        rpclogs.clear_all, "array", (), "Forget the recent output of every process."
    ),
    "supervisor.sendProcessStdin": _m(
        send_process_stdin,
        "boolean",
        ("string", "any"),
        "Write to a process's stdin (initsup programs have none: NO_FILE).",
    ),
    "supervisor.sendRemoteCommEvent": _m(
        send_remote_comm_event,
        "boolean",
        ("string", "string"),
        "Publish a REMOTE_COMMUNICATION event of TYPE with DATA for listeners.",
        guarded=False,
    ),
}

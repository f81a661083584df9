"""supervisorctl's help texts, word for word, and the `help` listing.

`initsup ctl help CMD` prints them, and a command given the wrong arguments prints its
error line and then its help, as supervisorctl does; both sides (the client for `help`,
the server's commands for usage errors) read this one table.  initsup's own commands
(health, events, sendcomm) are listed in a block of their own after supervisorctl's, as
supervisorctl lists a plugin's commands.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: docs/decisions.md, "Runtime"
if TYPE_CHECKING:
    from collections.abc import Callable

# supervisorctl 4's help_* texts (tabs included); data, not logic.
HELP: dict[str, list[str]] = {
    "add": ["add <name> [...]\tActivates any updates in config for process/group"],
    "avail": ["avail\t\t\tDisplay all configured processes"],
    "clear": [
        "clear <name>\t\tClear a process' log files.",
        "clear <name> <name>\tClear multiple process' log files",
        "clear all\t\tClear all process' log files",
    ],
    "exit": ["exit\tExit the supervisor shell."],
    "fg": ["fg <process>\tConnect to a process in foreground mode", "\t\tCtrl-C to exit"],
    "help": ["help\t\tPrint a list of available actions", "help <action>\tPrint help for <action>"],
    "maintail": [
        "maintail -f \tContinuous tail of supervisor main log file (Ctrl-C to exit)",
        "maintail -100\tlast 100 *bytes* of supervisord main log file",
        "maintail\tlast 1600 *bytes* of supervisor main log file",
        "",
    ],
    "open": [
        "open <url>\tConnect to a remote supervisord process.",
        "\t\t(for UNIX domain socket, use unix:///socket/path)",
    ],
    "pid": [
        "pid\t\t\tGet the PID of supervisord.",
        "pid <name>\t\tGet the PID of a single child process by name.",
        "pid all\t\t\tGet the PID of every child process, one per line.",
    ],
    "quit": ["quit\tExit the supervisor shell."],
    "reload": ["reload \t\tRestart the remote supervisord."],
    "remove": ["remove <name> [...]\tRemoves process/group from active config"],
    "reread": ["reread \t\t\tReload the daemon's configuration files without add/remove"],
    "restart": [
        "restart <name>\t\tRestart a process",
        "restart <gname>:*\tRestart all processes in a group",
        "restart <name> <name>\tRestart multiple processes or groups",
        "restart all\t\tRestart all processes",
        "Note: restart does not reread config files. For that, see reread and update.",
    ],
    "shutdown": ["shutdown \tShut the remote supervisord down."],
    "signal": [
        "signal <signal name> <name>\t\tSignal a process",
        "signal <signal name> <gname>:*\t\tSignal all processes in a group",
        "signal <signal name> <name> <name>\tSignal multiple processes or groups",
        "signal <signal name> all\t\tSignal all processes",
    ],
    "start": [
        "start <name>\t\tStart a process",
        "start <gname>:*\t\tStart all processes in a group",
        "start <name> <name>\tStart multiple processes or groups",
        "start all\t\tStart all processes",
    ],
    "status": [
        "status <name>\t\tGet status for a single process",
        "status <gname>:*\tGet status for all processes in a group",
        "status <name> <name>\tGet status for multiple named processes",
        "status\t\t\tGet all process status info",
    ],
    "stop": [
        "stop <name>\t\tStop a process",
        "stop <gname>:*\t\tStop all processes in a group",
        "stop <name> <name>\tStop multiple processes or groups",
        "stop all\t\tStop all processes",
    ],
    "tail": [
        "tail [-f] <name> [stdout|stderr] (default stdout)",
        "Ex:",
        "tail -f <name>\t\tContinuous tail of named process stdout",
        "\t\t\tCtrl-C to exit.",
        "tail -100 <name>\tlast 100 *bytes* of process stdout",
        "tail <name> stderr\tlast 1600 *bytes* of process stderr",
    ],
    "update": [
        "update\t\t\tReload config and add/remove as necessary, and will restart affected programs",
        "update all\t\tReload config and add/remove as necessary, and will restart affected"
        " programs",
        "update <gname> [...]\tUpdate specific groups",
    ],
    "version": ["version\t\t\tShow the version of the remote supervisord process"],
}

# initsup's own commands, in the same style.
INITSUP_HELP: dict[str, list[str]] = {
    "events": [
        "events\t\t\tThe latest lifecycle events, as JSON lines",
        "events -f\t\tThe latest events, then new ones as they happen (Ctrl-C to exit)",
    ],
    "health": [
        "health\t\t\tExit 0 when every essential program (or, with none essential,",
        "\t\t\tevery autostart program) is RUNNING or done (exited as expected,",
        "\t\t\tnot to be restarted)",
        "health --live [<name>]\tExit 0 unless a program is FATAL or fails its health",
        "\t\t\tcheck: for livenessProbe (exec)",
        "health --ready [<name>]\tExit 0 when the programs are ready (check passed,",
        "\t\t\tREADY=1, or RUNNING) and initsup is not shutting down:",
        "\t\t\tfor readinessProbe (exec)",
        "health --startup [<name>]\tExit 0 once the programs have been ready: for",
        "\t\t\tstartupProbe (exec)",
    ],
    "sendcomm": ["sendcomm <type> <data>\tSend listeners a REMOTE_COMMUNICATION event"],
    "status --json": ["status --json [<name>...]\tsupervisord's process info, as JSON"],
}

NO_HELP = "*** No help on {}"


def help_lines(topic: str) -> list[str]:
    """What `help TOPIC` prints (supervisorctl's line for an unknown topic)."""
    if topic in HELP:
        return HELP[topic]
    if topic in INITSUP_HELP:
        return INITSUP_HELP[topic]
    return [NO_HELP.format(topic)]


def listing() -> list[str]:
    """What `help` alone prints: supervisorctl's block, then initsup's (`help` itself is
    not listed, as supervisorctl does not list it)."""
    return [
        "",
        *_block("default commands (type help <topic>):", sorted(set(HELP) - {"help"})),
        *_block("initsup commands (type help <topic>):", ["events", "health", "sendcomm"]),
    ]


def _block(header: str, names: list[str]) -> list[str]:
    """One block as cmd.Cmd.print_topics lays it out (its columns, 80 wide)."""
    import cmd
    import io

    text = io.StringIO()
    shell = cmd.Cmd(stdout=text)
    write: Callable[[str, list[str], int, int], None] = shell.print_topics
    write(header, names, 15, 80)
    return text.getvalue().split("\n")[:-1]

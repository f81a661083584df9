"""Config files for the supervisors under test, in supervisord's INI format (initsup reads
it too), and the command line that runs a system on one.

Every file is SCRATCH/SYSTEM.conf.  supervisord's starts with a `[supervisord]` section that
keeps it in the foreground and every file it writes in the scratch directory: nodaemon=true,
logfile SYSTEM.log, pidfile SYSTEM.pid and childlogdir (where its AUTO log files go: without
it they go to /tmp and stay there).
"""

from __future__ import annotations

from pathlib import Path

from bench.core import Tools

Options = dict[str, str]


def write_config(
    system: str,
    scratch: Path,
    programs: dict[str, Options],
    listeners: dict[str, Options] | None = None,
    supervisord: Options | None = None,
    shared: bool = False,
    more: dict[str, Options] | None = None,
) -> Path:
    """Write scratch/SYSTEM.conf; its path.

    programs and listeners map a `[program:NAME]` or `[eventlistener:NAME]` section's name to
    its options, written as given (a literal `%` is `%%`, for both systems' %-expansion).
    supervisord: options added to (or replacing those of) the `[supervisord]` section, which
    the file has when system is "supervisord", or for both systems when shared (initsup
    reads the section as its own and has no use for these keys).  more: other sections
    for both systems, by title (`unix_http_server`, `supervisorctl`...), before the programs.
    """
    sections: list[tuple[str, Options]] = []
    if system == "supervisord" or shared:
        options = {
            "logfile": str(scratch / f"{system}.log"),
            "pidfile": str(scratch / f"{system}.pid"),
            "childlogdir": str(scratch),
            "nodaemon": "true",
        }
        options.update(supervisord or {})
        sections.append(("supervisord", options))
    sections += list((more or {}).items())
    sections += [(f"program:{name}", options) for name, options in programs.items()]
    sections += [(f"eventlistener:{name}", options) for name, options in (listeners or {}).items()]
    config = scratch / f"{system}.conf"
    config.write_text(
        "\n".join(
            f"[{title}]\n" + "".join(f"{key}={value}\n" for key, value in options.items())
            for title, options in sections
        )
    )
    return config


def config_command(system: str, tools: Tools, config: Path) -> list[str]:
    """`initsup -c FILE` or `supervisord -n -c FILE`."""
    if system == "initsup":
        return tools.initsup("-c", str(config))
    return tools.supervisord_command(config)

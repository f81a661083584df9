"""What a person reads about the `initsup` command: its usage lines and its --help.

Apart from the command line's parser (cli.py) because they are needed only when help is
asked for or the command line is wrong, not on every container's start.
"""

from __future__ import annotations

USAGE = """usage: initsup [OPTIONS] [--] COMMAND [ARG...]
       initsup [-c FILE] [OPTIONS] [-- COMMAND [ARG...]]
       initsup check [-c FILE] [--json] [-- COMMAND [ARG...]]
       initsup ctl COMMAND [ARG...]"""

HELP = f"""{USAGE}

A container init.  With just a COMMAND, initsup runs it like tini: reaps every zombie,
passes every signal on to COMMAND, and exits with COMMAND's exit code (128+N when
signal N killed it).

With a supervisord-style configuration (-c FILE, INITSUP_CONFIG, /etc/initsup.ini,
/etc/supervisord.conf) or INITSUP_PROGRAM_<NAME>=<command> variables, initsup supervises
every program with supervisord's semantics and writes their output and lifecycle events
as JSON lines on stdout; a COMMAND given as well is the main program, whose end ends
initsup with its exit code.  `initsup check` validates the configuration and prints it;
`initsup ctl` controls a running initsup (`initsup ctl --help`).

options:
  -c, --config FILE          the configuration file (env INITSUP_CONFIG); also
                             supervisord's --configuration
  --log-format FORMAT        json, text or raw; in single-command mode also inherit,
                             the default there: COMMAND writes to initsup's stdout and
                             stderr directly (env INITSUP_LOG_FORMAT)
  -v, --verbose              log debug messages
  -h, --help                 show this help and exit
  --version                  print the version and exit

supervisord's options (with programs to supervise; each beats the file):
  -n, --nodaemon             accepted: initsup never daemonizes
  -e, --loglevel LEVEL       critical, error, warn, info, debug, trace or blather
  -u, --user USER            run every program without its own user= as USER
  -m, --umask UMASK          initsup's umask, inherited by programs (022)
  -d, --directory DIR        initsup's working directory, inherited by programs
  -j, --pidfile FILE         write initsup's pid there
  -i, --identifier ID        the server name event listeners are given
  -a, --minfds N             raise the open-files limit to at least N, or refuse
  --minprocs N               raise the processes limit to at least N, or refuse
  --silent                   keep initsup's own records off stdout (readLog has them)
  -l -y -z -q -k -t          accepted and ignored, each with a warning saying why
  (-s and -v are tini's here too; -e takes a level name here, an exit code below)

single-command mode only:
  -g, --kill-process-group   send forwarded signals to COMMAND's whole process group
                             (env INITSUP_KILL_PROCESS_GROUP=1)
  -e, --remap-exit CODE      exit 0 when COMMAND exits with CODE (0-255; repeatable)
  -p, --pdeath-signal SIG    have SIG sent to initsup (and so passed on) when its
                             parent dies
  -w, --warn-on-reap         log each orphaned process initsup reaps
  -s, --subreaper            accepted for tini compatibility: initsup always registers
                             as a child subreaper when it is not PID 1

check:
  --json                     print the effective configuration as JSON

exit codes: COMMAND's own (or an essential program's); 127 when COMMAND is not found,
126 when it cannot be run; 0 after a requested shutdown, 137 if a program had to be
killed; 2 for a usage or configuration error; 3 when this Python lacks modules
supervisor mode needs (a minimal Python: install python3).
"""

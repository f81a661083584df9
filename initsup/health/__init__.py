"""Health, readiness and start order: when a program is really up.

- facts.py: what is known of one process's health and readiness (the contract every
  front end reads: `ctl status`, `ctl health`, XML-RPC descriptions, /livez /readyz
  /startupz);
- probes.py: one run of one check (a command, an HTTP GET, a TCP connect), on the loop;
- answers.py: an HTTP check's request and the reading of its answer (pure, fuzzed);
- notify.py: the NOTIFY_SOCKET datagram socket (sd_notify's protocol);
- monitor.py: each process's checks on the loop's timers, its failures counted against
  retries, its readiness, liveness's action, and the JSON records of every change;
- order.py: start order gated on readiness (depends_on, dependent_startup_wait_for) and
  the reverse order of stops;
- verdicts.py: live, ready and started, per process and for the whole container.

Imported only when a configuration asks for any of it: an initsup without checks,
notify or dependencies loads none of this package and makes no wake-up for it.
"""

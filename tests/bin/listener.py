"""Test event listener speaking supervisord's protocol by hand (text-mode stdin, as childutils).

Appends one JSON line per event to the file named by RECORD: the header's tokens, the
payload, and the listener's pid.  MODE changes its behaviour:
  ok         answer OK to everything (default)
  fail-once  answer FAIL the first time it sees a serial, OK after
  die-once   exit while busy with the first event it sees (once per RECORD file)
  slow       sleep SLOW seconds before each answer
  garbage    say something other than READY
  silent     say READY, then never answer
"""

import json
import os
import sys
import time

record_path = os.environ["RECORD"]
mode = os.environ.get("MODE", "ok")
seen_path = record_path + ".seen"


def answer(body: str) -> None:
    sys.stdout.write(f"RESULT {len(body)}\n{body}")
    sys.stdout.flush()


if mode == "garbage":
    sys.stdout.write("HELLO\n")
    sys.stdout.flush()
    time.sleep(1000)

while True:
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    header_line = sys.stdin.readline()
    if not header_line:
        sys.exit(0)
    headers = dict(token.split(":", 1) for token in header_line.split())
    payload = sys.stdin.read(int(headers["len"]))
    with open(record_path, "a") as f:
        line = {"header": header_line, "headers": headers, "payload": payload, "pid": os.getpid()}
        f.write(json.dumps(line) + "\n")
    if mode == "silent":
        time.sleep(1000)
    if mode == "slow":
        time.sleep(float(os.environ.get("SLOW", "1")))
    if mode == "die-once" and not os.path.exists(seen_path):
        with open(seen_path, "w"):
            pass
        os._exit(3)
    if mode == "fail-once":
        seen = []
        if os.path.exists(seen_path):
            with open(seen_path) as f:
                seen = f.read().split()
        if headers["serial"] not in seen:
            with open(seen_path, "a") as f:
                f.write(headers["serial"] + "\n")
            answer("FAIL")
            continue
    answer("OK")

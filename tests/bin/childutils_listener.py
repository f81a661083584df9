"""A listener written the way supervisord's docs show, with supervisor.childutils."""

import json
import os
import sys

from supervisor import childutils

record = os.environ["RECORD"]
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    with open(record, "a") as f:
        f.write(json.dumps({"headers": headers, "payload": payload}) + "\n")
    childutils.listener.ok(sys.stdout)

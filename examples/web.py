"""A stand-in web app for examples/demo.ini: it logs one JSON object per request."""

import json
import time

for n in range(1000):
    record = {"event": "request handled", "path": f"/items/{n}", "status": 200}
    print(json.dumps(record), flush=True)
    time.sleep(0.8)

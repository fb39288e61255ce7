#!/usr/bin/env python3
"""A stand-in for the tap binary in the SDK's unit tests.

Appends {"argv": [...], "stdin": "..."} to $FAKE_TAP_LOG for every call.
`status NAME` answers with the next state of $FAKE_TAP_STATES (comma list;
the last one repeats). $FAKE_TAP_FAIL, when set, makes every call fail with
that message the way tap does (one line on stderr, exit status 1).
`stats NAME --json` prints $FAKE_TAP_STATS (default a small stats object).
`logs NAME ...` prints three lines; with --follow it then waits for SIGINT,
logs {"interrupted": true} and exits 0, as tap does.
"""
import json
import os
import signal
import sys
import time

argv = sys.argv[1:]
stdin = sys.stdin.read() if "-f" in argv else ""
with open(os.environ["FAKE_TAP_LOG"], "a") as log:
    log.write(json.dumps({"argv": argv, "stdin": stdin}) + "\n")
if os.environ.get("FAKE_TAP_FAIL"):
    sys.stderr.write("tap: -:1: %s\n" % os.environ["FAKE_TAP_FAIL"])
    sys.exit(1)
if "-c" in argv and argv[argv.index("-c") + 1].startswith("status "):
    states = os.environ.get("FAKE_TAP_STATES", "running").split(",")
    counter = os.environ["FAKE_TAP_LOG"] + ".status"
    n = int(open(counter).read()) if os.path.exists(counter) else 0
    with open(counter, "w") as f:
        f.write(str(n + 1))
    state = states[min(n, len(states) - 1)]
    print("job current status is: %s, qps is: 12.5, total rows: %d, delay is: 40ms"
          % (state, 100 * (n + 1)))
if "-c" in argv and argv[argv.index("-c") + 1].startswith("stats "):
    print(os.environ.get("FAKE_TAP_STATS", json.dumps({
        "flow": "S", "state": "running", "position": "0-1-9", "started_ms": 1796199614392,
        "snapshot": {"started_ms": 1796199614473, "ended_ms": None, "rows": 6},
        "input": {"ecom_orders": {"insert": 2, "update": 1, "delete": 0}},
        "output": {"orderSingleView": {"insert": 1, "update": 2, "delete": 0}},
        "qps": {"current": 1.5, "average": 2.0, "max": 9.0, "last_5m": 0.5}, "lag_ms": 12})))
if "-c" in argv and argv[argv.index("-c") + 1].startswith("logs "):
    print("2026-12-02T08:20:14.744Z tapflow-replica: snapshot done")
    print("2026-12-02T08:20:15.000Z tapflow-replica: warning: slow target")
    print("2026-12-02T08:20:16.000Z tapflow-replica: error: planted", flush=True)
    if "--follow" in argv[argv.index("-c") + 1]:
        stop = []
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        n = 0
        while not stop:
            n += 1
            print("new line %d" % n, flush=True)
            time.sleep(0.05)
        with open(os.environ["FAKE_TAP_LOG"], "a") as log:
            log.write(json.dumps({"interrupted": True}) + "\n")

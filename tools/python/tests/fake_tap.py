#!/usr/bin/env python3
"""A stand-in for the tap binary in the SDK's unit tests.

Appends {"argv": [...], "stdin": "..."} to $FAKE_TAP_LOG for every call.
`status NAME` answers with the next state of $FAKE_TAP_STATES (comma list;
the last one repeats). $FAKE_TAP_FAIL, when set, makes every call fail with
that message the way tap does (one line on stderr, exit status 1).
"""
import json
import os
import sys

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

#!/usr/bin/env python3
"""progress.py — a progress bar for a flow's initial build, from its daemon's
status endpoint.

    tools/demo/progress.py --home TAPFLOW_HOME --flow NAME --source-rows N --documents N

Reads the status port from HOME/run/NAME.json (written by `tap` when it
starts the flow), then polls GET /status: snapshot_rows (source rows read so
far) against --source-rows, documents (documents written) against
--documents. Redraws one line on a terminal, prints a line every 5 s
otherwise. While the daemon is alive but its endpoint does not answer (it
is busy, e.g. writing the view state at the end of the build) the line says
so and the wait goes on. Exits 0 once the flow is "running", 1 on "error"
(with the daemon's error), when the daemon process is gone, or after
--timeout seconds.
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

WIDTH = 30


def read_run_file(run_file, deadline):
    """(pid, status port) from the run file tap writes, or None."""
    while time.time() < deadline:
        try:
            with open(run_file) as f:
                run = json.load(f)
            return int(run["pid"]), int(run["status_port"])
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.2)
    return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def fetch(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=5) as r:
        return json.loads(r.read().decode("utf-8"))


def bar(fraction):
    fraction = min(max(fraction, 0.0), 1.0)
    done = int(round(fraction * WIDTH))
    return "[" + "#" * done + "-" * (WIDTH - done) + "] %3d%%" % int(fraction * 100)


def line(st, a, elapsed):
    read = st.get("snapshot_rows")
    docs = st.get("documents")
    if read is None and docs is None:  # a daemon without the build figures
        total = int(st.get("total_rows") or 0)
        return "%s  %s  %s rows  %5.1f s" % (bar(total / a.source_rows), st.get("status"),
                                              format(total, ","), elapsed)
    read, docs = int(read or 0), int(docs or 0)
    fraction = 0.5 * min(read / a.source_rows, 1.0) + 0.5 * min(docs / a.documents, 1.0)
    return "%s  rows read %s/%s  documents %s/%s  %5.1f s" % (
        bar(fraction), format(read, ","), format(a.source_rows, ","), format(docs, ","),
        format(a.documents, ","), elapsed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--flow", required=True)
    ap.add_argument("--source-rows", type=int, required=True)
    ap.add_argument("--documents", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=3600)
    a = ap.parse_args()
    a.source_rows = max(a.source_rows, 1)
    a.documents = max(a.documents, 1)
    start = time.time()
    deadline = start + a.timeout
    run_file = os.path.join(a.home, "run", a.flow + ".json")
    run = read_run_file(run_file, min(deadline, start + 30))
    if run is None:
        print("progress: no run file %s (is the flow started?)" % run_file, file=sys.stderr)
        return 1
    pid, port = run
    log = os.path.join(a.home, "logs", a.flow + ".log")
    tty = sys.stdout.isatty()
    last_print = 0.0
    st = {}
    while True:
        now = time.time()
        try:
            st = fetch(port)
            text = line(st, a, now - start)
        except (OSError, ValueError, urllib.error.URLError):
            if not alive(pid):
                print("\nprogress: the flow's daemon (pid %d) has exited; see %s" % (pid, log),
                      file=sys.stderr)
                return 1
            # Busy (no answer within 5 s): keep the last figures.
            text = line(st, a, now - start) + "  (daemon busy)" if st else \
                "waiting for the daemon  %5.1f s" % (now - start)
            st = dict(st, status="busy")
        state = st.get("status")
        if state == "running":
            if tty:
                sys.stdout.write("\r\033[K")
            print("%s  initial build done: %s documents in %.1f s" % (bar(1.0), format(
                int(st.get("documents") or st.get("total_rows") or 0), ","), now - start))
            return 0
        if state == "error":
            print(("\r\033[K" if tty else "") + text)
            print("progress: the flow failed: %s" % st.get("error"), file=sys.stderr)
            return 1
        if tty:
            sys.stdout.write("\r\033[K" + text)
            sys.stdout.flush()
        elif now - last_print >= 5:
            print(text, flush=True)
            last_print = now
        if now > deadline:
            print("\nprogress: still %s after %.0f s" % (state, a.timeout), file=sys.stderr)
            return 1
        time.sleep(0.25)


if __name__ == "__main__":
    sys.exit(main())

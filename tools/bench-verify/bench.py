#!/usr/bin/env python3
"""bench.py — `tapflow-replica verify` at the guide's size against a full
rebuild of the same flow on the same target (issue 12's verify benchmark).
Run by hand (not a test); prints a table, saves it with --out.

    python3 tools/bench-verify/bench.py [--build DIR] [--orders 99441] [--out FILE]

On the servers of `tools/servers.sh env`:

  1. datagen's Olist-shaped data set (--orders) into a fresh database;
  2. rebuild: tapflow-replica on the guide's flow from nothing, until its
     first checkpoint (every document acknowledged);
  3. with the flow running and the source quiet: verify --counts, verify
     --sample 1000, verify (full: every document field by field), each
     timed from start to exit, and their exit status (0 expected);
  4. one document changed in MongoDB, verify (full) again: it must find it
     (exit 1).

Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI (tools/servers.sh env).
"""
import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    "bench_view", os.path.join(ROOT, "tools", "bench-view", "bench.py"))
bv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bv)

MONGOSH = os.path.join(ROOT, ".local", "bin", "mongosh")


def verify(a, conf, *flags):
    t0 = time.time()
    r = subprocess.run([a.replica, "verify", "--flow", bv.FLOW, "--config", conf] + list(flags),
                       capture_output=True, text=True,
                       env=dict(os.environ, TAPFLOW_MARIADB_PASSWORD=bv.MY_PASS))
    took = time.time() - t0
    last = [line for line in r.stdout.splitlines() if line.startswith("verify ")]
    return took, r.returncode, (last[-1] if last else r.stderr.strip()[-300:])


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--orders", type=int, default=99441)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--checkpoint-interval-ms", type=int, default=0)
    ap.add_argument("--out", default="/work/notes/bench-verify.txt"
                    if os.path.isdir("/work/notes") else "")
    a = ap.parse_args()
    a.replica = os.path.join(a.build, "tools", "tapflow-replica", "tapflow-replica")
    uri = os.environ.get("TAPFLOW_MONGO_URI", "mongodb://127.0.0.1:27118/")
    tmp = tempfile.mkdtemp(prefix="tf_bverify_")
    db = "tf_bverify_%d" % os.getpid()
    out = bv.out
    daemon = None
    try:
        out("bench-verify: %d orders, build %s, %s, %s" % (
            a.orders, a.build, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            bv.loadavg()))
        rows_by, _ = bv.datagen(a, db, os.path.join(tmp, "tsv"))
        out("  " + ", ".join("%s %d" % (k[5:], v) for k, v in rows_by.items()))
        daemon, _sport, logpath = bv.start_daemon(a, tmp, db, uri)
        built = bv.wait_built(daemon, logpath, a.timeout)
        if built is None:
            raise RuntimeError("no initial build within %.0f s" % a.timeout)
        out("rebuild (start -> checkpoint written): %.1f s (%s)" % (built, bv.loadavg()))
        conf = os.path.join(tmp, "tapflow-%s.conf" % db)
        rows = []
        for label, flags in (("counts", ["--counts"]), ("sample 1000", ["--sample", "1000"]),
                             ("full", [])):
            took, rc, line = verify(a, conf, *flags)
            out("verify %s: %.1f s, exit %d: %s (%s)" % (label, took, rc, line, bv.loadavg()))
            rows.append((label, took, rc))
        marker = bv.sql("SELECT MIN(order_id) FROM ecom_orders", db).strip()
        subprocess.run([MONGOSH, "--quiet", "--norc", uri + db, "--eval",
                        "db.orderSingleView.updateOne({order_id: '%s'}, "
                        "{$set: {order_status: 'tampered'}})" % marker],
                       capture_output=True, text=True, check=True)
        took, rc, line = verify(a, conf)
        out("verify full with one document changed in MongoDB: %.1f s, exit %d: %s" % (
            took, rc, line))
        rows.append(("full, one planted difference", took, rc))
        out("")
        out("| figure | measured |")
        out("|---|---|")
        out("| full rebuild, %d orders (%d source rows) | %.1f s |" % (
            a.orders, sum(rows_by.values()), built))
        for label, t, code in rows:
            out("| verify %s | %.1f s (%.2fx the rebuild), exit %d |" % (label, t, t / built, code))
        ok = [r[2] for r in rows] == [0, 0, 0, 1]
        return 0 if ok else 1
    finally:
        bv.stop_daemon(daemon)
        try:
            subprocess.run([MONGOSH, "--quiet", "--norc", uri + db, "--eval",
                            "db.dropDatabase()"], capture_output=True)
            bv.sql("DROP DATABASE IF EXISTS `%s`" % db)
        except RuntimeError as e:
            print("warning:", e)
        if a.out and bv.lines:
            with open(a.out, "w") as f:
                f.write("\n".join(bv.lines) + "\n")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

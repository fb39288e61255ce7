#!/usr/bin/env python3
"""bench.py — one statement that changes every document (issue 13, the
mass-update row), against a full rebuild of the same flow on the same
target. Run by hand (not a test); prints a table, saves it with --out.

    python3 tools/bench-mass/bench.py [--build DIR] [--orders 99441]
        [--statement SQL] [--write-connections N] [--out FILE]

On the servers of `tools/servers.sh env`:

  1. datagen's Olist-shaped data set (--orders) into a fresh database.
  2. rebuild: tapflow-replica on the guide's flow from nothing, start until
     "checkpoint written" (the snapshot's documents acknowledged).
  3. the statement (default: every product's weight + 1, which reaches every
     order through order_items[].product) and a probe update after it, in
     one mariadb call; the time from the call until the probe is visible in
     the target (the sink writes in commit order, so everything before it
     is then acknowledged), and the document writes meanwhile (/status).
  4. check: the sum of order_items.product.product_weight_g over all
     documents equals the SQL join's.
  5. the target's raw rates, the daemon stopped: every document replaced by
     _id in bulks of --raw-batch (what the sink sends for a partial or
     whole-document update) and inserted into an empty collection in bulks
     of 1000 (what a rebuild sends); the statement's time against the first.

Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI (tools/servers.sh env).
"""
import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import shutil
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    "bench_view", os.path.join(ROOT, "tools", "bench-view", "bench.py"))
bv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bv)

MONGOSH = os.path.join(ROOT, ".local", "bin", "mongosh")
MASS = "UPDATE ecom_products SET product_weight_g = product_weight_g + 1;"


def mongo_eval(uri, db, js):
    r = subprocess.run([MONGOSH, "--quiet", "--norc", uri + db, "--eval", js],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("mongosh: " + r.stderr[-1000:])
    return r.stdout.strip()


def weight_sums(uri, db):
    sql = bv.sql("SELECT COALESCE(SUM(p.product_weight_g), 0) FROM ecom_order_items i "
                 "JOIN ecom_products p ON p.product_id = i.product_id", db).strip()
    js = ("let s = 0; db.orderSingleView.find({}, {'order_items.product.product_weight_g': 1})"
          ".forEach(d => (d.order_items || []).forEach(i => { if (i.product && "
          "i.product.product_weight_g != null) s += Number(i.product.product_weight_g); }));"
          " print(s)")
    return int(float(sql)), int(float(mongo_eval(uri, db, js)))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--orders", type=int, default=99441)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--statement", default=MASS)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--checkpoint-interval-ms", type=int, default=0)
    ap.add_argument("--skip-raw", action="store_true", help="no raw ceilings (step 5)")
    ap.add_argument("--write-connections", type=int, default=0,
                    help="daemon's write_connections (0: its default)")
    ap.add_argument("--write-plan", choices=("costs", "off"), default="",
                    help="daemon's write_plan (default: its default, costs)")
    # the sink's bulk size for updates on FerretDB 1.x (sink.c)
    ap.add_argument("--raw-batch", type=int, default=32)
    ap.add_argument("--out", default="/work/notes/bench-mass.txt"
                    if os.path.isdir("/work/notes") else "")
    a = ap.parse_args()
    a.replica = os.path.join(a.build, "tools", "tapflow-replica", "tapflow-replica")
    a.bench_mongo = os.path.join(a.build, "tools", "bench-view", "bench-mongo")
    uri = os.environ.get("TAPFLOW_MONGO_URI", "mongodb://127.0.0.1:27118/")
    tmp = tempfile.mkdtemp(prefix="tf_mass_")
    db = "tf_mass_%d" % os.getpid()
    out = bv.out
    conns = "write_connections %s, write_plan %s" % (a.write_connections or "default",
                                                     a.write_plan or "default")
    daemon = watcher = None
    try:
        out("bench-mass: %d orders, build %s, %s, %s, %s" % (
            a.orders, a.build, conns, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), bv.loadavg()))
        rows_by, load_line = bv.datagen(a, db, os.path.join(tmp, "tsv"))
        out("  " + ", ".join("%s %d" % (k[5:], v) for k, v in rows_by.items()))
        daemon, sport, logpath = bv.start_daemon(a, tmp, db, uri)
        built = bv.wait_built(daemon, logpath, a.timeout)
        if built is None:
            raise RuntimeError("no initial build within %.0f s" % a.timeout)
        out("rebuild (start -> checkpoint written): %.1f s (%s)" % (built, bv.loadavg()))
        marker = bv.sql("SELECT MIN(order_id) FROM ecom_orders", db).strip()
        watcher = bv.Watcher(a, uri, db, marker, a.timeout + 60, 20)
        st0 = bv.status(sport)
        t0 = time.time()
        bv.sql(a.statement + bv.probe_sql(marker, "mass-end-"), db)
        committed = time.time() - t0
        done = None
        while time.time() - t0 < a.timeout and done is None:
            done = next((v for k, v in list(watcher.seen.items())
                         if k.startswith("mass-end-")), None)
            if daemon.poll() is not None:
                raise RuntimeError("daemon exited: " + open(logpath).read()[-2000:])
            time.sleep(0.05)
        if done is None:
            raise RuntimeError("the statement was not applied within %.0f s" % a.timeout)
        applied = done / 1000.0 - t0
        watcher.stop()  # its polls would compete with what follows
        watcher = None
        st1 = bv.status(sport)
        writes = st1["documents"] - st0["documents"]
        out("statement: committed in %.1f s, applied %.1f s after the call; %d document "
            "writes (%s)" % (committed, applied, writes, bv.loadavg()))
        out(bv.write_plan_line(sport))
        want, got = weight_sums(uri, db)
        out("check: sum of embedded product weights %d, SQL join %d: %s" % (
            got, want, "equal" if got == want else "DIFFERENT"))
        bv.stop_daemon(daemon)
        daemon = None
        if a.skip_raw:
            out("| full rebuild, %d orders | %.1f s |" % (a.orders, built))
            out("| `%s` applied | %.1f s (%.2fx the rebuild), %d document writes |" % (
                a.statement.rstrip(";"), applied, applied / built, writes))
            return 0 if got == want else 1
        rep = bv.bench_mongo(a, uri, db, "orderSingleView", "orderSingleView", "replace",
                             a.raw_batch, a.orders)
        ins = bv.bench_mongo(a, uri, db, "orderSingleView", "raw_insert", "insert", 1000,
                             a.orders)
        rep_s, ins_s = float(rep["seconds"]), float(ins["seconds"])
        out("raw: %s replaces by _id in bulks of %d: %.1f s (%.0f/s); %s inserts in bulks of "
            "1000: %.1f s (%.0f/s) (%s)" % (rep["docs"], a.raw_batch, rep_s,
                                           int(rep["docs"]) / rep_s, ins["docs"], ins_s,
                                           int(ins["docs"]) / ins_s, bv.loadavg()))
        out("")
        out("| figure | measured |")
        out("|---|---|")
        out("| full rebuild, %d orders | %.1f s |" % (a.orders, built))
        out("| `%s` applied | %.1f s (%.2fx the rebuild), %d document writes |" % (
            a.statement.rstrip(";"), applied, applied / built, writes))
        out("| documents right after it | %s |" % ("yes" if got == want else "NO"))
        out("| target raw: every document replaced by _id | %.1f s (statement at %.0f%% of "
            "this rate) |" % (rep_s, 100 * rep_s / applied))
        out("| target raw: every document inserted (a rebuild's writes) | %.1f s (replace / "
            "insert cost per document: %.1fx) |" % (ins_s, (rep_s / int(rep["docs"])) /
                                                   (ins_s / int(ins["docs"]))))
        return 0 if got == want else 1
    finally:
        if watcher:
            watcher.stop()
        bv.stop_daemon(daemon)
        try:
            mongo_eval(uri, db, "db.dropDatabase()")
            bv.sql("DROP DATABASE IF EXISTS `%s`" % db)
        except RuntimeError as e:
            print("warning:", e)
        if a.out and bv.lines:
            with open(a.out, "w") as f:
                f.write("\n".join(bv.lines) + "\n")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

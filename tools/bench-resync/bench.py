#!/usr/bin/env python3
"""bench.py — the per-table re-sync benchmark of issue 10 item 7, run by hand
(not a test). Prints one table and writes the run's output to --out.

    python3 tools/bench-resync/bench.py [--build DIR] [--orders 99441]
        [--rate 200] [--fraction 16] [--out FILE]

On the servers of `tools/servers.sh env` (the shared MariaDB and MongoDB-
wire target):

  1. datagen: the guide's six tables (--orders orders; at the default size
     32,951 products) into a fresh database.
  2. full rebuild: tapflow-replica from start until the snapshot's
     checkpoint is written (every table read, every document inserted).
  3. baseline: after --warmup seconds of the same writer, the bench-view
     change mix paced at --rate changes/s for --baseline-seconds with a probe every 100 ms (an order whose status is
     set to MariaDB's clock; bench-mongo watch polls it): delay p50/p99
     from commit to visible while nothing else happens.
  4. re-sync: a statement-format UPDATE of 1/--fraction of the products
     (SET SESSION binlog_format='STATEMENT'; no row events, so tapflow
     re-reads the whole table in 5,000-row reads while streaming on), with
     the same paced writer running until the re-sync is done: its duration
     (statement commit -> re-sync done in /status), rows read and changed,
     and the delay p50/p99 of the concurrent changes meanwhile.
  5. the documents are checked: every order embedding a changed product
     shows its new weight.

Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI (tools/servers.sh env).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench-view"))
import bench as bv  # noqa: E402

out = bv.out
MONGO_URI = os.environ.get("TAPFLOW_MONGO_URI", "mongodb://127.0.0.1:27118/")
MONGOSH = os.path.join(ROOT, ".local", "bin", "mongosh")


def paced_until(a, wl, watcher, db, marker, done, tag):
    """Paced slices of 2 s until done() (at least one); all probe delays."""
    delays, sent, seconds, probes = [], 0, 0.0, 0
    n = 0
    a.paced_seconds = 2.0
    while True:
        s, t, p, d = bv.paced_delays(a, wl, a.rate, watcher, db, marker, "%s%d-" % (tag, n))
        delays += d
        sent += s
        seconds += t
        probes += p
        n += 1
        if done():
            return sent, seconds, probes, delays


def delays_text(delays):
    seen = sorted(d for d in delays if d is not None)
    unseen = len(delays) - len(seen)
    full = seen + [float("inf")] * unseen
    return "p50 %.0f ms, p99 %s (%d probes)" % (
        bv.pct(full, 50), "%.0f ms" % bv.pct(full, 99) if bv.pct(full, 99) != float("inf")
        else "unseen", len(delays))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--orders", type=int, default=99441)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rate", type=int, default=200, help="changes/s of the concurrent writer")
    ap.add_argument("--baseline-seconds", type=float, default=10, help="baseline length")
    ap.add_argument("--warmup", type=float, default=30,
                    help="seconds of the writer before the baseline")
    ap.add_argument("--paced-wait", type=float, default=60)
    ap.add_argument("--fraction", type=int, default=16,
                    help="the statement changes products whose id starts with one of 16 hex "
                         "digits (16: 1/16 of them)")
    ap.add_argument("--build-timeout", type=float, default=3600)
    ap.add_argument("--baseline-only", action="store_true",
                    help="stop after the baseline (to compare daemons of other revisions)")
    ap.add_argument("--checkpoint-interval-ms", type=int, default=0)
    ap.add_argument("--out", default="/work/notes/bench-resync.txt"
                    if os.path.isdir("/work/notes") else "")
    a = ap.parse_args()
    a.bench_mongo = os.path.join(a.build, "tools", "bench-view", "bench-mongo")
    a.replica = os.path.join(a.build, "tools", "tapflow-replica", "tapflow-replica")
    for b in (a.bench_mongo, a.replica):
        if not os.path.exists(b):
            print("missing %s (build with ninja -C %s)" % (b, a.build))
            return 1
    tmp = tempfile.mkdtemp(prefix="tf_bench_resync_")
    db = "tf_bresync_%d" % os.getpid()
    tsv = os.path.join(tmp, "tsv")
    table = bv.Table()
    daemon = watcher = None
    try:
        out("tapflow re-sync benchmark — %s, %d cores, %s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(), bv.loadavg()))
        rows_by, load_line = bv.datagen(a, db, tsv)
        out("data set: datagen --seed %d --orders %d: %s" % (
            a.seed, a.orders, ", ".join("%s %d" % (k[5:], v) for k, v in rows_by.items())))

        # 2. full rebuild
        daemon, sport, logpath = bv.start_daemon(a, tmp, db, MONGO_URI)
        built = bv.wait_built(daemon, logpath, a.build_timeout)
        table.add("full rebuild: start -> snapshot checkpoint", "-",
                  "%.1f s (%d orders, %d source rows)" % (built, a.orders,
                                                         sum(rows_by.values())))

        # 3. baseline delays
        wl = bv.Workload(tsv, a.seed + 1)
        marker = wl.orders[0]
        watcher = bv.Watcher(a, MONGO_URI, db, marker, 7200, 5)
        # the target right after a bulk build is slower for a while (PostgreSQL
        # analyses the new table): the writer runs --warmup seconds first
        a.paced_seconds = a.warmup
        bv.paced_delays(a, wl, a.rate, watcher, db, marker, "warm-")
        a.paced_seconds = a.baseline_seconds
        base = bv.paced_delays(a, wl, a.rate, watcher, db, marker, "base-")
        table.add("delay at %d changes/s, nothing else" % a.rate, "-", delays_text(base[3]))

        if a.baseline_only:
            return 0
        # 4. the re-sync, with the writer running
        st0 = bv.status(sport) or {}
        completed0 = st0.get("resync", {}).get("completed", 0)
        digits = "0123456789abcdef"[:max(1, 16 // a.fraction)]
        where = " OR ".join("product_id LIKE '%s%%'" % d for d in digits)
        changed = int(bv.sql("SELECT COUNT(*) FROM ecom_products WHERE %s" % where, db).strip())
        t_stmt = time.time()
        bv.sql("SET SESSION binlog_format='STATEMENT'; UPDATE ecom_products SET "
               "product_weight_g = IFNULL(product_weight_g, 0) + 1000000 WHERE %s" % where, db)
        finished = {}

        def done():
            st = bv.status(sport) or {}
            rs = st.get("resync", {})
            if rs.get("completed", 0) > completed0 and rs.get("queued", 1) == 0:
                finished.setdefault("t", time.time())
                return True
            return False
        poller_stop = threading.Event()

        def poll():
            while not poller_stop.is_set() and not done():
                time.sleep(0.02)
        th = threading.Thread(target=poll, daemon=True)
        th.start()
        sent, seconds, probes, delays = paced_until(a, wl, watcher, db, marker, done, "rs")
        poller_stop.set()
        th.join(timeout=2)
        took = finished["t"] - t_stmt
        log = open(logpath).read()
        line = [x for x in log.splitlines() if "re-sync of %s.ecom_products done" % db in x]
        detail = line[-1].split("done: ", 1)[-1] if line else "?"
        table.add("re-sync of ecom_products (%d rows, %d changed)" % (
            rows_by.get("ecom_products", 0), changed), "-",
            "%.1f s (%s)" % (took, detail), "full rebuild %.1f s" % built,
            "%.2fx rebuild time" % (took / built))
        table.add("delay at %d changes/s during the re-sync" % a.rate, "-", delays_text(delays))
        out("  writer during the re-sync: %d changes in %.1f s, %d probes" % (
            sent, seconds, probes))

        # 5. the documents show the change
        r = subprocess.run([MONGOSH, "--quiet", "--norc", MONGO_URI + db, "--eval",
                            "print(db.orderSingleView.countDocuments({'order_items.product."
                            "product_weight_g': {$gte: 1000000}}))"],
                           capture_output=True, text=True)
        want = bv.sql("SELECT COUNT(DISTINCT i.order_id) FROM ecom_order_items i JOIN "
                      "ecom_products p USING (product_id) WHERE p.product_weight_g >= 1000000",
                      db).strip()
        got = r.stdout.strip()
        table.add("orders embedding a changed product", "-", "%s documents" % got,
                  "SQL: %s orders" % want, "", "ok" if got == want else "MISMATCH")
        return 0
    finally:
        if watcher:
            watcher.stop()
        bv.stop_daemon(daemon)
        try:
            bv.sql("DROP DATABASE IF EXISTS `%s`" % db)
            subprocess.run([MONGOSH, "--quiet", "--norc", MONGO_URI + db, "--eval",
                            "db.dropDatabase()"], capture_output=True)
        except RuntimeError:
            pass
        if table.rows:
            out("")
            out("results (%d orders; %s)" % (a.orders, bv.loadavg()))
            for line in table.text():
                out(line)
        if bv.lines and a.out:
            with open(a.out, "w") as f:
                f.write("\n".join(bv.lines) + "\n")
            print("written to", a.out)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench.py — catch-up after a burst (issue 13, coalescing), run by hand (not
a test). Prints one table and writes the run's output to --out.

    python3 tools/bench-burst/bench.py [--build DIR] [--scale 25]
        [--txns 5712] [--seed 7] [--raw-batch 32] [--out FILE]

On the servers of `tools/servers.sh env` (the shared MariaDB and MongoDB-
wire target):

  1. the six ecom_ tables in a fresh database with --scale times the rows of
     tests/integration/view_differential.py's start (25: 2,000 orders, as
     the demo), tapflow-replica started on the guide's flow (snapshot).
  2. the burst: --txns random transactions of view_differential's workload
     (inserts, updates, key changes, re-parenting, product and seller
     fan-out, deletes, rollbacks) committed as fast as the mariadb CLI can,
     200 per call, while the flow streams.
  3. catch-up: from the burst's start until the checkpoint reaches the
     server's position; the document operations written meanwhile (the
     status endpoint's "documents") against the distinct documents the
     burst changed (the collection before and after, compared by _id:
     changed, added, removed); writes per distinct document.
  4. every document compared with the SQL LEFT JOINs (view_differential).
  5. the target's raw rate for those documents: bench-mongo replacing as
     many documents by _id in bulks as the sink sends them; the catch-up
     against that time.

Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI (tools/servers.sh env).
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import tapflow_testlib as lib  # noqa: E402
import view_differential as vd  # noqa: E402

OUT = []


def out(line=""):
    print(line, flush=True)
    OUT.append(line)


def status(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=5) as r:
            return json.loads(r.read().decode())
    except (OSError, ValueError):
        return None


def documents(mongo, db):
    return {json.dumps(d["_id"], sort_keys=True): json.dumps(d, sort_keys=True)
            for d in mongo.call(cmd="dump", db=db, collection=vd.COLLECTION)}


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--scale", type=int, default=25)
    ap.add_argument("--txns", type=int, default=5712)
    ap.add_argument("--seed", type=int, default=7)
    # the sink's bulk size on FerretDB 1.x (sink.c: larger update commands hang it)
    ap.add_argument("--raw-batch", type=int, default=32)
    ap.add_argument("--out", default="/work/notes/bench-burst.txt"
                    if os.path.isdir("/work/notes") else None)
    a = ap.parse_args()
    bench_mongo = os.path.join(a.build, "tools", "bench-view", "bench-mongo")
    env = os.environ
    srv = vd.Servers(env.get("TAPFLOW_MARIADB_HOST", "127.0.0.1"),
                     env.get("TAPFLOW_MARIADB_PORT", "33061"),
                     env.get("TAPFLOW_MARIADB_USER", "tapflow"),
                     env.get("TAPFLOW_MARIADB_PASSWORD", "tapflow-test"),
                     env.get("TAPFLOW_MONGO_URI", "mongodb://127.0.0.1:27118/"))
    tmp = tempfile.mkdtemp(prefix="tf_burst_")
    db = "tf_burst_%d" % os.getpid()
    w = vd.Workload(random.Random(a.seed))
    w.order_cap = 110 * a.scale
    mongo = vd.Mongo(srv.mongo_uri, tmp)
    daemon = vd.Daemon(srv, db, tmp, 9000 + os.getpid() % 1000)
    out("bench-burst: database %s, scale %d, %d transactions, seed %d, %s" % (
        db, a.scale, a.txns, a.seed, time.strftime("%Y-%m-%d %H:%M:%S")))
    srv.sql("CREATE DATABASE %s" % db)
    try:
        srv.sql(lib.ECOM_TABLES + w.initial(a.scale), db)
        daemon.start()
        if not daemon.wait_log("streaming from GTID position", timeout=300):
            raise RuntimeError("no stream: %s" % daemon.log()[-2000:])
        ok, why = vd.wait_synced(srv, mongo, daemon, db)
        if not ok:
            raise RuntimeError(why)
        decimal128 = "written as double" not in daemon.log()
        before = documents(mongo, db)
        out("snapshot: %d documents" % len(before))
        burst = [w.transaction() for _ in range(a.txns)]
        st0 = status(daemon.status_port)
        t0 = time.time()
        for i in range(0, len(burst), 200):
            srv.sql("".join(burst[i:i + 200]), db)
        committed = time.time() - t0
        ok, why = vd.wait_synced(srv, mongo, daemon, db, timeout=3600)
        caught_up = time.time() - t0
        if not ok:
            raise RuntimeError(why)
        st1 = status(daemon.status_port)
        after = documents(mongo, db)
        changed = sum(1 for k, v in after.items() if k in before and before[k] != v)
        added = sum(1 for k in after if k not in before)
        removed = sum(1 for k in before if k not in after)
        distinct = changed + added + removed
        writes = st1["documents"] - st0["documents"]
        out("burst: %d transactions (%d statements, %d rolled back) committed in %.1f s" % (
            w.stats["transactions"], w.stats["statements"], w.stats["rolled_back"], committed))
        out("catch-up: %.1f s from the burst's start to the checkpoint at the server's "
            "position; %d document writes for %d distinct documents (%d changed, %d added, "
            "%d removed)" % (caught_up, writes, distinct, changed, added, removed))
        vd.compare(srv, mongo, db, decimal128, "after the burst")
        daemon.stop()
        batch = a.raw_batch
        r = subprocess.run([bench_mongo, srv.mongo_uri, db, vd.COLLECTION, vd.COLLECTION,
                            "replace", str(batch), str(max(distinct, 1))],
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("bench-mongo: %s" % r.stderr[-1000:])
        raw = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
        # the collection may hold fewer documents than were touched (deletes):
        # the raw time for the distinct documents at the rate measured
        raw_rate = int(raw["docs"]) / max(float(raw["seconds"]), 1e-3)
        raw_s = distinct / raw_rate
        out("raw: %s whole-document replaces by _id in bulks of %d in %s s (%.0f/s): %.2f s "
            "for the %d distinct documents" % (raw["docs"], batch, raw["seconds"], raw_rate,
                                               raw_s, distinct))
        out("")
        out("| figure | measured |")
        out("|---|---|")
        out("| burst committed | %d txns in %.1f s |" % (a.txns, committed))
        out("| catch-up (burst start -> checkpoint at server position) | %.1f s |" % caught_up)
        out("| document writes / distinct documents | %d / %d = %.2f per document |" % (
            writes, distinct, writes / max(distinct, 1)))
        out("| target raw: the distinct documents replaced by _id | %.2f s |" % raw_s)
        out("| catch-up after the burst's commit vs raw | %.1f s vs %.2f s |" % (
            caught_up - committed, raw_s))
        out("| documents equal the SQL joins | %s |" % ("yes" if vd.check.failed == 0
                                                       else "NO"))
    finally:
        daemon.kill()
        try:
            mongo.call(cmd="drop", db=db)
        except RuntimeError:
            pass
        mongo.close()
        srv.sql("DROP DATABASE IF EXISTS %s" % db)
        if a.out:
            with open(a.out, "w") as f:
                f.write("\n".join(OUT) + "\n")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

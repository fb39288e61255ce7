#!/usr/bin/env python3
"""verify.py — `tapflow-replica verify` finds what is wrong and only that.

    tests/integration/verify.py [--seed N] [--keep]

Against the servers of `tools/servers.sh env`: the guide's six tables in a
fresh database with view_differential.py's random rows, tapflow-replica on
the guide's flow, then:

  1. verify (full, --counts, --sample 20) of the running flow, source quiet:
     exit 0 and a clean summary;
  2. verify during a steady writer (random transactions every 50 ms, key
     changes and fan-out included): nothing reported, exit 0;
  3. differences planted directly in MongoDB — a field changed, an element
     dropped from order_items, a document deleted, a stray document added,
     a field's BSON type changed (int to string): each reported (missing,
     extra, differs with its path), exit 1;
  4. verify --repair rewrites them, and a following verify exits 0; the
     documents equal the SQL LEFT JOINs (view_differential's comparison);
  5. the same through the shell and the SDK: the flow saved with tap,
     `tap -c 'verify NAME'` exits 0, after one planted change exits 1
     naming it, and flow.verify(repair=True) in Python repairs it.

Prints "N passed, N failed"; exit status 1 on any failure.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402
import view_differential as vd  # noqa: E402

check = vd.check


def verify(daemon, *flags, timeout=120):
    r = subprocess.run([vd.BIN, "verify", "--flow", vd.FLOW, "--config", daemon.conf,
                        "--timeout", str(timeout)] + list(flags), capture_output=True, text=True,
                       timeout=timeout + 60,
                       env=dict(os.environ, TAPFLOW_MARIADB_PASSWORD=daemon.srv.password))
    return r.returncode, r.stdout, r.stderr


def summary(out):
    lines = [line for line in out.splitlines() if line.startswith("verify ")]
    return lines[-1] if lines else ""


def shell_and_sdk(daemon, db, tmp, orders):
    env = dict(os.environ, HOME=tmp, TAPFLOW_MARIADB_PASSWORD=daemon.srv.password,
               PYTHONPATH=os.path.join(lib.ROOT, "tools", "python"),
               TAPFLOW_REPLICA_BIN=vd.BIN)
    env.pop("TAPFLOW_HOME", None)
    env.pop("TAPFLOW_CONFIG", None)
    with open(vd.FLOW) as f:
        text = "".join(line for line in f if ".start()" not in line)

    def tap(*args, stdin=None):
        return subprocess.run([lib.TAP_BIN, "--config", daemon.conf] + list(args),
                              capture_output=True, text=True, env=env, input=stdin, timeout=300)

    r = tap("-q", stdin=text)
    check(r.returncode == 0, "the flow saved with tap", r.stdout + r.stderr)
    r = tap("-c", "verify Order_SingleView_Sync")
    check(r.returncode == 0 and " 0 missing, 0 extra, 0 differing" in r.stdout,
          "tap -c 'verify Order_SingleView_Sync': clean summary, exit 0",
          (r.returncode, r.stdout[-800:], r.stderr[-800:]))
    victim = orders[-1]
    lib.mongo_eval(db, "db.orderSingleView.updateOne({order_id: '%s'}, "
                       "{$set: {order_status: 'tampered'}})" % victim)
    r = tap("-c", "verify Order_SingleView_Sync --sample 1000")
    check(r.returncode == 1 and victim in r.stdout and "differs" in r.stdout and
          "differs from the source" in r.stderr,
          "tap -c 'verify NAME --sample 1000' finds the planted change, exit 1",
          (r.returncode, r.stdout[-800:], r.stderr[-800:]))
    code = r"""
import json, sys
from tapflow.cli.cli import init
from tapflow.lib import Flow
init(config=sys.argv[1], tap=sys.argv[2])
f = Flow("Order_SingleView_Sync")
first = f.verify(repair=True)
second = f.verify(counts=True)
print(json.dumps({"first": first, "second": second}))
"""
    r = subprocess.run([sys.executable, "-c", code, daemon.conf, lib.TAP_BIN],
                       capture_output=True, text=True, env=env, timeout=600)
    try:
        res = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = None
    check(res is not None and res["first"]["ok"] and
          any(victim in d for d in res["first"]["differences"]) and
          "repaired 1 document(s)" in res["first"]["output"] and res["second"]["ok"],
          "SDK: flow.verify(repair=True) reports and repairs it (ok: right now), "
          "flow.verify(counts=True) is ok",
          (r.stdout[-1500:], r.stderr[-1500:]))


def run(args, srv, tmp):
    rnd = random.Random(args.seed)
    db = "tf_verify_%d" % os.getpid()
    w = vd.Workload(rnd)
    mongo = vd.Mongo(srv.mongo_uri, tmp)
    daemon = vd.Daemon(srv, db, tmp, 7700 + os.getpid() % 200)
    srv.sql("CREATE DATABASE %s" % db)
    try:
        srv.sql(lib.ECOM_TABLES + w.initial(scale=3), db)
        daemon.start()
        check(daemon.wait_log("streaming from GTID position", 120),
              "the flow takes its snapshot and streams", daemon.log()[-1500:])
        decimal128 = "written as double" not in daemon.log()
        srv.sql("".join(w.transaction() for _ in range(60)), db)
        ok, why = vd.wait_synced(srv, mongo, daemon, db)
        check(ok, "the flow reaches the source's position", why)

        # 1. a quiet source
        rc, out, err = verify(daemon)
        check(rc == 0 and " 0 missing, 0 extra, 0 differing" in out,
              "full verify of a right table: exit 0, clean summary (%s)" % summary(out),
              (rc, out[-1500:], err[-1500:]))
        rc, out, err = verify(daemon, "--counts")
        check(rc == 0 and "equal" in out, "verify --counts: equal, exit 0",
              (rc, out[-800:], err[-800:]))
        rc, out, err = verify(daemon, "--sample", "20")
        check(rc == 0 and "sample, 20 documents checked" in out,
              "verify --sample 20: exit 0 (%s)" % summary(out), (rc, out[-800:], err[-800:]))

        # 2. a steady writer
        stop = threading.Event()
        errors = []
        done = [0]

        def writer():
            while not stop.is_set():
                try:
                    srv.sql(w.transaction(), db)
                    done[0] += 1
                except Exception as e:  # noqa: BLE001
                    errors.append(str(e))
                    return
                time.sleep(0.05)

        th = threading.Thread(target=writer)
        th.start()
        time.sleep(1)
        try:
            rc, out, err = verify(daemon)
        finally:
            stop.set()
            th.join()
        check(rc == 0 and " 0 missing, 0 extra, 0 differing" in out and not errors,
              "full verify while a writer runs (%d transactions): nothing reported (%s)" % (
                  done[0], summary(out)), (rc, out[-1500:], err[-1500:], errors))
        ok, why = vd.wait_synced(srv, mongo, daemon, db)
        check(ok, "the flow catches up after the writer", why)

        # 3. planted differences
        orders = sorted(k[0] for k in w.t["ecom_orders"])
        items = [k[0] for k in w.t["ecom_order_items"]]
        paid = {k[0] for k in w.t["ecom_order_payments"]}
        with_items = [o for o in orders if items.count(o) >= 2]
        plain = [o for o in orders if o not in with_items]
        retyped = [o for o in plain if o in paid][0]
        plain = [o for o in plain if o != retyped]
        changed, dropped, deleted = plain[0], with_items[0], plain[1]
        js = """
const c = db.getCollection('orderSingleView');
c.updateOne({order_id: '%s'}, {$set: {order_status: 'tampered'}});
c.updateOne({order_id: '%s'}, {$pop: {order_items: 1}});
c.deleteOne({order_id: '%s'});
c.insertOne({order_id: 'STRAY-1', order_status: 'ghost'});
c.updateOne({order_id: '%s'}, {$set: {'order_payments.0.payment_sequential': 'one'}});
print('planted');
""" % (changed, dropped, deleted, retyped)
        out = lib.mongo_eval(db, js)
        check("planted" in out, "differences planted in MongoDB")
        rc, out, err = verify(daemon)
        lines = out.splitlines()

        def reported(kind, text, extra=""):
            return any(line.startswith(kind) and text in line and extra in line for line in lines)

        check(rc == 1, "verify exits 1 with differences", (rc, out[-1500:], err[-800:]))
        check(reported("differs", changed, "order_status"),
              "the changed field is reported with its path", out[-1500:])
        check(reported("differs", dropped, "order_items"),
              "the dropped array element is reported", out[-1500:])
        check(reported("missing", deleted), "the deleted document is reported missing",
              out[-1500:])
        check(reported("extra", "STRAY-1"), "the stray document is reported extra", out[-1500:])
        check(reported("differs", retyped, "payment_sequential: expected int"),
              "the retyped field is reported with both BSON types", out[-1500:])
        check(" 1 missing, 1 extra, 3 differing" in out, "summary counts them: %s" % summary(out),
              out[-800:])

        # 4. repair
        rc, out, err = verify(daemon, "--repair")
        check(rc == 0 and "repaired 5 document(s)" in out and "0 still differ" in out,
              "verify --repair rewrites the five and checks them again", (rc, out[-1500:],
                                                                             err[-800:]))
        rc, out, err = verify(daemon)
        check(rc == 0 and " 0 missing, 0 extra, 0 differing" in out,
              "verify after the repair: exit 0 (%s)" % summary(out), (rc, out[-1500:], err[-800:]))
        vd.compare(srv, mongo, db, decimal128, "after the repair")
        shell_and_sdk(daemon, db, tmp, orders)
        check(daemon.stop() == 0, "the flow stops on SIGTERM")
    finally:
        vd.end_run(daemon, srv, mongo, db, args.keep)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    print("seed %d (repeat with --seed %d)" % (args.seed, args.seed), flush=True)
    srv = vd.Servers(lib.MARIADB_HOST, lib.MARIADB_PORT, lib.MARIADB_USER, lib.MARIADB_PASSWORD,
                     lib.MONGO_URI)
    tmp = tempfile.mkdtemp(prefix="tf_verify_")
    try:
        run(args, srv, tmp)
    except Exception as e:  # noqa: BLE001
        check(False, "run", repr(e))
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""guide_step2.py — the reference guide's Step 2, end to end, through
tapflow-replica: MariaDB (tools/servers.sh env) -> MongoDB-wire target.

Creates the six ecom_ tables in a fresh database with a few rows, starts
tapflow-replica on the guide's flow file, waits for the snapshot, runs the
guide's Step 2 SQL statement by statement and checks after each one, within
1 second, that the ORD789654 document is exactly the LEFT JOIN of the rows
(every field and BSON type, relation columns omitted in embedded rows).
Then SIGTERM (checkpoint read back with mongosh), --gtid-resume (no
snapshot, asserted from the log), one more change, a changed flow file
refused without --resnapshot, and bad config / unknown datasource /
unreachable target each failing with a clear message.

Stdlib only. Prints "N passed, N failed"; exit status 1 on any failure.
Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI (tools/servers.sh env),
TAPFLOW_REPLICA_BIN (default build/tools/tapflow-replica/tapflow-replica).
"""
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402

MONGOSH = lib.MONGOSH
FLOW = lib.GUIDE_FLOW
BIN = lib.REPLICA_BIN
MONGO_URI = lib.MONGO_URI
DB = lib.unique_name("tf_guide")
PORT = 17000 + os.getpid() % 2000

check = lib.Checks()


def sql(text, db=DB):
    return lib.sql(db, text)


def mongo_eval(js, timeout=60):
    return lib.mongo_eval(DB, js, timeout)


# A long-running mongosh that polls for a document until it equals an
# expected canonical EJSON value: requests and answers are files, so the
# 1-second window does not include mongosh's start-up.
WATCHER_JS = r"""
const fs = require('fs');
const dir = process.env.TF_WATCH_DIR;
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') { const o = {}; for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]); return o; }
  return v;
}
for (let n = 0; ; n++) {
  const req = dir + '/req-' + n + '.json';
  while (!fs.existsSync(req)) sleep(5);
  const r = JSON.parse(fs.readFileSync(req, 'utf8'));
  if (r.quit) break;
  const want = JSON.stringify(sortKeys(r.expected));
  let got = null, ok = false, idType = null;
  for (;;) {
    const doc = db.getCollection(r.collection).findOne(r.filter, {}, {promoteValues: false});
    if (doc) { idType = doc._id && doc._id._bsontype; delete doc._id; }
    got = doc ? sortKeys(EJSON.serialize(doc, {relaxed: false})) : null;
    if (JSON.stringify(got) === want) { ok = true; break; }
    if (Date.now() > r.deadline_ms) break;
    sleep(10);
  }
  fs.writeFileSync(dir + '/res-' + n + '.tmp', JSON.stringify({ok: ok, got: got, id_type: idType, at_ms: Date.now()}));
  fs.renameSync(dir + '/res-' + n + '.tmp', dir + '/res-' + n + '.json');
}
"""


class Watcher:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "watch")
        os.makedirs(self.dir)
        self.n = 0
        env = dict(os.environ, TF_WATCH_DIR=self.dir)
        self.proc = subprocess.Popen([MONGOSH, "--quiet", MONGO_URI.rstrip("/") + "/" + DB,
                                      "--eval", WATCHER_JS], env=env, stdout=subprocess.DEVNULL)

    def wait_for(self, expected, committed_at, window=1.0):
        req = {"collection": "orderSingleView", "filter": {"order_id": "ORD789654"},
               "expected": expected, "deadline_ms": int((committed_at + window) * 1000)}
        n = self.n
        self.n += 1
        tmp = os.path.join(self.dir, "req-%d.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(req, f)
        os.rename(tmp, os.path.join(self.dir, "req-%d.json" % n))
        res = os.path.join(self.dir, "res-%d.json" % n)
        end = time.time() + 60
        while not os.path.exists(res) and time.time() < end:
            time.sleep(0.005)
        with open(res) as f:
            return json.load(f)

    def close(self):
        n = self.n
        with open(os.path.join(self.dir, "req-%d.json" % n), "w") as f:
            json.dump({"quit": True}, f)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def write_config(path, mongo_uri=MONGO_URI, extra="", source_name="MySQL_ECommerce"):
    lib.write_config(path, DB, 7400 + os.getpid() % 500, mongo_uri=mongo_uri,
                     extra="status_listen = 127.0.0.1:%d\n%s" % (PORT, extra), source=source_name)


def start(tmp, conf, flow=FLOW, *flags, log="daemon.log"):
    env = lib.mariadb_env()
    logf = open(os.path.join(tmp, log), "w")
    p = subprocess.Popen([BIN, "--flow", flow, "--config", conf] + list(flags), stderr=logf,
                         stdout=logf, env=env)
    p.logpath = os.path.join(tmp, log)
    return p


def read_log(p):
    with open(p.logpath) as f:
        return f.read()


def wait_log(p, text, timeout=30):
    return lib.wait_log(lambda: read_log(p), p, text, timeout)


def run_once(tmp, conf, *flags, flow=FLOW, timeout=30):
    r = subprocess.run([BIN, "--flow", flow, "--config", conf] + list(flags), capture_output=True,
                       text=True, env=lib.mariadb_env(), timeout=timeout)
    return r.returncode, r.stderr


def main():
    if not os.path.exists(BIN):
        print("tapflow-replica not built at %s (set TAPFLOW_REPLICA_BIN)" % BIN)
        return 1
    tmp = tempfile.mkdtemp(prefix="tf_guide_")
    sql("CREATE DATABASE %s" % DB, db="")
    daemon = watcher = None
    try:
        sql(lib.GUIDE_SCHEMA)
        conf = os.path.join(tmp, "tapflow.conf")
        write_config(conf)
        daemon = start(tmp, conf)
        check(wait_log(daemon, "streaming from GTID position"), "snapshot done, streaming",
              read_log(daemon)[-800:])
        decimal128 = "written as double" not in read_log(daemon)
        out = mongo_eval("print(db.orderSingleView.countDocuments({}))")
        check(out.strip() == "1", "snapshot wrote the pre-existing order", out)
        watcher = Watcher(tmp)
        for i, stmt in enumerate(lib.STEP2):
            sql(stmt)
            committed = time.time()
            want = lib.expected_doc(DB, decimal128=decimal128)
            res = watcher.wait_for(want, committed)
            first = stmt.split("\n")[0][:60]
            check(res["ok"], "step 2 statement %d (%s) applied within 1 s" % (i + 1, first),
                  "want %s got %s" % (json.dumps(want), json.dumps(res["got"])))
            if want is not None and res["ok"]:
                check(res["id_type"] == "ObjectId", "statement %d: _id is an ObjectId" % (i + 1),
                      res["id_type"])
        # _id is derived from the root key: the first 12 bytes of SHA-256 of
        # the BSON {order_id: "ORD789654"} (sink.h, "Addressing by _id").
        key = b"\x02order_id\x00" + struct.pack("<i", 10) + b"ORD789654\x00"
        key = struct.pack("<i", len(key) + 5) + key + b"\x00"
        got_id = mongo_eval("print(db.orderSingleView.findOne({order_id: 'ORD789654'})"
                            "._id.toHexString())").strip()
        check(got_id == hashlib.sha256(key).hexdigest()[:24], "_id derived from the root key",
              got_id)
        # The final document, as the guide shows it (types spelled out).
        final = lib.expected_doc(DB, decimal128=decimal128)
        check(final["order_status"] == "shipped" and
              final["order_payments"][0]["payment_installments"] == {"$numberInt": "2"} and
              final["order_items"][0]["price"] in ({"$numberDouble": "210.0"},
                                                    {"$numberDecimal": "210.00"}) and
              "order_id" not in final["order_items"][0] and
              "product_id" not in final["order_items"][0]["product"],
              "final document has the guide's updated values and omits relation columns")
        # status command
        env = dict(os.environ)
        r = subprocess.run([BIN, "status", "Order_SingleView_Sync", "--config", conf],
                           capture_output=True, text=True, env=env)
        import re
        check(r.returncode == 0 and re.fullmatch(
            r"job current status is: running, qps is: \d+\.\d, total rows: \d+, delay is: \d+ms\n",
            r.stdout) is not None, "status prints the guide's line", r.stdout + r.stderr)
        # SIGTERM: checkpoint
        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(timeout=20)
        check(rc == 0, "SIGTERM exits 0", rc)
        check("checkpoint written" in read_log(daemon), "SIGTERM writes a checkpoint",
              read_log(daemon)[-500:])
        gtid_now = sql("SELECT @@gtid_binlog_pos", db="")[0][0]
        cp = json.loads(mongo_eval(
            "print(EJSON.stringify(db.tapflow_checkpoints.findOne({_id:'Order_SingleView_Sync'})))"))
        check(cp is not None and cp.get("flavour") == "mariadb" and cp.get("spec_hash") and
              len(cp["spec_hash"]) == 64 and cp.get("binlog_file", "").startswith("mariadb-bin") and
              isinstance(cp.get("counts"), dict) and cp.get("gtid"),
              "checkpoint has flavour, gtid, binlog file, spec hash, counts", cp)
        import re as _re
        now_seq = {g.split("-")[0]: int(g.split("-")[2]) for g in gtid_now.split(",") if g}
        cp_gtid = (cp or {}).get("gtid", "")
        well_formed = all(_re.fullmatch(r"\d+-\d+-\d+", g) for g in cp_gtid.split(","))
        not_ahead = well_formed and all(
            int(g.split("-")[2]) <= now_seq.get(g.split("-")[0], -1) for g in cp_gtid.split(","))
        check(well_formed and not_ahead,
              "checkpoint GTID is a MariaDB position not ahead of the server's", (cp_gtid, gtid_now))
        # --gtid-resume: no snapshot; another change is applied
        daemon = start(tmp, conf, FLOW, "--gtid-resume", log="resume.log")
        check(wait_log(daemon, "streaming from GTID position"), "resume starts streaming",
              read_log(daemon)[-800:])
        lg = read_log(daemon)
        check("no snapshot" in lg and "snapshot of" not in lg, "resume takes no snapshot", lg[-800:])
        sql("UPDATE ecom_products SET product_weight_g = 1300 WHERE product_id = 'PROD56789'")
        committed = time.time()
        res = watcher.wait_for(lib.expected_doc(DB, decimal128=decimal128), committed)
        check(res["ok"], "change after resume applied within 1 s (product fan-out)", res["got"])
        daemon.send_signal(signal.SIGTERM)
        check(daemon.wait(timeout=20) == 0, "second SIGTERM exits 0")
        # A flow whose lookup path changed continues from its checkpoint: no
        # table is read again, every document is rewritten in the new shape.
        changed = os.path.join(tmp, "changed.tap")
        with open(FLOW) as f:
            text = f.read()
        with open(changed, "w") as f:
            f.write(text.replace('path="customer_info"', 'path="customer"'))
        daemon = start(tmp, conf, changed, "--gtid-resume", log="edited.log")
        ok = wait_log(daemon, "rewrite of the documents of flow")
        doc = json.loads(mongo_eval("print(EJSON.stringify(db.orderSingleView.findOne("
                                    "{order_id: 'ORD789654'})))") or "{}")
        lg = read_log(daemon)
        check(ok and "snapshot of" not in lg and "reading again: no table" in lg and
              doc.get("customer", {}).get("customer_city") == "New York" and
              "customer_info" not in doc,
              "an edited lookup path continues from the checkpoint, documents rewritten",
              (lg[-800:], doc))
        daemon.send_signal(signal.SIGTERM)
        check(daemon.wait(timeout=20) == 0, "SIGTERM of the edited flow exits 0")
        # A changed target is refused without --resnapshot.
        retarget = os.path.join(tmp, "retarget.tap")
        with open(retarget, "w") as f:
            f.write(text.replace("orderSingleView", "orderSingleView2"))
        rc, err = run_once(tmp, conf, "--gtid-resume", flow=retarget)
        check(rc != 0 and "its target (write_to) changed since its checkpoint" in err and
              "--resnapshot" in err, "a changed target is refused without --resnapshot",
              err[-400:])
        # Checkpoint present, no flag: refused with the options named.
        rc, err = run_once(tmp, conf)
        check(rc != 0 and "--gtid-resume" in err, "existing checkpoint needs --gtid-resume", err[-300:])
        # --resnapshot rebuilds the collection: a document of no source row
        # (an order deleted while the flow was stopped) does not linger.
        mongo_eval("db.orderSingleView.insertOne({order_id: 'STALE_ORDER'})")
        daemon = start(tmp, conf, FLOW, "--resnapshot", log="resnapshot.log")
        check(wait_log(daemon, "streaming from GTID position"), "--resnapshot streams again",
              read_log(daemon)[-800:])
        ids = mongo_eval("print(EJSON.stringify(db.orderSingleView.distinct('order_id')))")
        want_ids = sorted(r[0] for r in sql("SELECT order_id FROM ecom_orders"))
        check(sorted(json.loads(ids)) == want_ids,
              "--resnapshot leaves exactly the source's documents (no stale one)",
              (ids, want_ids))
        daemon.send_signal(signal.SIGTERM)
        check(daemon.wait(timeout=20) == 0, "SIGTERM after --resnapshot exits 0")
        # Bad config, unknown datasource, unreachable target.
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[tapflow]\nserver_id = 7\nbogus = 1\n")
        rc, err = run_once(tmp, bad)
        check(rc != 0 and "bad.conf:3: unknown key 'bogus'" in err, "bad config names file:line", err)
        unknown = os.path.join(tmp, "unknown.conf")
        write_config(unknown, source_name="Other_Source")
        rc, err = run_once(tmp, unknown)
        check(rc != 0 and "datasource MySQL_ECommerce is not defined" in err,
              "unknown datasource is named", err)
        unreachable = os.path.join(tmp, "unreachable.conf")
        write_config(unreachable, mongo_uri="mongodb://user:secret@127.0.0.1:1/?serverSelectionTimeoutMS=1000")
        rc, err = run_once(tmp, unreachable)
        check(rc != 0 and "unreachable" in err and "secret" not in err,
              "unreachable target: clear error, password not printed", err[-400:])
    finally:
        if daemon and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if watcher:
            watcher.close()
        try:
            mongo_eval("db.dropDatabase()")
        except Exception as e:  # noqa: BLE001
            print("warning: could not drop the target database:", e)
        sql("DROP DATABASE IF EXISTS %s" % DB, db="")
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

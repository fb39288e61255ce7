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
import calendar
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MONGOSH = os.path.join(ROOT, ".local", "bin", "mongosh")
FLOW = os.path.join(ROOT, "tests", "vectors", "flows", "guide_order_single_view.tap")
BIN = os.environ.get("TAPFLOW_REPLICA_BIN",
                     os.path.join(ROOT, "build", "tools", "tapflow-replica", "tapflow-replica"))
ENV = os.environ
MY = ["mariadb", "--no-defaults", "-h", ENV.get("TAPFLOW_MARIADB_HOST", "127.0.0.1"),
      "-P", ENV.get("TAPFLOW_MARIADB_PORT", "33061"), "-u", ENV.get("TAPFLOW_MARIADB_USER", "tapflow"),
      "-p" + ENV.get("TAPFLOW_MARIADB_PASSWORD", "tapflow-test")]
MONGO_URI = ENV.get("TAPFLOW_MONGO_URI", "mongodb://127.0.0.1:27118/")
DB = "tf_guide_%d_%d" % (os.getpid(), int(time.time()))
PORT = 17000 + os.getpid() % 2000

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what + (": " + str(detail) if detail else ""))


def sql(text, db=DB):
    r = subprocess.run(MY + ["-N", "-B", db, "-e", text], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("SQL failed: %s: %s" % (text[:80], r.stderr))
    return [line.split("\t") for line in r.stdout.splitlines()]


def mongo_eval(js, timeout=60):
    uri = MONGO_URI.rstrip("/") + "/" + DB
    r = subprocess.run([MONGOSH, "--quiet", uri, "--eval", js], capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode:
        raise RuntimeError("mongosh: " + r.stderr + r.stdout)
    return r.stdout


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


# ---- the expected document: the flow's LEFT JOINs, typed as the view maps ----

def ejson_date(text):
    if text == "NULL":
        return None
    t = time.strptime(text, "%Y-%m-%d %H:%M:%S")
    return {"$date": {"$numberLong": str(calendar.timegm(t) * 1000)}}


def ejson_int(text):
    return None if text == "NULL" else {"$numberInt": str(int(text))}


def ejson_double(text):
    # DECIMAL on a target without Decimal128: double (the daemon's default).
    if text == "NULL":
        return None
    v = float(text)
    return {"$numberDouble": repr(v) if v != int(v) else "%d.0" % int(v)}


def ejson_str(text):
    return None if text == "NULL" else text


def rows(query):
    return sql(query)


def expected_doc(decimal128):
    dec = ejson_double
    if decimal128:
        dec = lambda t: None if t == "NULL" else {"$numberDecimal": t}  # noqa: E731
    fmt = "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s')"
    o = rows("SELECT order_id, customer_id, order_status, %s, %s, %s, %s, %s FROM ecom_orders "
             "WHERE order_id='ORD789654'" % tuple(fmt % c for c in (
                 "order_purchase_timestamp", "order_approved_at", "order_delivered_carrier_date",
                 "order_delivered_customer_date", "order_estimated_delivery_date")))
    if not o:
        return None
    o = o[0]
    doc = {"order_id": o[0], "customer_id": ejson_str(o[1]), "order_status": ejson_str(o[2]),
           "order_purchase_timestamp": ejson_date(o[3]), "order_approved_at": ejson_date(o[4]),
           "order_delivered_carrier_date": ejson_date(o[5]),
           "order_delivered_customer_date": ejson_date(o[6]),
           "order_estimated_delivery_date": ejson_date(o[7])}
    c = rows("SELECT customer_unique_id, customer_zip_code_prefix, customer_city, customer_state "
             "FROM ecom_customers WHERE customer_id='%s' ORDER BY customer_id LIMIT 1" % o[1])
    if c:
        doc["customer_info"] = {"customer_unique_id": c[0][0], "customer_zip_code_prefix": c[0][1],
                                "customer_city": c[0][2], "customer_state": c[0][3]}
    doc["order_payments"] = [
        {"payment_sequential": ejson_int(p[0]), "payment_type": ejson_str(p[1]),
         "payment_installments": ejson_int(p[2]), "payment_value": dec(p[3])}
        for p in rows("SELECT payment_sequential, payment_type, payment_installments, payment_value "
                      "FROM ecom_order_payments WHERE order_id='ORD789654' ORDER BY payment_sequential")]
    items = []
    for it in rows("SELECT order_item_id, product_id, seller_id, %s, price, freight_value FROM "
                   "ecom_order_items WHERE order_id='ORD789654' ORDER BY order_item_id"
                   % (fmt % "shipping_limit_date")):
        item = {"order_item_id": ejson_int(it[0]), "product_id": ejson_str(it[1]),
                "seller_id": ejson_str(it[2]), "shipping_limit_date": ejson_date(it[3]),
                "price": dec(it[4]), "freight_value": dec(it[5])}
        p = rows("SELECT product_category_name, product_weight_g, product_length_cm, "
                 "product_height_cm, product_width_cm FROM ecom_products WHERE product_id='%s'"
                 % it[1])
        if p:
            item["product"] = {"product_category_name": p[0][0],
                               "product_weight_g": ejson_int(p[0][1]),
                               "product_length_cm": ejson_int(p[0][2]),
                               "product_height_cm": ejson_int(p[0][3]),
                               "product_width_cm": ejson_int(p[0][4])}
        s = rows("SELECT seller_zip_code_prefix, seller_city, seller_state FROM ecom_sellers "
                 "WHERE seller_id='%s'" % it[2])
        if s:
            item["seller"] = {"seller_zip_code_prefix": s[0][0], "seller_city": s[0][1],
                              "seller_state": s[0][2]}
        items.append(item)
    doc["order_items"] = items
    return doc


SCHEMA = """
CREATE TABLE ecom_orders (order_id VARCHAR(32) PRIMARY KEY, customer_id VARCHAR(32),
  order_status VARCHAR(32), order_purchase_timestamp DATETIME, order_approved_at DATETIME,
  order_delivered_carrier_date DATETIME, order_delivered_customer_date DATETIME,
  order_estimated_delivery_date DATETIME);
CREATE TABLE ecom_order_items (order_id VARCHAR(32), order_item_id INT, product_id VARCHAR(32),
  seller_id VARCHAR(32), shipping_limit_date DATETIME, price DECIMAL(10,2),
  freight_value DECIMAL(10,2), PRIMARY KEY (order_id, order_item_id));
CREATE TABLE ecom_order_payments (order_id VARCHAR(32), payment_sequential INT,
  payment_type VARCHAR(32), payment_installments INT, payment_value DECIMAL(10,2),
  PRIMARY KEY (order_id, payment_sequential));
CREATE TABLE ecom_customers (customer_id VARCHAR(32) PRIMARY KEY, customer_unique_id VARCHAR(32),
  customer_zip_code_prefix VARCHAR(10), customer_city VARCHAR(64), customer_state VARCHAR(4));
CREATE TABLE ecom_products (product_id VARCHAR(32) PRIMARY KEY, product_category_name VARCHAR(64),
  product_weight_g INT, product_length_cm INT, product_height_cm INT, product_width_cm INT);
CREATE TABLE ecom_sellers (seller_id VARCHAR(32) PRIMARY KEY, seller_zip_code_prefix VARCHAR(10),
  seller_city VARCHAR(64), seller_state VARCHAR(4));
INSERT INTO ecom_customers VALUES ('C0001','U0001','01001','sao paulo','SP');
INSERT INTO ecom_sellers VALUES ('S0001','13023','campinas','SP');
INSERT INTO ecom_products VALUES ('P0001','perfumaria',225,16,10,14);
INSERT INTO ecom_orders VALUES ('O0001','C0001','delivered','2017-10-02 10:56:33',
  '2017-10-02 11:07:15','2017-10-04 19:55:00','2017-10-10 21:25:13','2017-10-18 00:00:00');
INSERT INTO ecom_order_items VALUES ('O0001',1,'P0001','S0001','2017-10-06 11:07:15',29.99,8.72);
INSERT INTO ecom_order_payments VALUES ('O0001',1,'credit_card',1,38.71);
"""

# The guide's Step 2, statement by statement, exactly as written.
STEP2 = [
    """INSERT INTO ecom_customers (customer_id, customer_unique_id, customer_zip_code_prefix, customer_city, customer_state)
VALUES ('CUST12345', 'UNIQUE_CUST_00123', '10001', 'New York', 'NY');""",
    """INSERT INTO ecom_orders (order_id, customer_id, order_status, order_purchase_timestamp, order_approved_at, order_estimated_delivery_date)
VALUES ('ORD789654', 'CUST12345', 'pending', NOW(), NOW(), '2024-11-10');""",
    """INSERT INTO ecom_order_items (order_id, order_item_id, product_id, seller_id, shipping_limit_date, price, freight_value)
VALUES ('ORD789654', 1, 'PROD56789', 'SELL34567', '2024-11-05', 199.99, 15.0);""",
    """INSERT INTO ecom_products (product_id, product_category_name, product_weight_g, product_length_cm, product_height_cm, product_width_cm)
VALUES ('PROD56789', 'electronics', 1200, 20, 10, 8);""",
    """INSERT INTO ecom_sellers (seller_id, seller_zip_code_prefix, seller_city, seller_state)
VALUES ('SELL34567', '90001', 'Los Angeles', 'CA');""",
    """INSERT INTO ecom_order_payments (order_id, payment_sequential, payment_type, payment_installments, payment_value)
VALUES ('ORD789654', 1, 'credit_card', 1, 199.99);""",
    """UPDATE ecom_orders
SET order_status = 'shipped', order_delivered_carrier_date = NOW()
WHERE order_id = 'ORD789654';""",
    """UPDATE ecom_order_payments
SET payment_value = 220.0, payment_installments = 2
WHERE order_id = 'ORD789654' AND payment_sequential = 1;""",
    """UPDATE ecom_order_items
SET price = 210.0, freight_value = 18.0
WHERE order_id = 'ORD789654' AND order_item_id = 1;""",
]


def write_config(path, mongo_uri=MONGO_URI, extra="", source_name="MySQL_ECommerce"):
    with open(path, "w") as f:
        f.write("""# tapflow-replica config for guide_step2.py
[tapflow]
server_id = %d
status_listen = 127.0.0.1:%d
checkpoint_interval_ms = 200
%s
[datasource %s]
type = mysql
host = %s
port = %s
user = %s
password_env = TAPFLOW_MARIADB_PASSWORD
database = %s

[datasource MongoDB_ECommerce]
type = mongodb
uri = %s
database = %s
""" % (7400 + os.getpid() % 500, PORT, extra, source_name, ENV.get("TAPFLOW_MARIADB_HOST", "127.0.0.1"),
       ENV.get("TAPFLOW_MARIADB_PORT", "33061"), ENV.get("TAPFLOW_MARIADB_USER", "tapflow"), DB,
       mongo_uri, DB))


def start(tmp, conf, flow=FLOW, *flags, log="daemon.log"):
    env = dict(os.environ)
    env.setdefault("TAPFLOW_MARIADB_PASSWORD", "tapflow-test")
    logf = open(os.path.join(tmp, log), "w")
    p = subprocess.Popen([BIN, "--flow", flow, "--config", conf] + list(flags), stderr=logf,
                         stdout=logf, env=env)
    p.logpath = os.path.join(tmp, log)
    return p


def read_log(p):
    with open(p.logpath) as f:
        return f.read()


def wait_log(p, text, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if text in read_log(p):
            return True
        if p.poll() is not None:
            return text in read_log(p)
        time.sleep(0.05)
    return False


def run_once(tmp, conf, *flags, flow=FLOW, timeout=30):
    env = dict(os.environ)
    env.setdefault("TAPFLOW_MARIADB_PASSWORD", "tapflow-test")
    r = subprocess.run([BIN, "--flow", flow, "--config", conf] + list(flags), capture_output=True,
                       text=True, env=env, timeout=timeout)
    return r.returncode, r.stderr


def main():
    if not os.path.exists(BIN):
        print("tapflow-replica not built at %s (set TAPFLOW_REPLICA_BIN)" % BIN)
        return 1
    tmp = tempfile.mkdtemp(prefix="tf_guide_")
    sql("CREATE DATABASE %s" % DB, db="")
    daemon = watcher = None
    try:
        sql(SCHEMA)
        conf = os.path.join(tmp, "tapflow.conf")
        write_config(conf)
        daemon = start(tmp, conf)
        check(wait_log(daemon, "streaming from GTID position"), "snapshot done, streaming",
              read_log(daemon)[-800:])
        decimal128 = "written as double" not in read_log(daemon)
        out = mongo_eval("print(db.orderSingleView.countDocuments({}))")
        check(out.strip() == "1", "snapshot wrote the pre-existing order", out)
        watcher = Watcher(tmp)
        for i, stmt in enumerate(STEP2):
            sql(stmt)
            committed = time.time()
            want = expected_doc(decimal128)
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
        final = expected_doc(decimal128)
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
        res = watcher.wait_for(expected_doc(decimal128), committed)
        check(res["ok"], "change after resume applied within 1 s (product fan-out)", res["got"])
        daemon.send_signal(signal.SIGTERM)
        check(daemon.wait(timeout=20) == 0, "second SIGTERM exits 0")
        # A changed flow file is refused without --resnapshot.
        changed = os.path.join(tmp, "changed.tap")
        with open(FLOW) as f:
            text = f.read().replace('path="customer_info"', 'path="customer"')
        with open(changed, "w") as f:
            f.write(text)
        rc, err = run_once(tmp, conf, "--gtid-resume", flow=changed)
        check(rc != 0 and "another flow spec" in err and "--resnapshot" in err,
              "changed flow refused without --resnapshot", err[-400:])
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
        want_ids = sorted(r[0] for r in rows("SELECT order_id FROM ecom_orders"))
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
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""tapflow_testlib — shared set-up of the integration scripts.

Not a test itself (not executable): guide_step2.py, tap_shell.py,
daemon_errors.py, view_differential.py, guide_python.py and olist_import.py
import it. It holds the servers' settings from `tools/servers.sh env`, SQL
and mongosh helpers bound to one database, the pass/fail counter, the guide's
six tables (schema and a first order), Step 2 statements and program output,
the expected ORD789654 document (the flow's LEFT JOINs typed as the view
writes them), the config file of a test flow, and waiting for a log line.
Stdlib only.
"""
import calendar
import json
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = os.environ
MONGOSH = ENV.get("TAPFLOW_MONGOSH", os.path.join(ROOT, ".local", "bin", "mongosh"))
MARIADB_HOST = ENV.get("TAPFLOW_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = ENV.get("TAPFLOW_MARIADB_PORT", "33061")
MARIADB_USER = ENV.get("TAPFLOW_MARIADB_USER", "tapflow")
MARIADB_PASSWORD = ENV.get("TAPFLOW_MARIADB_PASSWORD", "tapflow-test")
MONGO_URI = ENV.get("TAPFLOW_MONGO_URI", "mongodb://127.0.0.1:27118/")
BUILD = ENV.get("TAPFLOW_BUILD_DIR", os.path.join(ROOT, "build"))
TAP_BIN = ENV.get("TAPFLOW_TAP", os.path.join(BUILD, "tools", "tap", "tap"))
REPLICA_BIN = ENV.get("TAPFLOW_REPLICA_BIN",
                      os.path.join(BUILD, "tools", "tapflow-replica", "tapflow-replica"))
DATAGEN = os.path.join(ROOT, "tools", "datagen", "datagen")
GUIDE_FLOW = os.path.join(ROOT, "tests", "vectors", "flows", "guide_order_single_view.tap")

# The guide's six ecom_ tables.
ECOM_TABLES = """
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
"""

# The six tables with one complete order (O0001) in them: what a snapshot copies.
GUIDE_SCHEMA = ECOM_TABLES + """
INSERT INTO ecom_customers VALUES ('C0001','U0001','01001','sao paulo','SP');
INSERT INTO ecom_sellers VALUES ('S0001','13023','campinas','SP');
INSERT INTO ecom_products VALUES ('P0001','perfumaria',225,16,10,14);
INSERT INTO ecom_orders VALUES ('O0001','C0001','delivered','2017-10-02 10:56:33',
  '2017-10-02 11:07:15','2017-10-04 19:55:00','2017-10-10 21:25:13','2017-10-18 00:00:00');
INSERT INTO ecom_order_items VALUES ('O0001',1,'P0001','S0001','2017-10-06 11:07:15',29.99,8.72);
INSERT INTO ecom_order_payments VALUES ('O0001',1,'credit_card',1,38.71);
"""

# What the guide's flow statements print, line by line (Tap Shell and Python alike).
GUIDE_FLOW_UPDATES = [
    "Flow updated: source added",
    "Flow updated: source added",
    "Flow updated: new table ecom_customers added as child table",
    "Flow updated: source added",
    "Flow updated: new table ecom_order_payments added as child table",
    "Flow updated: source added",
    "Flow updated: new table ecom_order_items added as child table",
    "Flow updated: source added",
    "Flow updated: new table ecom_products added as child table",
    "Flow updated: source added",
    "Flow updated: new table ecom_sellers added as child table",
    "Flow updated: sink added",
]

# The program output the guide prints for its Python example, line by line.
GUIDE_PYTHON_OUTPUT = GUIDE_FLOW_UPDATES + [
    "Real-time wide-table task has started.",
    "Task status: running",
]

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


def unique_name(prefix):
    return "%s_%d_%d" % (prefix, os.getpid(), int(time.time()))


class Checks:
    """Counts checks and prints one line each; summary() prints "N passed, N failed".
    clip: what of a failure's detail is printed (default all of it)."""

    def __init__(self, clip=str):
        self.passed = self.failed = 0
        self.clip = clip

    def __call__(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print("ok   " + what, flush=True)
        else:
            self.failed += 1
            print("FAIL " + what + (": " + self.clip(str(detail)) if detail else ""), flush=True)
        return ok

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def mariadb_cmd(*args):
    return ["mariadb", "--no-defaults", "-h", MARIADB_HOST, "-P", MARIADB_PORT, "-u",
            MARIADB_USER] + list(args)


def mariadb_env():
    # The client reads the password from MYSQL_PWD: it stays off the command line.
    return dict(os.environ, MYSQL_PWD=MARIADB_PASSWORD, TAPFLOW_MARIADB_PASSWORD=MARIADB_PASSWORD)


def sql(db, text):
    """Runs SQL in db ("" for none); returns the rows as lists of strings ("NULL" for NULL)."""
    r = subprocess.run(mariadb_cmd("-N", "-B", db, "-e", text) if db else
                       mariadb_cmd("-N", "-B", "-e", text),
                       capture_output=True, text=True, env=mariadb_env())
    if r.returncode:
        raise RuntimeError("SQL failed: %s: %s" % (text[:80], r.stderr.strip()))
    return [line.split("\t") for line in r.stdout.splitlines()]


def mongo_eval(db, js, timeout=120):
    r = subprocess.run([MONGOSH, "--quiet", "--norc", MONGO_URI.rstrip("/") + "/" + db,
                        "--eval", js], capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        raise RuntimeError("mongosh: " + (r.stderr + r.stdout).strip()[-500:])
    return r.stdout


def load_datagen(db, orders, seed=42):
    """Creates db with datagen's six tables and `orders` orders."""
    r = subprocess.run([DATAGEN, "--seed", str(seed), "--orders", str(orders), "--db", db,
                        "--host", MARIADB_HOST, "--port", MARIADB_PORT, "--user", MARIADB_USER],
                       capture_output=True, text=True, env=mariadb_env())
    if r.returncode:
        raise RuntimeError("datagen failed: " + r.stderr.strip()[-500:])
    return r.stdout


def write_config(path, db, server_id, mongo_db=None, extra="", checkpoint_interval_ms=200,
                 source="MySQL_ECommerce", target="MongoDB_ECommerce", host=MARIADB_HOST,
                 port=MARIADB_PORT, user=MARIADB_USER, password_env="TAPFLOW_MARIADB_PASSWORD",
                 mongo_uri=MONGO_URI):
    """The tap/tapflow-replica config of a test flow: datasource `source` is db on the
    MariaDB at host:port (the local one by default), `target` is mongo_db (default db)
    on the mongo-wire server at mongo_uri; extra: more [tapflow] lines;
    checkpoint_interval_ms None leaves the daemon's default."""
    interval = ("checkpoint_interval_ms = %d\n" % checkpoint_interval_ms
                if checkpoint_interval_ms is not None else "")
    with open(path, "w") as f:
        f.write("""# written by tests/integration/tapflow_testlib.py
[tapflow]
server_id = %d
%s%s

[datasource %s]
type = mysql
host = %s
port = %s
user = %s
password_env = %s
database = %s

[datasource %s]
type = mongodb
uri = %s
database = %s
""" % (server_id, interval, extra, source, host, port, user, password_env, db, target,
       mongo_uri, mongo_db or db))


def wait_log(read_log, proc, text, timeout=30, poll_s=0.05):
    """Until text shows in read_log() (True), or proc has exited or timeout
    seconds passed without it (False)."""
    end = time.time() + timeout
    while time.time() < end:
        if text in read_log():
            return True
        if proc.poll() is not None:
            return text in read_log()
        time.sleep(poll_s)
    return False


# ---- the expected document: the flow's LEFT JOINs, typed as the view maps ----

def _date(text):
    if text == "NULL":
        return None
    return {"$date": {"$numberLong": str(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))
                                         * 1000)}}


def _int(text):
    return None if text == "NULL" else {"$numberInt": str(int(text))}


def _str(text):
    return None if text == "NULL" else text


def _double(text):
    # DECIMAL on a target without Decimal128: double (the daemon's default there).
    if text == "NULL":
        return None
    v = float(text)
    return {"$numberDouble": repr(v) if v != int(v) else "%d.0" % int(v)}


def _decimal(text):
    return None if text == "NULL" else {"$numberDecimal": text}


def expected_doc(db, order_id="ORD789654", decimal128=False):
    """The canonical-EJSON document of order_id (without _id), or None if there is no such order."""
    dec = _decimal if decimal128 else _double
    fmt = "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s')"
    o = sql(db, "SELECT order_id, customer_id, order_status, %s, %s, %s, %s, %s FROM ecom_orders "
                "WHERE order_id='%s'" % (tuple(fmt % c for c in (
                    "order_purchase_timestamp", "order_approved_at", "order_delivered_carrier_date",
                    "order_delivered_customer_date", "order_estimated_delivery_date")) + (order_id,)))
    if not o:
        return None
    o = o[0]
    doc = {"order_id": o[0], "customer_id": _str(o[1]), "order_status": _str(o[2]),
           "order_purchase_timestamp": _date(o[3]), "order_approved_at": _date(o[4]),
           "order_delivered_carrier_date": _date(o[5]),
           "order_delivered_customer_date": _date(o[6]),
           "order_estimated_delivery_date": _date(o[7])}
    c = sql(db, "SELECT customer_unique_id, customer_zip_code_prefix, customer_city, customer_state "
                "FROM ecom_customers WHERE customer_id='%s' LIMIT 1" % o[1])
    if c:
        doc["customer_info"] = {"customer_unique_id": _str(c[0][0]),
                                "customer_zip_code_prefix": _str(c[0][1]),
                                "customer_city": _str(c[0][2]), "customer_state": _str(c[0][3])}
    doc["order_payments"] = [
        {"payment_sequential": _int(p[0]), "payment_type": _str(p[1]),
         "payment_installments": _int(p[2]), "payment_value": dec(p[3])}
        for p in sql(db, "SELECT payment_sequential, payment_type, payment_installments, "
                         "payment_value FROM ecom_order_payments WHERE order_id='%s' "
                         "ORDER BY payment_sequential" % order_id)]
    items = []
    for it in sql(db, "SELECT order_item_id, product_id, seller_id, %s, price, freight_value FROM "
                      "ecom_order_items WHERE order_id='%s' ORDER BY order_item_id"
                      % (fmt % "shipping_limit_date", order_id)):
        item = {"order_item_id": _int(it[0]), "product_id": _str(it[1]), "seller_id": _str(it[2]),
                "shipping_limit_date": _date(it[3]), "price": dec(it[4]),
                "freight_value": dec(it[5])}
        p = sql(db, "SELECT product_category_name, product_weight_g, product_length_cm, "
                    "product_height_cm, product_width_cm FROM ecom_products WHERE product_id='%s'"
                    % it[1])
        if p:
            item["product"] = {"product_category_name": _str(p[0][0]),
                               "product_weight_g": _int(p[0][1]),
                               "product_length_cm": _int(p[0][2]),
                               "product_height_cm": _int(p[0][3]),
                               "product_width_cm": _int(p[0][4])}
        s = sql(db, "SELECT seller_zip_code_prefix, seller_city, seller_state FROM ecom_sellers "
                    "WHERE seller_id='%s'" % it[2])
        if s:
            item["seller"] = {"seller_zip_code_prefix": _str(s[0][0]), "seller_city": _str(s[0][1]),
                              "seller_state": _str(s[0][2])}
        items.append(item)
    doc["order_items"] = items
    return doc


# One mongosh run polls until the document equals the expected canonical EJSON
# (keys sorted on both sides) or the deadline passes; prints {ok, got}.
_WAIT_JS = r"""
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') { const o = {}; for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]); return o; }
  return v;
}
const r = JSON.parse(process.env.TF_WAIT_REQ);
const want = JSON.stringify(sortKeys(r.expected));
let got = null, ok = false;
for (;;) {
  const doc = db.getCollection(r.collection).findOne(r.filter, {}, {promoteValues: false});
  if (doc) delete doc._id;
  got = doc ? sortKeys(EJSON.serialize(doc, {relaxed: false})) : null;
  if (JSON.stringify(got) === want) { ok = true; break; }
  if (Date.now() > r.deadline_ms) break;
  sleep(50);
}
print(JSON.stringify({ok: ok, got: got}));
"""


def wait_doc(db, collection, filt, expected, timeout_s):
    """Polls db.collection for the document matching filt until it equals expected;
    returns (ok, the last document seen as canonical EJSON)."""
    req = {"collection": collection, "filter": filt, "expected": expected,
           "deadline_ms": int((time.time() + timeout_s) * 1000)}
    r = subprocess.run([MONGOSH, "--quiet", "--norc", MONGO_URI.rstrip("/") + "/" + db, "--eval",
                        _WAIT_JS], capture_output=True, text=True, timeout=timeout_s + 60,
                       env=dict(os.environ, TF_WAIT_REQ=json.dumps(req)))
    if r.returncode:
        raise RuntimeError("mongosh: " + (r.stderr + r.stdout).strip()[-500:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    return res["ok"], res["got"]

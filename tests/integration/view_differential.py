#!/usr/bin/env python3
"""view_differential.py — the wide table against SQL, under random change.

    tests/integration/view_differential.py [--seed N] [--txns N] [--check-every N]
                                           [--kill-txns N] [--part 1|2|all] [--keep]

Defaults: 1,500 transactions in part 1 (checked every 500), 600 in part 2;
against FerretDB 1.24 (SQLite) about 3 minutes for part 1 and 1.5 for part 2
(FerretDB scans the collection for each replace: the target, not tapflow,
sets the pace).

Part 1 (the servers of `tools/servers.sh env`): the six ecom_ tables of the
reference guide are created in a fresh database with some rows,
tapflow-replica is started on the guide's flow file (initial snapshot), and
thousands of random transactions run through the mariadb CLI (many per
call) while it streams: inserts, updates, primary-key changes of every
table, re-parenting (an item or a payment moving to another order, an order
to another customer, an item to another product or seller), deletes,
multi-row statements, REPLACE, key swaps inside one transaction, rolled-back
transactions, and lookup rows arriving after the rows that reference them
(and leaving before them). Every --check-every transactions and at the end,
once the daemon's checkpoint has reached the server's @@gtid_binlog_pos,
every document of the collection is compared with the one computed from
MariaDB: a SELECT of each table, the LEFT JOINs done here exactly as
DESIGN.md specifies (object = the lowest child primary key that matches,
absent when none; array = ordered by child primary key, [] when none;
relation columns omitted in embedded rows), typed per DESIGN's mapping
(DECIMAL as Decimal128, or double when the daemon says the target lacks
Decimal128). The collection must hold exactly one document per order and no
other document.

Part 2 (a MariaDB and a MongoDB-wire server of its own, started with
tools/servers.sh in a temporary folder on free ports, so the shared servers
are never restarted): the same workload while the daemon is killed with
SIGKILL at 10 random moments and restarted with --gtid-resume each time (the
log must show a resume from the checkpoint and no snapshot), and the target
server stopped and started once mid-run. The final documents must equal the
SQL-computed ones exactly.

Part 3 (--part ops, 1,000 transactions checked every 250, a few seconds; the
servers of `tools/servers.sh env`): part 1 with a
flow that puts an operator on every node (issue 15): filter on the root and
on each lookup, exclude, rename_fields and add_fields on the root, fields=
and rename= on lookups. The expected documents come from the same SQL with
each filter text used verbatim as the WHERE clause of its table's SELECT and
each computed field's expression in the root's SELECT list (the filters
are written so that the server's case-insensitive collation and tapflow's
bytewise comparison agree on the workload's values), then the same
projections. A row the workload moves into or out of a filter moves its
document, or its embedded row, in or out.

The seed is printed; --seed repeats a run. Stdlib only. Prints
"N passed, N failed"; exit status 1 on any failure.
Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI (tools/servers.sh env),
TAPFLOW_REPLICA_BIN (default build/tools/tapflow-replica/tapflow-replica).
"""
import argparse
import calendar
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402

MONGOSH = lib.MONGOSH
SERVERS = os.path.join(lib.ROOT, "tools", "servers.sh")
FLOW = lib.GUIDE_FLOW
BIN = lib.REPLICA_BIN
COLLECTION = "orderSingleView"
FLOW_NAME = "Order_SingleView_Sync"

check = lib.Checks(clip=lambda detail: detail[:3000])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------
# Servers: a MariaDB client and a persistent mongosh.

class Servers:
    def __init__(self, host, port, user, password, mongo_uri):
        self.host, self.port, self.user, self.password = host, str(port), user, password
        self.mongo_uri = mongo_uri
        self.my = ["mariadb", "--no-defaults", "--default-character-set=utf8mb4", "-h", host,
                   "-P", self.port, "-u", user, "-p" + password]

    def sql(self, text, db=""):
        r = subprocess.run(self.my + ["-N", "-B", "-r"] + ([db] if db else []), input=text,
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("SQL failed: %s: %s" % (text[:200], r.stderr))
        return r.stdout.splitlines()

    def gtid_pos(self):
        return self.sql("SELECT @@gtid_binlog_pos")[0].strip()


# A long-running mongosh answering requests through files, so each question
# does not pay mongosh's start-up. Requests are fixed commands (the shell's
# implicit await applies only to code in the script itself).
MONGO_RPC_JS = r"""
const fs = require('fs');
const dir = process.env.TF_RPC_DIR;
for (let n = 0; ; n++) {
  const req = dir + '/req-' + n + '.json';
  while (!fs.existsSync(req)) sleep(5);
  const r = JSON.parse(fs.readFileSync(req, 'utf8'));
  if (r.cmd === 'quit') break;
  let out;
  try {
    const d = db.getSiblingDB(r.db);
    let v = null;
    if (r.cmd === 'dump') {
      v = d.getCollection(r.collection).find({}, {}, {promoteValues: false}).toArray();
    } else if (r.cmd === 'checkpoint') {
      v = d.getCollection('tapflow_checkpoints').findOne({_id: r.flow}, {}, {promoteValues: false});
    } else if (r.cmd === 'drop') {
      v = d.dropDatabase();
    }
    out = '{"ok":true,"v":' + EJSON.stringify(v, {relaxed: false}) + '}';
  } catch (e) {
    out = JSON.stringify({ok: false, error: String(e)});
  }
  fs.writeFileSync(dir + '/res-' + n + '.tmp', out);
  fs.renameSync(dir + '/res-' + n + '.tmp', dir + '/res-' + n + '.json');
}
"""


class Mongo:
    def __init__(self, uri, tmp):
        self.dir = tempfile.mkdtemp(prefix="rpc_", dir=tmp)
        self.n = 0
        env = dict(os.environ, TF_RPC_DIR=self.dir)
        self.log = open(os.path.join(self.dir, "mongosh.log"), "w")
        self.proc = subprocess.Popen([MONGOSH, "--quiet", "--norc", uri, "--eval", MONGO_RPC_JS],
                                     env=env, stdout=self.log, stderr=self.log)

    def call(self, timeout=120, **req):
        n = self.n
        self.n += 1
        tmp = os.path.join(self.dir, "req-%d.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(req, f)
        os.rename(tmp, os.path.join(self.dir, "req-%d.json" % n))
        res = os.path.join(self.dir, "res-%d.json" % n)
        end = time.time() + timeout
        while not os.path.exists(res):
            if time.time() > end or self.proc.poll() is not None:
                raise RuntimeError("mongosh did not answer %s" % req)
            time.sleep(0.005)
        with open(res) as f:
            out = json.load(f)
        if not out["ok"]:
            raise RuntimeError("mongosh %s: %s" % (req.get("cmd"), out["error"]))
        return out["v"]

    def close(self):
        n = self.n
        with open(os.path.join(self.dir, "req-%d.json" % n), "w") as f:
            json.dump({"cmd": "quit"}, f)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------------------
# The six tables: columns and their types under DESIGN's mapping.

# table -> [(column, type)], type in str | int | dec | dt ; primary key columns
TABLES = {
    "ecom_orders": ([("order_id", "str"), ("customer_id", "str"), ("order_status", "str"),
                     ("order_purchase_timestamp", "dt"), ("order_approved_at", "dt"),
                     ("order_delivered_carrier_date", "dt"),
                     ("order_delivered_customer_date", "dt"),
                     ("order_estimated_delivery_date", "dt")], ["order_id"]),
    "ecom_order_items": ([("order_id", "str"), ("order_item_id", "int"), ("product_id", "str"),
                          ("seller_id", "str"), ("shipping_limit_date", "dt"), ("price", "dec"),
                          ("freight_value", "dec")], ["order_id", "order_item_id"]),
    "ecom_order_payments": ([("order_id", "str"), ("payment_sequential", "int"),
                             ("payment_type", "str"), ("payment_installments", "int"),
                             ("payment_value", "dec")], ["order_id", "payment_sequential"]),
    "ecom_customers": ([("customer_id", "str"), ("customer_unique_id", "str"),
                        ("customer_zip_code_prefix", "str"), ("customer_city", "str"),
                        ("customer_state", "str")], ["customer_id"]),
    "ecom_products": ([("product_id", "str"), ("product_category_name", "str"),
                       ("product_weight_g", "int"), ("product_length_cm", "int"),
                       ("product_height_cm", "int"), ("product_width_cm", "int")],
                      ["product_id"]),
    "ecom_sellers": ([("seller_id", "str"), ("seller_zip_code_prefix", "str"),
                      ("seller_city", "str"), ("seller_state", "str")], ["seller_id"]),
}


def cols(table):
    return [c for c, _ in TABLES[table][0]]


def pk_of(table, row):
    return tuple(row[c] for c in TABLES[table][1])


def lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("\\", "\\\\").replace("'", "''") + "'"


# ---------------------------------------------------------------------------
# The random workload. A model of the tables (kept exactly as the server
# will have them) lets every statement be valid: a statement that failed
# would stop the batch, so a wrong model shows up as an error, not silently.

CITIES = ["sao paulo", "rio de janeiro", "campinas", "São José dos Campos", "d'Ávila",
          "Los Angeles", "New York", "Zürich", "東京", "🙂 city", "", "back\\slash"]
STATES = ["SP", "RJ", "MG", "NY", "CA", "", None]
STATUSES = ["created", "approved", "invoiced", "processing", "shipped", "delivered",
            "canceled", "unavailable", None]
CATEGORIES = ["perfumaria", "electronics", "beleza_saude", "cama_mesa_banho", "esporte_lazer",
              "informática", "", None]
PAYMENT_TYPES = ["credit_card", "boleto", "voucher", "debit_card", None]


class Workload:
    def __init__(self, rnd):
        self.r = rnd
        self.t = {name: {} for name in TABLES}
        self.next_order = 0
        self.order_cap = 110  # orders kept at about this many (see statement)
        self.stats = {"statements": 0, "transactions": 0, "rolled_back": 0}

    # --- value generators ---
    def dt(self, nullable=True):
        r = self.r
        if nullable and r.random() < 0.15:
            return None
        if r.random() < 0.03:  # before 1970: a negative BSON date
            secs = r.randint(-200000000, -1)
        else:
            secs = r.randint(1451606400, 1924991999)  # 2016 .. 2030
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs))

    def dec(self):
        r = self.r
        x = r.random()
        if x < 0.05:
            return None
        if x < 0.1:
            return "%d.%02d" % (r.choice([0, 99999999]), r.randint(0, 99))
        cents = r.randint(-5000, 5000000) if x < 0.2 else r.randint(0, 100000)
        sign = "-" if cents < 0 else ""
        return "%s%d.%02d" % (sign, abs(cents) // 100, abs(cents) % 100)

    def int32(self):
        r = self.r
        x = r.random()
        if x < 0.05:
            return None
        if x < 0.1:
            return r.choice([-2147483648, 2147483647, 0, -1])
        return r.randint(0, 5000)

    def pick(self, seq):
        return self.r.choice(seq)

    def cust_id(self):
        return "C%04d" % self.r.randint(0, 159)

    def prod_id(self):
        return "P%03d" % self.r.randint(0, 99)

    def sell_id(self):
        return "S%02d" % self.r.randint(0, 29)

    def new_order_id(self):
        self.next_order += 1
        return "O%06d" % self.next_order

    def order_ref(self):
        """An order id for a child row: mostly an existing order, sometimes
        one that does not exist yet (the root arrives later) or no more."""
        orders = self.t["ecom_orders"]
        x = self.r.random()
        if orders and x < 0.85:
            return self.pick(list(orders))[0]
        if x < 0.95:
            return "O%06d" % (self.next_order + self.r.randint(1, 5))
        return "O%06d" % self.r.randint(1, max(1, self.next_order))

    def row(self, table, **fixed):
        g = {
            "ecom_customers": lambda: {"customer_id": self.cust_id(),
                                       "customer_unique_id": "U%05d" % self.r.randint(0, 99999),
                                       "customer_zip_code_prefix": "%05d" % self.r.randint(0, 99999),
                                       "customer_city": self.pick(CITIES + [None]),
                                       "customer_state": self.pick(STATES)},
            "ecom_products": lambda: {"product_id": self.prod_id(),
                                      "product_category_name": self.pick(CATEGORIES),
                                      "product_weight_g": self.int32(),
                                      "product_length_cm": self.int32(),
                                      "product_height_cm": self.int32(),
                                      "product_width_cm": self.int32()},
            "ecom_sellers": lambda: {"seller_id": self.sell_id(),
                                     "seller_zip_code_prefix": "%05d" % self.r.randint(0, 99999),
                                     "seller_city": self.pick(CITIES),
                                     "seller_state": self.pick(STATES)},
            "ecom_orders": lambda: {"order_id": self.new_order_id(),
                                    "customer_id": None if self.r.random() < 0.05 else self.cust_id(),
                                    "order_status": self.pick(STATUSES),
                                    "order_purchase_timestamp": self.dt(False),
                                    "order_approved_at": self.dt(),
                                    "order_delivered_carrier_date": self.dt(),
                                    "order_delivered_customer_date": self.dt(),
                                    "order_estimated_delivery_date": self.dt()},
            "ecom_order_items": lambda: {"order_id": self.order_ref(),
                                         "order_item_id": self.r.randint(1, 8),
                                         "product_id": None if self.r.random() < 0.03 else self.prod_id(),
                                         "seller_id": None if self.r.random() < 0.03 else self.sell_id(),
                                         "shipping_limit_date": self.dt(),
                                         "price": self.dec(), "freight_value": self.dec()},
            "ecom_order_payments": lambda: {"order_id": self.order_ref(),
                                            "payment_sequential": self.r.randint(1, 6),
                                            "payment_type": self.pick(PAYMENT_TYPES),
                                            "payment_installments": self.int32(),
                                            "payment_value": self.dec()},
        }[table]
        row = g()
        row.update(fixed)
        return row

    # --- statements (each applies itself to the model) ---
    def free_row(self, table, tries=20, **fixed):
        for _ in range(tries):
            row = self.row(table, **fixed)
            if pk_of(table, row) not in self.t[table]:
                return row
        return None

    def where(self, table, pk):
        return " AND ".join("%s = %s" % (c, lit(v)) for c, v in zip(TABLES[table][1], pk))

    def s_insert(self, table, n=1):
        rows = []
        for _ in range(n):
            row = self.free_row(table)
            if row is None or any(pk_of(table, x) == pk_of(table, row) for x in rows):
                continue
            rows.append(row)
        if not rows:
            return None
        for row in rows:
            self.t[table][pk_of(table, row)] = row
        return "INSERT INTO %s (%s) VALUES %s" % (
            table, ", ".join(cols(table)),
            ", ".join("(" + ", ".join(lit(row[c]) for c in cols(table)) + ")" for row in rows))

    def s_replace(self, table):
        if self.t[table] and self.r.random() < 0.6:
            pk = self.pick(list(self.t[table]))
            row = self.row(table, **dict(zip(TABLES[table][1], pk)))
        else:
            row = self.row(table)
        self.t[table][pk_of(table, row)] = row
        return "REPLACE INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols(table)),
                                                     ", ".join(lit(row[c]) for c in cols(table)))

    def s_update(self, table, keys=None, change_key=False, columns=None):
        """UPDATE of the rows with primary keys `keys` (one random row when
        None): some non-key columns, or (change_key) the row's primary key or
        relation columns to the values of `change_key` (a dict)."""
        rows = self.t[table]
        if not rows:
            return None
        keys = keys or [self.pick(list(rows))]
        if change_key:
            (pk,) = keys
            old = rows[pk]
            new = dict(old)
            new.update(change_key)
            npk = pk_of(table, new)
            if npk != pk and npk in rows:
                return None
            del rows[pk]
            rows[npk] = new
            sets = ", ".join("%s = %s" % (c, lit(v)) for c, v in change_key.items())
            return "UPDATE %s SET %s WHERE %s" % (table, sets, self.where(table, pk))
        nonkey = [c for c in cols(table) if c not in TABLES[table][1]]
        columns = columns or self.r.sample(nonkey, self.r.randint(1, len(nonkey)))
        proto = self.row(table)
        sets = {c: proto[c] for c in columns}
        for pk in keys:
            new = dict(rows[pk])
            new.update(sets)
            rows[pk] = new
        cond = (self.where(table, keys[0]) if len(keys) == 1 else
                "(%s) IN (%s)" % (", ".join(TABLES[table][1]),
                                  ", ".join("(" + ", ".join(lit(v) for v in pk) + ")"
                                            for pk in keys)))
        return "UPDATE %s SET %s WHERE %s" % (
            table, ", ".join("%s = %s" % (c, lit(v)) for c, v in sets.items()), cond)

    def s_delete(self, table, keys=None):
        rows = self.t[table]
        if not rows:
            return None
        keys = keys or [self.pick(list(rows))]
        for pk in keys:
            del rows[pk]
        cond = (self.where(table, keys[0]) if len(keys) == 1 else
                "(%s) IN (%s)" % (", ".join(TABLES[table][1]),
                                  ", ".join("(" + ", ".join(lit(v) for v in pk) + ")"
                                            for pk in keys)))
        return "DELETE FROM %s WHERE %s" % (table, cond)

    def children_of(self, table, order_id):
        return [pk for pk in self.t[table] if pk[0] == order_id]

    def s_swap_keys(self, table):
        """Two rows exchange primary keys in three statements (one
        transaction): A -> tmp, B -> A, tmp -> B."""
        rows = self.t[table]
        if len(rows) < 2:
            return []
        a, b = self.r.sample(list(rows), 2)
        pkc = TABLES[table][1]
        tmp = dict(zip(pkc, a))
        tmp[pkc[-1]] = ("ZZTMP" if isinstance(a[-1], str) else -99)
        if tuple(tmp[c] for c in pkc) in rows:
            return []
        out = [self.s_update(table, [a], change_key=tmp),
               self.s_update(table, [b], change_key=dict(zip(pkc, a))),
               self.s_update(table, [tuple(tmp[c] for c in pkc)], change_key=dict(zip(pkc, b)))]
        return [s for s in out if s]

    def statement(self):
        """One random statement (or a few, for a key swap)."""
        r = self.r
        x = r.random()
        T = self.t
        if x < 0.10 and len(T["ecom_orders"]) > self.order_cap:
            # FerretDB scans the collection for every replace (no pushdown
            # of order_id): the number of documents is kept near 100.
            return [self.s_delete("ecom_orders")]
        if x < 0.10:  # new order (sometimes with its children in the same statement list)
            out = [self.s_insert("ecom_orders")]
            if r.random() < 0.5:
                oid = "O%06d" % self.next_order
                for i in range(r.randint(1, 3)):
                    row = self.free_row("ecom_order_items", order_id=oid)
                    if row:
                        T["ecom_order_items"][pk_of("ecom_order_items", row)] = row
                        out.append("INSERT INTO ecom_order_items VALUES (%s)" % ", ".join(
                            lit(row[c]) for c in cols("ecom_order_items")))
            return out
        if x < 0.18:
            return [self.s_insert("ecom_order_items", r.randint(1, 3))]
        if x < 0.23:
            return [self.s_insert("ecom_order_payments", r.randint(1, 2))]
        if x < 0.28:  # lookup rows, often late (referenced already)
            return [self.s_insert(r.choice(["ecom_customers", "ecom_products", "ecom_sellers"]),
                                  r.randint(1, 3))]
        if x < 0.31:
            return [self.s_replace(r.choice(["ecom_customers", "ecom_products", "ecom_sellers",
                                             "ecom_order_items", "ecom_order_payments"]))]
        if x < 0.45:  # plain updates of any table
            return [self.s_update(r.choice(list(TABLES)))]
        if x < 0.50:  # fan-out: several lookup rows in one statement
            table = r.choice(["ecom_products", "ecom_sellers", "ecom_customers"])
            if not T[table]:
                return []
            keys = r.sample(list(T[table]), min(len(T[table]), r.randint(2, 6)))
            return [self.s_update(table, keys)]
        if x < 0.55:  # every child of one order
            table = r.choice(["ecom_order_items", "ecom_order_payments"])
            if not T["ecom_orders"]:
                return []
            keys = self.children_of(table, self.pick(list(T["ecom_orders"]))[0])
            if not keys:
                return []
            if r.random() < 0.3:
                return [self.s_delete(table, keys)]
            return [self.s_update(table, keys)]
        if x < 0.60:  # an order moves to another customer
            if not T["ecom_orders"]:
                return []
            return [self.s_update("ecom_orders", change_key={
                "customer_id": None if r.random() < 0.05 else self.cust_id()})]
        if x < 0.66:  # an item / payment moves to another order (maybe a new position)
            table = r.choice(["ecom_order_items", "ecom_order_payments"])
            pkc = TABLES[table][1]
            if not T[table]:
                return []
            change = {"order_id": self.order_ref()}
            if r.random() < 0.5:
                change[pkc[1]] = r.randint(1, 8)
            return [self.s_update(table, change_key=change)]
        if x < 0.70:  # an item points to another product / seller
            if not T["ecom_order_items"]:
                return []
            c = r.choice(["product_id", "seller_id"])
            return [self.s_update("ecom_order_items", change_key={
                c: self.prod_id() if c == "product_id" else self.sell_id()})]
        if x < 0.76:  # primary key changes
            table = r.choice(list(TABLES))
            if not T[table]:
                return []
            pkc = TABLES[table][1]
            if table == "ecom_orders":
                change = {"order_id": self.new_order_id()}
            elif table == "ecom_customers":
                change = {"customer_id": self.cust_id()}
            elif table == "ecom_products":
                change = {"product_id": self.prod_id()}
            elif table == "ecom_sellers":
                change = {"seller_id": self.sell_id()}
            else:
                change = {pkc[1]: r.randint(1, 9)}
            return [self.s_update(table, change_key=change)]
        if x < 0.79:
            return self.s_swap_keys(r.choice(list(TABLES)))
        if x < 0.92:  # deletes
            table = r.choice(list(TABLES))
            return [self.s_delete(table)]
        if x < 0.95 and T["ecom_orders"]:  # an order with all of its children
            oid = self.pick(list(T["ecom_orders"]))[0]
            out = []
            for t in ("ecom_order_items", "ecom_order_payments"):
                keys = self.children_of(t, oid)
                if keys:
                    out.append(self.s_delete(t, keys))
            out.append(self.s_delete("ecom_orders", [(oid,)]))
            return out
        return [self.s_update(r.choice(["ecom_orders", "ecom_order_items"]))]

    def transaction(self):
        """The SQL text of one random transaction."""
        r = self.r
        x = r.random()
        self.stats["transactions"] += 1
        if x < 0.55:
            stmts = []
            while not stmts:  # a statement with nothing to act on is drawn again
                stmts = [s for s in self.statement() if s]
            self.stats["statements"] += len(stmts)
            if len(stmts) == 1:
                return stmts[0] + ";\n"
            return "BEGIN;\n" + "".join(s + ";\n" for s in stmts) + "COMMIT;\n"
        rollback = x > 0.95
        saved = {k: dict(v) for k, v in self.t.items()} if rollback else None
        saved_next = self.next_order
        stmts = []
        want = r.randint(2, 8)
        while len(stmts) < want:
            stmts.extend(s for s in self.statement() if s)
        if rollback:
            self.t = saved
            self.next_order = saved_next  # ids of a rolled-back insert are reused
            self.stats["rolled_back"] += 1
        else:
            self.stats["statements"] += len(stmts)
        return "BEGIN;\n" + "".join(s + ";\n" for s in stmts) + (
            "ROLLBACK;\n" if rollback else "COMMIT;\n")

    def initial(self, scale=1):
        """Rows present before the daemon starts (scale times the test's)."""
        sqls = []
        for table, n in (("ecom_customers", 60), ("ecom_products", 40), ("ecom_sellers", 15),
                         ("ecom_orders", 80), ("ecom_order_items", 150),
                         ("ecom_order_payments", 100)):
            for _ in range(n * scale // 10):
                s = self.s_insert(table, 10)
                if s:
                    sqls.append(s + ";\n")
        return "".join(sqls)


# ---------------------------------------------------------------------------
# Expected documents from MariaDB, actual documents from the target, both in
# one typed form: ("i32", n) ("i64", n) ("dbl", x) ("dec", text) ("date", ms)
# ("str", s) ("bin", b64) None, lists and dicts.

def typed(kind, v, decimal128):
    if v is None:
        return None
    if kind == "str":
        return ("str", v)
    if kind == "int":
        return ("i32", int(v))
    if kind == "dec":
        return ("dec", str(v)) if decimal128 else ("dbl", float(v))
    if kind == "dt":
        return ("date", calendar.timegm(time.strptime(v, "%Y-%m-%d %H:%M:%S")) * 1000)
    raise ValueError(kind)


def select_table(srv, db, table, decimal128, where=None):
    spec = TABLES[table][0]
    # JSON_ARRAY: exact text of every value, NULL as null, strings escaped.
    exprs = ", ".join("CAST(%s AS CHAR)" % c if k in ("int", "dec") else
                      "DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:%%i:%%s')" % c if k == "dt" else c
                      for c, k in spec)
    rows = []
    sql = "SELECT JSON_ARRAY(%s) FROM %s" % (exprs, table)
    if where:
        sql += " WHERE " + where
    for line in srv.sql(sql, db):
        vals = json.loads(line)
        rows.append({c: typed(k, v, decimal128) for (c, k), v in zip(spec, vals)})
    return rows


def expected_documents(srv, db, decimal128, ops=None):
    """The flow's LEFT JOINs, as DESIGN.md specifies them; with ops (see
    OPS), each table read WHERE its filter and each row shaped."""
    ops = ops or {}
    t = {name: select_table(srv, db, name, decimal128, ops.get(name, {}).get("filter"))
         for name in TABLES}

    def pk_sort(table):
        return lambda row: tuple(row[c][1] for c in TABLES[table][1])

    def index(table, col):
        idx = {}
        for row in sorted(t[table], key=pk_sort(table)):
            if row[col] is not None:
                idx.setdefault(row[col], []).append(row)
        return idx

    def embed(row, omit, table=None):
        op = ops.get(table, {})
        keep = op.get("fields") or op.get("include")
        out = {}
        for k, v in row.items():
            if k in omit or k in op.get("exclude", ()):
                continue
            if keep and k not in keep and not (table == "ecom_orders" and k in TABLES[table][1]):
                continue
            out[op.get("rename", {}).get(k, k)] = v
        return out

    # add_fields: the same expressions, computed by the server.
    computed = {}
    fields = ops.get("ecom_orders", {}).get("add_fields", [])
    if fields:
        sql = "SELECT JSON_ARRAY(order_id, %s) FROM ecom_orders" % ", ".join(e for _, _, e in fields)
        if ops["ecom_orders"].get("filter"):
            sql += " WHERE " + ops["ecom_orders"]["filter"]
        for line in srv.sql(sql, db):
            vals = json.loads(line)
            computed[vals[0]] = [(name, None if v is None else
                                  ("str", str(v)) if kind == "String" else ("i32", int(v)))
                                 for (name, kind, _), v in zip(fields, vals[1:])]

    customers = index("ecom_customers", "customer_id")
    products = index("ecom_products", "product_id")
    sellers = index("ecom_sellers", "seller_id")
    payments = index("ecom_order_payments", "order_id")
    items = index("ecom_order_items", "order_id")
    docs = {}
    for o in t["ecom_orders"]:
        doc = embed(o, (), "ecom_orders")
        doc.update(computed.get(o["order_id"][1], []))
        c = customers.get(o["customer_id"]) if o["customer_id"] is not None else None
        if c:
            doc["customer_info"] = embed(c[0], ("customer_id",), "ecom_customers")
        doc["order_payments"] = [embed(p, ("order_id",), "ecom_order_payments")
                                 for p in payments.get(o["order_id"], [])]
        its = []
        for it in items.get(o["order_id"], []):
            e = embed(it, ("order_id",), "ecom_order_items")
            p = products.get(it["product_id"]) if it["product_id"] is not None else None
            if p:
                e["product"] = embed(p[0], ("product_id",), "ecom_products")
            s = sellers.get(it["seller_id"]) if it["seller_id"] is not None else None
            if s:
                e["seller"] = embed(s[0], ("seller_id",), "ecom_sellers")
            its.append(e)
        doc["order_items"] = its
        docs[o["order_id"][1]] = doc
    return docs


def from_ejson(v):
    if v is None:
        return None
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, list):
        return [from_ejson(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            (k, x), = v.items()
            if k == "$numberInt":
                return ("i32", int(x))
            if k == "$numberLong":
                return ("i64", int(x))
            if k == "$numberDouble":
                return ("dbl", float(x))
            if k == "$numberDecimal":
                return ("dec", x)
            if k == "$date":
                return ("date", int(x["$numberLong"]) if isinstance(x, dict) else x)
            if k == "$oid":
                return ("oid", x)
        return {k: from_ejson(x) for k, x in v.items()}
    return ("?", v)  # a bare JSON number: not canonical EJSON


def actual_documents(mongo, db):
    docs = mongo.call(cmd="dump", db=db, collection=COLLECTION)
    out, problems = {}, []
    for d in docs:
        d = from_ejson(d)
        _id = d.pop("_id", None)
        key = d.get("order_id")
        if not isinstance(key, tuple) or key[0] != "str":
            problems.append("document without a string order_id: %s" % (d,))
            continue
        if key[1] in out:
            problems.append("two documents for order %s" % key[1])
        if _id is None:
            problems.append("document %s has no _id" % key[1])
        out[key[1]] = d
    return out, problems


def diff(want, got, path=""):
    """The first differences between two typed values, as text."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for k in sorted(set(want) | set(got)):
            if k not in got:
                out.append("%s.%s missing (want %s)" % (path, k, want[k]))
            elif k not in want:
                out.append("%s.%s extra (%s)" % (path, k, got[k]))
            else:
                out.extend(diff(want[k], got[k], path + "." + k))
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return ["%s: %d elements, want %d: got %s want %s" % (path, len(got), len(want),
                                                                  got, want)]
        out = []
        for i, (a, b) in enumerate(zip(want, got)):
            out.extend(diff(a, b, "%s[%d]" % (path, i)))
        return out
    return [] if want == got else ["%s: got %s want %s" % (path, got, want)]


def compare(srv, mongo, db, decimal128, label, ops=None):
    want = expected_documents(srv, db, decimal128, ops)
    got, problems = actual_documents(mongo, db)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = []
    for k in sorted(set(want) & set(got)):
        d = diff(want[k], got[k])
        if d:
            wrong.append("order %s: %s" % (k, "; ".join(d[:5])))
    ok = not (missing or extra or wrong or problems)
    check(ok, "%s: %d documents equal the SQL LEFT JOINs, none extra" % (label, len(want)),
          "missing %s; extra %s; %d wrong: %s; %s" % (missing[:10], extra[:10], len(wrong),
                                                       " | ".join(wrong[:6]), problems[:5]))
    return ok, len(want)


# ---------------------------------------------------------------------------
# The daemon.

def gtid_map(text):
    out = {}
    for g in (text or "").split(","):
        g = g.strip()
        if g:
            d, _s, n = g.split("-")
            out[d] = max(out.get(d, 0), int(n))
    return out


def reached(cp_gtid, target):
    have = gtid_map(cp_gtid)
    return all(have.get(d, -1) >= n for d, n in gtid_map(target).items())


class Daemon:
    def __init__(self, srv, db, tmp, server_id, flow=FLOW, extra=""):
        self.srv, self.db, self.tmp, self.flow = srv, db, tmp, flow
        self.conf = os.path.join(tmp, "tapflow-%s.conf" % db)
        self.status_port = free_port()
        lib.write_config(self.conf, db, server_id, checkpoint_interval_ms=300,
                         extra="status_listen = 127.0.0.1:%d\n%s" % (self.status_port, extra),
                         host=srv.host, port=srv.port, user=srv.user, mongo_uri=srv.mongo_uri)
        self.proc = None
        self.starts = 0
        self.logpath = None

    def start(self, *flags):
        env = dict(os.environ, TAPFLOW_MARIADB_PASSWORD=self.srv.password)
        self.starts += 1
        self.logpath = os.path.join(self.tmp, "%s-daemon-%d.log" % (self.db, self.starts))
        logf = open(self.logpath, "w")
        self.proc = subprocess.Popen([BIN, "--flow", self.flow, "--config", self.conf] + list(flags),
                                     stdout=logf, stderr=logf, env=env)
        logf.close()

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=60):
        return lib.wait_log(self.log, self.proc, text, timeout, poll_s=0.02)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode if self.proc else None


def wait_synced(srv, mongo, daemon, db, timeout=180):
    """Until the checkpoint (written after the documents it covers are
    acknowledged) has reached the server's current binlog position."""
    target = srv.gtid_pos()
    end = time.time() + timeout
    last = None
    while time.time() < end:
        if daemon.proc.poll() is not None:
            return False, "daemon exited %s: %s" % (daemon.proc.returncode, daemon.log()[-1500:])
        try:
            cp = mongo.call(cmd="checkpoint", db=db, flow=FLOW_NAME)
        except RuntimeError as e:
            cp = {"error": str(e)}
        if cp and "gtid" in cp:
            last = cp["gtid"]
            if reached(last, target):
                return True, ""
        time.sleep(0.1)
    return False, "checkpoint %s never reached %s within %d s" % (last, target, timeout)


def counts(mongo, db):
    """The checkpoint's counters: row changes applied (snapshot rows
    included) and transactions streamed."""
    try:
        c = mongo.call(cmd="checkpoint", db=db, flow=FLOW_NAME)["counts"]
        return "checkpoint counts %s row changes, %s transactions streamed" % (
            c["rows"]["$numberLong"], c["transactions"]["$numberLong"])
    except (RuntimeError, KeyError, TypeError) as e:
        return "checkpoint counts unreadable (%s)" % e


def run_sql_batch(srv, db, text):
    srv.sql(text, db)


# ---------------------------------------------------------------------------

def part1(args, srv, tmp):
    seed = args.seed
    rnd = random.Random(seed)
    db = "tf_vdiff_%d_%d" % (os.getpid(), int(time.time()))
    print("part 1: database %s, seed %d, %d transactions" % (db, seed, args.txns), flush=True)
    w = Workload(rnd)
    mongo = Mongo(srv.mongo_uri, tmp)
    daemon = Daemon(srv, db, tmp, 8000 + os.getpid() % 1000)
    t0 = time.time()
    srv.sql("CREATE DATABASE %s" % db)
    try:
        srv.sql(lib.ECOM_TABLES + w.initial(), db)
        daemon.start()
        check(daemon.wait_log("streaming from GTID position"), "part 1: snapshot, then streaming",
              daemon.log()[-1500:])
        decimal128 = "written as double" not in daemon.log()
        print("decimal values as %s" % ("Decimal128" if decimal128 else "double"), flush=True)
        ok, _ = wait_synced(srv, mongo, daemon, db)
        check(ok, "part 1: snapshot checkpoint reached")
        compare(srv, mongo, db, decimal128, "part 1 after the snapshot")
        done = 0
        batch = 50
        while done < args.txns:
            n = min(batch, args.txns - done)
            run_sql_batch(srv, db, "".join(w.transaction() for _ in range(n)))
            done += n
            if done % args.check_every == 0 or done == args.txns:
                ok, why = wait_synced(srv, mongo, daemon, db)
                if not check(ok, "part 1: checkpoint reaches the server position after %d "
                             "transactions" % done, why):
                    break
                compare(srv, mongo, db, decimal128, "part 1 after %d transactions" % done)
        elapsed = time.time() - t0
        print("part 1: %d transactions (%d statements, %d rolled back), %s, %.1f s" % (
            w.stats["transactions"], w.stats["statements"], w.stats["rolled_back"],
            counts(mongo, db), elapsed), flush=True)
        check(daemon.stop() == 0, "part 1: SIGTERM exits 0")
    finally:
        end_run(daemon, srv, mongo, db, args.keep)


# Part 3: an operator on every node. Each filter is SQL that MariaDB runs as
# the WHERE clause of its table and tapflow runs as the flow's filter.
OPS = {
    "ecom_orders": {"filter": "order_status NOT IN ('canceled', 'unavailable') AND "
                              "order_purchase_timestamp >= '2020-01-01'",
                    "exclude": ["order_approved_at"],
                    "rename": {"order_status": "status"},
                    "add_fields": [
                        ["label", "String", "CONCAT(order_status, '/', customer_id)"],
                        ["year", "Int", "YEAR(order_purchase_timestamp) * 100 + "
                                        "MONTH(order_purchase_timestamp)"],
                        ["late", "Int", "IF(order_delivered_customer_date > "
                                        "order_estimated_delivery_date, 1, 0)"],
                        ["tier", "String", "CASE WHEN order_status = 'delivered' THEN 'done' "
                                           "WHEN order_delivered_carrier_date IS NULL THEN "
                                           "'waiting' ELSE 'moving' END"]]},
    "ecom_customers": {"filter": "customer_state IN ('SP', 'RJ') OR customer_city LIKE '%o%'",
                       "fields": ["customer_city", "customer_state"],
                       "rename": {"customer_city": "city"}},
    "ecom_order_payments": {"filter": "payment_value > 50 AND payment_type <> 'voucher'",
                            "fields": ["payment_sequential", "payment_value"]},
    "ecom_order_items": {"filter": "price >= 20.5 OR freight_value IS NULL",
                         "rename": {"price": "item_price"}},
    "ecom_products": {"filter": "product_weight_g IS NULL OR product_weight_g < 2500",
                      "fields": ["product_category_name", "product_weight_g"]},
    "ecom_sellers": {"filter": "NOT seller_state = 'NY'"},
}


def ops_flow_text():
    """The guide's flow with OPS on every node."""
    def q(s):
        return json.dumps(s)

    def lookup(table, path, kind, relation):
        op = OPS[table]
        extra = ""
        if "filter" in op:
            extra += ",\n    filter=%s" % q(op["filter"])
        if "fields" in op:
            extra += ",\n    fields=%s" % q(op["fields"])
        if "rename" in op:
            extra += ",\n    rename=%s" % q(op["rename"])
        return ('flow.lookup("MySQL_ECommerce.%s", path="%s", type="%s",\n    relation=%s%s)\n'
                % (table, path, kind, q(relation), extra))

    root = OPS["ecom_orders"]
    return ('flow = Flow("%s")\n' % FLOW_NAME +
            'flow.read_from("MySQL_ECommerce.ecom_orders")\n' +
            "flow.filter(%s)\n" % q(root["filter"]) +
            "flow.exclude(%s)\n" % ", ".join(q(c) for c in root["exclude"]) +
            "flow.rename_fields(%s)\n" % q(root["rename"]) +
            "flow.add_fields(%s)\n" % q(root["add_fields"]) +
            lookup("ecom_customers", "customer_info", "object", [["customer_id", "customer_id"]]) +
            lookup("ecom_order_payments", "order_payments", "array", [["order_id", "order_id"]]) +
            lookup("ecom_order_items", "order_items", "array", [["order_id", "order_id"]]) +
            lookup("ecom_products", "order_items.product", "object",
                   [["order_items.product_id", "product_id"]]) +
            lookup("ecom_sellers", "order_items.seller", "object",
                   [["order_items.seller_id", "seller_id"]]) +
            'flow.write_to("MongoDB_ECommerce.%s")\n' % COLLECTION)


def part3(args, srv, tmp):
    rnd = random.Random(args.seed + 3)
    db = "tf_vdiff_ops_%d_%d" % (os.getpid(), int(time.time()))
    txns = args.ops_txns
    print("part 3 (operators): database %s, %d transactions" % (db, txns), flush=True)
    flow = os.path.join(tmp, "ops.tap")
    with open(flow, "w") as f:
        f.write(ops_flow_text())
    w = Workload(rnd)
    mongo = Mongo(srv.mongo_uri, tmp)
    daemon = Daemon(srv, db, tmp, 9000 + os.getpid() % 1000, flow=flow)
    t0 = time.time()
    srv.sql("CREATE DATABASE %s" % db)
    try:
        # Three times part 1's rows: the final checks want every filter to
        # keep some rows and refuse others, and with part 1's dozen sellers
        # a seller filter refusing 2 states in 7 kept them all about one
        # run in 55.
        srv.sql(lib.ECOM_TABLES + w.initial(scale=3), db)
        daemon.start()
        check(daemon.wait_log("streaming from GTID position"), "part 3: snapshot, then streaming",
              daemon.log()[-1500:])
        decimal128 = "written as double" not in daemon.log()
        ok, _ = wait_synced(srv, mongo, daemon, db)
        check(ok, "part 3: snapshot checkpoint reached")
        _, n = compare(srv, mongo, db, decimal128, "part 3 after the snapshot", OPS)
        total = len(srv.sql("SELECT order_id FROM ecom_orders", db))
        check(0 < n < total, "part 3: the root filter keeps some orders and drops others",
              "%d of %d kept" % (n, total))
        done = 0
        while done < txns:
            k = min(50, txns - done)
            run_sql_batch(srv, db, "".join(w.transaction() for _ in range(k)))
            done += k
            if done % 250 == 0 or done == txns:
                ok, why = wait_synced(srv, mongo, daemon, db)
                if not check(ok, "part 3: checkpoint reaches the server position after %d "
                             "transactions" % done, why):
                    break
                compare(srv, mongo, db, decimal128, "part 3 after %d transactions" % done, OPS)
        # Every filter refuses some rows and keeps others, so each one was
        # exercised both ways.
        for table, op in OPS.items():
            total = int(srv.sql("SELECT COUNT(*) FROM %s" % table, db)[0])
            kept = int(srv.sql("SELECT COUNT(*) FROM %s WHERE %s" % (table, op["filter"]), db)[0])
            check(0 < kept < total, "part 3: the filter of %s keeps some rows and refuses others"
                  % table, "%d of %d kept" % (kept, total))
        print("part 3: %s, %.1f s" % (counts(mongo, db), time.time() - t0), flush=True)
        check(daemon.stop() == 0, "part 3: SIGTERM exits 0")
    finally:
        end_run(daemon, srv, mongo, db, args.keep)


def end_run(daemon, srv, mongo, db, keep):
    """What a run's finally does: the daemon killed, the run's databases
    dropped on both servers (unless keep), the target connection closed."""
    daemon.kill()
    if not keep:
        try:
            mongo.call(cmd="drop", db=db)
        except RuntimeError as e:
            print("warning: could not drop the target database:", e)
        srv.sql("DROP DATABASE IF EXISTS %s" % db)
    mongo.close()


def servers_cmd(env, *a):
    r = subprocess.run(["bash", SERVERS] + list(a), env=env, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("servers.sh %s: %s" % (" ".join(a), r.stderr[-2000:]))
    return r.stdout


def kept_state_cycle(srv, mongo, daemon, db, decimal128, w, state_dir):
    """A clean stop keeps the state file; the next start maps it back
    (changes committed meanwhile are applied on top); a kill while it is in
    use leaves a file the next start removes, loading from the target; a
    kept state of an older checkpoint is refused."""
    flow = FLOW_NAME
    state, seal = (os.path.join(state_dir, flow + ext) for ext in (".state", ".seal"))
    aside = os.path.join(state_dir, "..", "kept-aside")
    os.makedirs(aside, exist_ok=True)

    def cycle(label, stop, expect_log, extra_txns=30):
        run_sql_batch(srv, db, "".join(w.transaction() for _ in range(extra_txns)))
        daemon.start("--gtid-resume")
        ok = daemon.wait_log("streaming from GTID position", 60)
        log = daemon.log()
        check(ok and expect_log in log, "part 2: %s" % label, log[-1500:])
        ok, why = wait_synced(srv, mongo, daemon, db)
        check(ok, "part 2: %s: checkpoint reaches the server position" % label, why)
        compare(srv, mongo, db, decimal128, "part 2 %s" % label)
        if stop:
            check(daemon.stop() == 0, "part 2: %s: SIGTERM exits 0" % label)
        else:
            daemon.kill()

    check(daemon.stop() == 0, "part 2: SIGTERM before the kept-state cycle exits 0")
    log = daemon.log()
    check("view state kept in %s for the next start" % state in log and
          sorted(os.listdir(state_dir)) == [flow + ".seal", flow + ".state"],
          "part 2: a clean stop keeps the state file and its seal", (log[-800:],
                                                                    os.listdir(state_dir)))
    # Kept aside (renamed: the file is sparse, its mapping reserves half a
    # terabyte), to come back once the checkpoint has moved on.
    for path in (state, seal):
        os.rename(path, os.path.join(aside, os.path.basename(path)))
    cycle("start without a kept state loads it from the target", True, "view state loaded")
    cycle("start after a clean stop maps the kept state back", False,
          "view state mapped back from the state kept in state_dir")
    check(os.listdir(state_dir) == [flow + ".state"],
          "part 2: a kill while the kept state is in use leaves its file, no seal",
          os.listdir(state_dir))
    cycle("start after a kill removes the unsealed file and loads", True, "view state loaded")
    for path in (state, seal):
        os.replace(os.path.join(aside, os.path.basename(path)), path)
    cycle("a kept state of an older checkpoint is refused", True,
          "not using the kept view state")
    check("another checkpoint" in daemon.log(), "part 2: the refusal names the checkpoint",
          daemon.log()[-1500:])
    daemon.start("--gtid-resume")
    check(daemon.wait_log("streaming from GTID position", 60), "part 2: restarted after the "
          "kept-state cycle", daemon.log()[-1500:])


def part2(args, base_srv, tmp):
    seed = args.seed + 1
    rnd = random.Random(seed)
    sdir = os.path.join(tmp, "servers")
    myport, moport = free_port(), free_port()
    env = dict(os.environ, TAPFLOW_SERVERS_DIR=sdir, TAPFLOW_MARIADB_PORT=str(myport),
               TAPFLOW_MONGO_PORT=str(moport))
    print("part 2: own servers in %s (mariadb %d, mongo %d), seed %d" % (
        sdir, myport, moport, seed), flush=True)
    t0 = time.time()
    servers_cmd(env, "start", "all")
    srv = Servers("127.0.0.1", myport, "tapflow", "tapflow-test",
                  "mongodb://127.0.0.1:%d/" % moport)
    db = "tf_vdiff_kill_%d" % os.getpid()
    w = Workload(rnd)
    mongo = Mongo(srv.mongo_uri, tmp)
    # The state in a file (issue 14) with 1 MB of it resident: every
    # incarnation builds or loads its state there and pages it out again
    # and again; the heap-held state is parts 1 and 3's.
    state_dir = os.path.join(tmp, "state")
    os.makedirs(state_dir, exist_ok=True)
    daemon = Daemon(srv, db, tmp, 9000 + os.getpid() % 500,
                    extra="state_dir = %s\nstate_memory_mb = 1" % state_dir)
    stop_writer = threading.Event()
    writer_error = []
    writer_done = [0]

    def writer():
        try:
            # Paced (about 50 a second) so that the kills fall inside the
            # workload.
            while writer_done[0] < args.kill_txns and not stop_writer.is_set():
                n = min(10, args.kill_txns - writer_done[0])
                run_sql_batch(srv, db, "".join(w.transaction() for _ in range(n)))
                writer_done[0] += n
                time.sleep(0.15)
        except Exception as e:  # noqa: BLE001
            writer_error.append(str(e))

    try:
        srv.sql("CREATE DATABASE %s" % db)
        srv.sql(lib.ECOM_TABLES + w.initial(), db)
        daemon.start()
        check(daemon.wait_log("streaming from GTID position"), "part 2: snapshot, then streaming",
              daemon.log()[-1500:])
        decimal128 = "written as double" not in daemon.log()
        th = threading.Thread(target=writer)
        th.start()
        kills = 0
        resumed = snapshots = 0
        target_restarted = False
        while kills < 10:
            time.sleep(rnd.uniform(0.2, 2.0))
            if daemon.proc.poll() is not None:
                check(False, "part 2: daemon alive before kill %d" % (kills + 1),
                      daemon.log()[-1500:])
                break
            daemon.kill()
            kills += 1
            if daemon.starts > 1:
                log = daemon.log()
                resumed += "resuming from checkpoint" in log and "no snapshot" in log
                snapshots += "snapshot of" in log
            time.sleep(rnd.uniform(0, 0.5))
            daemon.start("--gtid-resume")
            if kills == 5 and not target_restarted:
                # The target stops and starts while this incarnation streams.
                daemon.wait_log("streaming from GTID position", 30)
                time.sleep(rnd.uniform(0.1, 1.0))
                servers_cmd(env, "stop", "mongo")
                time.sleep(1.0)
                servers_cmd(env, "start", "mongo")
                target_restarted = True
                print("part 2: target server restarted under the running daemon", flush=True)
                check(daemon.proc.poll() is None, "part 2: daemon survives a target restart",
                      daemon.log()[-1500:])
                if daemon.proc.poll() is not None:
                    daemon.start("--gtid-resume")
        stop_writer.set()
        th.join()
        check(not writer_error, "part 2: workload ran (%d transactions)" % writer_done[0],
              writer_error)
        ok = daemon.wait_log("streaming from GTID position", 60)
        log = daemon.log()
        check(ok and "resuming from checkpoint" in log and "no snapshot" in log and
              "snapshot of" not in log, "part 2: last restart resumes without a snapshot",
              log[-1500:])
        check(snapshots == 0, "part 2: no killed incarnation took a snapshot", snapshots)
        print("part 2: %d of %d killed incarnations had logged their resume before the kill" % (
            resumed, kills - 1), flush=True)
        ok, why = wait_synced(srv, mongo, daemon, db)
        check(ok, "part 2: checkpoint reaches the server position at the end", why)
        compare(srv, mongo, db, decimal128, "part 2 after %d kills and a target restart" % kills)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % daemon.status_port,
                                    timeout=10) as r:
            metrics = r.read().decode()
        file_bytes = re.search(r"^tapflow_view_state_file_bytes\{[^}]*\} (\S+)$", metrics, re.M)
        check("view state in a file in %s, at most 1 MB of it resident" % state_dir in log and
              file_bytes and float(file_bytes.group(1)) > 0,
              "part 2: the state lived in a file in state_dir (%s bytes)" % (
                  file_bytes.group(1) if file_bytes else "?"), metrics[-800:])
        check(os.listdir(state_dir) == [], "part 2: state_dir holds no named file",
              os.listdir(state_dir))
        kept_state_cycle(srv, mongo, daemon, db, decimal128, w, state_dir)
        print("part 2: %d transactions (%d statements, %d rolled back), %s, %d kills, %.1f s" % (
            w.stats["transactions"], w.stats["statements"], w.stats["rolled_back"],
            counts(mongo, db), kills, time.time() - t0), flush=True)
        check(daemon.stop() == 0, "part 2: SIGTERM exits 0")
    finally:
        stop_writer.set()
        daemon.kill()
        mongo.close()
        try:
            servers_cmd(env, "stop", "all")
        except RuntimeError as e:
            print("warning:", e)
        if not args.keep:
            shutil.rmtree(sdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--txns", type=int, default=1500)
    ap.add_argument("--check-every", type=int, default=500)
    ap.add_argument("--kill-txns", type=int, default=600)
    ap.add_argument("--ops-txns", type=int, default=1000)
    ap.add_argument("--part", default="all", choices=["1", "2", "ops", "all"])
    ap.add_argument("--keep", action="store_true", help="keep databases and logs")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    print("seed %d (repeat with --seed %d)" % (args.seed, args.seed), flush=True)
    if not os.path.exists(BIN):
        print("tapflow-replica not built at %s (set TAPFLOW_REPLICA_BIN)" % BIN)
        return 1
    srv = Servers(lib.MARIADB_HOST, lib.MARIADB_PORT, lib.MARIADB_USER, lib.MARIADB_PASSWORD,
                  lib.MONGO_URI)
    tmp = tempfile.mkdtemp(prefix="tf_vdiff_")
    try:
        if args.part in ("1", "all"):
            part1(args, srv, tmp)
        if args.part in ("2", "all"):
            part2(args, srv, tmp)
        if args.part in ("ops", "all"):
            part3(args, srv, tmp)
    except Exception as e:  # noqa: BLE001
        check(False, "run", repr(e))
    finally:
        if args.keep:
            print("logs kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

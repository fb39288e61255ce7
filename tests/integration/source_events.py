#!/usr/bin/env python3
"""source_events.py — every source event reaches the wide table.

    tests/integration/source_events.py [--seed N] [--txns N] [--keep]

Against the servers of `tools/servers.sh env`: the six ecom_ tables of the
reference guide in a fresh database, tapflow-replica on the guide's flow
(resync_chunk_rows = 7, so every re-sync takes several reads), and the
random row workload of view_differential.py interleaved with what
production sources do besides row changes:

  - TRUNCATE of a lookup table (payments) and of the root's array child;
  - statement-format DML (SET SESSION binlog_format='STATEMENT') on the
    root and on lookups: UPDATE, INSERT, DELETE, REPLACE, INSERT ... SELECT;
  - binlog_row_image=MINIMAL and NOBLOB sessions (partial row images);
  - ALTER TABLE on lookups: ADD COLUMN (with a default), MODIFY (retype),
    RENAME COLUMN, DROP COLUMN, while the workload keeps writing;
  - statements on a table outside the flow (no effect);
  - then, a re-sync killed with SIGKILL between two reads and resumed with
    --gtid-resume (and the same during an ALTER's re-sync);
  - the target stopped (SIGSTOP) while changes stream: the status endpoint
    still answers within a second, the stream is read on to the server's
    position, 9 s of stall keep the source connection (no "presumed dead",
    no reconnect) with the delay showing the stall, and the flow carries
    on after SIGCONT;
  - last, ALTER TABLE ... DROP COLUMN of a column the flow joins on: the
    flow stops with an error naming the table, the column and the lookup.

After each step, once no re-sync is queued and the checkpoint has reached
the server's @@gtid_binlog_pos, every document is compared with the one
computed here from MariaDB with SQL SELECTs of each table and the flow's
LEFT JOINs done in Python (columns and types read from information_schema,
so the expected documents follow the ALTERs without tapflow's code).
Prints "N passed, N failed"; exit status 1 on any failure.
"""
import argparse
import calendar
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402
import view_differential as vd  # noqa: E402

check = lib.Checks(clip=lambda detail: detail[:3000])

RELATIONS = {
    # table -> (relation column omitted when embedded)
    "ecom_customers": "customer_id",
    "ecom_order_payments": "order_id",
    "ecom_order_items": "order_id",
    "ecom_products": "product_id",
    "ecom_sellers": "seller_id",
}


# ---------------------------------------------------------------------------
# Expected documents: columns and types from information_schema.

def table_columns(srv, db, table):
    rows = srv.sql("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_KEY FROM information_schema.COLUMNS "
                   "WHERE TABLE_SCHEMA='%s' AND TABLE_NAME='%s' ORDER BY ORDINAL_POSITION"
                   % (db, table))
    cols, pk = [], []
    for line in rows:
        name, dtype, key = line.split("\t")
        if dtype in ("int", "smallint", "tinyint", "mediumint"):
            kind = "int"
        elif dtype == "bigint":
            kind = "i64"
        elif dtype == "decimal":
            kind = "dec"
        elif dtype in ("datetime", "timestamp"):
            kind = "dt"
        else:
            kind = "str"
        cols.append((name, kind))
        if key == "PRI":
            pk.append(name)
    # primary key in key order
    order = srv.sql("SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA="
                    "'%s' AND TABLE_NAME='%s' AND INDEX_NAME='PRIMARY' ORDER BY SEQ_IN_INDEX"
                    % (db, table))
    return cols, [o.strip() for o in order] or pk


def typed(kind, v, decimal128):
    if v is None:
        return None
    if kind == "i64":
        return ("i64", int(v))
    if kind == "dt":
        return ("date", calendar.timegm(time.strptime(v, "%Y-%m-%d %H:%M:%S")) * 1000)
    return vd.typed(kind, v, decimal128)


def select_table(srv, db, table, decimal128):
    cols, pk = table_columns(srv, db, table)
    exprs = ", ".join("CAST(`%s` AS CHAR)" % c if k in ("int", "i64", "dec") else
                      "DATE_FORMAT(`%s`, '%%Y-%%m-%%d %%H:%%i:%%s')" % c if k == "dt" else
                      "`%s`" % c for c, k in cols)
    rows = []
    for line in srv.sql("SELECT JSON_ARRAY(%s) FROM `%s`" % (exprs, table), db):
        vals = json.loads(line)
        rows.append({c: typed(k, v, decimal128) for (c, k), v in zip(cols, vals)})
    return rows, pk


def expected_documents(srv, db, decimal128):
    t, pks = {}, {}
    for name in vd.TABLES:
        t[name], pks[name] = select_table(srv, db, name, decimal128)

    def index(table, col):
        idx = {}
        for row in sorted(t[table], key=lambda r: tuple(r[c][1] for c in pks[table])):
            if row.get(col) is not None:
                idx.setdefault(row[col], []).append(row)
        return idx

    def embed(row, omit):
        return {k: v for k, v in row.items() if k != omit}

    customers = index("ecom_customers", "customer_id")
    products = index("ecom_products", "product_id")
    sellers = index("ecom_sellers", "seller_id")
    payments = index("ecom_order_payments", "order_id")
    items = index("ecom_order_items", "order_id")
    docs = {}
    for o in t["ecom_orders"]:
        doc = dict(o)
        c = customers.get(o["customer_id"]) if o["customer_id"] is not None else None
        if c:
            doc["customer_info"] = embed(c[0], "customer_id")
        doc["order_payments"] = [embed(p, "order_id") for p in payments.get(o["order_id"], [])]
        its = []
        for it in items.get(o["order_id"], []):
            e = embed(it, "order_id")
            p = products.get(it.get("product_id")) if it.get("product_id") is not None else None
            if p:
                e["product"] = embed(p[0], "product_id")
            s = sellers.get(it.get("seller_id")) if it.get("seller_id") is not None else None
            if s:
                e["seller"] = embed(s[0], "seller_id")
            its.append(e)
        doc["order_items"] = its
        docs[o["order_id"][1]] = doc
    return docs


def compare(srv, mongo, db, decimal128, label):
    want = expected_documents(srv, db, decimal128)
    got, problems = vd.actual_documents(mongo, db)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = []
    for k in sorted(set(want) & set(got)):
        d = vd.diff(want[k], got[k])
        if d:
            wrong.append("order %s: %s" % (k, "; ".join(d[:4])))
    ok = not (missing or extra or wrong or problems)
    check(ok, "%s: %d documents equal the SQL LEFT JOINs" % (label, len(want)),
          "missing %s; extra %s; %d wrong: %s; %s" % (missing[:10], extra[:10], len(wrong),
                                                       " | ".join(wrong[:5]), problems[:5]))
    return ok


# ---------------------------------------------------------------------------
# The daemon, with its status endpoint.

def status(daemon):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/status" % daemon.status_port,
                                    timeout=5) as r:
            return json.loads(r.read().decode())
    except (OSError, ValueError):
        return None


def settled(srv, mongo, daemon, db, timeout=180):
    """No re-sync queued, and the checkpoint has reached the server's
    position and then moved on twice (so what the last re-sync read is in
    the documents too)."""
    end = time.time() + timeout
    target = srv.gtid_pos()
    while time.time() < end:
        if daemon.proc.poll() is not None:
            return False, "daemon exited %s: %s" % (daemon.proc.returncode, daemon.log()[-2000:])
        # one status that has passed the server's position (so it counts the
        # re-syncs what came before queued) and has none queued
        st = status(daemon)
        if st and vd.reached(st.get("position"), target) and \
                st.get("resync", {}).get("queued", 1) == 0:
            break
        time.sleep(0.05)
    else:
        return False, "re-sync still queued after %d s: %s" % (timeout, status(daemon))
    ok, why = vd.wait_synced(srv, mongo, daemon, db, timeout)
    if not ok:
        return ok, why
    # What the re-sync applied goes out with the next checkpoint (the
    # pipeline is dirty until then); when none comes within 2 s, the last
    # one already held it.
    seq0 = checkpoint_seq(mongo, db)
    until = time.time() + 2
    while time.time() < until and checkpoint_seq(mongo, db) <= seq0:
        time.sleep(0.05)
    return True, ""


def checkpoint_seq(mongo, db):
    cp = mongo.call(cmd="checkpoint", db=db, flow=vd.FLOW_NAME) or {}
    seq = cp.get("seq", 0)
    if isinstance(seq, dict):
        seq = next(iter(seq.values()))
    return int(seq or 0)


def step(srv, mongo, daemon, db, decimal128, label, sql=None):
    if sql:
        srv.sql(sql, db)
    ok, why = settled(srv, mongo, daemon, db)
    if not check(ok, "%s: settled" % label, why):
        return False
    return compare(srv, mongo, db, decimal128, label)


def run(args, srv, tmp):
    rnd = random.Random(args.seed)
    db = "tf_srcev_%d_%d" % (os.getpid(), int(time.time()))
    w = vd.Workload(rnd)
    mongo = vd.Mongo(srv.mongo_uri, tmp)
    daemon = vd.Daemon(srv, db, tmp, 9000 + os.getpid() % 1000)
    with open(daemon.conf) as f:
        conf = f.read()
    with open(daemon.conf, "w") as f:
        f.write(conf.replace("[tapflow]\n", "[tapflow]\nresync_chunk_rows = 7\n", 1))
    srv.sql("CREATE DATABASE %s" % db)

    def txns(n):
        srv.sql("".join(w.transaction() for _ in range(n)), db)

    try:
        srv.sql(lib.ECOM_TABLES + w.initial(), db)
        srv.sql("CREATE TABLE audit_log (id INT PRIMARY KEY, note VARCHAR(50))", db)
        daemon.start()
        check(daemon.wait_log("streaming from GTID position"), "snapshot, then streaming",
              daemon.log()[-1500:])
        decimal128 = "written as double" not in daemon.log()
        step(srv, mongo, daemon, db, decimal128, "after the snapshot")
        txns(args.txns)

        # --- TRUNCATE ---
        step(srv, mongo, daemon, db, decimal128, "TRUNCATE ecom_order_payments",
             "TRUNCATE TABLE ecom_order_payments")
        check("TRUNCATE of %s.ecom_order_payments" % db in daemon.log(),
              "TRUNCATE is logged with the table")
        w.t["ecom_order_payments"].clear()
        txns(args.txns)
        step(srv, mongo, daemon, db, decimal128, "TRUNCATE of the items, then rows",
             "TRUNCATE `%s`.`ecom_order_items`;" % db + "".join(w.transaction() for _ in range(20)))

        # --- statements on a table outside the flow ---
        before = daemon.log().count("re-sync of")
        srv.sql("SET SESSION binlog_format='STATEMENT'; INSERT INTO audit_log VALUES (1, 'x');"
                "TRUNCATE audit_log; ALTER TABLE audit_log ADD COLUMN n INT;"
                "DROP TABLE audit_log;", db)
        step(srv, mongo, daemon, db, decimal128, "statements on a table outside the flow")
        check(daemon.log().count("re-sync of") == before,
              "a table outside the flow is never re-read", daemon.log()[-1500:])

        # --- statement-format DML ---
        some = w.pick(list(w.t["ecom_orders"])) if w.t["ecom_orders"] else None
        stmt = ("SET SESSION binlog_format='STATEMENT';"
                "UPDATE ecom_orders SET order_status='stmt' WHERE order_id=%s;"
                "UPDATE ecom_customers SET customer_city=CONCAT(customer_city, '!') "
                "WHERE customer_id < 'm';"
                "DELETE FROM ecom_order_items WHERE order_item_id > 2;"
                "REPLACE INTO ecom_sellers (seller_id, seller_zip_code_prefix, seller_city, "
                "seller_state) VALUES ('stmt_seller', '12345', 'Stmt City', 'SC');"
                "INSERT INTO ecom_products (product_id, product_category_name) "
                "SELECT CONCAT('stmt_', product_id), 'copied' FROM ecom_products LIMIT 3;"
                % (vd.lit(some[0]) if some else "'none'"))
        step(srv, mongo, daemon, db, decimal128, "statement-format DML", stmt)
        log = daemon.log()
        check("statement-format change of %s.ecom_orders" % db in log and "warning: transaction"
              in log and "order_status='stmt'" in log,
              "statement-format DML is logged as a warning with its GTID and statement",
              log[-2000:])
        txns(args.txns)
        step(srv, mongo, daemon, db, decimal128, "rows after statement-format DML")

        # --- partial images ---
        cust = w.pick(list(w.t["ecom_customers"]))
        prod = w.pick(list(w.t["ecom_products"]))
        step(srv, mongo, daemon, db, decimal128, "binlog_row_image=MINIMAL and NOBLOB",
             "SET SESSION binlog_row_image='MINIMAL';"
             "UPDATE ecom_customers SET customer_state='MN' WHERE customer_id=%s;"
             "DELETE FROM ecom_order_payments WHERE payment_sequential=1 LIMIT 2;"
             "SET SESSION binlog_row_image='NOBLOB';"
             "UPDATE ecom_products SET product_category_name='noblob' WHERE product_id=%s;"
             % (vd.lit(cust[0]), vd.lit(prod[0])))

        # --- ALTER TABLE while the workload writes ---
        ddl = [
            ("ADD COLUMN", "ALTER TABLE ecom_sellers ADD COLUMN seller_rating INT NOT NULL "
                           "DEFAULT 5"),
            ("MODIFY (retype)", "ALTER TABLE ecom_sellers MODIFY seller_rating BIGINT NOT NULL "
                                "DEFAULT 7"),
            ("RENAME COLUMN", "ALTER TABLE ecom_sellers RENAME COLUMN seller_rating TO "
                              "seller_score"),
            ("MODIFY of a used column", "ALTER TABLE ecom_customers MODIFY customer_city "
                                        "VARCHAR(200)"),
            ("ADD COLUMN to products", "ALTER TABLE ecom_products ADD COLUMN note VARCHAR(20) "
                                       "DEFAULT 'n/a' AFTER product_id"),
            ("DROP COLUMN", "ALTER TABLE ecom_sellers DROP COLUMN seller_score"),
            ("DROP COLUMN of products", "ALTER TABLE ecom_products DROP COLUMN note"),
        ]
        for label, sql in ddl:
            srv.sql(sql, db)
            txns(max(10, args.txns // 4))
            srv.sql("UPDATE ecom_sellers SET seller_city=CONCAT(seller_city, '.') LIMIT 3", db)
            step(srv, mongo, daemon, db, decimal128, "ALTER TABLE %s" % label)
        check(daemon.proc.poll() is None, "the flow kept running through every ALTER",
              daemon.log()[-1500:])

        # --- SIGKILL during a re-sync and during an ALTER's, then --gtid-resume ---
        # 1,500 more products: a re-sync of 7-row reads takes a few seconds
        srv.sql("INSERT INTO ecom_products (product_id, product_category_name, "
                "product_weight_g) SELECT CONCAT('bulk_', seq), 'bulk', seq FROM seq_1_to_1500",
                db)
        kills = [
            ("statement-format UPDATE", "SET SESSION binlog_format='STATEMENT'; UPDATE "
             "ecom_products SET product_weight_g = IFNULL(product_weight_g, 0) DIV 2"),
            ("ALTER TABLE ADD COLUMN", "ALTER TABLE ecom_products ADD COLUMN batch INT NOT NULL "
             "DEFAULT 3"),
        ]
        for label, sql in kills:
            srv.sql(sql, db)
            ok = daemon.wait_log("re-sync of %s.ecom_products: read 40 in" % db, timeout=60)
            check(ok, "%s: a re-sync of the products is under way" % label,
                  daemon.log()[-1500:])
            time.sleep(0.4)  # a checkpoint or two with the re-sync's progress
            daemon.kill()
            txns(20)
            srv.sql("UPDATE ecom_products SET product_category_name='after kill' "
                    "WHERE product_id LIKE 'bulk_1%' LIMIT 5", db)
            daemon.start("--gtid-resume")
            check(daemon.wait_log("streaming from GTID position"), "%s: resumed after SIGKILL"
                  % label, daemon.log()[-1500:])
            log = daemon.log()
            check("resuming from checkpoint" in log and "snapshot of" not in log,
                  "%s: the resume read no snapshot" % label, log[-1500:])
            check("re-sync of %s.ecom_products continues from the checkpoint after its last "
                  "completed read" % db in log, "%s: the re-sync continues from its last "
                  "completed read" % label, log[-1500:])
            step(srv, mongo, daemon, db, decimal128, "%s: re-sync killed and resumed" % label)

        # --- the status endpoint answers while the target stalls ---
        pidfile = os.path.join(os.environ.get("TAPFLOW_SERVERS_DIR",
                                              os.path.join(lib.ROOT, ".servers")),
                               "mongo", "server.pid")
        with open(pidfile) as f:
            target_pid = int(f.read().strip())
        log_before = len(daemon.log())
        os.kill(target_pid, signal.SIGSTOP)
        try:
            txns(30)  # the daemon's writes now wait on the stopped target
            time.sleep(1.0)
            t0 = time.time()
            st = status(daemon)
            took = time.time() - t0
            # The source is read on: the stream reaches the server's position
            # with the target still stopped, and 8 s of only heartbeats (3
            # heartbeat periods are 6 s) find the connection alive.
            target_pos = srv.gtid_pos()
            read_on = False
            end = time.time() + 10
            while time.time() < end and not read_on:
                cur = status(daemon)
                read_on = bool(cur) and vd.reached(cur.get("position"), target_pos)
                time.sleep(0.1)
            time.sleep(8.0)
            late = status(daemon)
        finally:
            os.kill(target_pid, signal.SIGCONT)
        check(st is not None and st.get("status") == "running" and took < 1.0,
              "the status endpoint answers within 1 s while the target is stopped",
              "%s after %.2f s" % (st, took))
        check(read_on, "the source is read while the target is stopped (position %s)"
              % target_pos, "%s" % status(daemon))
        stall_log = daemon.log()[log_before:]
        check("presumed dead" not in stall_log and "reconnect" not in stall_log and
              late is not None and late.get("delay_ms", 0) >= 8000,
              "a 9 s target stall: the source connection is kept, the delay shows the stall",
              "%s\n%s" % (late, stall_log[-1500:]))
        step(srv, mongo, daemon, db, decimal128, "after the target's stall")

        # --- a change the flow cannot follow ---
        srv.sql("ALTER TABLE ecom_order_items DROP COLUMN seller_id", db)
        srv.sql("UPDATE ecom_order_items SET price = price LIMIT 1", db)
        end = time.time() + 60
        while daemon.proc.poll() is None and time.time() < end:
            time.sleep(0.1)
        log = daemon.log()
        check(daemon.proc.poll() == 1 and "column seller_id was dropped or renamed, but lookup "
              "\"order_items.seller\"" in log and "ecom_order_items" in log,
              "dropping a relation column stops the flow naming table, column and lookup",
              "exit %s: %s" % (daemon.proc.poll(), log[-1500:]))
    finally:
        vd.end_run(daemon, srv, mongo, db, args.keep)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--txns", type=int, default=60)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    print("seed %d (repeat with --seed %d)" % (args.seed, args.seed), flush=True)
    srv = vd.Servers(lib.MARIADB_HOST, lib.MARIADB_PORT, lib.MARIADB_USER, lib.MARIADB_PASSWORD,
                     lib.MONGO_URI)
    tmp = tempfile.mkdtemp(prefix="tf_srcev_")
    try:
        run(args, srv, tmp)
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

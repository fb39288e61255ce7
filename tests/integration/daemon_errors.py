#!/usr/bin/env python3
"""daemon_errors.py — what tapflow-replica says when the flow cannot run.

Each case starts the daemon once on a flow that is wrong in one way, against
the real servers (tools/servers.sh env), and checks that it exits non-zero
with one clear message naming what was wrong and where, and that it wrote
no document and no checkpoint:

  - a flow file with a syntax error (file:line:column, what was expected);
  - a lookup of a table the source database does not have;
  - a relation naming a column the table does not have;
  - a relation joining columns of different types (VARCHAR vs INT);
  - a lookup path that collides with a column of the parent row;
  - an unreachable source server; a wrong source password (not printed).

Stdlib only. Prints "N passed, N failed"; exit status 1 on any failure.
Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI, TAPFLOW_REPLICA_BIN.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402

BIN = lib.REPLICA_BIN
PORT_MY = lib.MARIADB_PORT
DB = lib.unique_name("tf_errors")
STATUS_PORT = 19000 + os.getpid() % 1000

check = lib.Checks()


def sql(text, db=""):
    lib.sql(db, text)


def mongo_eval(js):
    return lib.mongo_eval(DB, js, 60).strip()


SCHEMA = """
CREATE TABLE orders (order_id VARCHAR(32) PRIMARY KEY, customer_id VARCHAR(32), status VARCHAR(16));
CREATE TABLE customers (customer_id VARCHAR(32) PRIMARY KEY, city VARCHAR(32));
CREATE TABLE customers_by_number (customer_no INT PRIMARY KEY, city VARCHAR(32));
INSERT INTO orders VALUES ('O1', 'C1', 'new');
INSERT INTO customers VALUES ('C1', 'Recife');
INSERT INTO customers_by_number VALUES (1, 'Natal');
"""


def config(path, my_port=PORT_MY, password_env="TAPFLOW_MARIADB_PASSWORD", extra=""):
    lib.write_config(path, DB, 7900 + os.getpid() % 90, checkpoint_interval_ms=None,
                     extra="status_listen = 127.0.0.1:%d\n%s" % (STATUS_PORT, extra), source="Src",
                     target="Dst", port=my_port, password_env=password_env)


def flow(tmp, name, lookup):
    path = os.path.join(tmp, name + ".tap")
    with open(path, "w") as f:
        f.write('f = Flow("%s") \\\n    .read_from("Src.orders")\n%s\nf.write_to("Dst.view_%s")\n'
                % (name, lookup, name))
    return path


def run(flow_path, conf, env_extra=None, timeout=60):
    env = dict(lib.mariadb_env(), **(env_extra or {}))
    t0 = time.time()
    r = subprocess.run([BIN, "--flow", flow_path, "--config", conf], capture_output=True,
                       text=True, env=env, timeout=timeout)
    return r.returncode, r.stderr + r.stdout, time.time() - t0


def error_lines(out):
    return [line for line in out.splitlines() if "error" in line.lower()]


def case(what, flow_path, conf, needles, collection=None, env_extra=None, forbidden=()):
    rc, out, secs = run(flow_path, conf, env_extra)
    ok = rc != 0 and all(n in out for n in needles) and not any(f in out for f in forbidden)
    check(ok, "%s: exits %d with a clear message" % (what, rc), out[-600:])
    check(len(error_lines(out)) >= 1 and secs < 30, "%s: one error line, within 30 s (%.1f s)"
          % (what, secs), out[-300:])
    if collection:
        n = mongo_eval("db.getCollection('%s').countDocuments({}) + "
                       "db.tapflow_checkpoints.countDocuments({})" % collection)
        check(n == "0", "%s: no document and no checkpoint written" % what, n)


def main():
    if not os.path.exists(BIN):
        print("tapflow-replica not built: %s" % BIN)
        print("0 passed, 1 failed")
        return 1
    sql("CREATE DATABASE %s" % DB)
    sql(SCHEMA, DB)
    tmp = tempfile.mkdtemp(prefix="tf-errors-")
    conf = os.path.join(tmp, "tapflow.conf")
    config(conf)
    try:
        bad = os.path.join(tmp, "syntax.tap")
        with open(bad, "w") as f:
            f.write('f = Flow("Syntax")\nf.read_from("Src.orders")\n'
                    'f.lookup("Src.customers", path="c" type="object", '
                    'relation=[["customer_id", "customer_id"]])\n')
        case("syntax error", bad, conf, ["syntax.tap:3:", "expected"])

        case("unknown table",
             flow(tmp, "UnknownTable", 'f.lookup("Src.no_such_table", path="c", type="object", '
                  'relation=[["customer_id", "customer_id"]])'),
             conf, ["no_such_table"], "view_UnknownTable")

        case("unknown relation column",
             flow(tmp, "UnknownColumn", 'f.lookup("Src.customers", path="c", type="object", '
                  'relation=[["customer_id", "cust_ident"]])'),
             conf, ["cust_ident", "UnknownColumn.tap:"], "view_UnknownColumn")

        case("relation columns of different types",
             flow(tmp, "TypeMismatch", 'f.lookup("Src.customers_by_number", path="c", '
                  'type="object", relation=[["customer_id", "customer_no"]])'),
             conf, ["customer_no", "customer_id", "TypeMismatch.tap:"], "view_TypeMismatch")

        case("path colliding with a column",
             flow(tmp, "PathCollision", 'f.lookup("Src.customers", path="status", type="object", '
                  'relation=[["customer_id", "customer_id"]])'),
             conf, ["status", "PathCollision.tap:"], "view_PathCollision")

        down = os.path.join(tmp, "down.conf")
        config(down, my_port="1")
        case("unreachable source",
             flow(tmp, "SourceDown", 'f.lookup("Src.customers", path="c", type="object", '
                  'relation=[["customer_id", "customer_id"]])'),
             down, ["cannot connect to 127.0.0.1:1:"], "view_SourceDown")

        wrong = os.path.join(tmp, "wrong.conf")
        config(wrong, password_env="TF_WRONG_PASSWORD")
        case("wrong source password",
             flow(tmp, "WrongPassword", 'f.lookup("Src.customers", path="c", type="object", '
                  'relation=[["customer_id", "customer_id"]])'),
             wrong, ["denied"], "view_WrongPassword",
             env_extra={"TF_WRONG_PASSWORD": "not-the-password-xyz"},
             forbidden=["not-the-password-xyz"])

        # [tapflow] settings refused (at load, or at start for a directory
        # that is not there): conf file name, its extra line, flow name,
        # what the message must say.
        for name, extra, flow_name, what, needles in [
                ("conns", "write_connections = 17", "Connections",
                 "write_connections out of range",
                 ["conns.conf:", "write_connections must be from 1 to 16"]),
                ("plan", "write_plan = cheapest", "WritePlan",
                 "write_plan neither costs nor off",
                 ["plan.conf:", "write_plan must be costs or off"]),
                ("index", "root_key_index = sharded", "RootIndex",
                 "root_key_index neither unique nor plain",
                 ["index.conf:", "root_key_index must be unique or plain"]),
                ("limit", "state_memory_mb = 512", "StateLimit",
                 "state_memory_mb without state_dir",
                 ["limit.conf:", "state_memory_mb limits the state kept in state_dir"]),
                ("nodir", "state_dir = %s/no-such-dir" % tmp, "StateDir",
                 "state_dir that does not exist",
                 ["state directory %s/no-such-dir: cannot create a file" % tmp])]:
            conf_path = os.path.join(tmp, name + ".conf")
            config(conf_path, extra=extra)
            case(what, flow(tmp, flow_name, 'f.lookup("Src.customers", path="c", type="object", '
                            'relation=[["customer_id", "customer_id"]])'),
                 conf_path, needles, "view_" + flow_name)
    finally:
        try:
            sql("DROP DATABASE IF EXISTS %s" % DB)
            mongo_eval("db.dropDatabase()")
        except Exception as e:  # cleanup only; the checks above decide
            print("cleanup: %s" % e)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

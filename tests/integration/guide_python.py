#!/usr/bin/env python3
"""guide_python.py — the reference guide's Python example, run unmodified
(tools/demo/real_time_order_view.py, PYTHONPATH=tools/python), against the
local servers (tools/servers.sh env) through the tap binary.

A fresh database gets a small copy of the six ecom_ tables (datagen, 300
orders); a temp TAPFLOW_HOME and config name it as MySQL_ECommerce and
MongoDB_ECommerce. Checks: the program's stdout is exactly the guide's
output lines; every order became a document, one of them equal to its SQL
LEFT JOINs; the flow is saved in tapflow_flows; the guide's Step 2 SQL gives
the guide's ORD789654 document; the SDK's status() says running, stop()
stops the flow (status stopped, run file gone); running the program again
resumes the flow (same output, no snapshot) and the SDK stops it again.

Stdlib only. Prints "N passed, N failed"; exit status 1 on any failure.
Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI; TAPFLOW_TAP (default
build/tools/tap/tap), TAPFLOW_BUILD_DIR (default build).
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402

PROGRAM = os.path.join(lib.ROOT, "tools", "demo", "real_time_order_view.py")
PYTHONPATH = os.path.join(lib.ROOT, "tools", "python")
FLOW = "Order_SingleView_Sync"
ORDERS = 300
DB = lib.unique_name("tf_gpy")
check = lib.Checks()


def program_env(tmp):
    return dict(lib.mariadb_env(), PYTHONPATH=PYTHONPATH, TAPFLOW_TAP=lib.TAP_BIN,
                TAPFLOW_CONFIG=os.path.join(tmp, "tapflow.conf"),
                TAPFLOW_HOME=os.path.join(tmp, "home"))


def run_program(tmp):
    return subprocess.run([sys.executable, PROGRAM], capture_output=True, text=True,
                          env=program_env(tmp), timeout=600)


def sdk(tmp, code):
    """Runs SDK code in a fresh interpreter with the test's env; returns (rc, stdout, stderr)."""
    prelude = ("from tapflow.lib import *\nfrom tapflow.cli.cli import init\ninit()\n"
               "f = Flow(%r)\n" % FLOW)
    r = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True,
                       env=program_env(tmp), timeout=300)
    return r.returncode, r.stdout, r.stderr


def daemon_log(tmp):
    try:
        with open(os.path.join(tmp, "home", "logs", FLOW + ".log")) as f:
            return f.read()
    except OSError:
        return ""


def output_matches(r, what):
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines == lib.GUIDE_PYTHON_OUTPUT and r.stderr == "", what,
          "rc %d\nstdout:\n%s\nstderr:\n%s" % (r.returncode, r.stdout, r.stderr))


def main():
    if not os.access(lib.TAP_BIN, os.X_OK):
        print("tap not built at %s (set TAPFLOW_TAP)" % lib.TAP_BIN)
        print("0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="tf_gpy_")
    os.makedirs(os.path.join(tmp, "home"))
    lib.write_config(os.path.join(tmp, "tapflow.conf"), DB, 17400 + os.getpid() % 100,
                     extra="status_ports = 17400-17499")
    try:
        lib.load_datagen(DB, ORDERS)
        r = run_program(tmp)
        output_matches(r, "the guide's program prints exactly the guide's output")
        log = daemon_log(tmp)
        decimal128 = "written as double" not in log
        count = lib.mongo_eval(DB, "print(db.orderSingleView.countDocuments({}))").strip()
        check(count == str(ORDERS), "every order became a document", count)
        first = lib.sql(DB, "SELECT order_id FROM ecom_orders ORDER BY order_id LIMIT 1")[0][0]
        ok, got = lib.wait_doc(DB, "orderSingleView", {"order_id": first},
                               lib.expected_doc(DB, first, decimal128), 5)
        check(ok, "order %s equals its LEFT JOINs" % first, got)
        saved = lib.mongo_eval(DB, "const d = db.tapflow_flows.findOne({_id: %r}); "
                                   "print(d ? d.text : 'none')" % FLOW)
        check('read_from("MySQL_ECommerce.ecom_orders")' in saved and
              'write_to("MongoDB_ECommerce.orderSingleView")' in saved,
              "the flow is saved in tapflow_flows", saved)

        for stmt in lib.STEP2[:6]:
            lib.sql(DB, stmt)
        ok, got = lib.wait_doc(DB, "orderSingleView", {"order_id": "ORD789654"},
                               lib.expected_doc(DB, decimal128=decimal128), 10)
        check(ok, "step 2 inserts: ORD789654 with customer, item, product, seller, payment", got)
        for stmt in lib.STEP2[6:]:
            lib.sql(DB, stmt)
        want = lib.expected_doc(DB, decimal128=decimal128)
        ok, got = lib.wait_doc(DB, "orderSingleView", {"order_id": "ORD789654"}, want, 10)
        check(ok and want["order_status"] == "shipped" and
              want["order_payments"][0]["payment_installments"] == {"$numberInt": "2"} and
              want["order_items"][0]["price"] in ({"$numberDouble": "210.0"},
                                                  {"$numberDecimal": "210.00"}),
              "step 2 updates: the guide's document (shipped, 2 installments of 220, price 210)",
              got)

        rc, out, err = sdk(tmp, "print(f.status()); print(f.last_status['total_rows'])")
        lines = out.split()
        check(rc == 0 and lines[:1] == ["running"] and int(lines[1]) > 0,
              "SDK status() is running, with total rows", out + err)
        rc, out, err = sdk(tmp, "f.stop(); print(f.status())")
        run_file = os.path.join(tmp, "home", "run", FLOW + ".json")
        check(rc == 0 and out.strip() == "stopped" and not os.path.exists(run_file),
              "SDK stop(): status stopped, run file removed", out + err)

        r = run_program(tmp)
        output_matches(r, "running the program again prints the guide's output")
        resumed = daemon_log(tmp)
        if resumed.startswith(log):  # the log is appended to, not rewritten
            resumed = resumed[len(log):]
        check("snapshot done" not in resumed and
              lib.mongo_eval(DB, "print(db.orderSingleView.countDocuments({}))").strip() ==
              str(ORDERS + 1), "the second run resumes (no new snapshot, %d documents)"
              % (ORDERS + 1), resumed[-600:])
        lib.sql(DB, "UPDATE ecom_orders SET order_status='delivered' WHERE order_id='ORD789654'")
        ok, got = lib.wait_doc(DB, "orderSingleView", {"order_id": "ORD789654"},
                               lib.expected_doc(DB, decimal128=decimal128), 10)
        check(ok, "a change after the resume reaches the document", got)
        rc, out, err = sdk(tmp, "f.stop(); print(f.status())")
        check(rc == 0 and out.strip() == "stopped", "SDK stop() again", out + err)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        check(False, "test set-up or a step failed", e)
    finally:
        if os.path.exists(os.path.join(tmp, "home", "run", FLOW + ".json")):
            sdk(tmp, "f.stop()")
        try:
            lib.mongo_eval(DB, "db.dropDatabase()")
        except RuntimeError as e:
            print("warning: could not drop the target database:", e)
        lib.sql("", "DROP DATABASE IF EXISTS %s" % DB)
        if check.failed:
            print("daemon log (last lines):\n" + daemon_log(tmp)[-1500:])
        shutil.rmtree(tmp, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

"""Unit tests of the tapflow Python SDK, with tests/fake_tap.py standing in for tap.

Run by tests/integration/python_sdk.py (or `python3 -m unittest discover -s
tools/python/tests` with PYTHONPATH=tools/python:tests/integration).
"""
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYROOT = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(PYROOT))
sys.path.insert(0, PYROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from tapflow import flow as flow_module  # noqa: E402
from tapflow import session as sessions  # noqa: E402
from tapflow.cli.cli import init  # noqa: E402
from tapflow.lib import *  # noqa: E402,F401,F403
from tapflow.lib import Flow, FlowError, TapflowError  # noqa: E402
from tapflow_testlib import GUIDE_PYTHON_OUTPUT  # noqa: E402

FAKE_TAP = os.path.join(HERE, "fake_tap.py")
GUIDE_PROGRAM = os.path.join(ROOT, "tools", "demo", "real_time_order_view.py")

GUIDE_FLOW_TEXT = """flow = Flow("Order_SingleView_Sync")
flow.read_from("MySQL_ECommerce.ecom_orders")
flow.lookup("MySQL_ECommerce.ecom_customers", path="customer_info", type="object", relation=[["customer_id", "customer_id"]])
flow.lookup("MySQL_ECommerce.ecom_order_payments", path="order_payments", type="array", relation=[["order_id", "order_id"]])
flow.lookup("MySQL_ECommerce.ecom_order_items", path="order_items", type="array", relation=[["order_id", "order_id"]])
flow.lookup("MySQL_ECommerce.ecom_products", path="order_items.product", type="object", relation=[["order_items.product_id", "product_id"]])
flow.lookup("MySQL_ECommerce.ecom_sellers", path="order_items.seller", type="object", relation=[["order_items.seller_id", "seller_id"]])
flow.write_to("MongoDB_ECommerce.orderSingleView")
flow.save()
"""


class FakeTapCase(unittest.TestCase):
    """A temp dir with a config file and the fake tap; env pointing at both."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.conf = os.path.join(self.tmp.name, "tapflow.conf")
        with open(self.conf, "w") as f:
            f.write("[tapflow]\n")
        self.log = os.path.join(self.tmp.name, "calls.jsonl")
        self.env = {"TAPFLOW_CONFIG": self.conf, "TAPFLOW_TAP": FAKE_TAP, "FAKE_TAP_LOG": self.log}
        self.saved_env = {k: os.environ.get(k) for k in list(self.env) + [
            "FAKE_TAP_STATES", "FAKE_TAP_STATS", "FAKE_TAP_FAIL"]}
        os.environ.update(self.env)
        self.saved_pause = flow_module.NOT_RUNNING_PAUSE_S
        flow_module.NOT_RUNNING_PAUSE_S = 0.01
        sessions.set_current(sessions.Session())

    def tearDown(self):
        flow_module.NOT_RUNNING_PAUSE_S = self.saved_pause
        for k, v in self.saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self.tmp.cleanup()

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def quiet(self, fn, *args, **kwargs):
        """Runs fn; returns (result or exception, printed text)."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                result = fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 (the test inspects it)
                result = e
        return result, out.getvalue()


def guide_flow():
    f = Flow("Order_SingleView_Sync")
    f.read_from("MySQL_ECommerce.ecom_orders")
    f.lookup("MySQL_ECommerce.ecom_customers", path="customer_info", type="object",
             relation=[["customer_id", "customer_id"]])
    f.lookup("MySQL_ECommerce.ecom_order_payments", path="order_payments", type="array",
             relation=[["order_id", "order_id"]])
    f.lookup("MySQL_ECommerce.ecom_order_items", path="order_items", type="array",
             relation=[["order_id", "order_id"]])
    f.lookup("MySQL_ECommerce.ecom_products", path="order_items.product", type="object",
             relation=[["order_items.product_id", "product_id"]])
    f.lookup("MySQL_ECommerce.ecom_sellers", path="order_items.seller", type="object",
             relation=[["order_items.seller_id", "seller_id"]])
    f.write_to("MongoDB_ECommerce.orderSingleView")
    return f


class GuideProgram(FakeTapCase):
    def run_program(self, states):
        env = dict(os.environ, PYTHONPATH=PYROOT, FAKE_TAP_STATES=states)
        return subprocess.run([sys.executable, GUIDE_PROGRAM], capture_output=True, text=True,
                              env=env, timeout=60)

    def test_prints_the_guides_lines(self):
        r = self.run_program("starting,snapshot,snapshot,running")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), GUIDE_PYTHON_OUTPUT)
        self.assertEqual(r.stderr, "")

    def test_tap_calls(self):
        self.run_program("snapshot,running")
        calls = self.calls()
        conf = ["--config", self.conf, "-q"]
        self.assertEqual(calls[0], {"argv": conf + ["-f", "-"], "stdin": GUIDE_FLOW_TEXT})
        self.assertEqual(calls[1]["argv"], conf + ["-c", "start Order_SingleView_Sync"])
        self.assertEqual([c["argv"] for c in calls[2:]],
                         [conf + ["-c", "status Order_SingleView_Sync"]] * 2)

    def test_error_state_ends_the_loop(self):
        r = self.run_program("snapshot,error")
        self.assertEqual(r.stdout.splitlines()[-1],
                         "Task failed to start. Please check the configuration or logs.")


class Init(FakeTapCase):
    def test_missing_config_is_one_line(self):
        os.environ["TAPFLOW_CONFIG"] = os.path.join(self.tmp.name, "nope.conf")
        with self.assertRaises(SystemExit) as cm:
            init()
        msg = str(cm.exception.code)
        self.assertIn("no config file at", msg)
        self.assertIn("nope.conf", msg)
        self.assertNotIn("\n", msg)

    def test_missing_tap_is_one_line(self):
        os.environ["TAPFLOW_TAP"] = os.path.join(self.tmp.name, "no-tap")
        with self.assertRaises(SystemExit) as cm:
            init()
        msg = str(cm.exception.code)
        self.assertIn("tap binary was not found", msg)
        self.assertIn("TAPFLOW_TAP", msg)
        self.assertNotIn("\n", msg)

    def test_program_exits_with_the_line(self):
        env = dict(os.environ, PYTHONPATH=PYROOT, TAPFLOW_CONFIG="/nonexistent/tapflow.conf")
        r = subprocess.run([sys.executable, GUIDE_PROGRAM], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("tapflow: no config file at /nonexistent/"), r.stderr)

    def test_tap_on_path(self):
        os.environ.pop("TAPFLOW_TAP")
        bindir = os.path.join(self.tmp.name, "bin")
        os.mkdir(bindir)
        os.symlink(FAKE_TAP, os.path.join(bindir, "tap"))
        saved = os.environ["PATH"]
        os.environ["PATH"] = bindir + os.pathsep + saved
        try:
            self.assertEqual(init().tap, os.path.join(bindir, "tap"))
        finally:
            os.environ["PATH"] = saved

    def test_explicit_arguments(self):
        s = init(config=self.conf, tap=FAKE_TAP)
        self.assertEqual((s.config, s.tap), (self.conf, FAKE_TAP))


class Definition(FakeTapCase):
    def test_chained_calls_print_in_order(self):
        f, out = self.quiet(lambda: Flow("X").read_from("DS.t").lookup(
            "DS.c", path="c", type="object", relation=[("cid", "id")]).write_to("M.coll"))
        self.assertIsInstance(f, Flow)
        self.assertEqual(out.splitlines(), [
            "Flow updated: source added", "Flow updated: source added",
            "Flow updated: new table c added as child table", "Flow updated: sink added"])

    def test_flow_text(self):
        f, _ = self.quiet(guide_flow)
        self.assertEqual(f.text(), GUIDE_FLOW_TEXT)

    def assertRejected(self, make, *fragments):
        """make() must raise FlowError containing the fragments and print nothing."""
        result, out = self.quiet(make)
        self.assertIsInstance(result, FlowError, "no FlowError, got %r" % (result,))
        self.assertIsInstance(result, ValueError)
        for fragment in fragments:
            self.assertIn(fragment, str(result))
        # Only the lines of the calls before the bad one.
        self.assertNotIn("sink added", out)

    def base(self):
        f, _ = self.quiet(lambda: Flow("F").read_from("DS.orders"))
        return f

    def test_bad_flow_names(self):
        self.assertRejected(lambda: Flow(42), "must be a string", "int")
        self.assertRejected(lambda: Flow(""), "flow name ''")
        self.assertRejected(lambda: Flow("my flow"), "flow name 'my flow'")
        self.assertRejected(lambda: Flow('a"b'), "flow name")
        self.assertRejected(lambda: Flow(".hidden"), "not starting with '.'")
        self.assertRejected(lambda: Flow("x" * 101), "at most 100")
        self.assertEqual(Flow("Order.v2-test_1").name, "Order.v2-test_1")

    def test_bad_sources(self):
        self.assertRejected(lambda: Flow("F").read_from("orders"),
                            'expected "Datasource.table", found "orders"')
        self.assertRejected(lambda: Flow("F").read_from(".orders"), "expected \"Datasource.table\"")
        self.assertRejected(lambda: Flow("F").read_from("DS."), "expected \"Datasource.table\"")
        self.assertRejected(lambda: Flow("F").read_from(["DS.t"]), "must be a string", "list")
        self.assertRejected(lambda: Flow("F").read_from('DS.t"x'), "quotes")
        self.assertRejected(lambda: Flow("F").read_from("D S.t"), "datasource name 'D S'")
        self.assertRejected(lambda: self.base().read_from("DS.other"), "read_from given twice")
        self.assertRejected(lambda: Flow("F").write_to("coll"),
                            'expected "Datasource.collection", found "coll"')

    def test_write_to_twice(self):
        f = self.base()
        self.quiet(f.write_to, "M.a")
        self.assertRejected(lambda: f.write_to("M.b"), "write_to given twice")

    def test_bad_lookup_arguments(self):
        rel = [["customer_id", "customer_id"]]
        lk = lambda **kw: self.base().lookup(kw.pop("source", "DS.c"), **kw)  # noqa: E731
        self.assertRejected(lambda: Flow("F").lookup("DS.c", path="c", type="object", relation=rel),
                            "lookup before read_from")
        self.assertRejected(lambda: lk(type="object", relation=rel), 'needs path="customer_info"')
        self.assertRejected(lambda: lk(path="c", relation=rel), 'needs type="object"')
        self.assertRejected(lambda: lk(path="c", type="list", relation=rel),
                            'type must be "object" or "array", found "list"')
        self.assertRejected(lambda: lk(path="c", type=1, relation=rel), "must be a string")
        self.assertRejected(lambda: lk(path="c", type="object"), "needs relation=")
        self.assertRejected(lambda: lk(source="Other.c", path="c", type="object", relation=rel),
                            "a flow reads one source, and read_from reads DS")
        for path, why in (("", "the path is empty"), ("a..b", "empty field name"),
                          (".a", "empty field name"), ("$a", "starts with '$'"),
                          ("_id", "under _id")):
            self.assertRejected(lambda: lk(path=path, type="object", relation=rel), why)

    def test_operators_text(self):
        def make():
            f = Flow("F").read_from("DS.orders").filter("status != 'canceled' AND note LIKE '\\\\%'")
            f.include("order_id", "status").exclude("note").rename_fields({"status": "state"})
            f.lookup("DS.c", path="c", type="object", relation=[["cid", "id"]],
                     filter='city = "x"', fields=["city"], rename={"city": "town"})
            return f.write_to("M.coll")
        f, out = self.quiet(make)
        self.assertEqual(out.splitlines()[1:5], [
            "Flow updated: filter added", "Flow updated: fields included",
            "Flow updated: fields excluded", "Flow updated: fields renamed"])
        self.assertEqual(f.text().splitlines()[2:7], [
            'flow.filter("status != \'canceled\' AND note LIKE \'\\\\\\\\%\'")',
            'flow.include("order_id", "status")',
            'flow.exclude("note")',
            'flow.rename_fields({"status": "state"})',
            'flow.lookup("DS.c", path="c", type="object", relation=[["cid", "id"]], '
            'filter="city = \\"x\\"", fields=["city"], rename={"city": "town"})'])

    def test_add_fields(self):
        f, out = self.quiet(lambda: Flow("F").read_from("DS.orders").add_fields(
            [["total", "Double", "price + freight"], ("tag", "String", "CONCAT(a, '\"')")]).write_to(
                "M.c"))
        self.assertEqual(out.splitlines()[-2], "Flow updated: fields added")
        self.assertIn('flow.add_fields([["total", "Double", "price + freight"], '
                      '["tag", "String", "CONCAT(a, \'\\"\')"]])', f.text())
        self.assertRejected(lambda: self.base().add_fields([]), "add_fields takes a list")
        self.assertRejected(lambda: self.base().add_fields([["a", "Int"]]), "three strings")
        self.assertRejected(lambda: self.base().add_fields([["a", "Money", "1"]]),
                            'unknown type "Money"')
        self.assertRejected(lambda: self.base().add_fields([["a.b", "Int", "1"]]),
                            "'a.b' is not a column name")
        self.assertRejected(lambda: self.base().add_fields([["a", "Int", " "]]),
                            'the expression of add_fields "a" must be a condition')

    def test_bad_operator_arguments(self):
        self.assertRejected(lambda: Flow("F").filter("a = 1"), "filter before read_from")
        self.assertRejected(lambda: self.base().filter(""), "filter must be a condition")
        self.assertRejected(lambda: self.base().filter(3), "filter must be a condition")
        f = self.base()
        self.quiet(f.filter, "a = 1")
        self.assertRejected(lambda: f.filter("b = 2"), "a second filter")
        self.assertRejected(lambda: self.base().include(), "include takes column names")
        self.assertRejected(lambda: self.base().exclude("a", "a"), "names a column twice")
        self.assertRejected(lambda: self.base().include("a.b"), "'a.b' is not a column name")
        self.assertRejected(lambda: self.base().rename_fields(["a"]), "takes a dict")
        self.assertRejected(lambda: self.base().rename_fields({"a": "$b"}), "new name '$b'")
        self.assertRejected(lambda: self.base().rename_fields({"a": "x", "b": "x"}),
                            "renames two columns to one name")
        self.assertRejected(lambda: self.base().filter("a = '\x01'"), "control character")
        rel = [["customer_id", "customer_id"]]
        self.assertRejected(lambda: self.base().lookup("DS.c", path="c", type="object",
                                                       relation=rel, fields="city"),
                            "fields of lookup DS.c takes column names")

    def test_malformed_relations(self):
        lk = lambda relation, path="c": self.base().lookup(  # noqa: E731
            "DS.c", path=path, type="object", relation=relation)
        self.assertRejected(lambda: lk([]), "relation must be a non-empty list")
        self.assertRejected(lambda: lk("customer_id"), "relation must be a non-empty list")
        self.assertRejected(lambda: lk(["customer_id", "customer_id"]),
                            'each relation pair must be ["parent_field", "child_column"]')
        self.assertRejected(lambda: lk([["a", "b", "c"]]), "each relation pair")
        self.assertRejected(lambda: lk([["a", 1]]), "each relation pair")
        self.assertRejected(lambda: lk([["", "b"]]), "empty field name")
        self.assertRejected(lambda: lk([["x.a", "b"]]),
                            'relation parent field "x.a" of path "c" must be a column of the root')
        self.assertRejected(lambda: lk([["a", "b.c"]]), 'relation child column "b.c"')
        self.assertRejected(lambda: lk([["a", "b"], ["c", "b"]]),
                            'relation names child column "b" twice')
        self.assertRejected(lambda: lk([["other.pid", "pid"]], path="items.product"),
                            'must be a column of the parent lookup, written "items.<column>"')
        self.assertRejected(lambda: lk([["pid", "pid"]], path="items.product"),
                            "parent lookup")
        self.assertRejected(lambda: lk([["items.a.b", "pid"]], path="items.product"),
                            "parent lookup")

    def test_duplicate_path(self):
        f = self.base()
        self.quiet(f.lookup, "DS.c", path="c", type="object", relation=[["a", "b"]])
        self.assertRejected(lambda: f.lookup("DS.d", path="c", type="object",
                                             relation=[["a", "b"]]), 'duplicate path "c"')

    def test_incomplete_flow_is_not_saved(self):
        self.assertRejected(lambda: Flow("F").save(), "has no read_from")
        self.assertRejected(lambda: self.base().save(), "has no write_to")
        f = self.base()
        self.quiet(f.lookup, "DS.p", path="items.product", type="object",
                   relation=[["items.pid", "pid"]])
        self.quiet(f.write_to, "M.c")
        self.assertRejected(f.save, 'unknown lookup parent path "items"')
        self.assertEqual(self.calls(), [])


class Running(FakeTapCase):
    def test_start_saves_unsaved_changes_first(self):
        f, _ = self.quiet(guide_flow)
        self.quiet(f.start)
        argvs = [c["argv"][3:] for c in self.calls()]
        self.assertEqual(argvs, [["-f", "-"], ["-c", "start Order_SingleView_Sync"]])
        self.quiet(f.start)  # saved already: start only
        self.assertEqual(self.calls()[-1]["argv"][3:], ["-c", "start Order_SingleView_Sync"])
        self.assertEqual(len(self.calls()), 3)

    def test_start_stop_of_a_saved_flow_by_name(self):
        _, out = self.quiet(lambda: Flow("Saved").start().stop())
        self.assertEqual(out, "")
        self.assertEqual([c["argv"][3:] for c in self.calls()],
                         [["-c", "start Saved"], ["-c", "stop Saved"]])

    def test_status_words_and_figures(self):
        os.environ["FAKE_TAP_STATES"] = "snapshot,running,stopped"
        f = Flow("S")
        self.assertEqual([f.status(), f.status(), f.status()], ["snapshot", "running", "stopped"])
        self.assertEqual(f.last_status, {"state": "stopped", "qps": 12.5, "total_rows": 300,
                                         "delay_ms": 40})

    def test_tap_failure_raises_its_line(self):
        os.environ["FAKE_TAP_FAIL"] = "datasource MySQL_ECommerce is not defined"
        f, _ = self.quiet(guide_flow)
        result, out = self.quiet(f.save)
        self.assertIsInstance(result, TapflowError)
        self.assertEqual(str(result), "tap: datasource MySQL_ECommerce is not defined")
        self.assertEqual(out, "")
        result, _ = self.quiet(f.status)
        self.assertIsInstance(result, TapflowError)


class Watching(FakeTapCase):
    def test_stats_is_the_json_of_stats(self):
        st = Flow("S").stats()
        self.assertEqual(self.calls()[-1]["argv"][3:], ["-c", "stats S --json"])
        self.assertEqual(st["state"], "running")
        self.assertEqual(st["position"], "0-1-9")
        self.assertEqual(st["input"]["ecom_orders"], {"insert": 2, "update": 1, "delete": 0})
        self.assertEqual(st["output"]["orderSingleView"]["update"], 2)
        self.assertIsNone(st["snapshot"]["ended_ms"])
        self.assertEqual(st["qps"]["max"], 9.0)
        self.assertEqual(st["lag_ms"], 12)

    def test_stats_of_a_flow_not_running_raises(self):
        os.environ["FAKE_TAP_FAIL"] = "flow S is not running (start S runs it)"
        result, _ = self.quiet(Flow("S").stats)
        self.assertIsInstance(result, TapflowError)
        self.assertEqual(str(result), "tap: flow S is not running (start S runs it)")

    def test_stats_not_json_raises(self):
        os.environ["FAKE_TAP_STATS"] = "job current status is: running"
        result, _ = self.quiet(Flow("S").stats)
        self.assertIsInstance(result, TapflowError)
        self.assertIn("unexpected answer", str(result))

    def test_logs_lines_and_options(self):
        lines = Flow("S").logs()
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[2].endswith("tapflow-replica: error: planted"))
        Flow("S").logs(limit=5, level="ERROR")
        self.assertEqual([c["argv"][3:] for c in self.calls()],
                         [["-c", "logs S --limit 50"], ["-c", "logs S --limit 5 --level error"]])

    def test_logs_bad_arguments(self):
        for kw, why in (({"limit": 0}, "limit must be a number from 1 to 1000000"),
                        ({"limit": "5"}, "limit must be"), ({"limit": True}, "limit must be"),
                        ({"level": "debug"}, 'level must be "error", "warn" or "info"')):
            result, _ = self.quiet(Flow("S").logs, **kw)
            self.assertIsInstance(result, FlowError)
            self.assertIn(why, str(result))
        self.assertEqual(self.calls(), [])

    def test_logs_follow_iterates_until_closed(self):
        with Flow("S").logs(limit=3, level="warn", follow=True) as lines:
            got = [next(lines) for _ in range(5)]
        self.assertTrue(got[0].endswith("snapshot done"))
        self.assertEqual(got[3:], ["new line 1", "new line 2"])
        calls = self.calls()
        self.assertEqual(calls[0]["argv"][3:], ["-c", "logs S --limit 3 --level warn --follow"])
        self.assertEqual(calls[-1], {"interrupted": True})  # SIGINT, as Ctrl-C
        self.assertEqual(list(lines), [])

    def test_logs_follow_failure_raises(self):
        os.environ["FAKE_TAP_FAIL"] = "flow S has no log"
        lines = Flow("S").logs(follow=True)
        with self.assertRaises(TapflowError) as cm:
            next(lines)
        self.assertEqual(str(cm.exception), "tap: flow S has no log")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""observe.py — watching a flow: /status's "stats", /metrics, /history and the page.

One daemon runs the guide's flow (tests/vectors/flows/guide_order_single_view.tap)
against the real servers (tools/servers.sh env), and the test reads its
status listener while it writes rows:

  - /status "stats": the schema `tap stats` and flow.stats() read (started_ms,
    snapshot start/end/rows, input per table and op, output per collection and
    op, qps current/average/max/last_5m, lag_ms), with the snapshot's rows as
    inserts, and every input and output counter moving by exactly what the
    guide's Step 2 and a delete did;
  - lag_ms and tapflow_replication_delay_seconds 0 once the source is idle
    (heartbeats), not the last change's delay frozen;
  - /metrics: `promtool check metrics` (Debian's prometheus package) passes,
    every family the README lists is there with HELP and TYPE, and its
    counters equal /status's and move as rows are written; the histograms'
    _count grow with writes and checkpoints;
  - /history: one sample every 5 s, with the qps of a steady writer;
  - /: the page rendered by headless Chromium (Debian's chromium package):
    --dump-dom shows the flow, its state and the same numbers as /status;
    a screenshot is taken (kept as docs/status-page.png when
    TAPFLOW_SAVE_SCREENSHOT=1).

Stdlib only. Prints "N passed, N failed"; exit status 1 on any failure.
Env: TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI, TAPFLOW_REPLICA_BIN / TAPFLOW_BUILD_DIR,
TAPFLOW_CHROMIUM (default chromium), TAPFLOW_PROMTOOL (default promtool).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402

BIN = lib.REPLICA_BIN
DB = lib.unique_name("tf_observe")
PORT = 20000 + os.getpid() % 1000
FLOW = "Order_SingleView_Sync"
COLLECTION = "orderSingleView"
TABLES = ["ecom_orders", "ecom_customers", "ecom_order_payments", "ecom_order_items",
          "ecom_products", "ecom_sellers"]
CHROMIUM = os.environ.get("TAPFLOW_CHROMIUM") or shutil.which("chromium") or "chromium"
PROMTOOL = os.environ.get("TAPFLOW_PROMTOOL") or shutil.which("promtool") or "promtool"

check = lib.Checks(clip=lambda s: s[-1500:])


def get(path, timeout=5):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (PORT, path), timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def status():
    return json.loads(get("/status")[2])


def wait_until(pred, timeout=15, poll_s=0.1):
    """pred()'s last value once truthy or timeout seconds passed."""
    end = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > end:
            return v
        time.sleep(poll_s)


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} of the exposition's samples."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        if not m:
            raise ValueError("not a sample line: %r" % line)
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def metric(samples, name, **labels):
    labels.setdefault("flow", FLOW)
    return samples.get((name, frozenset(labels.items())))


def counts(d):
    return {k: (v["insert"], v["update"], v["delete"]) for k, v in d.items()}


def check_schema(st):
    s = st.get("stats")
    ok = (isinstance(s, dict) and
          set(s) == {"started_ms", "snapshot", "input", "output", "qps", "lag_ms"} and
          set(s["snapshot"]) == {"started_ms", "ended_ms", "rows"} and
          set(s["qps"]) == {"current", "average", "max", "last_5m"} and
          all(set(v) == {"insert", "update", "delete"}
              for v in list(s["input"].values()) + list(s["output"].values())))
    check(ok, "/status has the \"stats\" object with the agreed fields", json.dumps(s))
    return ok


class Writer(threading.Thread):
    """Inserts one order a transaction, every `every` seconds, until stopped."""

    def __init__(self, every=0.05, prefix="W"):
        super().__init__(daemon=True)
        self.every = every
        self.prefix = prefix
        self.stop = threading.Event()
        self.rows = 0

    def run(self):
        cmd = lib.mariadb_cmd("-N", "-B", DB)
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, text=True, env=lib.mariadb_env(),
                             stdout=subprocess.DEVNULL)
        i = 0
        while not self.stop.is_set():
            i += 1
            p.stdin.write("INSERT INTO ecom_orders (order_id, customer_id, order_status) "
                          "VALUES ('%s%06d', 'C0001', 'created');\n" % (self.prefix, i))
            p.stdin.flush()
            self.rows += 1
            time.sleep(self.every)
        p.stdin.close()
        p.wait(timeout=30)


def chromium(args, timeout=60):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", "--hide-scrollbars",
                           "--virtual-time-budget=3000"] + args,
                          capture_output=True, text=True, timeout=timeout)


def page_checks(tmp):
    if not shutil.which(CHROMIUM):
        check(False, "chromium installed (tools/setup.sh installs Debian's chromium)", CHROMIUM)
        return
    url = "http://127.0.0.1:%d/" % PORT
    before = status()
    r = chromium(["--dump-dom", url])
    st = status()
    dom = r.stdout

    def shown(key):
        m = re.search(r'id="%s"[^>]*>([^<]*)<' % key, dom)
        return m.group(1).strip() if m else None

    def seq(position):
        m = re.fullmatch(r"\d+-\d+-(\d+)", position or "")
        return int(m.group(1)) if m else None

    check(r.returncode == 0 and "<svg" in dom and shown("flow") == FLOW,
          "the page renders in headless Chromium with its charts", (r.stderr + dom)[-800:])
    check(shown("state") == st["status"], "the page shows the flow's state",
          "%r vs %r" % (shown("state"), st["status"]))
    # the position moves with any transaction of the server (other tests'
    # databases too): the page's lies between the one before and after
    p, p0, p1 = shown("position"), before["position"], st["position"]
    check(p in (p0, p1) or (seq(p) is not None and seq(p0) is not None and
                            seq(p0) <= seq(p) <= seq(p1)),
          "the page shows the position", "%r, /status %r .. %r" % (p, p0, p1))
    total_in = sum(sum(v) for v in counts(st["stats"]["input"]).values())
    total_out = sum(counts(st["stats"]["output"])[COLLECTION])
    check(shown("rows") == "{:,}".format(st["total_rows"]) and
          shown("in") == "{:,}".format(total_in) and shown("out") == "{:,}".format(total_out),
          "the page's counters equal /status's (total rows, rows in, documents out)",
          "page %r %r %r, status %r %r %r" % (shown("rows"), shown("in"), shown("out"),
                                              st["total_rows"], total_in, total_out))
    # 0 on a quiet server; a busy one (other databases) moves it by a few ms
    lag = shown("lag") or ""
    m = re.fullmatch(r"([\d,]+) ms", lag)
    lo, hi = sorted((before["delay_ms"], st["delay_ms"]))
    check(m is not None and lo - 500 <= int(m.group(1).replace(",", "")) <= hi + 500,
          "the page's delay equals /status's", "%r vs %r .. %r" % (lag, lo, hi))
    table_row = re.search(r'<tr[^>]*data-table="ecom_orders"[^>]*>(.*?)</tr>', dom, re.S)
    want = counts(st["stats"]["input"])["ecom_orders"]
    got = tuple(int(x.replace(",", "")) for x in re.findall(r"<td[^>]*>([\d,]+)</td>",
                                                            table_row.group(1))) \
        if table_row else None
    check(got == want, "the page's per-table counters equal /status's (ecom_orders)",
          "%r vs %r" % (got, want))
    png = os.path.join(tmp, "status-page.png")
    r = chromium(["--screenshot=" + png, "--window-size=1100,1300", url])
    size = os.path.getsize(png) if os.path.exists(png) else 0
    check(r.returncode == 0 and size > 10000, "a screenshot of the page (%d bytes)" % size,
          r.stderr[-500:])
    phone = os.path.join(tmp, "status-page-phone.png")
    r = chromium(["--screenshot=" + phone, "--window-size=390,844", url])
    check(r.returncode == 0 and os.path.exists(phone), "a screenshot at a phone's width",
          r.stderr[-500:])
    if os.environ.get("TAPFLOW_SAVE_SCREENSHOT") == "1" and size:
        shutil.copy(png, os.path.join(lib.ROOT, "docs", "status-page.png"))
        print("saved docs/status-page.png")


def main():
    if not os.path.exists(BIN):
        print("tapflow-replica not built at %s (set TAPFLOW_REPLICA_BIN)" % BIN)
        print("0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="tf_observe_")
    lib.sql("", "CREATE DATABASE %s" % DB)
    daemon = None
    try:
        lib.sql(DB, lib.GUIDE_SCHEMA)
        conf = os.path.join(tmp, "tapflow.conf")
        lib.write_config(conf, DB, 7300 + os.getpid() % 90,
                         extra="status_listen = 127.0.0.1:%d\n" % PORT)
        t_start = int(time.time() * 1000)
        logf = open(os.path.join(tmp, "daemon.log"), "w")
        daemon = subprocess.Popen([BIN, "--flow", lib.GUIDE_FLOW, "--config", conf],
                                  stdout=logf, stderr=logf, env=lib.mariadb_env())

        def log():
            with open(os.path.join(tmp, "daemon.log")) as f:
                return f.read()

        if not check(lib.wait_log(log, daemon, "streaming from GTID position"),
                     "snapshot done, streaming", log()[-800:]):
            return check.summary()

        # ---- /status after the snapshot ----
        st = wait_until(lambda: (lambda x: x if x["status"] == "running" else None)(status()),
                        timeout=5) or status()
        if not check_schema(st):
            return check.summary()
        s = st["stats"]
        check(abs(s["started_ms"] - t_start) < 5000, "started_ms is when the daemon started",
              "%d vs %d" % (s["started_ms"], t_start))
        snap = s["snapshot"]
        check(snap["started_ms"] and snap["ended_ms"] and
              s["started_ms"] <= snap["started_ms"] <= snap["ended_ms"] <= time.time() * 1000 and
              snap["rows"] == 6, "snapshot: start <= end, 6 rows read", json.dumps(snap))
        check(counts(s["input"]) == {t: (1, 0, 0) for t in TABLES},
              "input: the snapshot's row of each of the six tables as an insert",
              json.dumps(s["input"]))
        check(counts(s["output"]) == {COLLECTION: (1, 0, 0)},
              "output: the snapshot's document as an insert", json.dumps(s["output"]))

        # ---- /metrics before and after rows are written ----
        code, ctype, text = get("/metrics")
        check(code == 200 and ctype.startswith("text/plain") and "version=0.0.4" in ctype,
              "/metrics answers text/plain; version=0.0.4", ctype)
        before = parse_metrics(text)
        families = ["tapflow_info", "tapflow_source_rows_total", "tapflow_documents_written_total",
                    "tapflow_target_write_seconds", "tapflow_replication_delay_seconds",
                    "tapflow_checkpoint_age_seconds", "tapflow_checkpoint_duration_seconds",
                    "tapflow_view_state_bytes", "tapflow_view_state_rows",
                    "tapflow_resync_rows_read_total", "tapflow_resync_queued",
                    "tapflow_source_reconnects_total", "tapflow_target_retries_total",
                    "tapflow_errors_total", "tapflow_flow_state",
                    "tapflow_target_write_cost_seconds", "tapflow_write_plan_total"]
        missing = [f for f in families
                   if "# HELP %s " % f not in text or "# TYPE %s " % f not in text]
        check(not missing, "/metrics has HELP and TYPE of every family", missing)
        check(metric(before, "tapflow_info", version=metric_version(text)) == 1,
              "tapflow_info{flow,version} is 1")
        check(metric(before, "tapflow_flow_state", state="running") == 1 and
              metric(before, "tapflow_flow_state", state="snapshot") == 0,
              "tapflow_flow_state: running")
        check(metric(before, "tapflow_view_state_rows") == 6 and
              (metric(before, "tapflow_view_state_bytes") or 0) > 0,
              "view state: 6 rows, some bytes")
        promtool(text, "after the snapshot")

        # The guide's Step 2 (6 inserts, 3 updates) and a delete: every
        # counter moves by exactly that.
        for stmt in lib.STEP2:
            lib.sql(DB, stmt)
        lib.sql(DB, "DELETE FROM ecom_order_payments WHERE order_id='O0001'")
        want_in = {t: (1, 0, 0) for t in TABLES}
        for t in TABLES:
            want_in[t] = (2, 0, 0)
        want_in["ecom_orders"] = (2, 1, 0)
        want_in["ecom_order_payments"] = (2, 1, 1)
        want_in["ecom_order_items"] = (2, 1, 0)
        st = wait_until(lambda: (lambda x: x if counts(x["stats"]["input"]) == want_in else None)(
            status()), timeout=15)
        check(st is not None, "input counts every row change by table and op",
              json.dumps(status()["stats"]["input"]))
        # documents: the new order's document is written (insert) and then
        # changed (updates); how many writes depends on batching, but each is
        # counted once, by kind, and every one acknowledged.
        st = wait_until(lambda: (lambda x: x if x["stats"]["lag_ms"] == 0 and
                                 sum(counts(x["stats"]["output"])[COLLECTION]) == x["documents"]
                                 else None)(status()), timeout=15)
        out = counts((st or status())["stats"]["output"])[COLLECTION]
        check(st is not None and out[0] == 2 and out[1] >= 1 and out[2] == 0,
              "output: the new order's document inserted (upsert of a new document), then "
              "updated; the sum equals \"documents\"",
              json.dumps((st or status())["stats"]))
        after = parse_metrics(get("/metrics")[2])
        st = status()
        moved = all(metric(after, "tapflow_source_rows_total", table=t, op=op) == st["stats"]["input"][t][op]
                    for t in TABLES for op in ("insert", "update", "delete"))
        check(moved, "tapflow_source_rows_total equals /status's input for every table and op")
        check(metric(after, "tapflow_source_rows_total", table="ecom_orders", op="update") == 1 and
              metric(before, "tapflow_source_rows_total", table="ecom_orders", op="update") == 0,
              "tapflow_source_rows_total{table=ecom_orders,op=update} moved 0 -> 1")
        check(all(metric(after, "tapflow_documents_written_total", collection=COLLECTION, op=op) ==
                  st["stats"]["output"][COLLECTION][op] for op in ("insert", "update", "delete"))
              and metric(after, "tapflow_documents_written_total", collection=COLLECTION,
                         op="insert") == 2,
              "tapflow_documents_written_total equals /status's output and moved 1 -> 2 inserts")
        wc0 = metric(before, "tapflow_target_write_seconds_count")
        wc1 = metric(after, "tapflow_target_write_seconds_count")
        check(wc1 > wc0 and metric(after, "tapflow_target_write_seconds_bucket", le="+Inf") == wc1
              and metric(after, "tapflow_target_write_seconds_sum") > 0,
              "tapflow_target_write_seconds counts the bulk writes (%s -> %s)" % (wc0, wc1))
        cc = metric(after, "tapflow_checkpoint_duration_seconds_count")
        check(cc and cc > (metric(before, "tapflow_checkpoint_duration_seconds_count") or 0),
              "tapflow_checkpoint_duration_seconds counts checkpoints (%s)" % cc)
        age = metric(after, "tapflow_checkpoint_age_seconds")
        check(age is not None and 0 <= age < 5, "tapflow_checkpoint_age_seconds is recent (%s)" % age)
        # The target's write costs, probed at start: what every flush
        # plans with (update_many is 0 on a target without arrayFilters).
        costs = {k: metric(after, "tapflow_target_write_cost_seconds", shape=k)
                 for k in ("replace", "update", "insert", "update_many", "replace_per_kb",
                           "update_per_kb", "insert_per_kb")}
        check(all((costs[k] or 0) > 0 for k in ("replace", "update", "insert")) and
              all(costs[k] is not None and costs[k] >= 0
                  for k in ("update_many", "replace_per_kb", "update_per_kb", "insert_per_kb")) and
              "target write costs (probed): replace" in log(),
              "tapflow_target_write_cost_seconds: replace, update, insert probed, logged at start",
              costs)
        check(metric(after, "tapflow_write_plan_total", choice="replace_for_update") is not None,
              "tapflow_write_plan_total{choice} present")
        promtool(get("/metrics")[2], "after writes")

        # ---- idle: delay 0, not frozen ----
        time.sleep(3)
        st = wait_until(lambda: (lambda x: x if x["stats"]["lag_ms"] == 0 else None)(status()),
                        timeout=6)
        check(st is not None and st["delay_ms"] == 0,
              "lag_ms is 0 with an idle source (heartbeats)", json.dumps(status()["stats"]))
        idle = parse_metrics(get("/metrics")[2])
        check(metric(idle, "tapflow_replication_delay_seconds") == 0,
              "tapflow_replication_delay_seconds is 0 while idle")

        # ---- a steady writer: qps and the history ----
        h0 = json.loads(get("/history")[2])
        writer = Writer()
        writer.start()
        time.sleep(11)
        mid = status()
        writer.stop.set()
        writer.join()
        q = mid["stats"]["qps"]
        check(q["current"] > 2 and q["max"] >= q["current"] and q["average"] > 0 and
              q["last_5m"] > 0, "qps while writing: current, max, average, last_5m", json.dumps(q))
        h = json.loads(get("/history")[2])
        samples = h.get("samples", [])
        check(h.get("interval_ms") == 5000 and len(samples) >= len(h0["samples"]) + 2 and
              all(set(x) == {"t", "qps", "delay_ms", "rows"} for x in samples) and
              any(x["qps"] > 2 for x in samples) and
              all(a["t"] < b["t"] for a, b in zip(samples, samples[1:])),
              "/history: a sample every 5 s, the writer's qps in them", json.dumps(h)[-600:])
        st = wait_until(lambda: (lambda x: x if x["stats"]["input"]["ecom_orders"]["insert"] ==
                                 2 + writer.rows and x["stats"]["lag_ms"] == 0 else None)(status()),
                        timeout=15)
        check(st is not None, "every written row counted (%d)" % writer.rows,
              json.dumps(status()["stats"]["input"]["ecom_orders"]))
        promtool(get("/metrics")[2], "after the writer")

        # ---- a re-sync (ALTER TABLE on a flow table) in the metrics ----
        r0 = parse_metrics(get("/metrics")[2])
        lib.sql(DB, "ALTER TABLE ecom_sellers ADD COLUMN note VARCHAR(16)")
        st = wait_until(lambda: (lambda x: x if x["resync"]["completed"] >= 1 and
                                 x["resync"]["queued"] == 0 else None)(status()), timeout=20)
        r1 = parse_metrics(get("/metrics")[2])
        check(st is not None and
              metric(r0, "tapflow_resync_completed_total") == 0 and
              metric(r1, "tapflow_resync_completed_total") == 1 and
              metric(r1, "tapflow_resync_rows_read_total") >=
              metric(r0, "tapflow_resync_rows_read_total") + 2 and
              metric(r1, "tapflow_resync_queued") == 0,
              "an ALTER's re-sync: tapflow_resync_completed_total 0 -> 1, rows read >= 2",
              json.dumps((st or status())["resync"]))

        # ---- the page ----
        code, ctype, html = get("/")
        check(code == 200 and ctype.startswith("text/html") and len(html) < 32768 and
              'name="viewport"' in html and not re.search(r'(src|href)="?(https?:)?//', html),
              "/ is a small self-contained page (%d bytes, no external resource)" % len(html))
        page_checks(tmp)
        try:
            get("/nothing")
            check(False, "an unknown path is a 404")
        except urllib.error.HTTPError as e:
            check(e.code == 404, "an unknown path is a 404", e.code)

        total_before = status()["total_rows"]
        daemon.send_signal(signal.SIGTERM)
        check(daemon.wait(timeout=30) == 0, "SIGTERM: exit 0", log()[-500:])
        daemon = None
        first_log = log()

        # ---- a resumed run: its own counters, the checkpoint's total ----
        logf = open(os.path.join(tmp, "daemon.log"), "w")
        daemon = subprocess.Popen([BIN, "--flow", lib.GUIDE_FLOW, "--config", conf,
                                   "--gtid-resume"], stdout=logf, stderr=logf,
                                  env=lib.mariadb_env())
        check(lib.wait_log(log, daemon, "streaming from GTID position"), "resumed, streaming",
              log()[-800:])
        time.sleep(1.5)  # a qps computation or two
        lib.sql(DB, "UPDATE ecom_sellers SET seller_city='Campinas' WHERE seller_id='S0001'")
        st = wait_until(lambda: (lambda x: x if x["stats"]["input"]["ecom_sellers"]["update"] == 1
                                 else None)(status()), timeout=15)
        s = (st or status())["stats"]
        check(st is not None and s["snapshot"] == {"started_ms": None, "ended_ms": None,
                                                   "rows": 0} and
              sum(sum(v) for v in counts(s["input"]).values()) == 1 and
              st["total_rows"] == total_before + 1 and s["qps"]["max"] < 100,
              "after --gtid-resume: no snapshot, this run's counts only (1 update), total_rows "
              "carried over, no qps spike from it", json.dumps(st or status()))
        m = parse_metrics(get("/metrics")[2])
        check(metric(m, "tapflow_source_rows_total", table="ecom_sellers", op="update") == 1 and
              metric(m, "tapflow_snapshot_rows_total") == 0, "/metrics of the resumed run")
        daemon.send_signal(signal.SIGTERM)
        check(daemon.wait(timeout=30) == 0, "SIGTERM: exit 0 (resumed run)", log()[-500:])
        daemon = None
        bad = [line for line in (first_log + log()).splitlines()
               if re.search(r"ERROR: \w+Sanitizer|runtime error", line)]
        check(not bad, "no sanitizer report in the daemon's log", "\n".join(bad))
    finally:
        if daemon:
            daemon.kill()
            daemon.wait()
        try:
            lib.sql("", "DROP DATABASE IF EXISTS %s" % DB)
            lib.mongo_eval(DB, "db.dropDatabase()", 60)
        except Exception as e:  # noqa: BLE001 — clean-up is best effort
            print("clean-up: %s" % e)
        shutil.rmtree(tmp, ignore_errors=True)
    return check.summary()


def metric_version(text):
    m = re.search(r'tapflow_info\{[^}]*version="([^"]*)"', text)
    return m.group(1) if m else ""


def promtool(text, when):
    if not shutil.which(PROMTOOL):
        check(False, "promtool installed (tools/setup.sh installs Debian's prometheus)", PROMTOOL)
        return
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0, "promtool check metrics passes (%s)" % when,
          (r.stdout + r.stderr)[-800:])


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench.py — the view/sink benchmark of issue 5 item 6, run by hand (not a
test). Prints a table and writes it to --out (default
/work/notes/bench-view.txt when that folder exists).

    python3 tools/bench-view/bench.py [--build DIR] [--orders 99441]
        [--skip-e2e] [--cdc-seconds 20] [--paced-seconds 20]
        [--backend sqlite|postgresql] [--pg-url URL]

  1. datagen: the six Olist-shaped tables into a fresh MariaDB database
     (load time).
  2. (a) bench-view: the view engine alone on the same rows (rows applied,
     then a mixed change stream flushed per transaction, ops discarded).
  3. (b) tapflow-replica's initial build into a MongoDB-wire server of its
     own (FerretDB, started here on a free port under a temp dir), from
     start until "checkpoint written"; beside it bench-mongo's raw ceiling:
     the same final documents bulk-inserted (and bulk-upserted, the way the
     sink writes them) through mongo-c-driver.
  4. (c) sustained CDC: the same mix as (a) written to MariaDB as fast as
     the mariadb CLI can (one connection), end-to-end rate until the daemon
     has applied every row; then paced at --rate changes/s with a delay
     probe every 100 ms (an order whose status is set to the commit time in
     ms; bench-mongo watch sees it in MongoDB). Raw ceiling: bench-mongo
     replacing existing documents whole, as the sink does.

Env: TAPFLOW_MARIADB_* as tools/servers.sh env prints (defaults: the
shared local MariaDB). FerretDB is .local/bin/ferretdb.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLOW = os.path.join(ROOT, "tests", "vectors", "flows", "guide_order_single_view.tap")
ENV = os.environ
MY_HOST = ENV.get("TAPFLOW_MARIADB_HOST", "127.0.0.1")
MY_PORT = ENV.get("TAPFLOW_MARIADB_PORT", "33061")
MY_USER = ENV.get("TAPFLOW_MARIADB_USER", "tapflow")
MY_PASS = ENV.get("TAPFLOW_MARIADB_PASSWORD", "tapflow-test")
MY = ["mariadb", "--no-defaults", "-h", MY_HOST, "-P", MY_PORT, "-u", MY_USER]
MY_ENV = dict(ENV, MYSQL_PWD=MY_PASS)

lines = []


def out(text=""):
    print(text, flush=True)
    lines.append(text)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def kv(text):
    d = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            d[k.strip()] = v.strip()
    return d


def sql(text, db=""):
    r = subprocess.run(MY + ["-N", "-B"] + ([db] if db else []) + ["-e", text],
                       capture_output=True, text=True, env=MY_ENV)
    if r.returncode:
        raise RuntimeError("SQL failed: %s: %s" % (text[:80], r.stderr))
    return r.stdout


def wait_port(port, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Ferret:
    """A FerretDB of our own (sqlite or postgresql backend)."""

    def __init__(self, tmp, backend, pg_url):
        self.port = free_port()
        self.dir = os.path.join(tmp, "ferret")
        os.makedirs(os.path.join(self.dir, "data"))
        cmd = [os.path.join(ROOT, ".local", "bin", "ferretdb"),
               "--listen-addr=127.0.0.1:%d" % self.port, "--state-dir=" + self.dir,
               "--telemetry=disable", "--debug-addr=-", "--log-level=warn"]
        if backend == "postgresql":
            cmd += ["--handler=postgresql", "--postgresql-url=" + pg_url]
        else:
            cmd += ["--handler=sqlite", "--sqlite-url=file:%s/data/" % self.dir]
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        if not wait_port(self.port):
            raise RuntimeError("FerretDB did not start")
        self.uri = "mongodb://127.0.0.1:%d/" % self.port

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class GinIndexer(threading.Thread):
    """Adds GIN indexes on _jsonb->'order_id' to the run's FerretDB tables."""

    def __init__(self, pg_url, schema):
        super().__init__(daemon=True)
        self.pg_url, self.schema, self.done = pg_url, schema, set()
        self.stop = False

    def psql(self, q):
        r = subprocess.run(["psql", self.pg_url, "-Atc", q], capture_output=True, text=True)
        return r.stdout.split()

    def run(self):
        while not self.stop:
            for t in self.psql("select tablename from pg_tables where schemaname='%s' and "
                               "(tablename like 'ordersingleview%%' or tablename like 'raw_%%')"
                               % self.schema):
                if t not in self.done:
                    self.psql('create index if not exists "%s_gin_order_id" on "%s"."%s" '
                              "using gin ((_jsonb->'order_id'))" % (t[:40], self.schema, t))
                    self.done.add(t)
            time.sleep(0.2)


def status(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=5) as r:
            return json.loads(r.read())
    except Exception:  # noqa: BLE001
        return None


# ---- the change workload (the same mix as bench-view's main.c) ----

KINDS = [("new_order", 30), ("status", 35), ("payment", 12), ("customer", 10), ("product", 8),
         ("seller", 5)]
STATUSES = ["approved", "invoiced", "processing", "shipped", "delivered", "canceled"]
CITIES = ["sao paulo", "rio de janeiro", "curitiba", "campinas", "salvador", "recife"]


def read_tsv(folder, table):
    with open(os.path.join(folder, table + ".tsv")) as f:
        return [line.rstrip("\n").split("\t") for line in f]


class Workload:
    def __init__(self, tsv, seed):
        self.rng = random.Random(seed)
        self.orders = [r[0] for r in read_tsv(tsv, "ecom_orders")]
        self.customers = [r[0] for r in read_tsv(tsv, "ecom_customers")]
        self.payments = [(r[0], r[1]) for r in read_tsv(tsv, "ecom_order_payments")]
        self.items = [(r[2], r[3]) for r in read_tsv(tsv, "ecom_order_items")]
        self.products = [r[0] for r in read_tsv(tsv, "ecom_products")]
        self.sellers = [r[0] for r in read_tsv(tsv, "ecom_sellers")]
        self.n = 0
        self.kinds = [k for k, w in KINDS for _ in range(w)]

    def txn(self):
        """One source transaction: (SQL text, row changes)."""
        rng = self.rng
        k = rng.choice(self.kinds)
        if k == "new_order":
            self.n += 1
            oid = "cdc%08d%021d" % (os.getpid() % 10 ** 8, self.n)
            cid = "cdcc%08d%020d" % (os.getpid() % 10 ** 8, self.n)
            s = ["BEGIN;",
                 "INSERT INTO ecom_customers VALUES ('%s','%s','01001','sao paulo','SP');"
                 % (cid, cid),
                 "INSERT INTO ecom_orders VALUES ('%s','%s','created',NOW(),NULL,NULL,NULL,"
                 "DATE_ADD(CURDATE(), INTERVAL 20 DAY));" % (oid, cid)]
            items = 1 + (rng.random() < 0.10) + (rng.random() < 0.03)
            vals = []
            for i in range(1, items + 1):
                p, sel = rng.choice(self.items)
                vals.append("('%s',%d,'%s','%s',NOW(),%.2f,%.2f)" % (
                    oid, i, p, sel, rng.uniform(10, 300), rng.uniform(7, 40)))
            s.append("INSERT INTO ecom_order_items VALUES %s;" % ",".join(vals))
            pays = 1 + (rng.random() < 0.04)
            s.append("INSERT INTO ecom_order_payments VALUES %s;" % ",".join(
                "('%s',%d,'credit_card',%d,%.2f)" % (oid, i, rng.randint(1, 10),
                                                    rng.uniform(20, 400))
                for i in range(1, pays + 1)))
            s.append("COMMIT;")
            self.orders.append(oid)
            return "\n".join(s), 2 + items + pays
        if k == "status":
            return ("UPDATE ecom_orders SET order_status='%s' WHERE order_id='%s';"
                    % (rng.choice(STATUSES), rng.choice(self.orders)), 1)
        if k == "payment":
            o, q = rng.choice(self.payments)
            return ("UPDATE ecom_order_payments SET payment_value=%.2f, payment_installments=%d "
                    "WHERE order_id='%s' AND payment_sequential=%s;"
                    % (rng.uniform(20, 400), rng.randint(1, 10), o, q), 1)
        if k == "customer":
            return ("UPDATE ecom_customers SET customer_city='%s' WHERE customer_id='%s';"
                    % (rng.choice(CITIES), rng.choice(self.customers)), 1)
        if k == "product":
            return ("UPDATE ecom_products SET product_weight_g=%d WHERE product_id='%s';"
                    % (rng.randint(100, 5100), rng.choice(self.products)), 1)
        return ("UPDATE ecom_sellers SET seller_city='%s' WHERE seller_id='%s';"
                % (rng.choice(CITIES), rng.choice(self.sellers)), 1)


def wait_rows(port, want, timeout, settle=3.0):
    """Until the daemon's total_rows reaches want, or stops growing for
    settle seconds (an UPDATE that sets the values a row already has writes
    no row event, so want can be a little high): returns the time it
    reached want or last grew, or None."""
    end = time.time() + timeout
    last, last_at = -1, time.time()
    while time.time() < end:
        st = status(port)
        rows = st.get("total_rows", 0) if st else last
        if rows >= want:
            return time.time()
        if rows != last:
            last, last_at = rows, time.time()
        elif time.time() - last_at >= settle:
            return last_at
        time.sleep(0.02)
    return None


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    # SIGTERM (timeout, kill) still runs the clean-up and writes the table so far.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--orders", type=int, default=99441)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--changes", type=int, default=1000000, help="bench-view change stream")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--e2e-orders", type=int, default=0,
                    help="orders for (b) and (c) (default --orders): FerretDB needs fewer")
    ap.add_argument("--paced-wait", type=float, default=300,
                    help="seconds to wait for the paced run's backlog")
    ap.add_argument("--cdc-txns", type=int, default=30000)
    ap.add_argument("--rate", type=int, default=3500)
    ap.add_argument("--paced-seconds", type=float, default=20)
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-url", default="")
    ap.add_argument("--pg-gin", action="store_true",
                    help="postgresql backend: give every FerretDB table of the run a GIN index "
                         "on _jsonb->'order_id' as soon as it exists (FerretDB 1.24 pushes "
                         "{order_id: x} down as _jsonb->'order_id' @> '\"x\"', which its own "
                         "btree index cannot serve: every update is a full scan without it)")
    ap.add_argument("--checkpoint-interval-ms", type=int, default=0,
                    help="daemon's checkpoint_interval_ms (0: its default)")
    ap.add_argument("--out", default="/work/notes/bench-view.txt"
                    if os.path.isdir("/work/notes") else "")
    a = ap.parse_args()
    bv = os.path.join(a.build, "tools", "bench-view", "bench-view")
    bm = os.path.join(a.build, "tools", "bench-view", "bench-mongo")
    replica = os.path.join(a.build, "tools", "tapflow-replica", "tapflow-replica")
    for b in (bv, bm, replica):
        if not os.path.exists(b):
            print("missing %s (build with ninja -C %s)" % (b, a.build))
            return 1
    tmp = tempfile.mkdtemp(prefix="tf_bench_")
    db = "tf_bench_%d" % os.getpid()
    tsv = os.path.join(tmp, "tsv")
    ferret = daemon = None
    try:
        out("tapflow view/sink benchmark — %s, %d cores, %s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
            os.uname().nodename))
        r = subprocess.run([os.path.join(ROOT, "tools", "datagen", "datagen"), "--seed",
                            str(a.seed), "--orders", str(a.orders), "--db", db, "--tsv", tsv],
                           capture_output=True, text=True, env=MY_ENV)
        if r.returncode:
            raise RuntimeError("datagen: " + r.stderr)
        print(r.stdout)
        rows_by = {l.split()[0]: int(l.split()[1]) for l in r.stdout.splitlines()
                   if l.startswith("ecom_")}
        load_line = [l for l in r.stdout.splitlines() if l.startswith("loaded")][0]
        total_rows = sum(rows_by.values())
        out("")
        out("data set (tools/datagen/datagen --seed %d --orders %d)" % (a.seed, a.orders))
        out("  " + ", ".join("%s %d" % (k[5:], v) for k, v in rows_by.items()))
        out("  " + load_line)

        # (a) the view engine alone
        r = subprocess.run([bv, "--tsv", tsv, "--flow", FLOW, "--changes", str(a.changes)],
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("bench-view: " + r.stderr)
        v = kv(r.stdout)
        out("")
        out("(a) view engine alone, one core, ops produced and discarded     measured     target")
        out("  snapshot rows applied + every document built    %10.0f rows/s" %
            float(v["load_rows_per_s"]))
        out("  mixed change stream (flush per transaction)     %10.0f changes/s  >= 200000 %s" % (
            float(v["changes_per_s"]), "ok" if float(v["changes_per_s"]) >= 200000 else "MISS"))
        out("    %s changes -> %s document ops (%.2f per change, %.0f ops/s)" % (
            v["changes"], v["ops"], float(v["ops_per_change"]), float(v["ops_per_s"])))
        for k, _ in KINDS:
            f = dict(x.split(":") for x in v["kind_" + k].split())
            out("    %-10s %7s txns %8s changes %8s ops %9.0f changes/s" % (
                k, f["txns"], f["changes"], f["ops"], float(f["changes_per_s"])))
        out("  state memory per source row: RSS delta %s bytes, engine estimate %s bytes" % (
            v["rss_delta_bytes_per_row"], v["engine_bytes_per_row"]))
        ops_per_change = float(v["ops_per_change"])
        if a.skip_e2e:
            return 0

        # (b) initial build
        if a.e2e_orders and a.e2e_orders != a.orders:
            r = subprocess.run([os.path.join(ROOT, "tools", "datagen", "datagen"), "--seed",
                                str(a.seed), "--orders", str(a.e2e_orders), "--db", db, "--tsv",
                                tsv], capture_output=True, text=True, env=MY_ENV)
            if r.returncode:
                raise RuntimeError("datagen: " + r.stderr)
            out("")
            out("(b) and (c) on a smaller data set: datagen --orders %d (%s)" % (
                a.e2e_orders, [l for l in r.stdout.splitlines() if l.startswith("loaded")][0]))
            a.orders = a.e2e_orders
        ferret = Ferret(tmp, a.backend, a.pg_url)
        ferret_note = "" if a.backend == "sqlite" else " (PostgreSQL 15, fsync off%s)" % (
            ", GIN index on order_id" if a.pg_gin else "")
        if a.pg_gin and a.backend == "postgresql":
            GinIndexer(a.pg_url, db).start()
        sport = free_port()
        conf = os.path.join(tmp, "tapflow.conf")
        with open(conf, "w") as f:
            f.write("[tapflow]\nserver_id = %d\nstatus_listen = 127.0.0.1:%d\n%s"
                    "[datasource MySQL_ECommerce]\ntype = mysql\nhost = %s\nport = %s\nuser = %s\n"
                    "password_env = TAPFLOW_MARIADB_PASSWORD\ndatabase = %s\n\n"
                    "[datasource MongoDB_ECommerce]\ntype = mongodb\nuri = %s\ndatabase = %s\n"
                    % (8100 + os.getpid() % 800, sport,
                       "checkpoint_interval_ms = %d\n" % a.checkpoint_interval_ms
                       if a.checkpoint_interval_ms else "",
                       MY_HOST, MY_PORT, MY_USER, db, ferret.uri, db))
        logpath = os.path.join(tmp, "daemon.log")
        logf = open(logpath, "w")
        denv = dict(ENV, TAPFLOW_MARIADB_PASSWORD=MY_PASS)
        t0 = time.time()
        daemon = subprocess.Popen([replica, "--flow", FLOW, "--config", conf], stdout=logf,
                                  stderr=logf, env=denv)
        built = None
        while time.time() - t0 < 3600:
            text = open(logpath).read()
            if "checkpoint written" in text and built is None:
                built = time.time() - t0
            if "streaming from" in text:
                break
            if daemon.poll() is not None:
                raise RuntimeError("daemon exited: " + text[-2000:])
            time.sleep(0.05)
        text = open(logpath).read()
        snap_line = [l for l in text.splitlines() if "snapshot done" in l]
        docs = a.orders
        out("")
        out("(b) initial build into FerretDB 1.24, %s backend%s, %d orders" % (
            a.backend, ferret_note, a.orders))
        out("  tapflow-replica start -> checkpoint written     %10.2f s  %8.0f docs/s" % (
            built, docs / built))
        if snap_line:
            out("    daemon: " + snap_line[0].split("] ", 1)[-1][:150])
        raw = {}
        for mode in ("insert", "upsert"):
            r = subprocess.run([bm, ferret.uri, db, "orderSingleView", "raw_" + mode, mode],
                               capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError("bench-mongo: " + r.stderr)
            raw[mode] = kv(r.stdout)
        ins = raw["insert"]
        out("  raw ceiling: bulk insert of the same %s docs  %10.2f s  %8.0f docs/s" % (
            ins["docs"], float(ins["seconds"]), float(ins["docs_per_s"])))
        ups = raw["upsert"]
        out("  same docs as replace_one upsert (sink's way)    %10.2f s  %8.0f docs/s" % (
            float(ups["seconds"]), float(ups["docs_per_s"])))
        ratio = built / float(ins["seconds"])
        out("  build time / raw insert time                    %10.2fx   target <= 1.5x %s" % (
            ratio, "ok" if ratio <= 1.5 else "MISS"))

        # (c) sustained CDC
        wl = Workload(tsv, a.seed + 1)
        marker = wl.orders[0]
        st = status(sport)
        base_rows = st["total_rows"]
        script = []
        changes = 0
        for _ in range(a.cdc_txns):
            s, n = wl.txn()
            script.append(s)
            changes += n
        t0 = time.time()
        r = subprocess.run(MY + [db], input="\n".join(script) + "\n", text=True,
                           capture_output=True, env=MY_ENV)
        t_src = time.time() - t0
        if r.returncode:
            raise RuntimeError("workload: " + r.stderr[-1000:])
        done = wait_rows(sport, base_rows + changes, a.paced_wait * 4)
        out("")
        out("(c) sustained CDC end to end (mix of (a); one mariadb CLI connection)")
        out("  source: %d txns, %d row changes committed in %.2f s (%.0f changes/s)" % (
            a.cdc_txns, changes, t_src, changes / t_src))
        if done:
            e2e = changes / (done - t0)
            out("  end to end (commit -> daemon applied+acked)   %10.0f changes/s  (%.0f doc "
                "ops/s at %.2f ops/change)" % (e2e, e2e * ops_per_change, ops_per_change))
        else:
            e2e = 0
            st = status(sport) or {}
            applied = st.get("total_rows", base_rows) - base_rows
            out("  end to end: not caught up within %.0f s: %d of %d changes applied "
                "(%.0f changes/s)" % (a.paced_wait * 4, applied, changes,
                                      applied / (time.time() - t0)))
        r = subprocess.run([bm, ferret.uri, db, "orderSingleView", "orderSingleView", "replace",
                            "1000", "20000"], capture_output=True, text=True)
        rep = kv(r.stdout)
        ceil_changes = float(rep["docs_per_s"]) / ops_per_change
        out("  raw ceiling: replace existing docs whole      %10.0f docs/s = %.0f changes/s "
            "at %.2f ops/change" % (float(rep["docs_per_s"]), ceil_changes, ops_per_change))
        if e2e:
            out("  end to end / ceiling                          %10.0f%%   target >= 80%% %s" % (
                100 * e2e / ceil_changes, "ok" if e2e >= 0.8 * ceil_changes else "MISS"))
            out("  vs the guide's 3,521 qps                      %10.1fx   target >= 10x %s" % (
                e2e / 3521, "ok" if e2e >= 35210 else "MISS (target-bound)"))

        # paced run with delay probes
        st = status(sport)
        base_rows = st["total_rows"]
        watch = subprocess.Popen([bm, ferret.uri, db, "orderSingleView", marker, "watch",
                                  str(a.paced_seconds + 30)], stdout=subprocess.PIPE, text=True)
        seen = {}

        def reader():
            for line in watch.stdout:
                p = line.split()
                if len(p) == 2 and p[1].startswith("m"):
                    seen.setdefault(p[1], int(p[0]))
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        cli = subprocess.Popen(MY + [db], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env=MY_ENV)
        t0 = time.time()
        sent = 0
        probes = 0
        next_probe = t0
        while True:
            now = time.time()
            el = now - t0
            if el >= a.paced_seconds:
                break
            chunk = []
            while sent < a.rate * el:
                s, n = wl.txn()
                chunk.append(s)
                sent += n
            if now >= next_probe:
                chunk.append("UPDATE ecom_orders SET order_status=CONCAT('m', "
                             "ROUND(UNIX_TIMESTAMP(NOW(6))*1000)) WHERE order_id='%s';" % marker)
                sent += 1
                probes += 1
                next_probe += 0.1
            if chunk:
                cli.stdin.write("\n".join(chunk) + "\n")
                cli.stdin.flush()
            time.sleep(0.005)
        cli.stdin.close()
        cli.wait()
        t_sent = time.time() - t0
        caught = wait_rows(sport, base_rows + sent, a.paced_wait)
        if not caught:
            out("  paced: backlog not applied within %.0f s (target too slow)" % a.paced_wait)
        time.sleep(0.5)
        watch.terminate()
        watch.wait()
        th.join(timeout=2)
        delays = [seen_ms - int(k[1:]) for k, seen_ms in seen.items()]
        out("  paced: %d changes in %.1f s (%.0f changes/s), %d delay probes, %d seen" % (
            sent, t_sent, sent / t_sent, probes, len(delays)))
        if delays:
            out("  delay source commit -> visible in MongoDB     p50 %5.0f ms  p99 %5.0f ms  "
                "max %5.0f ms   target p99 < 100 ms %s" % (
                    pct(delays, 50), pct(delays, 99), max(delays),
                    "ok" if pct(delays, 99) < 100 else "MISS"))
            out("    (seen = first 2 ms poll of findOne that shows it: includes up to ~3 ms "
                "of polling)")
        st = status(sport)
        if st:
            out("  daemon status at the end: qps %.1f, total rows %d, delay %d ms" % (
                st.get("qps", 0), st.get("total_rows", 0), st.get("delay_ms", 0)))
        return 0
    finally:
        if daemon and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=120)
            except subprocess.TimeoutExpired:
                daemon.kill()
        if ferret:
            ferret.stop()
        try:
            sql("DROP DATABASE IF EXISTS `%s`" % db)
        except Exception as e:  # noqa: BLE001
            print("warning:", e)
        if lines and a.out:
            with open(a.out, "w") as f:
                f.write("\n".join(lines) + "\n")
            print("table written to", a.out)
        if os.environ.get("BENCH_KEEP_TMP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

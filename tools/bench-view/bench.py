#!/usr/bin/env python3
"""bench.py — the view/sink benchmark of issue 5 item 6, run by hand (not a
test). Prints one table (measured, target, ratio) and writes the run's
output to --out (default /work/notes/bench-view.txt when that folder
exists).

    python3 tools/bench-view/bench.py [--build DIR] [--orders 99441]
        [--backend postgresql|sqlite|both] [--changes 300000]
        [--cdc-txns 3000] [--rate 3500] [--paced-seconds 10] [--out FILE]

  1. datagen: the six Olist-shaped tables into a fresh MariaDB database.
  2. the view engine alone (bench-view): rows applied, then a mixed change
     stream flushed per transaction, ops discarded; state memory per row.
  Then for each FerretDB backend asked (default: the one tools/servers.sh
  starts), on servers of its own (tools/servers.sh start mongo in a temp
  dir, free ports; start-up time measured, cold and warm) and a fresh copy
  of the data set:
  3. initial build: tapflow-replica from start until "checkpoint written",
     against the raw ceiling: the same final documents (with their _id)
     bulk-inserted through mongo-c-driver (bench-mongo insert).
  4. sustained CDC end to end: new orders with items and payments, status,
     payment, customer, product and seller updates written to MariaDB as
     fast as one mariadb CLI connection can; rate until the daemon has
     applied every row. Raw ceiling: bench-mongo inserts and whole-document
     replaces by _id (as the sink addresses documents), mixed in the
     proportion of document ops per change the engine produced in step 2.
  5. delay: the same mix paced at half the raw ceiling (and at half the
     CDC rate when that is higher), then at --rate changes/s, a probe every 100 ms
     (an order whose status is set to MariaDB's NOW(6) in ms; bench-mongo
     watch polls it by _id); p50/p99 from commit to visible in the target.
  6. resume: the daemon stopped with SIGTERM and started again with
     --gtid-resume; time until it streams (with --state-dir, the state the
     clean stop kept, mapped back; else the view state loaded from the
     target), beside the initial build's.

Env: TAPFLOW_MARIADB_* as tools/servers.sh env prints (defaults: the
shared local MariaDB). FerretDB is .local/bin/ferretdb (tools/setup.sh).
"""
import argparse
import json
import os
import random
import re
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
SERVERS = os.path.join(ROOT, "tools", "servers.sh")
DATAGEN = os.path.join(ROOT, "tools", "datagen", "datagen")
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


class Target:
    """A FerretDB (or mongod) of our own, started by tools/servers.sh in a
    folder of the run on free ports, so its start-up is the scripts' own."""

    def __init__(self, tmp, backend):
        self.backend = backend
        self.env = dict(ENV, TAPFLOW_SERVERS_DIR=os.path.join(tmp, "servers-" + backend),
                        TAPFLOW_MONGO_PORT=str(free_port()), TAPFLOW_PG_PORT=str(free_port()),
                        TAPFLOW_FERRETDB_BACKEND=backend)
        self.running = False
        t0 = time.time()
        self.servers("start", "mongo")
        self.cold_start = time.time() - t0
        self.running = True
        self.servers("stop", "mongo")
        t0 = time.time()
        self.servers("start", "mongo")
        self.warm_start = time.time() - t0
        info = {}
        for line in self.servers("env").splitlines():
            name, _, value = line[len("export "):].partition("=")
            info[name] = value.strip("'")
        self.uri = info["TAPFLOW_MONGO_URI"]
        self.kind = info["TAPFLOW_MONGO_SERVER"]
        self.is_ferretdb = self.kind.startswith("ferretdb")

    def servers(self, *args):
        r = subprocess.run(["bash", SERVERS] + list(args), env=self.env, capture_output=True,
                           text=True)
        if r.returncode:
            raise RuntimeError("servers.sh %s: %s" % (" ".join(args), r.stderr[-2000:]))
        return r.stdout

    def stop(self):
        if self.running:
            self.servers("stop", "mongo")
            self.running = False


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


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Table:
    """The result table: one row per figure, with its target and ratio."""

    def __init__(self):
        self.rows = []

    def add(self, what, where, measured, target="", ratio="", verdict=""):
        self.rows.append((what, where, measured, target, ratio, verdict))
        out("  %-44s %-11s %s" % (what, where, measured))

    def text(self):
        head = ("figure", "backend", "measured", "target / ceiling", "ratio", "")
        w = [max(len(str(r[i])) for r in self.rows + [head]) for i in range(6)]
        fmt = "  ".join("%%-%ds" % x for x in w)
        lines = [fmt % head, fmt % tuple("-" * x for x in w)]
        lines += [(fmt % r).rstrip() for r in self.rows]
        return lines


def datagen(a, db, tsv):
    r = subprocess.run([DATAGEN, "--seed", str(a.seed), "--orders", str(a.orders), "--db", db,
                        "--tsv", tsv], capture_output=True, text=True, env=MY_ENV)
    if r.returncode:
        raise RuntimeError("datagen: " + r.stderr)
    rows_by = {l.split()[0]: int(l.split()[1]) for l in r.stdout.splitlines()
               if l.startswith("ecom_")}
    load_line = [l for l in r.stdout.splitlines() if l.startswith("loaded")][0]
    return rows_by, load_line


def engine_alone(a, tsv, table):
    """bench-view on the data set: returns its key=value figures."""
    r = subprocess.run([a.bench_view, "--tsv", tsv, "--flow", FLOW, "--changes", str(a.changes)],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("bench-view: " + r.stderr)
    v = kv(r.stdout)
    out("")
    out("view engine alone, one core, ops produced and discarded")
    out("  %s changes -> %s document ops (%.2f per change, %.0f ops/s)" % (
        v["changes"], v["ops"], float(v["ops_per_change"]), float(v["ops_per_s"])))
    for k, _ in KINDS:
        f = dict(x.split(":") for x in v["kind_" + k].split())
        out("    %-10s %7s txns %8s changes %8s ops %9.0f changes/s" % (
            k, f["txns"], f["changes"], f["ops"], float(f["changes_per_s"])))
    rate = float(v["changes_per_s"])
    table.add("engine: snapshot rows applied + docs built", "-",
              "%.0f rows/s" % float(v["load_rows_per_s"]))
    table.add("engine: mixed change stream", "-", "%.0f changes/s" % rate, ">= 200000/s",
              "%.2fx" % (rate / 200000), "ok" if rate >= 200000 else "MISS")
    table.add("state memory per source row", "-",
              "%s B (RSS %s B)" % (v["engine_bytes_per_row"], v["rss_delta_bytes_per_row"]))
    return v


def bench_mongo(a, *args):
    r = subprocess.run([a.bench_mongo] + [str(x) for x in args], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("bench-mongo %s: %s" % (args[4], r.stderr[-1000:]))
    return kv(r.stdout)


def peak_rss(proc):
    """The daemon's peak RSS (VmHWM) and RSS now, as text."""
    try:
        with open("/proc/%d/status" % proc.pid) as f:
            kb = {k: int(v.split()[0]) for k, v in
                  (line.split(":", 1) for line in f if line.startswith(("VmHWM", "VmRSS")))}
        return "peak %.2f GB, now %.2f GB" % (kb["VmHWM"] / 1048576, kb["VmRSS"] / 1048576)
    except (OSError, KeyError, ValueError):
        return "?"


def loadavg():
    return "load %.1f/%.1f" % os.getloadavg()[:2]


def start_daemon(a, tmp, db, uri, extra=(), tag=""):
    sport = free_port()
    conf = os.path.join(tmp, "tapflow-%s.conf" % db)
    with open(conf, "w") as f:
        f.write("[tapflow]\nserver_id = %d\nstatus_listen = 127.0.0.1:%d\n%s"
                "[datasource MySQL_ECommerce]\ntype = mysql\nhost = %s\nport = %s\nuser = %s\n"
                "password_env = TAPFLOW_MARIADB_PASSWORD\ndatabase = %s\n\n"
                "[datasource MongoDB_ECommerce]\ntype = mongodb\nuri = %s\ndatabase = %s\n"
                % (8100 + (os.getpid() + sport) % 800, sport,
                   ("checkpoint_interval_ms = %d\n" % a.checkpoint_interval_ms
                    if a.checkpoint_interval_ms else "") +
                   ("write_connections = %d\n" % a.write_connections
                    if getattr(a, "write_connections", 0) else "") +
                   ("write_plan = %s\n" % a.write_plan if getattr(a, "write_plan", "") else "") +
                   ("state_dir = %s\n" % a.state_dir if getattr(a, "state_dir", "") else "") +
                   ("state_memory_mb = %d\n" % a.state_memory_mb
                    if getattr(a, "state_memory_mb", 0) else ""),
                   MY_HOST, MY_PORT, MY_USER, db, uri, db))
    logpath = os.path.join(tmp, "daemon-%s%s.log" % (db, tag))
    logf = open(logpath, "w")
    denv = dict(ENV, TAPFLOW_MARIADB_PASSWORD=MY_PASS)
    proc = subprocess.Popen([a.replica, "--flow", FLOW, "--config", conf] + list(extra), stdout=logf,
                            stderr=logf, env=denv)
    return proc, sport, logpath


def wait_built(daemon, logpath, timeout):
    """Seconds from now until the daemon logged its first checkpoint (the
    initial build), once it streams; None when not within timeout."""
    t0 = time.time()
    built = None
    while time.time() - t0 < timeout:
        text = open(logpath).read()
        if built is None and "checkpoint written" in text:
            built = time.time() - t0
        if built is not None and "streaming from" in text:
            break
        if daemon.poll() is not None:
            raise RuntimeError("daemon exited: " + text[-2000:])
        time.sleep(0.05)
    return built


def stop_daemon(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Watcher:
    """bench-mongo watch on one order's document (polled by _id every
    poll_ms): the epoch ms at which each order_status value was first
    visible."""

    def __init__(self, a, uri, db, marker, seconds, poll_ms):
        self.proc = subprocess.Popen([a.bench_mongo, uri, db, "orderSingleView", marker, "watch",
                                      str(seconds), str(poll_ms)], stdout=subprocess.PIPE,
                                     text=True)
        self.seen = {}
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.proc.stdout:
            p = line.split()
            if len(p) == 2:
                self.seen.setdefault(p[1], int(p[0]))

    def wait_for(self, value, timeout):
        """Epoch seconds at which value became visible, or None."""
        end = time.time() + timeout
        while time.time() < end and value not in self.seen and self.proc.poll() is None:
            time.sleep(0.02)
        return self.seen[value] / 1000.0 if value in self.seen else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()
        self.thread.join(timeout=2)


def probe_sql(marker, prefix):
    """An update whose arrival is visible: the marker order's status set to
    prefix + MariaDB's clock in ms at the statement."""
    return ("UPDATE ecom_orders SET order_status=CONCAT('%s', "
            "ROUND(UNIX_TIMESTAMP(NOW(6))*1000)) WHERE order_id='%s';" % (prefix, marker))


def probe_delays(prefix, sent_ms, seen):
    """Delay in ms of each probe prefix<seq>-<ms>: seen ones from their
    MariaDB time; one overwritten by a later probe before a poll saw it at
    most up to that later probe's sighting (from its send time); None when
    no later probe was seen either."""
    got = {}
    for value, at in list(seen.items()):
        if value.startswith(prefix):
            seq, _, ms = value[len(prefix):].partition("-")
            got[int(seq)] = at - int(ms)
    delays, later_seen = [], None
    for seq in range(len(sent_ms) - 1, -1, -1):
        if seq in got:
            delays.append(got[seq])
            later_seen = got[seq] + sent_ms[seq]  # approximately its sighting
        else:
            delays.append(later_seen - sent_ms[seq] if later_seen is not None else None)
    return delays


def paced_delays(a, wl, rate, watcher, db, marker, prefix=None):
    """Writes the mix at rate changes/s for a.paced_seconds with a probe
    every 100 ms (its values start with prefix, default "p<rate>-");
    returns (changes sent, seconds, probes, delays in ms of the probes seen
    within a.paced_wait after the writes ended)."""
    prefix = prefix or "p%d-" % rate
    sent_ms = []

    def probe():
        sent_ms.append(time.time() * 1000)
        return probe_sql(marker, "%s%d-" % (prefix, len(sent_ms) - 1))
    cli = subprocess.Popen(MY + [db], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, env=MY_ENV)
    t0 = time.time()
    sent = probes = 0
    next_probe = t0
    while True:
        now = time.time()
        el = now - t0
        if el >= a.paced_seconds:
            break
        chunk = []
        while sent < rate * el:
            s, n = wl.txn()
            chunk.append(s)
            sent += n
        if now >= next_probe:
            chunk.append(probe())
            sent += 1
            probes += 1
            next_probe += 0.1
        if chunk:
            cli.stdin.write("\n".join(chunk) + "\n")
            cli.stdin.flush()
        time.sleep(0.005)
    cli.stdin.write(probe() + "\n")
    probes += 1
    sent += 1
    cli.stdin.close()
    cli.wait()
    t_sent = time.time() - t0
    # The last probe is the document's final value: once it is visible, every
    # earlier probe has been too (or was overwritten before a poll saw it).
    last = "%s%d-" % (prefix, probes - 1)
    end = time.time() + a.paced_wait
    while time.time() < end and not any(k.startswith(last) for k in list(watcher.seen)):
        time.sleep(0.05)
    return sent, t_sent, probes, probe_delays(prefix, sent_ms, watcher.seen)


def report_delays(a, table, where, rate, result):
    sent, t_sent, probes, all_delays = result
    delays = [d for d in all_delays if d is not None]
    out("  paced: %d changes in %.1f s (%.0f changes/s), %d probes, %d visible within %.0f s "
        "of the end" % (sent, t_sent, sent / t_sent, probes, len(delays), a.paced_wait))
    what = "delay commit -> visible at %d changes/s" % rate
    if not delays:
        table.add(what, where, "no probe visible within %.0f s" % a.paced_wait, "p99 < 100 ms",
                  "", "MISS")
        return
    unseen = probes - len(delays)
    # probes never seen count as later than any seen one
    full = sorted(delays) + [float("inf")] * unseen
    p50, p99 = pct(full, 50), pct(full, 99)

    def ms(x):
        return "> %.0f s" % a.paced_wait if x == float("inf") else "%.0f ms" % x
    table.add(what, where, "p50 %s, p99 %s" % (ms(p50), ms(p99)), "p99 < 100 ms",
              "%.1fx" % (p99 / 100) if p99 != float("inf") else "-",
              "ok" if p99 < 100 else "MISS")
    if unseen:
        out("    %d of %d probes not visible within %.0f s after the writes ended (backlog)" % (
            unseen, probes, a.paced_wait))


def run_backend(a, backend, tmp, tsv, engine, table):
    where = backend
    db = "tf_bench_%d_%s" % (os.getpid(), backend[:2])
    out("")
    out("--- %s backend (%s, before: %s)" % (backend, time.strftime("%H:%M:%S"), loadavg()))
    daemon = target = None
    try:
        datagen(a, db, tsv)
        target = Target(tmp, backend)
        if not target.is_ferretdb:
            where = "mongod"
        table.add("target start-up, first (servers.sh start)", where,
                  "%.2f s" % target.cold_start)
        table.add("target start-up, again (data kept)", where, "%.2f s" % target.warm_start)
        replace_batch = 32 if target.is_ferretdb else 1000

        # initial build
        daemon, sport, logpath = start_daemon(a, tmp, db, target.uri)
        built = wait_built(daemon, logpath, a.build_timeout)
        if built is None:
            st = status(sport) or {}
            table.add("initial build", where, "not done in %.0f s (%s rows read)" % (
                a.build_timeout, st.get("total_rows", "?")), "", "", "MISS")
            return
        text = open(logpath).read()
        for line in text.splitlines():
            if "snapshot done" in line:
                out("    daemon: " + line.split("] ", 1)[-1][:160])
        table.add("daemon memory after the build (VmHWM)", where, peak_rss(daemon),
                  "state_dir %s, state_memory_mb %s" % (a.state_dir or "-",
                                                       a.state_memory_mb or "-"), "", "")
        ins = bench_mongo(a, target.uri, db, "orderSingleView", "raw_insert", "insert", 1000)
        ins_rate = int(ins["docs"]) / max(float(ins["seconds"]), 1e-3)
        build_rate = a.orders / built
        table.add("initial build: start -> checkpoint written", where,
                  "%.1f s, %.0f docs/s" % (built, build_rate),
                  "raw insert %.1f s, %.0f docs/s" % (float(ins["seconds"]), ins_rate),
                  "%.2fx time" % (built / float(ins["seconds"])),
                  "ok" if built <= 1.5 * float(ins["seconds"]) else "MISS (<= 1.5x)")
        subprocess.run([os.path.join(ROOT, ".local", "bin", "mongosh"), "--quiet", "--norc", target.uri + db, "--eval",
                        "db.raw_insert.drop()"], capture_output=True)

        # sustained CDC, ended by a probe: the sink writes in commit order, so
        # once the last update is visible every earlier change is acknowledged
        wl = Workload(tsv, a.seed + 1)
        marker = wl.orders[0]
        # FerretDB's SQLite backend scans the collection for {_id}: poll it less
        poll_ms = 100 if target.kind == "ferretdb-sqlite" else 5
        watcher = Watcher(a, target.uri, db, marker, a.cdc_timeout + 4 * a.paced_wait +
                          3 * a.paced_seconds + 600, poll_ms)
        script, changes = [], 0
        for _ in range(a.cdc_txns):
            s, n = wl.txn()
            script.append(s)
            changes += n
        script.append(probe_sql(marker, "cdc-end-"))
        changes += 1
        t0 = time.time()
        r = subprocess.run(MY + [db], input="\n".join(script) + "\n", text=True,
                           capture_output=True, env=MY_ENV)
        t_src = time.time() - t0
        if r.returncode:
            raise RuntimeError("workload: " + r.stderr[-1000:])
        out("  CDC source: %d txns, %d row changes committed in %.2f s (%.0f changes/s)" % (
            a.cdc_txns, changes, t_src, changes / t_src))
        end_value = None
        deadline = time.time() + a.cdc_timeout
        while time.time() < deadline and end_value is None:
            end_value = next((k for k in list(watcher.seen) if k.startswith("cdc-end-")), None)
            time.sleep(0.02)
        done = watcher.seen[end_value] / 1000.0 if end_value else None
        if not done:  # its backlog and the polls would compete with the raw ceiling
            daemon.kill()
            daemon.wait()
            watcher.stop()
        rep = bench_mongo(a, target.uri, db, "orderSingleView", "orderSingleView", "replace",
                          replace_batch, min(a.raw_replace, a.orders))
        rep_rate = int(rep["docs"]) / max(float(rep["seconds"]), 1e-3)
        # document ops per change of the engine's mix: inserts (new orders) and replaces
        kinds = {k: dict(x.split(":") for x in engine["kind_" + k].split()) for k, _ in KINDS}
        n_changes = float(engine["changes"])
        ins_pc = float(kinds["new_order"]["ops"]) / n_changes
        rep_pc = float(engine["ops"]) / n_changes - ins_pc
        ceiling = 1.0 / (ins_pc / ins_rate + rep_pc / rep_rate)
        target_txt = "%.3g changes/s (replace by _id %.3g docs/s, insert %.0f/s)" % (
            ceiling, rep_rate, ins_rate)
        out("  raw ceiling: %d replaces by _id in bulks of %d: %.3g docs/s; the mix's %.2f "
            "inserts + %.2f replaces per change -> %.3g changes/s" % (
                int(rep["docs"]), replace_batch, rep_rate, ins_pc, rep_pc, ceiling))
        out("  " + write_plan_line(sport))
        if done:
            e2e = changes / (done - t0)
            table.add("CDC end to end (commit -> applied, acked)", where,
                      "%.0f changes/s" % e2e, target_txt, "%.0f%%" % (100 * e2e / ceiling),
                      "ok" if e2e >= 0.8 * ceiling else "MISS (>= 80%)")
            table.add("CDC vs 10x the guide's 3,521 qps", where, "%.0f changes/s" % e2e,
                      "35210 changes/s", "%.2fx" % (e2e / 35210),
                      "ok" if e2e >= 35210 else ("MISS (target-bound)" if ceiling < 35210
                                                 else "MISS"))
        else:
            table.add("CDC end to end (commit -> applied, acked)", where,
                      "%d changes not applied within %.0f s" % (changes, a.cdc_timeout),
                      target_txt, "< %.0f changes/s" % (changes / a.cdc_timeout), "MISS")
            out("  delay not measured: the CDC backlog was not applied")
            return

        # delay at half the target's raw ceiling (issue 13's measure), at
        # half the measured CDC rate when that is higher, then at --rate
        rates = [max(10, int(ceiling / 2))]
        if e2e < a.rate * 2 and int(e2e / 2) > rates[0] * 1.2:
            rates.append(max(10, int(e2e / 2)))
        rates.append(a.rate)
        for rate in rates:
            report_delays(a, table, where, rate, paced_delays(a, wl, rate, watcher, db, marker))
        watcher.stop()
        st = status(sport)
        if st:
            out("  daemon status at the end: qps %.1f, total rows %d, delay %d ms" % (
                st.get("qps", 0), st.get("total_rows", 0), st.get("delay_ms", 0)))

        # resume: SIGTERM writes the checkpoint; the next start loads the
        # view state from the target instead of reading the source again
        stop_daemon(daemon)
        t0 = time.time()
        daemon, sport, logpath = start_daemon(a, tmp, db, target.uri, ["--gtid-resume"],
                                              "-resume")
        resumed = None
        while time.time() - t0 < a.build_timeout and daemon.poll() is None:
            if "streaming from" in open(logpath).read():
                resumed = time.time() - t0
                break
            time.sleep(0.05)
        if resumed is None:
            table.add("resume (--gtid-resume): start -> streaming", where,
                      "not streaming: " + open(logpath).read()[-300:], "", "", "MISS")
        else:
            # With --state-dir the clean stop kept the state file, and the
            # start maps it back instead of loading it from the target.
            how = ("kept state mapped back" if "mapped back" in open(logpath).read()
                   else "state loaded from the target")
            table.add("resume (--gtid-resume): start -> streaming, " + how, where,
                      "%.1f s" % resumed, "initial build %.1f s" % built,
                      "%.0f%%" % (100 * resumed / built), "")
            table.add("daemon memory after the resume (VmHWM)", where, peak_rss(daemon), "", "",
                      "")
    finally:
        stop_daemon(daemon)
        if target:
            try:
                target.stop()
            except RuntimeError as e:
                print("warning:", e)
        try:
            sql("DROP DATABASE IF EXISTS `%s`" % db)
        except Exception as e:  # noqa: BLE001
            print("warning:", e)
        out("  (%s, after: %s)" % (time.strftime("%H:%M:%S"), loadavg()))


def default_backend():
    """The backend tools/servers.sh starts when nothing says otherwise."""
    env = dict(ENV, TAPFLOW_SERVERS_DIR=tempfile.mkdtemp(prefix="tf_bench_env_"))
    env.pop("TAPFLOW_FERRETDB_BACKEND", None)
    r = subprocess.run(["bash", SERVERS, "env"], env=env, capture_output=True, text=True)
    shutil.rmtree(env["TAPFLOW_SERVERS_DIR"], ignore_errors=True)
    for line in r.stdout.splitlines():
        if line.startswith("export TAPFLOW_FERRETDB_BACKEND="):
            return line.split("=", 1)[1].strip("'") or "postgresql"
    return "postgresql"


def write_plan_line(sport):
    """The daemon's write costs and what they changed, from /metrics."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % sport, timeout=5) as r:
            text = r.read().decode()
    except OSError as e:
        return "write plan: /metrics unreadable (%s)" % e
    costs, plan = [], []
    for line in text.splitlines():
        m = re.match(r'tapflow_target_write_cost_seconds\{.*shape="(\w+)".*\} (\S+)', line)
        if m:
            costs.append("%s %.3f ms" % (m.group(1), float(m.group(2)) * 1000))
        m = re.match(r'tapflow_write_plan_total\{.*choice="(\w+)".*\} (\S+)', line)
        if m:
            plan.append("%s %d" % (m.group(1), float(m.group(2))))
    return "write plan: costs %s; chosen: %s" % (", ".join(costs) or "none",
                                                 ", ".join(plan) or "none")


def main():
    # SIGTERM (timeout, kill) still runs the clean-up and writes the table so far.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--orders", type=int, default=99441)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--changes", type=int, default=300000, help="engine-alone change stream")
    ap.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default=None,
                    help="FerretDB backend(s) to measure (default: tools/servers.sh's)")
    ap.add_argument("--skip-e2e", action="store_true", help="engine alone only")
    ap.add_argument("--cdc-txns", type=int, default=3000)
    ap.add_argument("--cdc-timeout", type=float, default=600)
    ap.add_argument("--raw-replace", type=int, default=3000,
                    help="documents bench-mongo replaces for the CDC ceiling")
    ap.add_argument("--rate", type=int, default=3500)
    ap.add_argument("--paced-seconds", type=float, default=10)
    ap.add_argument("--paced-wait", type=float, default=60,
                    help="seconds to wait for the paced run's last probes")
    ap.add_argument("--build-timeout", type=float, default=3600)
    ap.add_argument("--checkpoint-interval-ms", type=int, default=0,
                    help="daemon's checkpoint_interval_ms (0: its default)")
    ap.add_argument("--write-connections", type=int, default=0,
                    help="daemon's write_connections (0: its default)")
    ap.add_argument("--write-plan", choices=("costs", "off"), default="",
                    help="daemon's write_plan (default: its default, costs)")
    ap.add_argument("--state-dir", default="",
                    help="daemon's state_dir: the view state in a file there (default: the heap)")
    ap.add_argument("--state-memory-mb", type=int, default=0,
                    help="daemon's state_memory_mb (with --state-dir)")
    ap.add_argument("--out", default="/work/notes/bench-view.txt"
                    if os.path.isdir("/work/notes") else "")
    a = ap.parse_args()
    a.bench_view = os.path.join(a.build, "tools", "bench-view", "bench-view")
    a.bench_mongo = os.path.join(a.build, "tools", "bench-view", "bench-mongo")
    a.replica = os.path.join(a.build, "tools", "tapflow-replica", "tapflow-replica")
    for b in (a.bench_view, a.bench_mongo, a.replica):
        if not os.path.exists(b):
            print("missing %s (build with ninja -C %s)" % (b, a.build))
            return 1
    chosen = a.backend or default_backend()
    backends = ["postgresql", "sqlite"] if chosen == "both" else [chosen]
    tmp = tempfile.mkdtemp(prefix="tf_bench_")
    os.chmod(tmp, 0o755)  # PostgreSQL (user postgres) keeps its data under it
    db = "tf_bench_%d" % os.getpid()
    tsv = os.path.join(tmp, "tsv")
    table = Table()
    try:
        out("tapflow view/sink benchmark — %s, %d cores, %s, %s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
            os.uname().nodename, loadavg()))
        out("  build %s, flow %s" % (a.build, os.path.relpath(FLOW, ROOT)))
        rows_by, load_line = datagen(a, db, tsv)
        sql("DROP DATABASE IF EXISTS `%s`" % db)
        out("data set: tools/datagen/datagen --seed %d --orders %d" % (a.seed, a.orders))
        out("  " + ", ".join("%s %d" % (k[5:], v) for k, v in rows_by.items()))
        out("  " + load_line)
        engine = engine_alone(a, tsv, table)
        if not a.skip_e2e:
            for backend in backends:
                run_backend(a, backend, tmp, tsv, engine, table)
        return 0
    finally:
        if table.rows:
            out("")
            out("results (%d orders; %s)" % (a.orders, loadavg()))
            for line in table.text():
                out(line)
        if lines and a.out:
            with open(a.out, "w") as f:
                f.write("\n".join(lines) + "\n")
            print("written to", a.out)
        if os.environ.get("BENCH_KEEP_TMP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

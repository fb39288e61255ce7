#!/usr/bin/env python3
"""bench.py — tapflow-relay (tools/tapflow-relay) against what it stands in
for, run by hand (not a test). Prints one table (measured, peer measured in
the same run, ratio) and the machine's core count; --out FILE saves it.

    python3 tools/bench-relay/bench.py [--build DIR] [--events 400000]
        [--consumers 1,4,16] [--samples 300] [--keep] [--out FILE]

Everything runs on servers of its own (tools/servers.sh start mariadb in a
temp folder, free ports; never the shared 33061): a primary, and for step 3
two replicas. The temp folder (archives, dd files, servers) is removed at
the end, also on failure, unless --keep.

  1. Archive write. A burst of --events binlog events (transactions of 8:
     GTID, 3-row INSERT and 1-row UPDATE with their ANNOTATE_ROWS and
     TABLE_MAP, XID) is written to the primary first; then a fresh relay,
     empty archive, `start = <GTID before the burst>`, catches up through
     it. Timed from the relay's start until it answers SELECT
     @@gtid_binlog_pos with the primary's last GTID (it serves a
     transaction only once it is on disk). Once for `fsync = transaction`
     and once for `fsync = 100ms`. Events and transactions are counted in
     the archive files; syncs come from the relay's "archived ..." log line.
     Peers, on the same filesystem: dd bs=1M conv=fsync of the archive's
     size (raw sequential write) and dd oflag=dsync with bs = the average
     transaction (one synchronous write per transaction).
  2. Serving. 1, 4, 16 (--consumers) `mariadb-binlog --read-from-remote-
     server --to-last-log FIRST` at once, until all end (the relay answers
     the non-blocking dump with EOF at its end), against the relay (its
     archive: the burst) and against the primary from the burst's first
     file (the same bytes, FLUSH BINARY LOGS before the burst). Two client
     modes: decoded to /dev/null (as the brief), where mariadb-binlog's own
     decoding is the ceiling, and --raw into a tmpfs folder, which shows the
     server side. MB/s per consumer and aggregate, and the server's CPU
     seconds over the run (/proc/PID/stat).
  3. Added latency. Two MariaDB replicas, one CHANGE MASTER TO the primary,
     one to the relay (MASTER_USE_GTID=slave_pos from the primary's
     position), --samples single-row INSERTs every --interval-ms; each row
     carries the primary's clock at the statement (UNIX_TIMESTAMP(SYSDATE(6)))
     and each replica records its own clock when the row is applied (an
     AFTER INSERT trigger with slave_run_triggers_for_rbr=YES writes
     SYSDATE(6) to a side table, so no polling load disturbs the figures).
     p50/p99 commit->apply per path, and the per-row difference; with the
     relay at fsync=transaction and then restarted on the same archive at
     fsync=100ms.

Needs: mariadb, mariadb-binlog, mariadbd (tools/servers.sh), dd; the relay
binary at BUILD/tools/tapflow-relay/tapflow-relay.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVERS = os.path.join(ROOT, "tools", "servers.sh")
USER, PASSWORD = "tapflow", "tapflow-test"  # what tools/servers.sh creates
ENV = dict(os.environ, MYSQL_PWD=PASSWORD)
EVENTS_PER_TXN = 8
CLK_TCK = os.sysconf("SC_CLK_TCK")

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


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def mb(n):
    return n / 1e6


def tcp_sql(port, text, check=True):
    """One mariadb call over TCP as the test account (the primary, or the
    relay, which answers a few SELECT/SHOW shapes)."""
    r = subprocess.run(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(port), "-u", USER,
                        "-N", "-B", "-e", text], capture_output=True, text=True, env=ENV)
    if r.returncode and check:
        raise RuntimeError("SQL on port %d failed: %s: %s" % (port, text[:80], r.stderr))
    return r.stdout if not r.returncode else None


class Server:
    """A MariaDB of our own: tools/servers.sh in a folder of the run."""

    def __init__(self, tmp, name):
        self.name = name
        self.dir = os.path.join(tmp, name)
        self.port = free_port()
        self.env = dict(os.environ, TAPFLOW_SERVERS_DIR=self.dir,
                        TAPFLOW_MARIADB_PORT=str(self.port))
        self.sock = os.path.join(self.dir, "mariadb", "mysqld.sock")
        self.running = False

    def servers(self, action):
        r = subprocess.run(["bash", SERVERS, action, "mariadb"], env=self.env,
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("servers.sh %s mariadb (%s): %s" % (action, self.name,
                                                                   r.stderr[-2000:]))

    def start(self):
        self.running = True  # a failed start may still leave a mariadbd
        self.servers("start")

    def stop(self):
        if self.running:
            self.running = False
            self.servers("stop")

    def pid(self):
        with open(os.path.join(self.dir, "mariadb", "mariadbd.pid")) as f:
            return int(f.read().strip())

    def root(self):
        return ["mariadb", "--no-defaults", "-uroot", "--socket=" + self.sock, "-N", "-B"]

    def sql(self, text):
        r = subprocess.run(self.root() + ["-e", text], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("SQL on %s failed: %s: %s" % (self.name, text[:120], r.stderr))
        return r.stdout

    def script(self, text):
        r = subprocess.run(self.root(), input=text, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("SQL script on %s failed: %s" % (self.name, r.stderr[-2000:]))
        return r.stdout

    def gtid(self):
        return self.sql("SELECT @@gtid_binlog_pos").strip()

    def binlogs(self):
        return [(l.split("\t")[0], int(l.split("\t")[1]))
                for l in self.sql("SHOW BINARY LOGS").splitlines() if l]


class Relay:
    """tapflow-relay on a config of its own; its log in the run's folder."""

    def __init__(self, a, tmp, primary, name, fsync, start, archive=None):
        self.port = free_port()
        self.archive = archive or os.path.join(tmp, "archive-" + name)
        os.makedirs(self.archive, exist_ok=True)
        self.conf = os.path.join(tmp, "relay-%s.conf" % name)
        self.log = os.path.join(tmp, "relay-%s.log" % name)
        with open(self.conf, "w") as f:
            f.write("[datasource Primary]\ntype = mysql\nhost = 127.0.0.1\nport = %d\n"
                    "user = %s\npassword_env = BENCH_RELAY_PASSWORD\ndatabase = bench\n\n"
                    "[relay Bench]\nupstream = Primary\nlisten = 127.0.0.1:%d\narchive = %s\n"
                    "fsync = %s\nstart = %s\n"
                    % (primary.port, USER, self.port, self.archive, fsync, start))
        self.logf = open(self.log, "a")
        self.t0 = time.time()
        self.proc = subprocess.Popen([a.relay, "--config", self.conf], stdout=self.logf,
                                     stderr=self.logf,
                                     env=dict(os.environ, BENCH_RELAY_PASSWORD=PASSWORD))

    def check(self):
        if self.proc.poll() is not None:
            raise RuntimeError("tapflow-relay exited %s: %s" % (self.proc.returncode,
                                                               self.log_text()[-2000:]))

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def gtid(self):
        r = tcp_sql(self.port, "SELECT @@gtid_binlog_pos", check=False)
        return r.strip() if r is not None else None

    def wait_gtid(self, want, timeout):
        """Seconds since the relay's start until it serves want."""
        end = time.time() + timeout
        while time.time() < end:
            self.check()
            if self.gtid() == want:
                return time.time() - self.t0
            time.sleep(0.02)
        raise RuntimeError("relay did not reach %s within %.0fs (at %s): %s"
                           % (want, timeout, self.gtid(), self.log_text()[-2000:]))

    def archived_line(self, transactions, timeout=15):
        """The relay's next "archived N transactions (B bytes, S syncs)"
        figures once N reaches transactions (it logs every 10 s)."""
        end = time.time() + timeout
        while time.time() < end:
            self.check()
            for line in reversed(self.log_text().splitlines()):
                if "archived " in line and " transactions (" in line:
                    p = line.split("archived ", 1)[1].split()
                    n, b, s = int(p[0]), int(p[2].lstrip("(")), int(p[4])
                    if n >= transactions:
                        return n, b, s
                    break
            time.sleep(0.2)
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def scan_archive(folder):
    """Bytes, events and transactions (MariaDB GTID events) in the binlog
    files of an archive folder."""
    total = events = txns = 0
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        total += len(data)
        off = 4
        while off + 19 <= len(data):
            etype = data[off + 4]
            size = struct.unpack_from("<I", data, off + 9)[0]
            if size < 19:
                break
            events += 1
            txns += etype == 162  # GTID_EVENT
            off += size
    return total, events, txns


# ---- 1. archive write ----

def burst(primary, txns):
    """txns transactions of EVENTS_PER_TXN events each, one client."""
    chunk = []
    pad = "x" * 100
    for i in range(txns):
        chunk.append("BEGIN; INSERT INTO bench.burst (k, payload) VALUES (%d,'%s-a'),"
                     "(%d,'%s-b'),(%d,'%s-c'); UPDATE bench.burst SET k = k + 1 WHERE id = %d;"
                     " COMMIT;" % (i, pad, i, pad, i, pad, 3 * i + 1))
    t0 = time.time()
    primary.script("\n".join(chunk) + "\n")
    return time.time() - t0


def dd(path, *args):
    t0 = time.time()
    r = subprocess.run(["dd", "if=/dev/zero", "of=" + path] + list(args), capture_output=True,
                       text=True)
    took = time.time() - t0
    if r.returncode:
        raise RuntimeError("dd %s: %s" % (" ".join(args), r.stderr))
    size = os.path.getsize(path)
    os.unlink(path)
    return size, took


def raw_dir_for(tmp):
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else tmp
    return tempfile.mkdtemp(prefix="tf-bench-relay-raw.", dir=shm)


def archive_write(a, tmp, primary, g0, g1, first_primary, table):
    out("")
    out("1. archive write: a fresh relay from %s catches up to %s" % (g0, g1))
    # what one replication client can read from the primary: the relay's
    # upstream ceiling
    plogs = primary.binlogs()
    names = [n for n, _ in plogs]
    up_bytes = sum(s for n, s in plogs[names.index(first_primary):])
    raw_dir = raw_dir_for(tmp)
    try:
        up_s = consumers(primary.port, first_primary, 1, raw_dir)
    finally:
        shutil.rmtree(raw_dir, ignore_errors=True)
    up_rate = mb(up_bytes) / up_s
    out("  upstream read: one mariadb-binlog --raw from the primary, %d bytes in %.2f s, %.1f MB/s"
        % (up_bytes, up_s, up_rate))
    results = {}
    for fsync in ("transaction", "100ms"):
        relay = Relay(a, tmp, primary, "w-" + fsync, fsync, g0)
        try:
            cpu0 = 0.0
            took = relay.wait_gtid(g1, a.timeout)
            cpu = cpu_seconds(relay.proc.pid) - cpu0
            total, events, txns = scan_archive(relay.archive)
            counters = relay.archived_line(txns)
        finally:
            relay.stop()
        syncs = counters[2] if counters else None
        results[fsync] = (took, total, events, txns, syncs, cpu)
        out("  fsync = %-11s %6.2f s  %s bytes, %d events, %d transactions, %s syncs, relay "
            "CPU %.2f s" % (fsync, took, total, events, txns, syncs if syncs is not None else "?",
                            cpu))
        shutil.rmtree(relay.archive, ignore_errors=True)
    total, txns = results["transaction"][1], results["transaction"][3]
    avg_txn = max(512, total // max(1, txns))
    ddfile = os.path.join(tmp, "dd.bin")
    count_mb = max(64, (total + (1 << 20) - 1) >> 20)
    seq_bytes, seq_s = dd(ddfile, "bs=1M", "count=%d" % count_mb, "conv=fsync")
    dsync_count = min(txns, a.dsync_writes)
    ds_bytes, ds_s = dd(ddfile, "bs=%d" % avg_txn, "count=%d" % dsync_count, "oflag=dsync")
    seq_rate = mb(seq_bytes) / seq_s
    ds_rate, ds_ops = mb(ds_bytes) / ds_s, dsync_count / ds_s
    out("  dd bs=1M count=%d conv=fsync: %.1f MB/s; dd bs=%d count=%d oflag=dsync: %.0f writes/s,"
        " %.2f MB/s" % (count_mb, seq_rate, avg_txn, dsync_count, ds_ops, ds_rate))
    for fsync in ("transaction", "100ms"):
        took, total, events, txns, syncs, cpu = results[fsync]
        rate = mb(total) / took
        per_sync = " %.1f txns/sync" % (txns / syncs) if syncs else ""
        table.add("archive write, fsync = %s" % fsync,
                  "%.1f MB/s, %.0f events/s, %.0f txns/s (%s syncs%s, relay CPU %.0f%%)"
                  % (rate, events / took, txns / took, syncs if syncs is not None else "?",
                     per_sync, 100 * cpu / took),
                  "dd 1M conv=fsync %.1f MB/s" % seq_rate, "%.2fx" % (rate / seq_rate))
        table.add("", "", "primary -> mariadb-binlog --raw %.1f MB/s" % up_rate,
                  "%.2fx" % (rate / up_rate))
        if fsync == "transaction":
            table.add("  per transaction vs synchronous writes", "%.0f txns/s" % (txns / took),
                      "dd bs=%d oflag=dsync %.0f writes/s" % (avg_txn, ds_ops),
                      "%.2fx" % (txns / took / ds_ops))
    return results


# ---- 2. serving ----

def consumers(port, first, n, raw_dir):
    """n mariadb-binlog at once from first to the end; wall seconds."""
    procs = []
    t0 = time.time()
    for i in range(n):
        cmd = ["mariadb-binlog", "--no-defaults", "--read-from-remote-server", "--host",
               "127.0.0.1", "--port", str(port), "-u", USER, "--to-last-log"]
        if raw_dir:
            cmd += ["--raw", "--result-file=%s/c%d-" % (raw_dir, i)]
        procs.append(subprocess.Popen(cmd + [first], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, env=ENV))
    errors = []
    for p in procs:
        _, err = p.communicate()
        if p.returncode:
            errors.append(err.decode(errors="replace")[-500:])
    took = time.time() - t0
    if errors:
        raise RuntimeError("mariadb-binlog failed: %s" % errors[0])
    return took


def serving(a, tmp, primary, relay, first_primary, table):
    out("")
    relay_logs = [l.split("\t") for l in tcp_sql(relay.port, "SHOW BINARY LOGS").splitlines()]
    first_relay = relay_logs[0][0]
    relay_bytes = sum(int(l[1]) for l in relay_logs)
    plogs = primary.binlogs()
    names = [n for n, _ in plogs]
    primary_bytes = sum(s for n, s in plogs[names.index(first_primary):])
    out("2. serving: mariadb-binlog --read-from-remote-server --to-last-log, N at once; relay "
        "%s.. %d bytes, primary %s.. %d bytes" % (first_relay, relay_bytes, first_primary,
                                                  primary_bytes))
    raw_dir = raw_dir_for(tmp)
    try:
        for mode in a.modes:
            for n in a.consumers:
                got = {}
                for who, port, first, size, pid in (
                        ("relay", relay.port, first_relay, relay_bytes, relay.proc.pid),
                        ("primary", primary.port, first_primary, primary_bytes, primary.pid())):
                    c0 = cpu_seconds(pid)
                    took = consumers(port, first, n, raw_dir if mode == "raw" else None)
                    cpu = cpu_seconds(pid) - c0
                    for f in os.listdir(raw_dir):
                        os.unlink(os.path.join(raw_dir, f))
                    got[who] = (took, size, cpu)
                    out("  %-6s %2d consumer(s) %-7s %6.2f s  %7.1f MB/s each, %7.1f MB/s "
                        "total, server CPU %.2f s" % (mode, n, who, took, mb(size) / took,
                                                      n * mb(size) / took, cpu))
                rt, rs, rc = got["relay"]
                pt, ps, pc = got["primary"]
                agg_r, agg_p = n * mb(rs) / rt, n * mb(ps) / pt
                table.add("serve %d consumer%s, %s" % (n, "s" if n > 1 else "", mode),
                          "%.1f MB/s each, %.1f total (relay CPU %.2f s)" % (mb(rs) / rt, agg_r,
                                                                              rc),
                          "primary %.1f MB/s each, %.1f total (CPU %.2f s)" % (mb(ps) / pt, agg_p,
                                                                               pc),
                          "%.2fx" % (agg_r / agg_p))
    finally:
        shutil.rmtree(raw_dir, ignore_errors=True)


# ---- 3. added latency ----

def setup_replica(rep, server_id, source_port, pos):
    rep.script("""
SET GLOBAL server_id = %d;
RESET MASTER;
SET GLOBAL slave_run_triggers_for_rbr = YES;
SET SESSION sql_log_bin = 0;
CREATE DATABASE IF NOT EXISTS bench;
CREATE TABLE bench.burst (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT, payload VARCHAR(255));
CREATE TABLE bench.lat (id BIGINT AUTO_INCREMENT PRIMARY KEY, sent_us BIGINT NOT NULL,
  pad VARCHAR(64));
CREATE TABLE bench.applied (id BIGINT PRIMARY KEY, us BIGINT NOT NULL);
CREATE TRIGGER bench.lat_applied AFTER INSERT ON bench.lat FOR EACH ROW
  INSERT INTO bench.applied VALUES (NEW.id, UNIX_TIMESTAMP(SYSDATE(6)) * 1000000);
SET GLOBAL gtid_slave_pos = '%s';
CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %d, MASTER_USER = '%s',
  MASTER_PASSWORD = '%s', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1,
  MASTER_HEARTBEAT_PERIOD = 1;
START SLAVE;
""" % (server_id, pos, source_port, USER, PASSWORD))


def wait_row(rep, row_id, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if rep.sql("SELECT COUNT(*) FROM bench.applied WHERE id = %d" % row_id).strip() == "1":
            return
        time.sleep(0.05)
    raise RuntimeError("replica %s has not applied row %d within %.0fs: %s" % (
        rep.name, row_id, timeout, rep.sql("SHOW SLAVE STATUS")[-2000:]))


def paced_inserts(a, primary):
    """--samples single-row INSERTs, one every --interval-ms, over one
    client; the ids written."""
    cli = subprocess.Popen(primary.root() + ["-n"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ids = []
    t0 = time.time()
    try:
        for i in range(a.samples):
            cli.stdin.write("INSERT INTO bench.lat (sent_us, pad) VALUES "
                            "(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000, 'sample %d');"
                            " SELECT LAST_INSERT_ID();\n" % i)
            cli.stdin.flush()
            ids.append(int(cli.stdout.readline()))
            wait = t0 + (i + 1) * a.interval_ms / 1000.0 - time.time()
            if wait > 0:
                time.sleep(wait)
    finally:
        cli.stdin.close()
        cli.wait()
    return ids


def latency(a, primary, direct, via, label, table):
    # both paths connected and caught up: a probe row through each
    probe = int(primary.sql("INSERT INTO bench.lat (sent_us, pad) VALUES "
                            "(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000, 'probe');"
                            " SELECT LAST_INSERT_ID()").strip())
    for rep in (direct, via):
        wait_row(rep, probe, 120)
    ids = paced_inserts(a, primary)
    for rep in (direct, via):
        wait_row(rep, ids[-1], 120)
    sent = {}
    for l in primary.sql("SELECT id, sent_us FROM bench.lat WHERE id BETWEEN %d AND %d"
                         % (ids[0], ids[-1])).splitlines():
        i, us = l.split("\t")
        sent[int(i)] = int(us)
    lat = {}
    for rep in (direct, via):
        got = {}
        for l in rep.sql("SELECT id, us FROM bench.applied WHERE id BETWEEN %d AND %d"
                         % (ids[0], ids[-1])).splitlines():
            i, us = l.split("\t")
            got[int(i)] = (int(us) - sent[int(i)]) / 1000.0
        lat[rep.name] = got
    d = [lat[direct.name][i] for i in ids if i in lat[direct.name] and i in lat[via.name]]
    r = [lat[via.name][i] for i in ids if i in lat[direct.name] and i in lat[via.name]]
    diff = [y - x for x, y in zip(d, r)]
    out("  %s: %d samples; direct p50 %.2f p99 %.2f max %.2f ms; via relay p50 %.2f p99 %.2f "
        "max %.2f ms; added p50 %.2f p99 %.2f ms" % (
            label, len(d), pct(d, 50), pct(d, 99), max(d), pct(r, 50), pct(r, 99), max(r),
            pct(diff, 50), pct(diff, 99)))
    table.add("commit->apply via relay, %s" % label,
              "p50 %.2f ms, p99 %.2f ms (added p50 %.2f, p99 %.2f; n=%d)" % (
                  pct(r, 50), pct(r, 99), pct(diff, 50), pct(diff, 99), len(d)),
              "direct p50 %.2f ms, p99 %.2f ms" % (pct(d, 50), pct(d, 99)),
              "%.2fx p50" % (pct(r, 50) / pct(d, 50)) if pct(d, 50) > 0 else "")
    return d, r


def added_latency(a, tmp, primary, relay, table):
    out("")
    out("3. commit->apply on a MariaDB replica: via the relay against directly from the primary,"
        " %d INSERTs every %d ms" % (a.samples, a.interval_ms))
    direct, via = Server(tmp, "replica-direct"), Server(tmp, "replica-relay")
    servers = [direct, via]
    try:
        for s in servers:
            s.start()
        pos = primary.gtid()
        setup_replica(direct, 2, primary.port, pos)
        setup_replica(via, 3, relay.port, pos)
        latency(a, primary, direct, via, "fsync = transaction", table)
        # the same archive, restarted with fsync every 100 ms (the replica
        # reconnects after MASTER_CONNECT_RETRY)
        relay.stop()
        relay2 = Relay(a, tmp, primary, "l-100ms", "100ms", pos, archive=relay.archive)
        try:
            relay2.wait_gtid(primary.gtid(), 60)
            via.sql("STOP SLAVE; CHANGE MASTER TO MASTER_PORT = %d; START SLAVE" % relay2.port)
            latency(a, primary, direct, via, "fsync = 100ms", table)
        finally:
            relay2.stop()
        # both replicas hold the same rows
        q = "SELECT COUNT(*), SUM(sent_us) FROM bench.lat"
        want = primary.sql(q)
        for s in servers:
            if s.sql(q) != want:
                raise RuntimeError("replica %s differs from the primary: %s vs %s"
                                   % (s.name, s.sql(q).strip(), want.strip()))
        out("  check: both replicas hold the primary's %s rows" % want.split()[0])
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001
                print("stopping %s: %s" % (s.name, e), file=sys.stderr)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, what, measured, peer="", ratio=""):
        self.rows.append((what, measured, peer, ratio))

    def text(self):
        head = ("figure", "tapflow-relay", "peer (same run)", "ratio")
        w = [max(len(str(r[i])) for r in self.rows + [head]) for i in range(4)]
        fmt = "  ".join("%%-%ds" % x for x in w)
        return ([fmt % head, fmt % tuple("-" * x for x in w)] +
                [(fmt % r).rstrip() for r in self.rows])


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--events", type=int, default=400000,
                    help="binlog events in the burst (transactions of %d)" % EVENTS_PER_TXN)
    ap.add_argument("--consumers", default="1,4,16", help="comma list of consumer counts")
    ap.add_argument("--modes", default="decode,raw",
                    help="consumer modes: decode (to /dev/null), raw (--raw into tmpfs)")
    ap.add_argument("--samples", type=int, default=300, help="latency samples per path")
    ap.add_argument("--interval-ms", type=int, default=20)
    ap.add_argument("--dsync-writes", type=int, default=3000,
                    help="writes of the dd oflag=dsync peer (at most the transactions)")
    ap.add_argument("--timeout", type=float, default=900, help="relay catch-up limit, s")
    ap.add_argument("--skip", default="", help="comma list of steps to skip: write,serve,latency")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (servers stopped)")
    ap.add_argument("--out", default=None, help="also write the output to FILE")
    a = ap.parse_args()
    a.relay = os.path.join(a.build, "tools", "tapflow-relay", "tapflow-relay")
    if not os.access(a.relay, os.X_OK):
        ap.error("%s is not built (--build DIR)" % a.relay)
    a.consumers = [int(x) for x in a.consumers.split(",") if x]
    a.modes = [m for m in a.modes.split(",") if m]
    if any(m not in ("decode", "raw") for m in a.modes):
        ap.error("--modes: decode and/or raw")
    skip = set(x for x in a.skip.split(",") if x)
    txns = max(1, a.events // EVENTS_PER_TXN)

    tmp = tempfile.mkdtemp(prefix="tf-bench-relay.")
    primary = Server(tmp, "primary")
    relay = None
    table = Table()
    t_start = time.time()
    try:
        out("tapflow-relay benchmark — %s, %d cores, %s, load %.1f" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
            os.uname().nodename, os.getloadavg()[0]))
        out("  relay %s; servers and archives under %s" % (a.relay, tmp))
        primary.start()
        primary.script("""
CREATE DATABASE bench;
CREATE TABLE bench.burst (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT, payload VARCHAR(255));
CREATE TABLE bench.lat (id BIGINT AUTO_INCREMENT PRIMARY KEY, sent_us BIGINT NOT NULL,
  pad VARCHAR(64));
FLUSH BINARY LOGS;
""")
        first_primary = primary.binlogs()[-1][0]
        g0 = primary.gtid()
        took = burst(primary, txns)
        g1 = primary.gtid()
        out("burst: %d transactions written to the primary in %.1f s (%.0f txns/s, one client);"
            " GTID %s -> %s" % (txns, took, txns / took, g0, g1))
        if "write" not in skip:
            archive_write(a, tmp, primary, g0, g1, first_primary, table)
        # the relay that serves steps 2 and 3
        relay = Relay(a, tmp, primary, "serve", "transaction", g0)
        relay.wait_gtid(g1, a.timeout)
        if "serve" not in skip:
            serving(a, tmp, primary, relay, first_primary, table)
        if "latency" not in skip:
            added_latency(a, tmp, primary, relay, table)
        return 0
    finally:
        if relay:
            relay.stop()
        try:
            primary.stop()
        except Exception as e:  # noqa: BLE001
            print("stopping the primary: %s" % e, file=sys.stderr)
        if table.rows:
            out("")
            out("results (%d events in %d transactions; %d cores; %.0f s; load %.1f)" % (
                txns * EVENTS_PER_TXN, txns, os.cpu_count(), time.time() - t_start,
                os.getloadavg()[0]))
            for line in table.text():
                out(line)
        if a.out and lines:
            with open(a.out, "w") as f:
                f.write("\n".join(lines) + "\n")
            print("written to", a.out)
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""replica_stream.py — the replica (tapflow-binlog --stream) against live MariaDB.

    tests/integration/replica_stream.py [--tool PATH] [--only NAME] [-v]

Reads the server from tools/servers.sh env (TAPFLOW_MARIADB_HOST/PORT/USER/
PASSWORD/SOCKET). Writes only to its own database tf_replica_it (dropped and
recreated). Tests:

  concurrent_writer   4 writer sessions commit 600 transactions (inserts,
                      updates, deletes over two tables, several rows each)
                      while the replica streams. Every row change arrives:
                      replaying the stream gives each table's exact rows
                      (count and CRC32 checksum equal SELECT's), every UPDATE/
                      DELETE before-image equals the replayed row at that
                      moment (commit order), and the GTIDs the stream
                      delivers are consecutive, without repeats.
  proxy_cuts          the same through a TCP proxy that cuts the connection
                      20 times at random moments (RST or FIN) during the
                      writes: nothing lost, nothing twice, 20 reconnections.
  dead_connection     the proxy silently stops forwarding: the replica sees
                      no heartbeat for 3 periods, reconnects and goes on.
  errors              wrong password, unknown host, TLS required by the
                      client but not offered by the server: exit status 1
                      and a message saying which.
  tls, auth           on a throwaway mariadbd with a certificate: required,
                      verify-ca, verify-identity succeed; a wrong name or an
                      unknown CA fail with the reason; client_ed25519 works
                      (auth switch) and refuses a wrong password.
  flush_kill          on a MariaDB of its own (as below): FLUSH LOGS / FLUSH
                      BINARY LOGS six times under a writer (every ROTATE
                      followed), then mariadbd killed with SIGKILL mid-stream
                      and restarted (crash recovery) while writers go on:
                      one stream throughout, nothing lost or repeated.
  restart, purged     on a MariaDB of its own (tools/servers.sh with
                      TAPFLOW_SERVERS_DIR and TAPFLOW_MARIADB_PORT, never the
                      shared server): restarted twice mid-stream while a
                      writer keeps going — nothing lost or repeated; then its
                      binlogs are purged and a stream from an old position
                      fails naming the missing GTIDs and --resnapshot.

Prints "N passed, N failed"; exits non-zero on any failure.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import json
import zlib

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DB = "tf_replica_it"
HEARTBEAT = 0.5

passed = 0
failed = 0
verbose = False


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}: {detail}")
    sys.stdout.flush()
    return ok


def log(msg):
    if verbose:
        print(f"      {msg}")
        sys.stdout.flush()


# ---- servers -----------------------------------------------------------------


class Server:
    def __init__(self, host, port, user, password, socket_path=None):
        self.host, self.port, self.user, self.password = host, int(port), user, password
        self.socket = socket_path

    def args(self):
        return ["mariadb", "--no-defaults", f"-h{self.host}", f"-P{self.port}", f"-u{self.user}",
                f"-p{self.password}"]

    def sql(self, statement, check_rc=True):
        p = subprocess.run(self.args() + ["-N", "-B", "-e", statement], capture_output=True, text=True)
        if check_rc and p.returncode != 0:
            raise RuntimeError(f"mariadb: {statement[:80]}: {p.stderr.strip()}")
        return p.stdout

    def gtid_pos(self):
        return self.sql("SELECT @@global.gtid_binlog_pos").strip()

    def table_sums(self, table):
        out = self.sql(f"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', id, k, v))), 0) "
                       f"FROM {DB}.{table}").split()
        return int(out[0]), int(out[1])


def setup_schema(server):
    server.sql(f"DROP DATABASE IF EXISTS {DB}; CREATE DATABASE {DB}; "
               f"CREATE TABLE {DB}.t1 (id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(64) NOT NULL) ENGINE=InnoDB; "
               f"CREATE TABLE {DB}.t2 (id INT PRIMARY KEY, k INT NOT NULL, v VARCHAR(64) NOT NULL) ENGINE=InnoDB;")


def writer_script(client, txns, seed):
    """Transactions of a few statements each over t1 and t2; ids of this
    client only (no deadlocks), so every transaction commits."""
    rnd = random.Random(seed)
    base = client * 1000000
    live = {"t1": set(), "t2": set()}
    next_id = base
    lines = []
    for t in range(txns):
        lines.append("BEGIN;")
        for _ in range(rnd.randint(1, 4)):
            table = rnd.choice(["t1", "t2"])
            op = rnd.random()
            ids = live[table]
            if op < 0.5 or len(ids) < 3:
                rows = []
                for _ in range(rnd.randint(1, 5)):
                    next_id += 1
                    ids.add(next_id)
                    rows.append(f"({next_id},{rnd.randint(0, 1000)},'c{client}-t{t}-{rnd.random():.6f}')")
                lines.append(f"INSERT INTO {DB}.{table} VALUES {','.join(rows)};")
            elif op < 0.85:
                victim = rnd.choice(sorted(ids))
                lines.append(f"UPDATE {DB}.{table} SET k=k+1, v='u{client}-{t}-{rnd.randint(0, 99999)}' "
                             f"WHERE id={victim};")
            else:
                victim = rnd.choice(sorted(ids))
                ids.discard(victim)
                lines.append(f"DELETE FROM {DB}.{table} WHERE id={victim};")
        lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def run_writers(server, clients, txns, seed):
    procs = []
    for c in range(clients):
        script = writer_script(c + 1 + seed * 10, txns, seed * 100 + c)
        p = subprocess.Popen(server.args() + ["--batch"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        procs.append((p, script))
    threads = []
    for p, script in procs:
        th = threading.Thread(target=p.communicate, args=(script,))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    return all(p.returncode == 0 for p, _ in procs)


# ---- the tool ------------------------------------------------------------------


class Stream:
    """tapflow-binlog --stream, its stdout parsed line by line."""

    def __init__(self, tool, server, extra, host=None, port=None):
        env = dict(os.environ, TF_TEST_PW=server.password)
        self.errfile = tempfile.TemporaryFile(mode="w+")
        self.server_id = random.randint(1000, 60000)
        args = [tool, "--stream", "--host", host or server.host, "--port", str(port or server.port),
                "--user", server.user, "--password-env", "TF_TEST_PW", "--heartbeat", str(HEARTBEAT),
                "--server-id", str(self.server_id), "--report-host", "tapflow-it"] + extra
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.errfile, env=env, text=True)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for_gtid(self, pos, timeout):
        """Until every transaction up to the MariaDB position pos (as
        @@gtid_binlog_pos prints it) has been printed whole."""
        target = {int(g.split("-")[0]): int(g.split("-")[2]) for g in pos.split(",") if g}
        seen = {}
        deadline = time.time() + timeout
        idx = 0
        with self.cond:
            while time.time() < deadline:
                while idx < len(self.lines):
                    rec = json.loads(self.lines[idx])
                    idx += 1
                    if rec.get("type") == "MARIADB_GTID":
                        d, _, q = rec["gtid"].split("-")
                        seen[int(d)] = max(seen.get(int(d), 0), int(q))
                    elif rec.get("type") in ("XID", "QUERY") and \
                            all(seen.get(d, 0) >= q for d, q in target.items()):
                        return True
                if not target:
                    return True
                if self.proc.poll() is not None and idx >= len(self.lines):
                    return False
                self.cond.wait(0.2)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        return self.proc.returncode

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read()


def replay(lines, start_pos):
    """Applies the stream's row changes. Returns (tables, problems, gtids)."""
    tables = {"t1": {}, "t2": {}}
    problems = []
    gtids = []
    for line in lines:
        rec = json.loads(line)
        if rec.get("type") == "MARIADB_GTID":
            gtids.append(rec["gtid"])
            continue
        if rec.get("db") != DB or "op" not in rec:
            continue
        rows = tables[rec["table"]]
        op = rec["op"]
        if op == "insert":
            a = rec["after"]
            if a["id"] in rows:
                problems.append(f"insert of existing id {a['id']} ({rec['gtid']})")
            rows[a["id"]] = a
        else:
            b = rec["before"]
            have = rows.get(b["id"])
            if have != b:
                problems.append(f"{op} before-image {b} != replayed {have} ({rec['gtid']})")
            if op == "update":
                a = rec["after"]
                rows.pop(b["id"], None)
                rows[a["id"]] = a
            else:
                rows.pop(b["id"], None)
    return tables, problems, gtids


def check_stream(name, server, stream_lines, start_pos, end_pos):
    tables, problems, gtids = replay(stream_lines, start_pos)
    check(f"{name}: every UPDATE/DELETE before-image equals the row at that point (commit order)",
          not problems, "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
    for t in ("t1", "t2"):
        want = server.table_sums(t)
        rows = tables[t]
        got = (len(rows), sum(zlib.crc32(f"{r['id']}|{r['k']}|{r['v']}".encode()) for r in rows.values()))
        check(f"{name}: {t} count and checksum equal SELECT's {want}", got == want, f"stream gives {got}")
    # GTIDs: consecutive per domain from the start position to the end one.
    start = {int(g.split("-")[0]): int(g.split("-")[2]) for g in start_pos.split(",") if g}
    end = {int(g.split("-")[0]): int(g.split("-")[2]) for g in end_pos.split(",") if g}
    by_domain = {}
    for g in gtids:
        d, _, s = g.split("-")
        by_domain.setdefault(int(d), []).append(int(s))
    bad = []
    for d, want_end in end.items():
        seqs = by_domain.get(d, [])
        expect = list(range(start.get(d, 0) + 1, want_end + 1))
        if seqs[:len(expect)] != expect:
            dup = len(seqs) - len(set(seqs))
            missing = sorted(set(expect) - set(seqs))
            bad.append(f"domain {d}: {len(seqs)} GTIDs, {dup} repeated, missing {missing[:5]}")
    check(f"{name}: GTIDs {start_pos}..{end_pos} delivered once each, in order", not bad, "; ".join(bad))


# ---- TCP proxy -----------------------------------------------------------------


class Proxy:
    """Forwards 127.0.0.1:<port> to the server; can cut or stall every
    connection it carries."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        self.stalled = False
        self.cut_mid = False  # next server->client chunk: forward part, then cut
        self.connections = 0
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
                self.connections += 1
            for a, b, down in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pump, args=(a, b, down), daemon=True).start()

    def _pump(self, src, dst, downstream):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.stalled:
                    time.sleep(0.05)
                if downstream and self.cut_mid and len(data) > 1:
                    self.cut_mid = False
                    dst.sendall(data[:random.randint(1, len(data) - 1)])
                    self.cut(reset=random.random() < 0.5)
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, reset):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for c, u in pairs:
            for s in (c, u):
                try:
                    if reset:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
        return len(pairs)

    def close(self):
        self.running = False
        self.stalled = False
        self.listener.close()
        self.cut(False)


# ---- tests ----------------------------------------------------------------------


def test_concurrent_writer(tool, server):
    setup_schema(server)
    start = server.gtid_pos()
    s = Stream(tool, server, ["--gtid", start])
    time.sleep(0.5)
    hosts = server.sql("SHOW SLAVE HOSTS")
    check("concurrent_writer: SHOW SLAVE HOSTS lists the replica (server_id, report host)",
          any(line.split("\t")[:2] == [str(s.server_id), "tapflow-it"] for line in hosts.splitlines()), hosts)
    ok = run_writers(server, 4, 150, seed=1)
    check("concurrent_writer: 4 writers committed 600 transactions", ok)
    end = server.gtid_pos()
    caught = s.wait_for_gtid(end, 60)
    rc = s.stop()
    check("concurrent_writer: the stream reached the last GTID and stopped cleanly on SIGTERM",
          caught and rc == 0, f"caught={caught} rc={rc} stderr={s.stderr()[-500:]}")
    check_stream("concurrent_writer", server, s.lines, start, end)


def test_proxy_cuts(tool, server):
    setup_schema(server)
    start = server.gtid_pos()
    proxy = Proxy(server.host, server.port)
    s = Stream(tool, server, ["--gtid", start], host="127.0.0.1", port=proxy.port)
    time.sleep(0.5)
    done = threading.Event()
    cutting = threading.Event()
    result = {"ok": True, "rounds": 0}

    def write():
        # Rounds of 4 x 50 transactions until the 20 cuts are done, so
        # every cut meets a busy stream.
        while not cutting.is_set() or result["rounds"] < 2:
            result["rounds"] += 1
            result["ok"] &= run_writers(server, 4, 50, seed=2 + result["rounds"])
            time.sleep(0.1)
        done.set()

    threading.Thread(target=write).start()
    cuts = 0
    rnd = random.Random(7)
    while cuts < 20:
        time.sleep(rnd.uniform(0.05, 0.4))
        if cuts % 2 == 0:
            time.sleep(0.3)  # let the last reconnection reach the stream
            # inside whatever the server sends next: mid-packet, often
            # mid-transaction
            proxy.cut_mid = True
            t0 = time.time()
            while proxy.cut_mid and time.time() - t0 < 5:
                time.sleep(0.01)
            if not proxy.cut_mid:
                cuts += 1
            proxy.cut_mid = False
        elif proxy.cut(reset=rnd.random() < 0.5):
            cuts += 1
    cutting.set()
    done.wait(300)
    check(f"proxy_cuts: writers committed {result['rounds'] * 200} transactions during the cuts",
          result["ok"])
    end = server.gtid_pos()
    caught = s.wait_for_gtid(end, 90)
    rc = s.stop()
    proxy.close()
    err = s.stderr()
    reconnects = err.count("reconnecting in")
    check(f"proxy_cuts: 20 cuts, {reconnects} reconnections, stream caught up and stopped cleanly",
          caught and rc == 0 and reconnects >= 20, f"caught={caught} rc={rc} stderr tail={err[-800:]}")
    partial = err.count("discarded the partial transaction")
    log(f"partial transactions discarded: {partial}")
    check(f"proxy_cuts: some cuts fell inside a transaction ({partial} partial transactions dropped and "
          f"received again)", partial > 0, "no cut inside a transaction: the test did not test that")
    check_stream("proxy_cuts", server, s.lines, start, end)


def test_dead_connection(tool, server):
    setup_schema(server)
    start = server.gtid_pos()
    proxy = Proxy(server.host, server.port)
    s = Stream(tool, server, ["--gtid", start], host="127.0.0.1", port=proxy.port)
    time.sleep(1.0)
    proxy.stalled = True
    t0 = time.time()
    detected = None
    while time.time() - t0 < 10:
        if "presumed dead" in s.stderr():
            detected = time.time() - t0
            break
        time.sleep(0.05)
    proxy.cut(False)
    proxy.stalled = False
    check(f"dead_connection: silence detected within 3 heartbeat periods ({3 * HEARTBEAT:.1f} s + one "
          f"watchdog tick)", detected is not None and detected <= 3 * HEARTBEAT + 0.6,
          f"detected after {detected}")
    run_writers(server, 1, 50, seed=3)
    end = server.gtid_pos()
    caught = s.wait_for_gtid(end, 30)
    rc = s.stop()
    proxy.close()
    check("dead_connection: after reconnecting the stream goes on", caught and rc == 0,
          f"caught={caught} rc={rc} stderr={s.stderr()[-600:]}")
    check_stream("dead_connection", server, s.lines, start, end)


def run_tool_error(tool, args, env_pw):
    env = dict(os.environ, TF_TEST_PW=env_pw)
    t0 = time.time()
    p = subprocess.run([tool, "--stream", "--password-env", "TF_TEST_PW"] + args, capture_output=True,
                       text=True, env=env, timeout=60)
    return p.returncode, p.stderr.strip(), time.time() - t0, p.stdout


def test_errors(tool, server):
    base = ["--host", server.host, "--port", str(server.port), "--user", server.user]
    rc, err, _, _ = run_tool_error(tool, base, "wrong-password")
    check("errors: wrong password: exit 1, 'Access denied'", rc == 1 and "Access denied" in err and
          "wrong-password" not in err, f"rc={rc} {err}")
    rc, err, _, _ = run_tool_error(tool, ["--host", "no-such-host.invalid", "--port", "3306", "--user", "x"],
                                   server.password)
    check("errors: unknown host: exit 1, 'cannot resolve host'", rc == 1 and "cannot resolve host "
          "'no-such-host.invalid'" in err, f"rc={rc} {err}")
    rc, err, _, _ = run_tool_error(tool, base + ["--ssl-mode", "required"], server.password)
    check("errors: TLS required but not offered: exit 1, says so", rc == 1 and "does not offer TLS" in err,
          f"rc={rc} {err}")
    rc, err, _, _ = run_tool_error(tool, base + ["--ssl-mode", "verify-identity"], server.password)
    check("errors: TLS verify-identity against a server without TLS: exit 1", rc == 1 and
          "does not offer TLS" in err, f"rc={rc} {err}")
    rc, err, _, out = run_tool_error(tool, base + ["--ssl-mode", "preferred", "--stop-at-end", "--gtid",
                                                   server.gtid_pos()], server.password)
    check("errors: TLS preferred falls back to plain and streams to the end: exit 0", rc == 0 and
          "reached the end of the binlog" in err, f"rc={rc} {err}")
    sock = os.environ.get("TAPFLOW_MARIADB_SOCKET")
    if sock:
        rc, err, _, out = run_tool_error(tool, ["--socket", sock, "--user", server.user, "--stop-at-end",
                                                "--gtid", server.gtid_pos()], server.password)
        check("errors: the Unix socket works too (exit 0 at the end)", rc == 0 and "mysqld.sock" in err,
              f"rc={rc} {err}")


class OwnServer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tf-replica-it-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = dict(os.environ, TAPFLOW_SERVERS_DIR=self.dir, TAPFLOW_MARIADB_PORT=str(self.port))

    def servers(self, *args):
        return subprocess.run(["bash", os.path.join(TOP, "tools/servers.sh")] + list(args), env=self.env,
                              capture_output=True, text=True)

    def start(self):
        p = self.servers("start", "mariadb")
        if p.returncode != 0:
            raise RuntimeError(p.stderr)

    def stop(self):
        self.servers("stop", "mariadb")

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def keep_writing(server, stop_event, counter, first_batch=1):
    """Batches of 5 transactions with ids of their own; a batch that fails
    while the server is down is not retried (what committed, committed: the
    final SELECT decides). Writers started one after the other give
    different first_batch numbers (ids are batch * 100 + n)."""
    i = first_batch - 1
    while not stop_event.is_set():
        i += 1
        p = subprocess.run(server.args() + ["--batch"], input=_batch_script(i), capture_output=True, text=True)
        if p.returncode == 0:
            counter[0] += 1
        else:
            time.sleep(0.2)


def _batch_script(i):
    rnd = random.Random(i)
    lines = []
    for t in range(5):
        rid = i * 100 + t
        lines.append(f"BEGIN; INSERT INTO {DB}.t1 VALUES ({rid},{t},'b{i}-{t}'); "
                     f"INSERT INTO {DB}.t2 VALUES ({rid},{t},'b{i}-{t}'); "
                     f"UPDATE {DB}.t1 SET k=k+1 WHERE id={rid}; COMMIT;")
        if t == 4 and i > 2:
            victim = (i - 2) * 100 + rnd.randint(0, 4)
            lines.append(f"DELETE FROM {DB}.t2 WHERE id={victim};")
    return "\n".join(lines) + "\n"


def test_restart_and_purge(tool, user, password):
    own = OwnServer()
    try:
        own.start()
        server = Server("127.0.0.1", own.port, user, password)
        setup_schema(server)
        start = server.gtid_pos()
        s = Stream(tool, server, ["--gtid", start])
        time.sleep(0.5)
        stop_event = threading.Event()
        counter = [0]
        w = threading.Thread(target=keep_writing, args=(server, stop_event, counter))
        w.start()
        for _ in range(2):
            time.sleep(1.5)
            own.stop()
            time.sleep(0.5)
            own.start()
        time.sleep(1.5)
        stop_event.set()
        w.join()
        end = server.gtid_pos()
        caught = s.wait_for_gtid(end, 60)
        rc = s.stop()
        err = s.stderr()
        check(f"restart: MariaDB restarted twice mid-stream ({counter[0]} writer batches); the stream "
              f"reconnected, caught up and stopped cleanly", caught and rc == 0 and "reconnecting" in err,
              f"caught={caught} rc={rc} stderr={err[-800:]}")
        check_stream("restart", server, s.lines, start, end)

        # Purge everything before the current binlog, then ask for an old
        # position: the error names the missing GTIDs.
        server.sql("FLUSH BINARY LOGS")
        current = server.sql("SHOW MASTER STATUS").split()[0]
        server.sql(f"PURGE BINARY LOGS TO '{current}'")
        oldest = server.sql("SHOW BINARY LOGS").split()[0]
        last = int(server.sql(f"SELECT BINLOG_GTID_POS('{oldest}', 4)").strip().split("-")[2])
        rc, msg, _, _ = run_tool_error(tool, ["--host", "127.0.0.1", "--port", str(own.port), "--user", user,
                                              "--gtid", "0-1-1", "--stop-at-end"], password)
        want = f"0-1-2..0-1-{last}"
        check("purged: a position the server purged: exit 1, names the missing GTIDs and --resnapshot",
              rc == 1 and want in msg and "--resnapshot" in msg, f"rc={rc} {msg} (wanted {want})")
    finally:
        own.remove()


def own_mariadbd_pid(own):
    """The pid of our own server's mariadbd (checked against its command
    line: the pid file may be stale and its number reused)."""
    try:
        with open(os.path.join(own.dir, "mariadb", "mariadbd.pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if "mariadbd" in cmd and own.dir in cmd else None


def real_rotations(lines):
    """Files the stream moved to through a ROTATE the server wrote at the
    end of a binlog (log_pos != 0; the artificial ROTATE of each dump has
    pos 0)."""
    files = []
    for line in lines:
        rec = json.loads(line)
        if rec.get("type") == "ROTATE" and rec.get("pos", 0) != 0:
            files.append(rec["next_file"])
    return files


def test_flush_and_kill(tool, user, password):
    """On a MariaDB of its own: FLUSH LOGS / FLUSH BINARY LOGS six times
    under a writer, then SIGKILL of mariadbd mid-stream and a restart (crash
    recovery) while writers keep going: one stream throughout, nothing lost
    or repeated."""
    own = OwnServer()
    try:
        own.start()
        server = Server("127.0.0.1", own.port, user, password)
        setup_schema(server)
        start = server.gtid_pos()
        first_file = server.sql("SHOW MASTER STATUS").split()[0]
        s = Stream(tool, server, ["--gtid", start])
        time.sleep(0.3)

        # 1. rotations under a writer
        stop_event = threading.Event()
        counter = [0]
        w = threading.Thread(target=keep_writing, args=(server, stop_event, counter, 1))
        w.start()
        for n in range(6):
            time.sleep(0.3)
            server.sql("FLUSH LOGS" if n % 2 == 0 else "FLUSH BINARY LOGS")
        time.sleep(0.3)
        stop_event.set()
        w.join()
        mid = server.gtid_pos()
        caught = s.wait_for_gtid(mid, 30)
        rotations = real_rotations(s.lines)
        last_file = server.sql("SHOW MASTER STATUS").split()[0]
        check(f"flush_logs: 6 rotations ({first_file} .. {last_file}) under a writer ({counter[0]} batches): "
              f"the stream followed every ROTATE and caught up",
              caught and len(rotations) >= 6 and rotations[-1] == last_file,
              f"caught={caught} rotations={rotations} last={last_file} stderr={s.stderr()[-600:]}")
        check_stream("flush_logs", server, s.lines, start, mid)

        # 2. SIGKILL mid-stream, then a restart (crash recovery)
        stop_event = threading.Event()
        counter2 = [0]
        w = threading.Thread(target=keep_writing, args=(server, stop_event, counter2, 10001))
        w.start()
        time.sleep(1.0)
        pid = own_mariadbd_pid(own)
        killed = pid is not None
        if killed:
            os.kill(pid, signal.SIGKILL)
            for _ in range(100):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.05)
        time.sleep(0.5)
        own.start()
        time.sleep(1.0)
        stop_event.set()
        w.join()
        end = server.gtid_pos()
        caught = s.wait_for_gtid(end, 60)
        rc = s.stop()
        err = s.stderr()
        check(f"kill: mariadbd killed with SIGKILL mid-stream and restarted ({counter2[0]} writer batches): "
              f"the stream reconnected, caught up and stopped cleanly",
              killed and caught and rc == 0 and "reconnecting" in err,
              f"killed={killed} caught={caught} rc={rc} stderr={err[-800:]}")
        check_stream("kill", server, s.lines, start, end)
    finally:
        own.remove()


class TlsServer:
    """A throwaway mariadbd with a certificate (tools/servers.sh configures
    none): CA and server certificate made here, SAN DNS:localhost only."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tf-replica-tls-")
        d = self.dir
        with socket.socket() as so:
            so.bind(("127.0.0.1", 0))
            self.port = so.getsockname()[1]

        def run(*args):
            subprocess.run(list(args), cwd=d, check=True, capture_output=True)

        for ca in ("ca", "other-ca"):
            run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}-key.pem", "-out",
                f"{ca}.pem", "-days", "2", "-subj", f"/CN=tapflow {ca}")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr",
            "-subj", "/CN=localhost")
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write("subjectAltName=DNS:localhost\n")
        run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
        run("mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={d}/data",
            "--auth-root-authentication-method=socket")
        self.sock = f"{d}/s.sock"
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=root", f"--datadir={d}/data", f"--socket={self.sock}",
             f"--port={self.port}", "--bind-address=127.0.0.1", "--server-id=5", f"--log-bin={d}/data/bin",
             "--binlog-format=ROW", f"--ssl-ca={d}/ca.pem", f"--ssl-cert={d}/server.pem",
             f"--ssl-key={d}/server-key.pem", f"--pid-file={d}/pid", f"--log-error={d}/err.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        root = ["mariadb", "--no-defaults", "-uroot", f"--socket={self.sock}", "-e"]
        for _ in range(200):
            if subprocess.run(root + ["SELECT 1"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(root + ["CREATE USER t@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT ALL ON *.* TO t@'127.0.0.1'; "
                               "INSTALL SONAME 'auth_ed25519'; "
                               "CREATE USER e@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('edpw'); "
                               "GRANT ALL ON *.* TO e@'127.0.0.1'; "
                               "CREATE DATABASE x; CREATE TABLE x.a (id INT PRIMARY KEY); "
                               "INSERT INTO x.a VALUES (1)"], check=True, capture_output=True)

    def remove(self):
        subprocess.run(["mariadb-admin", "--no-defaults", "-uroot", f"--socket={self.sock}", "shutdown"],
                       capture_output=True)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_tls(tool):
    srv = TlsServer()
    try:
        ca = os.path.join(srv.dir, "ca.pem")
        other = os.path.join(srv.dir, "other-ca.pem")

        def stream(host, user, pw, mode, ca_file):
            args = ["--host", host, "--port", str(srv.port), "--user", user, "--ssl-mode", mode,
                    "--gtid", "0-5-0", "--stop-at-end"]
            if ca_file:
                args += ["--ssl-ca", ca_file]
            return run_tool_error(tool, args, pw)

        for mode in ("required", "verify-ca"):
            rc, err, _, out = stream("127.0.0.1", "t", "pw", mode, ca)
            check(f"tls: {mode}: streams over TLS (exit 0, the insert arrives)", rc == 0 and ", TLS)" in err and
                  '"op":"insert"' in out, f"rc={rc} {err}")
        rc, err, _, out = stream("localhost", "t", "pw", "verify-identity", ca)
        check("tls: verify-identity with the certificate's name: exit 0", rc == 0 and ", TLS)" in err,
              f"rc={rc} {err}")
        rc, err, _, _ = stream("127.0.0.1", "t", "pw", "verify-identity", ca)
        check("tls: verify-identity with a name the certificate lacks: exit 1, says why",
              rc == 1 and "certificate: IP address mismatch" in err, f"rc={rc} {err}")
        rc, err, _, _ = stream("127.0.0.1", "t", "pw", "verify-ca", other)
        check("tls: verify-ca with a CA that did not sign it: exit 1, says why",
              rc == 1 and "certificate" in err, f"rc={rc} {err}")
        rc, err, _, out = stream("127.0.0.1", "e", "edpw", "disabled", None)
        check("auth: client_ed25519 (MariaDB auth switch) without TLS: exit 0",
              rc == 0 and '"op":"insert"' in out, f"rc={rc} {err}")
        rc, err, _, out = stream("127.0.0.1", "e", "wrong", "required", None)
        check("auth: client_ed25519 with a wrong password: exit 1, Access denied",
              rc == 1 and "Access denied" in err, f"rc={rc} {err}")
    finally:
        srv.remove()


def find_tool():
    for d in ("build", "build-replica"):
        p = os.path.join(TOP, d, "tools/tapflow-binlog/tapflow-binlog")
        if os.access(p, os.X_OK):
            return p
    return None


def main():
    global verbose
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool")
    ap.add_argument("--only")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    verbose = a.v
    tool = a.tool or find_tool()
    if tool is None:
        check("tapflow-binlog is built", False, "no build/tools/tapflow-binlog/tapflow-binlog")
        print(f"{passed} passed, {failed} failed")
        return 1
    env = os.environ
    if "TAPFLOW_MARIADB_PORT" not in env:
        out = subprocess.run(["bash", os.path.join(TOP, "tools/servers.sh"), "env"], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            k, _, v = line.replace("export ", "").partition("=")
            os.environ.setdefault(k, v.strip("'"))
    server = Server(env.get("TAPFLOW_MARIADB_HOST", "127.0.0.1"), env["TAPFLOW_MARIADB_PORT"],
                    env.get("TAPFLOW_MARIADB_USER", "tapflow"), env.get("TAPFLOW_MARIADB_PASSWORD", "tapflow-test"))
    tests = [("concurrent_writer", lambda: test_concurrent_writer(tool, server)),
             ("proxy_cuts", lambda: test_proxy_cuts(tool, server)),
             ("dead_connection", lambda: test_dead_connection(tool, server)),
             ("errors", lambda: test_errors(tool, server)),
             ("restart", lambda: test_restart_and_purge(tool, server.user, server.password)),
             ("flush_kill", lambda: test_flush_and_kill(tool, server.user, server.password)),
             ("tls", lambda: test_tls(tool))]
    for name, fn in tests:
        if a.only and a.only != name:
            continue
        try:
            fn()
        except Exception as e:  # a crash of the test itself is a failure, not a stop
            check(f"{name}: ran", False, repr(e))
    try:
        server.sql(f"DROP DATABASE IF EXISTS {DB}")
    except Exception:
        pass
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

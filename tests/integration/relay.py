#!/usr/bin/env python3
"""relay.py — tapflow-relay between a real MariaDB primary and its consumers.

    tests/integration/relay.py [--seed N] [--kills N] [--keep]

Own temporary MariaDB servers (tools/servers.sh with their own folders and
ports): a primary, and a replica that replicates *through the relay*
(CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos). Two tapflow flows (the
guide's flow, datasource `relay = R`) stream through the same relay into the
shared mongo target. Then:

  1. one upstream connection: the primary's process list shows one Binlog
     Dump, the relay's SHOW SLAVE HOSTS lists the replica and both flows;
  2. a random workload (view_differential.py's) runs while the relay is
     killed with SIGKILL at random moments (--kills, default 10) and the
     primary is restarted once; at the end the replica's CHECKSUM TABLE of
     every table equals the primary's, both flows' documents equal the SQL
     LEFT JOINs, and every archive file decodes whole (tapflow-binlog);
  3. the primary purges its binlogs while flow A is stopped: flow A resumes
     from the relay with --gtid-resume, without a snapshot, exact;
  4. errors: a wrong downstream password (1045), a GTID the relay does not
     hold (the replica stops with MariaDB's 1236 text), an archive folder
     that cannot be created, and a full disk (a 1 MiB tmpfs; where mounting
     is not permitted, a file size limit): the relay exits 1 naming the
     cause, the archive left behind decodes whole, and a relay restarted on
     a copy of it with room catches up to the primary.

Prints "N passed, N failed"; exit status 1 on any failure. Needs the shared
mongo target (TAPFLOW_MONGO_URI, tools/servers.sh env).
"""
import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402
import view_differential as vd  # noqa: E402

check = vd.check
RELAY_BIN = os.path.join(lib.BUILD, "tools", "tapflow-relay", "tapflow-relay")
BINLOG_BIN = os.path.join(lib.BUILD, "tools", "tapflow-binlog", "tapflow-binlog")
PASSWORD = "tapflow-test"


class Mariadb:
    """A temporary MariaDB of tools/servers.sh: its own folder and port."""

    def __init__(self, tmp, name):
        self.dir = os.path.join(tmp, name)
        self.port = vd.free_port()
        self.env = dict(os.environ, TAPFLOW_SERVERS_DIR=self.dir,
                        TAPFLOW_MARIADB_PORT=str(self.port))
        self.sock = os.path.join(self.dir, "mariadb", "mysqld.sock")
        self.srv = vd.Servers("127.0.0.1", self.port, "tapflow", PASSWORD, lib.MONGO_URI)

    def start(self):
        vd.servers_cmd(self.env, "start", "mariadb")

    def stop(self):
        vd.servers_cmd(self.env, "stop", "mariadb")

    def root(self, text, db=""):
        r = subprocess.run(["mariadb", "--no-defaults", "-uroot", "--socket=" + self.sock, "-N",
                            "-B"] + ([db] if db else []), input=text, capture_output=True,
                           text=True)
        if r.returncode:
            raise RuntimeError("SQL failed: %s: %s" % (text[:200], r.stderr))
        return r.stdout.splitlines()

    def slave_status(self):
        out = subprocess.run(["mariadb", "--no-defaults", "-uroot", "--socket=" + self.sock, "-e",
                              "SHOW SLAVE STATUS\\G"], capture_output=True, text=True).stdout
        return dict(re.findall(r"^\s*(\w+): (.*)$", out, re.M))


class Relay:
    count = 0

    def __init__(self, tmp, upstream, start_gtid, archive=None, name="relay"):
        Relay.count += 1
        # Each relay its own replica server_id: MariaDB drops a connection
        # when another one registers with the same id.
        self.server_id = 7600 + os.getpid() % 300 + Relay.count
        self.tmp = tmp
        self.port = vd.free_port()
        self.archive = archive or os.path.join(tmp, name + "-archive")
        self.conf = os.path.join(tmp, name + ".conf")
        self.name = name
        self.write_conf(upstream, start_gtid)
        self.proc = None
        self.starts = 0
        self.logpath = None

    def write_conf(self, upstream, start_gtid, extra=""):
        with open(self.conf, "w") as f:
            f.write("""[datasource Upstream]
type = mysql
host = 127.0.0.1
port = %d
user = tapflow
password_env = TAPFLOW_MARIADB_PASSWORD

[relay R]
upstream = Upstream
listen = 127.0.0.1:%d
archive = %s
server_id = %d
rotate_size = 256K
compress = zstd
start = %s
%s""" % (upstream.port, self.port, self.archive, self.server_id, start_gtid, extra))

    def start(self, preexec=None):
        self.starts += 1
        self.logpath = os.path.join(self.tmp, "%s-%d.log" % (self.name, self.starts))
        logf = open(self.logpath, "w")
        self.proc = subprocess.Popen([RELAY_BIN, "--config", self.conf], stdout=logf,
                                     stderr=logf, preexec_fn=preexec,
                                     env=dict(os.environ, TAPFLOW_MARIADB_PASSWORD=PASSWORD))
        logf.close()

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=30):
        return lib.wait_log(self.log, self.proc, text, timeout, poll_s=0.02)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def sql(self, text, password=PASSWORD):
        r = subprocess.run(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(self.port),
                            "-u", "tapflow", "-p" + password, "-N", "-B", "-e", text],
                           capture_output=True, text=True)
        return r.returncode, r.stdout.splitlines(), r.stderr


class Flow(vd.Daemon):
    """The guide's flow streaming through the relay into mongo database mdb."""

    def __init__(self, srv, db, mdb, tmp, server_id, relay):
        super().__init__(srv, db, tmp, server_id)
        self.mdb = mdb
        self.conf = os.path.join(tmp, "tapflow-%s.conf" % mdb)
        lib.write_config(self.conf, db, server_id, mongo_db=mdb, checkpoint_interval_ms=300,
                         extra="status_listen = 127.0.0.1:%d" % vd.free_port(),
                         host=srv.host, port=srv.port, user=srv.user, mongo_uri=srv.mongo_uri)
        with open(self.conf) as f:
            text = f.read()
        text = text.replace("[datasource MySQL_ECommerce]\n",
                            "[datasource MySQL_ECommerce]\nrelay = R\n")
        # The relay's own section, as the relay's config would have it.
        text += ("\n[datasource Primary]\ntype = mysql\nhost = %s\nport = %s\nuser = %s\n"
                 "password_env = TAPFLOW_MARIADB_PASSWORD\n"
                 "\n[relay R]\nupstream = Primary\nlisten = 127.0.0.1:%d\narchive = %s\n"
                 % (srv.host, srv.port, srv.user, relay.port, relay.archive))
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, *flags):
        # Distinct log names for the two flows on one database.
        self.starts += 1
        self.logpath = os.path.join(self.tmp, "%s-daemon-%d.log" % (self.mdb, self.starts))
        logf = open(self.logpath, "w")
        self.proc = subprocess.Popen([vd.BIN, "--flow", vd.FLOW, "--config", self.conf] +
                                     list(flags), stdout=logf, stderr=logf,
                                     env=dict(os.environ, TAPFLOW_MARIADB_PASSWORD=PASSWORD))
        logf.close()


def wait_synced(srv, mongo, flow, timeout=240):
    target = srv.gtid_pos()
    end = time.time() + timeout
    last = None
    while time.time() < end:
        if flow.proc.poll() is not None:
            return False, "flow exited %s: %s" % (flow.proc.returncode, flow.log()[-1500:])
        try:
            cp = mongo.call(cmd="checkpoint", db=flow.mdb, flow=vd.FLOW_NAME)
        except RuntimeError as e:
            cp = {"error": str(e)}
        if cp and "gtid" in cp:
            last = cp["gtid"]
            if vd.reached(last, target):
                return True, ""
        time.sleep(0.1)
    return False, "checkpoint %s never reached %s within %d s" % (last, target, timeout)


def compare(srv, mongo, db, mdb, decimal128, label):
    want = vd.expected_documents(srv, db, decimal128)
    got, problems = vd.actual_documents(mongo, mdb)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = ["order %s: %s" % (k, "; ".join(vd.diff(want[k], got[k])[:5]))
             for k in sorted(set(want) & set(got)) if vd.diff(want[k], got[k])]
    check(not (missing or extra or wrong or problems),
          "%s: %d documents equal the SQL LEFT JOINs, none extra" % (label, len(want)),
          "missing %s; extra %s; %d wrong: %s; %s" % (missing[:10], extra[:10], len(wrong),
                                                       " | ".join(wrong[:6]), problems[:5]))


def wait_replica(primary, replica, timeout=120):
    want = primary.root("SELECT @@gtid_binlog_pos")[0]
    end = time.time() + timeout
    got = None
    while time.time() < end:
        got = replica.root("SELECT @@gtid_slave_pos")[0]
        if got == want:
            return True, ""
        time.sleep(0.1)
    st = replica.slave_status()
    return False, "gtid_slave_pos %s, want %s; IO %s SQL %s: %s %s" % (
        got, want, st.get("Slave_IO_Running"), st.get("Slave_SQL_Running"),
        st.get("Last_IO_Error"), st.get("Last_SQL_Error"))


def checksums(server, db):
    rows = server.root("CHECKSUM TABLE %s" % ", ".join(vd.TABLES), db)
    return sorted(tuple(r) for r in (line.split("\t") for line in rows))


def archive_decodes(archive):
    """Every archive file decodes whole with tapflow-binlog (CRC32 checked);
    the compressed ones once zstd has checked and undone them."""
    names = sorted(n for n in os.listdir(archive) if re.match(r"relay-bin\.\d{6}(\.zst)?$", n))
    bad = []
    for n in names:
        path = os.path.join(archive, n)
        if n.endswith(".zst"):
            plain = os.path.join(archive, "..", "unpacked-" + n[:-4])
            z = subprocess.run(["zstd", "-q", "-d", "-f", path, "-o", plain],
                               capture_output=True, text=True)
            if z.returncode:
                bad.append("%s: zstd: %s" % (n, z.stderr.strip()[-300:]))
                continue
            path = plain
        r = subprocess.run([BINLOG_BIN, path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode:
            bad.append("%s: %s" % (n, r.stderr.strip()[-300:]))
        if path != os.path.join(archive, n):
            os.unlink(path)
    return names, bad


def run(args, tmp):
    rnd = random.Random(args.seed)
    primary = Mariadb(tmp, "primary")
    replica = Mariadb(tmp, "replica")
    primary.start()
    replica.start()
    db = "tf_relay_%d" % os.getpid()
    start_gtid = primary.root("SELECT @@gtid_binlog_pos")[0]
    relay = Relay(tmp, primary, start_gtid)
    mongo = vd.Mongo(lib.MONGO_URI, tmp)
    psrv = primary.srv
    flows = []
    writer_stop = threading.Event()
    writer_pause = threading.Event()
    try:
        relay.start()
        check(relay.wait_log("serving MariaDB"), "relay serves once it has the upstream's format",
              relay.log()[-1500:])
        replica.root("SET GLOBAL server_id = 2; RESET MASTER; SET GLOBAL gtid_slave_pos = '%s';"
                     "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, "
                     "MASTER_USER='tapflow', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, "
                     "MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1; START SLAVE;"
                     % (start_gtid, relay.port, PASSWORD))
        w = vd.Workload(rnd)
        psrv.sql("CREATE DATABASE %s" % db)
        psrv.sql(lib.ECOM_TABLES + w.initial(), db)
        for i, mdb in enumerate([db + "_a", db + "_b"]):
            f = Flow(psrv, db, mdb, tmp, 7300 + os.getpid() % 500 + i, relay)
            f.start()
            flows.append(f)
        for f in flows:
            check(f.wait_log("streaming from GTID position", 120),
                  "flow %s: snapshot from the primary, then streaming from the relay" % f.mdb,
                  f.log()[-1500:])
        decimal128 = "written as double" not in flows[0].log()
        ok, why = wait_replica(primary, replica)
        check(ok, "the replica applies the schema and first rows through the relay", why)

        # 1. one upstream connection
        dumps = [r for r in primary.root("SHOW PROCESSLIST") if "Binlog Dump" in r]
        check(len(dumps) == 1, "the primary serves one Binlog Dump (the relay's)", dumps)
        rc, hosts, err = relay.sql("SHOW SLAVE HOSTS")
        ids = sorted(int(h.split("\t")[0]) for h in hosts)
        want_ids = sorted([2] + [7300 + os.getpid() % 500 + i for i in range(2)])
        check(rc == 0 and ids == want_ids,
              "relay's SHOW SLAVE HOSTS lists the replica and both flows", (rc, hosts, err))

        # 2. workload, relay SIGKILLs, a primary restart
        done = [0]
        errors = []

        def writer():
            while not writer_stop.is_set():
                if writer_pause.is_set():
                    time.sleep(0.05)
                    continue
                try:
                    psrv.sql("".join(w.transaction() for _ in range(5)), db)
                    done[0] += 5
                except Exception as e:  # noqa: BLE001
                    errors.append(str(e))
                    return
                time.sleep(0.05)

        th = threading.Thread(target=writer)
        th.start()
        cut_tails = 0
        for k in range(args.kills):
            time.sleep(rnd.uniform(0.2, 1.5))
            relay.kill()
            time.sleep(rnd.uniform(0, 0.3))
            relay.start()
            if not relay.wait_log("replicating from", 20):
                check(False, "relay restarts after SIGKILL %d" % (k + 1), relay.log()[-1500:])
                break
            cut_tails += "torn tail was cut" in relay.log()
            if k == args.kills // 2:
                writer_pause.set()
                time.sleep(0.3)
                primary.stop()
                time.sleep(1)
                primary.start()
                writer_pause.clear()
                print("primary restarted under the running relay", flush=True)
        time.sleep(1)
        writer_stop.set()
        th.join()
        check(not errors and done[0] > 0, "workload ran (%d transactions)" % done[0], errors)
        print("%d SIGKILLs, %d restarts found a torn tail to cut" % (args.kills, cut_tails),
              flush=True)
        check(relay.proc.poll() is None, "relay still runs", relay.log()[-1500:])
        ok, why = wait_replica(primary, replica)
        check(ok, "the replica reaches the primary's GTID position through the relay", why)
        a, b = checksums(primary, db), checksums(replica, db)
        check(a == b and len(a) == 6, "CHECKSUM TABLE of the six tables: replica equals primary",
              (a, b))
        for f in flows:
            ok, why = wait_synced(psrv, mongo, f)
            check(ok, "flow %s: checkpoint reaches the primary's position" % f.mdb, why)
            compare(psrv, mongo, db, f.mdb, decimal128,
                    "flow %s after %d relay kills" % (f.mdb, args.kills))
        names, bad = archive_decodes(relay.archive)
        packed = [n for n in names if n.endswith(".zst")]
        check(len(names) > 1 and not bad,
              "all %d archive files decode whole (no torn event)" % len(names), bad)
        check(len(packed) > 0 and names[-1] not in packed,
              "closed files are zstd-compressed (%d of %d), the written one is not" % (
                  len(packed), len(names)), names)

        # 3. purged on the primary, held by the relay
        fa = flows[0]
        check(fa.stop() == 0, "flow A stops on SIGTERM")
        psrv.sql("".join(w.transaction() for _ in range(40)), db)
        primary.root("FLUSH BINARY LOGS")
        last = primary.root("SHOW BINARY LOGS")[-1].split("\t")[0]
        # The relay's dump moves to the new file once it reads the ROTATE;
        # until then MariaDB keeps the file it reads.
        end = time.time() + 15
        while True:
            primary.root("PURGE BINARY LOGS TO '%s'" % last)
            logs = primary.root("SHOW BINARY LOGS")
            if len(logs) == 1 or time.time() > end:
                break
            time.sleep(0.2)
        first_state = primary.root("SELECT BINLOG_GTID_POS('%s', 4)" % last)[0]
        cp = mongo.call(cmd="checkpoint", db=fa.mdb, flow=vd.FLOW_NAME)
        purged = len(logs) == 1 and not vd.reached(cp.get("gtid", ""), first_state)
        check(purged, "the primary purged past flow A's checkpoint (%s < %s)" % (
            cp.get("gtid"), first_state), logs)
        fa.start("--gtid-resume")
        check(fa.wait_log("streaming from GTID position", 60),
              "flow A resumes from the relay", fa.log()[-1500:])
        log = fa.log()
        check("snapshot of" not in log, "flow A resumed without a snapshot", log[-1500:])
        ok, why = wait_synced(psrv, mongo, fa)
        check(ok, "flow A catches up through the relay", why)
        compare(psrv, mongo, db, fa.mdb, decimal128, "flow A after the primary's purge")

        # 4. errors
        r = subprocess.run(["mariadb-binlog", "--read-from-remote-server", "--host=127.0.0.1",
                            "--port=%d" % relay.port, "-utapflow", "-pnot-the-password",
                            "relay-bin.000001"], capture_output=True, text=True)
        check(r.returncode != 0 and "Access denied for user 'tapflow'" in r.stderr,
              "wrong downstream password: refused with 1045", r.stderr[-300:])
        replica.root("STOP SLAVE; SET GLOBAL gtid_slave_pos = '0-1-999999999'; START SLAVE;")
        end = time.time() + 20
        st = {}
        while time.time() < end:
            st = replica.slave_status()
            if st.get("Last_IO_Errno") == "1236":
                break
            time.sleep(0.2)
        check(st.get("Last_IO_Errno") == "1236" and
              "requested to start from GTID 0-1-999999999, which is not in the master's binlog"
              in st.get("Last_IO_Error", ""),
              "a GTID the relay does not hold: the replica stops with 1236 and MariaDB's text",
              st.get("Last_IO_Error"))
        replica.root("STOP SLAVE")

        blocker = os.path.join(tmp, "not-a-folder")
        open(blocker, "w").close()
        bad_relay = Relay(tmp, primary, start_gtid, archive=os.path.join(blocker, "archive"),
                          name="relay-unwritable")
        bad_relay.start()
        code = bad_relay.proc.wait(timeout=20)
        check(code == 1 and "cannot create folder" in bad_relay.log(),
              "archive folder that cannot be created: exit 1 naming it", bad_relay.log()[-500:])

        disk_full(tmp, primary, psrv, db, w)
    finally:
        writer_stop.set()
        for f in flows:
            f.kill()
        relay.kill()
        mongo_dbs = [f.mdb for f in flows]
        if not args.keep:
            for mdb in mongo_dbs:
                try:
                    mongo.call(cmd="drop", db=mdb)
                except RuntimeError as e:
                    print("warning: could not drop %s: %s" % (mdb, e))
        mongo.close()
        for m in (replica, primary):
            try:
                m.stop()
            except RuntimeError as e:
                print("warning:", e)


def disk_full(tmp, primary, psrv, db, w):
    """The archive's disk fills up: exit 1 naming it, nothing torn, and a
    restart with room catches up."""
    small = os.path.join(tmp, "small-disk")
    os.makedirs(small)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small],
                             capture_output=True).returncode == 0
    preexec = None
    if not mounted:
        # No permission to mount here: a file size limit makes the same
        # write fail (EFBIG instead of ENOSPC).
        def preexec():
            import resource
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    print("disk full: %s" % ("a 1 MiB tmpfs" if mounted else "a 1 MiB file size limit"),
          flush=True)
    try:
        start = primary.root("SELECT @@gtid_binlog_pos")[0]
        archive = os.path.join(small, "archive")
        full = Relay(tmp, primary, start, archive=archive, name="relay-full")
        full.write_conf(primary, start, extra="")
        with open(full.conf) as f:
            text = f.read().replace("rotate_size = 256K", "rotate_size = 4095M")
        with open(full.conf, "w") as f:
            f.write(text)
        full.start(preexec=preexec)
        full.wait_log("serving MariaDB", 20)
        psrv.sql("CREATE TABLE IF NOT EXISTS filler (id INT PRIMARY KEY AUTO_INCREMENT, "
                 "v TEXT)", db)
        for _ in range(30):
            psrv.sql("INSERT INTO filler (v) SELECT REPEAT('x', 1000) FROM seq_1_to_100", db)
        try:
            code = full.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = None
        reason = "No space left on device" if mounted else "File too large"
        check(code == 1 and "cannot write" in full.log() and reason in full.log(),
              "disk full: the relay exits 1 naming the file and '%s'" % reason,
              (code, full.log()[-800:]))
        names, bad = archive_decodes(archive)
        check(names and not bad, "disk full: the %d archive file(s) left decode whole" %
              len(names), bad)
        roomy = os.path.join(tmp, "roomy-archive")
        shutil.copytree(archive, roomy)
        again = Relay(tmp, primary, start, archive=roomy, name="relay-roomy")
        again.start()
        want = primary.root("SELECT @@gtid_binlog_pos")[0]
        end = time.time() + 60
        got = None
        while time.time() < end:
            rc, out, _ = again.sql("SELECT @@gtid_binlog_pos")
            got = out[0] if rc == 0 and out else None
            if got == want:
                break
            time.sleep(0.2)
        check(got == want, "disk full: restarted with room, the relay catches up to %s" % want,
              (got, again.log()[-800:]))
        again.stop()
        names, bad = archive_decodes(roomy)
        check(not bad, "disk full: after catching up, the archive decodes whole", bad)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", small], capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    print("seed %d (repeat with --seed %d)" % (args.seed, args.seed), flush=True)
    for b in (RELAY_BIN, vd.BIN, BINLOG_BIN):
        if not os.path.exists(b):
            print("%s not built" % b)
            print("0 passed, 1 failed")
            return 1
    tmp = tempfile.mkdtemp(prefix="tf_relay_")
    try:
        run(args, tmp)
    except Exception as e:  # noqa: BLE001
        check(False, "run", repr(e))
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

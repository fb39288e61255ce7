#!/usr/bin/env python3
"""bench.py — binlog decode throughput, tapflow-binlog side by side with peers.

    tools/bench-decode/bench.py [--rows N] [--regenerate] [--repeat N] [--build DIR]
                                [--skip go,python,mariadb-binlog,json,stream,debezium]

Not a test: it prints a table (and saves it with --save FILE).

1. Data. In its own database tf_bench on the local MariaDB (tools/servers.sh
   env), inside a binlog file of its own (FLUSH BINARY LOGS before and
   after): N rows inserted with INSERT ... SELECT FROM seq_1_to_N in chunks,
   then a quarter of them updated and a tenth deleted, so the file holds
   write, update (before+after image) and delete rows events. The file name
   is remembered in .local/bench-decode/state.json and reused while the
   server still has it (--regenerate forces a new one).
2. Tools, each pinned to one core (taskset -c 0), best of --repeat runs:
   - tapflow-binlog --verify-only FILE   (decode every value, print nothing)
   - tapflow-binlog FILE > /dev/null     (decode and write JSON lines)
   - mariadb-binlog --base64-output=decode-rows -vv FILE > /dev/null
   - go-mysql: tools/bench-decode/go-peer (BinlogParser.ParseFile, CRC32
     verified like ours), built with the Go module proxy's go-mysql.
   - python-mysql-replication (PyPI mysql-replication in a venv under
     .local/): BinLogStreamReader streams the same file from the server,
     rows events only; it cannot read files, so its time includes the
     server sending the file (on another core).
   Streamed from the server, like for like (both register as replicas and
   read the same file from its first byte; TLS off for both):
   - tapflow-binlog --stream --file FILE --stop-after-gtid LAST --verify-only
     (LAST: the file's last transaction), its whole run timed.
   - Debezium 3.6.1 (tools/bench-decode/debezium-peer, built by
     tools/setup.sh --bench): the embedded engine and the MySQL connector
     (the MariaDB one is not served here; MariaDbCompat.java answers the one
     status query it spells the MySQL 8.4 way), no data snapshot, from the
     start of the file, counting change events until it has as many as the
     file has rows. Its time is from the first event to the last; its run from the
     JVM's start is shown too. Pinned like the others, and once more on both
     cores (it is multi-threaded: binlog reader, queue, consumer).
3. The table: seconds, rows/s, row events/s, MB/s, and how many times
   slower than tapflow-binlog --verify-only each tool is, then the streamed
   pair side by side. Every tool's row count is checked against ours where
   the tool reports one (Debezium's creates, updates and deletes too).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
STATE_DIR = os.path.join(TOP, ".local", "bench-decode")
STATE_FILE = os.path.join(STATE_DIR, "state.json")
VENV = os.path.join(TOP, ".local", "bench-venv")
BUILD = os.path.join(TOP, "build-bench")
DEBEZIUM = os.path.join(HERE, "debezium-peer")
# server_ids of the replicas the bench registers (python's is in py-peer.py)
STREAM_SERVER_ID = "4244"
DEBEZIUM_SERVER_ID = "4343"
CHUNK = 50000


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def server_env():
    out = subprocess.run([os.path.join(TOP, "tools", "servers.sh"), "env"],
                         check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        m = re.match(r"export (\w+)=(.*)", line)
        if m:
            env[m.group(1)] = m.group(2)
    for key in list(env):
        env[key] = os.environ.get(key, env[key])
    return env


def sql(env, statements, database=None):
    cmd = ["mariadb", "--no-defaults", "--batch", "--raw", "--skip-column-names",
           "-h", env["TAPFLOW_MARIADB_HOST"], "-P", env["TAPFLOW_MARIADB_PORT"],
           "-u", env["TAPFLOW_MARIADB_USER"], f"-p{env['TAPFLOW_MARIADB_PASSWORD']}"]
    if database:
        cmd.append(database)
    res = subprocess.run(cmd, input=statements, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"bench: SQL failed: {res.stderr.strip()}")
    return res.stdout


def current_binlog(env):
    return sql(env, "SHOW MASTER STATUS").split("\t")[0]


def generate(env, rows):
    log(f"generating {rows} rows in tf_bench (own binlog file)")
    sql(env, """
DROP DATABASE IF EXISTS tf_bench;
CREATE DATABASE tf_bench;
CREATE TABLE tf_bench.orders (
  id BIGINT UNSIGNED PRIMARY KEY,
  customer_id INT NOT NULL,
  status ENUM('new','paid','shipped','cancelled') NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  quantity SMALLINT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at TIMESTAMP(3) NULL,
  score DOUBLE,
  note VARCHAR(80),
  code CHAR(12)
) ENGINE=InnoDB;
FLUSH BINARY LOGS;
""")
    binlog = current_binlog(env)
    for lo in range(1, rows + 1, CHUNK):
        hi = min(rows, lo + CHUNK - 1)
        sql(env, f"""
INSERT INTO tf_bench.orders
SELECT seq, seq % 10007, 1 + seq % 4, (seq % 1000000) / 100, seq % 500,
       TIMESTAMP('2024-01-01 00:00:00') + INTERVAL seq SECOND + INTERVAL (seq % 1000000) MICROSECOND,
       IF(seq % 3 = 0, NULL, FROM_UNIXTIME(1700000000 + seq) + INTERVAL (seq % 1000) * 1000 MICROSECOND),
       seq * 1.25, CONCAT('note ', seq, ' ', MD5(seq)), LEFT(SHA1(seq), 12)
FROM seq_{lo}_to_{hi};
""", database="tf_bench")
    for lo in range(1, rows + 1, CHUNK * 4):
        hi = min(rows, lo + CHUNK * 4 - 1)
        sql(env, f"UPDATE tf_bench.orders SET status = 'paid', amount = amount + 1, "
                 f"note = CONCAT(note, ' upd') WHERE id BETWEEN {lo} AND {hi} AND id % 4 = 0;")
        sql(env, f"DELETE FROM tf_bench.orders WHERE id BETWEEN {lo} AND {hi} AND id % 10 = 1;")
    sql(env, "FLUSH BINARY LOGS;")
    path = os.path.join(env["TAPFLOW_MARIADB_DATADIR"], binlog)
    state = {"binlog": binlog, "path": path, "rows_inserted": rows,
             "size": os.path.getsize(path)}
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(STATE_FILE, "w") as f:
        json.dump(state, f)
    return state


def load_state(env, rows, regenerate):
    if not regenerate and os.path.exists(STATE_FILE):
        with open(STATE_FILE) as f:
            state = json.load(f)
        listed = sql(env, "SHOW BINARY LOGS")
        if (state.get("rows_inserted") == rows and os.path.exists(state["path"])
                and os.path.getsize(state["path"]) == state["size"]
                and any(line.split("\t")[0] == state["binlog"] for line in listed.splitlines())):
            log(f"reusing {state['path']} ({state['size']} bytes)")
            return state
    return generate(env, rows)


def build_ours(build):
    if not os.path.exists(os.path.join(build, "build.ninja")):
        subprocess.run(["cmake", "-S", TOP, "-B", build, "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", build, "tapflow-binlog"], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build, "tools", "tapflow-binlog", "tapflow-binlog")


def last_gtid(ours, state):
    """The GTID of the file's last transaction (where a stream of it stops);
    kept in the state file."""
    if "last_gtid" not in state:
        out = subprocess.run([ours, "--events-only", "--no-rows", state["path"]],
                             check=True, capture_output=True, text=True).stdout
        gtids = re.findall(r'"type":"(?:MARIADB_)?GTID",.*"gtid":"([^"]+)"', out)
        if not gtids:
            sys.exit(f"bench: no GTID event in {state['path']}")
        state["last_gtid"] = gtids[-1]
        with open(STATE_FILE, "w") as f:
            json.dump(state, f)
    return state["last_gtid"]


def debezium_peer():
    """The java command line of the Debezium harness, or None (with the
    reason logged) when Java or the built harness is missing."""
    jar = os.path.join(DEBEZIUM, "target", "debezium-peer.jar")
    if shutil.which("java") is None:
        log("skipping debezium: no java on PATH (tools/setup.sh --bench installs the harness; "
            "Java 17 and Maven are needed)")
        return None
    if not os.path.exists(jar) or not os.path.isdir(os.path.join(DEBEZIUM, "target", "lib")):
        why = "no mvn on PATH" if shutil.which("mvn") is None else "run tools/setup.sh --bench"
        log(f"skipping debezium: {os.path.relpath(jar, TOP)} is not built ({why})")
        return None
    classpath = jar + os.pathsep + os.path.join(DEBEZIUM, "target", "lib", "*")
    return ["java", "-cp", classpath, "tapflow.bench.DebeziumPeer"]


def build_go_peer():
    out = os.path.join(STATE_DIR, "go-peer")
    subprocess.run(["go", "build", "-o", out, "."], cwd=os.path.join(HERE, "go-peer"), check=True)
    return out


def python_peer():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    check = subprocess.run([py, "-c", "import pymysqlreplication"], capture_output=True)
    if check.returncode != 0:
        log("installing mysql-replication from PyPI into .local/bench-venv")
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", "mysql-replication"], check=True)
    return py


def run_timed(cmd, stdout=subprocess.DEVNULL, env=None, pin=True):
    """Runs cmd pinned to core 0 (unless pin is False); returns (seconds,
    captured stdout or '')."""
    start = time.perf_counter()
    res = subprocess.run((["taskset", "-c", "0"] if pin else []) + cmd,
                         stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()[:2000]}")
    return elapsed, (res.stdout or "")


def best_of(n, cmd, stdout=subprocess.DEVNULL, env=None):
    best = None
    out = ""
    for _ in range(n):
        secs, out = run_timed(cmd, stdout, env)
        if best is None or secs < best:
            best = secs
    return best, out


def best_debezium(n, cmd, env, pin):
    """Runs the Debezium harness n times; returns the report (JSON) of the
    run with the shortest first-to-last-event time."""
    best = None
    for _ in range(n):
        _, out = run_timed(cmd, subprocess.PIPE, env, pin)
        report = json.loads(out.strip().splitlines()[-1])
        if best is None or report["stream_seconds"] < best["stream_seconds"]:
            best = report
    return best


def counts(text):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)\b", text)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip", default="",
                    help="comma list of: go, python, mariadb-binlog, json, stream, debezium")
    ap.add_argument("--build", default=BUILD,
                    help="tapflow build directory (configured RelWithDebInfo when it has none; "
                         "default build-bench)")
    ap.add_argument("--save", help="also write the table to this file")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    load_start = os.getloadavg()
    env = server_env()
    state = load_state(env, args.rows, args.regenerate)
    path = state["path"]
    size_mb = state["size"] / 1e6

    ours = build_ours(os.path.abspath(args.build))
    # The reference counts (not timed): events, rows events and rows in the file.
    summary = subprocess.run([ours, "--summary", path], capture_output=True, text=True)
    if summary.returncode != 0:
        sys.exit(f"bench: tapflow-binlog --summary failed: {summary.stderr.strip()}")
    ref = json.loads(summary.stdout.strip().splitlines()[-1])
    n_events, n_row_events, n_rows = ref["events"], ref["rows_events"], ref["rows"]
    by_op = {"insert": 0, "update": 0, "delete": 0}
    for table in ref.get("tables", {}).values():
        for op in by_op:
            by_op[op] += table.get(op, 0)
    # Children get the password in their environment, never in argv.
    child_env = dict(os.environ, TAPFLOW_MARIADB_PASSWORD=env["TAPFLOW_MARIADB_PASSWORD"])
    log(f"{path}: {state['size']} bytes, {n_events} events, {n_row_events} rows events, {n_rows} rows")

    results = []  # (tool, seconds, rows seen or None)
    secs, _ = best_of(args.repeat, [ours, "--verify-only", path])
    results.append(("tapflow-binlog --verify-only", secs, None))
    if "json" not in skip:
        secs, _ = best_of(args.repeat, [ours, path])
        results.append(("tapflow-binlog (JSON to /dev/null)", secs, None))
    if "mariadb-binlog" not in skip:
        secs, _ = best_of(args.repeat, ["mariadb-binlog", "--base64-output=decode-rows", "-vv", path])
        results.append(("mariadb-binlog -vv decode-rows", secs, None))
    if "go" not in skip:
        peer = build_go_peer()
        secs, out = best_of(args.repeat, [peer, path], stdout=subprocess.PIPE)
        results.append(("go-mysql BinlogParser (v1.13.0)", secs, counts(out).get("rows")))
    if "python" not in skip:
        py = python_peer()
        secs, out = run_timed([py, os.path.join(HERE, "py-peer.py"), env["TAPFLOW_MARIADB_HOST"],
                               env["TAPFLOW_MARIADB_PORT"], env["TAPFLOW_MARIADB_USER"],
                               env["TAPFLOW_MARIADB_PASSWORD"], state["binlog"]], stdout=subprocess.PIPE)
        results.append(("python-mysql-replication (stream)", secs, counts(out).get("rows")))

    streamed = []  # (tool, seconds, rows seen) of the like-for-like pair
    if "stream" not in skip:
        secs, out = best_of(args.repeat, [
            ours, "--stream", "--host", env["TAPFLOW_MARIADB_HOST"], "--port", env["TAPFLOW_MARIADB_PORT"],
            "--user", env["TAPFLOW_MARIADB_USER"], "--password-env", "TAPFLOW_MARIADB_PASSWORD",
            "--ssl-mode", "disabled", "--server-id", STREAM_SERVER_ID, "--file", state["binlog"],
            "--stop-after-gtid", last_gtid(ours, state), "--verify-only", "--summary"],
            stdout=subprocess.PIPE, env=child_env)
        seen = json.loads(out.strip().splitlines()[-1])["rows"]
        streamed.append(("tapflow-binlog --stream --verify-only", secs, seen))
        results.append(streamed[-1])
    debezium_reports = []  # (label, report)
    if "debezium" not in skip:
        peer = debezium_peer()
        if peer is not None:
            cmd = peer + [env["TAPFLOW_MARIADB_HOST"], env["TAPFLOW_MARIADB_PORT"],
                          env["TAPFLOW_MARIADB_USER"], state["binlog"], str(n_rows), DEBEZIUM_SERVER_ID]
            for label, pin in (("Debezium 3.6.1 embedded (stream)", True),
                               ("Debezium 3.6.1, both cores (stream)", False)):
                report = best_debezium(args.repeat, cmd, child_env, pin)
                debezium_reports.append((label, report))
                streamed.append((label, report["stream_seconds"], report["events"]))
                results.append(streamed[-1])

    base = results[0][1]
    lines = [
        f"binlog: {os.path.basename(path)} from MariaDB {sql(env, 'SELECT VERSION()').strip()}, "
        f"{state['size']} bytes, {n_events} events, {n_row_events} rows events, {n_rows} rows",
        f"one core (taskset -c 0) unless said, best of {args.repeat} (python: 1 run); "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
        f"{'tool':<38} {'seconds':>8} {'rows/s':>12} {'row events/s':>13} {'MB/s':>8} {'vs ours':>8}",
    ]
    for tool, secs, seen in results:
        note = ""
        if seen is not None and seen != n_rows:
            note = f"  (saw {seen} rows, expected {n_rows})"
        lines.append(f"{tool:<38} {secs:>8.3f} {n_rows / secs:>12,.0f} {n_row_events / secs:>13,.0f} "
                     f"{size_mb / secs:>8.1f} {secs / base:>7.1f}x{note}")
    for label, report in debezium_reports:
        got = {"insert": report["create"], "update": report["update"], "delete": report["delete"]}
        if got != by_op:
            lines.append(f"  {label}: saw {got}, expected {by_op}")
    if streamed:
        lines += ["", "streamed from the server (tapflow's end-to-end rate without a target beside "
                      "Debezium's; rows = change events):"]
        tapflow_secs = streamed[0][1] if streamed[0][0].startswith("tapflow") else None
        for tool, secs, _ in streamed:
            line = f"  {tool:<40} {n_rows / secs:>12,.0f} rows/s"
            if tapflow_secs is not None and not tool.startswith("tapflow"):
                line += f"  tapflow --stream is {secs / tapflow_secs:.1f}x faster"
            lines.append(line)
        for label, report in debezium_reports:
            lines.append(f"  {label}: {report['stream_seconds']:.3f} s first to last event, "
                         f"{report['total_seconds']:.3f} s from the JVM's start "
                         f"({n_rows / report['total_seconds']:,.0f} rows/s with start-up)")
    load = os.getloadavg()
    lines.append(f"load average (1, 5, 15 min) at the start: {load_start[0]:.2f} {load_start[1]:.2f} "
                 f"{load_start[2]:.2f}, at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
                 f"({os.cpu_count()} cores)")
    table = "\n".join(lines)
    print(table)
    if args.save:
        with open(args.save, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tap_observe.py — watching a running flow: `tap stats`, `tap logs`, `tap
monitor` and the SDK's flow.stats() / flow.logs(), against the local servers
and a real tapflow-replica.

1. The guide's flow starts (tap -f); `stats NAME --json` shows the snapshot
   (start, end, 6 rows) and per-table inserts.
2. Inserts, updates and deletes on the guide's tables in MariaDB move the
   input counts of exactly those tables (and the output counts of
   orderSingleView); `stats NAME` prints them as a table.
3. `logs`: --level error shows an error line planted in the flow's log,
   --level warn a planted warning, --limit N the last N lines; --follow
   prints an appended error line (an appended INFO line filtered out) and
   ends cleanly on SIGINT.
4. `monitor` with stdin not a TTY prints one frame; in a real terminal
   (tmux) it redraws every second and ends on a key press (and on Ctrl-C),
   the terminal left in canonical mode with echo.
5. The SDK: flow.stats() is the same dict, flow.logs() the same lines,
   flow.logs(follow=True) sees an appended line until closed.
6. A stopped flow: stats and monitor say it is not running, exit status 1.

Stdlib only (and tmux). Prints "N passed, N failed"; exit status 1 on any
failure. Env: as tap_shell.py (TAPFLOW_MARIADB_*, TAPFLOW_MONGO_URI,
TAPFLOW_BUILD_DIR or TAPFLOW_TAP / TAPFLOW_REPLICA_BIN).
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402

TAP = lib.TAP_BIN
REPLICA = lib.REPLICA_BIN
DB = lib.unique_name("tf_obs")
NAME = "Order_SingleView_Sync"
TABLES = ["ecom_orders", "ecom_customers", "ecom_order_payments", "ecom_order_items",
          "ecom_products", "ecom_sellers"]
TMUX_SOCKET = "tapobs-%d" % os.getpid()

check = lib.Checks(clip=lambda detail: detail[-2000:])


def sql(text):
    return lib.sql(DB, text)


def tap_env(tmp):
    env = lib.mariadb_env()
    env["TAPFLOW_REPLICA_BIN"] = REPLICA
    env["HOME"] = tmp  # nothing may land in the real ~/.tapflow
    env.pop("TAPFLOW_HOME", None)
    env.pop("TAPFLOW_CONFIG", None)
    env["TERM"] = "xterm"
    return env


def tap(tmp, conf, *args, timeout=120):
    return subprocess.run([TAP, "--config", conf] + list(args), capture_output=True, text=True,
                          env=tap_env(tmp), stdin=subprocess.DEVNULL, timeout=timeout)


def stats(tmp, conf):
    r = tap(tmp, conf, "-c", "stats %s --json" % NAME)
    if r.returncode != 0:
        return None, r.stderr
    return json.loads(r.stdout), r.stderr


def wait_stats(tmp, conf, pred, timeout=30):
    end = time.time() + timeout
    st = None
    while time.time() < end:
        st, _ = stats(tmp, conf)
        if st and pred(st):
            return True, st
        time.sleep(0.2)
    return False, st


def counts(st, side, table):
    return st.get(side, {}).get(table, {"insert": 0, "update": 0, "delete": 0})


def delta(after, before, side, table):
    a, b = counts(after, side, table), counts(before, side, table)
    return {op: a.get(op, 0) - b.get(op, 0) for op in ("insert", "update", "delete")}


def part_stats(tmp, conf):
    r = tap(tmp, conf, "-f", lib.GUIDE_FLOW)
    check(r.returncode == 0 and "Flow started: %s" % NAME in r.stdout, "the guide's flow starts",
          r.stdout + r.stderr)
    ok, st = wait_stats(tmp, conf, lambda s: s.get("state") == "running" and
                        (s.get("snapshot") or {}).get("ended_ms"))
    check(ok, "stats --json: the flow reaches running with its snapshot ended", st)
    if not ok:
        return None
    snap = st["snapshot"]
    check(snap["rows"] == 6 and snap["started_ms"] <= snap["ended_ms"] and
          st["started_ms"] <= snap["started_ms"] and st["flow"] == NAME and
          re.fullmatch(r"\d+-\d+-\d+", st["position"]) is not None,
          "stats --json: flow, state, position, snapshot start <= end and its 6 rows", st)
    check(sorted(st["input"]) == sorted(TABLES) and
          all(counts(st, "input", t)["insert"] == 1 for t in TABLES) and
          sorted(st["output"]) == ["orderSingleView"] and
          set(st["qps"]) == {"current", "average", "max", "last_5m"} and
          isinstance(st["lag_ms"], int),
          "stats --json: one insert read per source table, the target collection, qps, lag", st)
    before = st
    for stmt in lib.STEP2:  # 6 inserts (one per table), then updates of orders/payments/items
        sql(stmt)
    sql("UPDATE ecom_orders SET order_status = 'invoiced' WHERE order_id = 'ORD789654'")
    sql("DELETE FROM ecom_order_payments WHERE order_id = 'ORD789654'")
    sql("DELETE FROM ecom_order_items WHERE order_id = 'O0001'")
    want = {"ecom_orders": {"insert": 1, "update": 2, "delete": 0},
            "ecom_customers": {"insert": 1, "update": 0, "delete": 0},
            "ecom_order_payments": {"insert": 1, "update": 1, "delete": 1},
            "ecom_order_items": {"insert": 1, "update": 1, "delete": 1},
            "ecom_products": {"insert": 1, "update": 0, "delete": 0},
            "ecom_sellers": {"insert": 1, "update": 0, "delete": 0}}
    ok, after = wait_stats(tmp, conf, lambda s: all(
        delta(s, before, "input", t) == want[t] for t in TABLES))
    check(ok, "stats: inserts/updates/deletes read on MariaDB counted per source table",
          {t: delta(after or {}, before, "input", t) for t in TABLES})
    out = delta(after or {}, before, "output", "orderSingleView")
    check(out["insert"] == 1 and out["update"] >= 1 and out["delete"] == 0,
          "stats: the new order's document inserted, updates written to orderSingleView", out)
    ok, _ = wait_stats(tmp, conf, lambda s: s["qps"]["max"] > 0 and s["qps"]["average"] > 0,
                       timeout=10)
    check(ok, "stats: qps max and average above 0 after the writes", after and after["qps"])
    r = tap(tmp, conf, "-c", "stats %s" % NAME)
    o = counts(after, "input", "ecom_orders")
    row = r"\n  ecom_orders +%d +%d +%d\n" % (o["insert"], o["update"], o["delete"])
    check(r.returncode == 0 and r.stdout.startswith("flow %s: running, position " % NAME) and
          re.search(r"\n  snapshot    \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \.\. \d\d:\d\d:\d\dZ "
                    r"\(.+\), 6 rows\n", r.stdout) and
          re.search(r"\n  qps         now [\d.]+, average [\d.]+, max [\d.]+, last 5 min [\d.]+\n",
                    r.stdout) and
          re.search(r"\n  lag         \d", r.stdout) and
          re.search(r"\n  input \(source table\) +insert +update +delete\n", r.stdout) and
          re.search(row, r.stdout) and re.search(r"\n  orderSingleView +\d+ +\d+ +\d+\n",
                                                 r.stdout),
          "stats NAME prints the table (snapshot, qps, lag, counts per table)", r.stdout + r.stderr)
    return after


def part_logs(tmp, conf, home):
    log = os.path.join(home, "logs", NAME + ".log")
    planted_error = "2026-12-02T08:00:00.000Z tapflow-replica: error: planted by tap_observe"
    planted_warning = "2026-12-02T08:00:01.000Z tapflow-replica: warning: planted by tap_observe"
    with open(log, "a") as f:
        f.write(planted_error + "\n" + planted_warning + "\n")
    r = tap(tmp, conf, "-c", "logs %s --level error" % NAME)
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines and lines[-1] == planted_error and
          all("error" in ln.lower() for ln in lines),
          "logs --level error: only error lines, the planted one last", r.stdout + r.stderr)
    r = tap(tmp, conf, "-c", "logs %s --level warn" % NAME)
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines[-2:] == [planted_error, planted_warning],
          "logs --level warn: errors and warnings", r.stdout)
    with open(log) as f:
        all_lines = f.read().splitlines()
    r = tap(tmp, conf, "-c", "logs %s --limit 3" % NAME)
    check(r.returncode == 0 and r.stdout.splitlines() == all_lines[-3:],
          "logs --limit 3: the last 3 lines of the log", (r.stdout, all_lines[-3:]))
    r = tap(tmp, conf, "-c", "logs %s" % NAME)
    check(r.returncode == 0 and r.stdout.splitlines() == all_lines[-50:],
          "logs: the last 50 lines by default", len(r.stdout.splitlines()))
    r = tap(tmp, conf, "-c", "logs %s --level debug" % NAME)
    check(r.returncode == 1 and "--level is error, warn or info, found 'debug'" in r.stderr,
          "logs --level debug is refused", r.stderr)
    r = tap(tmp, conf, "-c", "logs No_Such_Flow")
    check(r.returncode == 1 and "flow No_Such_Flow has no log" in r.stderr,
          "logs of a flow that never ran", r.stderr)
    # --follow: appended lines show up (an INFO line filtered out), SIGINT ends it.
    p = subprocess.Popen([TAP, "--config", conf, "-c", "logs %s --follow --level error --limit 1"
                          % NAME], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=tap_env(tmp), stdin=subprocess.DEVNULL)
    try:
        first = p.stdout.readline().rstrip("\n")
        follow_info = "2026-12-02T08:00:02.000Z tapflow-replica: follow marker (info)"
        follow_error = "2026-12-02T08:00:03.000Z tapflow-replica: error: follow marker"
        with open(log, "a") as f:
            f.write(follow_info + "\n")
            f.flush()
            f.write(follow_error[:30])  # a line being written: not shown until whole
            f.flush()
            time.sleep(0.5)
            f.write(follow_error[30:] + "\n")
        got = p.stdout.readline().rstrip("\n")
        check(first == planted_error and got == follow_error,
              "logs --follow: the last error, then an appended error line (info filtered out)",
              (first, got))
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=5)
        rest = p.stdout.read()
        check(rc == 0 and rest == "", "logs --follow ends cleanly on SIGINT (exit 0)",
              (rc, rest, p.stderr.read()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def tmux(*args):
    return subprocess.run(["tmux", "-L", TMUX_SOCKET] + list(args), capture_output=True,
                          text=True, timeout=20)


def pane_text():
    return tmux("capture-pane", "-p", "-t", "obs").stdout


def wait_pane(pattern, timeout=15):
    end = time.time() + timeout
    text = ""
    while time.time() < end:
        text = pane_text()
        m = re.search(pattern, text)
        if m:
            return m, text
        time.sleep(0.1)
    return None, text


def monitor_in_tmux(tmp, conf, stop_keys, what):
    """monitor in a tmux terminal: a frame, a redraw, then stop_keys end it."""
    env = tap_env(tmp)
    envs = " ".join("%s=%s" % (k, shlex.quote(env[k])) for k in
                    ("HOME", "TAPFLOW_REPLICA_BIN", "TERM"))
    shell = ("env %s %s --config %s -c 'monitor %s'; echo MONITOR-EXIT=$?; "
             "stty -a | tr ' ;' '\\n\\n' | grep -E -x -- '-?(icanon|echo)' | tr '\\n' ' '; "
             "echo; sleep 60" % (envs, shlex.quote(TAP), shlex.quote(conf), NAME))
    tmux("kill-session", "-t", "obs")
    r = tmux("new-session", "-d", "-s", "obs", "-x", "120", "-y", "50", shell)
    if not check(r.returncode == 0, "tmux starts a terminal (%s)" % what, r.stderr):
        return
    m1, text = wait_pane(r"tap monitor: flow %s +(\S+ \S+Z) +\(press any key to leave\)" % NAME)
    check(m1 is not None and "  state       running" in text and
          re.search(r"  ecom_orders +\d+ +\d+ +\d+", text),
          "monitor in a terminal: a frame with state and counts (%s)" % what, text)
    if not m1:
        return
    m2, text = wait_pane(r"tap monitor: flow %s +(?!%s)(\S+ \S+Z)" % (NAME, re.escape(m1.group(1))),
                         timeout=5)
    check(m2 is not None and text.count("tap monitor:") == 1,
          "monitor redraws in place every second (%s)" % what, text)
    tmux("send-keys", "-t", "obs", *stop_keys)
    m, text = wait_pane(r"MONITOR-EXIT=(\d+)\n(\S.*)\n", timeout=5)
    check(m is not None and m.group(1) == "0" and m.group(2).split() == ["icanon", "echo"],
          "monitor ends on %s, exit 0, terminal back in canonical mode with echo" % what, text)


def prompt_in_tmux(tmp, conf):
    """At the interactive prompt: logs --follow ends on Ctrl-C and monitor on a key,
    and the prompt goes on (the next command runs)."""
    env = tap_env(tmp)
    envs = " ".join("%s=%s" % (k, shlex.quote(env[k])) for k in
                    ("HOME", "TAPFLOW_REPLICA_BIN", "TERM"))
    shell = "env %s %s --config %s; echo TAP-EXIT=$?; sleep 60" % (envs, shlex.quote(TAP),
                                                                   shlex.quote(conf))
    tmux("kill-session", "-t", "obs")
    tmux("new-session", "-d", "-s", "obs", "-x", "160", "-y", "50", shell)
    m, text = wait_pane(r"tap>")
    if not check(m is not None, "interactive tap in tmux shows its prompt", text):
        return
    tmux("send-keys", "-t", "obs", "logs %s --follow --level error --limit 1" % NAME, "Enter")
    m, text = wait_pane(r"error: follow marker\n")
    time.sleep(0.3)
    tmux("send-keys", "-t", "obs", "C-c")
    tmux("send-keys", "-t", "obs", "stats %s" % NAME, "Enter")
    m, text = wait_pane(r"\n  input \(source table\)")
    check(m is not None and "TAP-EXIT" not in text,
          "at the prompt: Ctrl-C ends logs --follow and the next command runs", text)
    tmux("send-keys", "-t", "obs", "monitor %s" % NAME, "Enter")
    m, text = wait_pane(r"press any key to leave")
    tmux("send-keys", "-t", "obs", "q")
    time.sleep(0.5)
    tmux("send-keys", "-t", "obs", "status %s" % NAME, "Enter")
    m, text = wait_pane(r"job current status is: running")
    check(m is not None and "TAP-EXIT" not in text,
          "at the prompt: a key ends monitor and the next command runs", text)
    tmux("send-keys", "-t", "obs", "exit", "Enter")
    m, text = wait_pane(r"TAP-EXIT=0")
    check(m is not None, "the shell exits normally after them", text)


def part_monitor(tmp, conf):
    r = tap(tmp, conf, "-c", "monitor %s" % NAME)
    check(r.returncode == 0 and r.stdout.count("tap monitor: flow %s" % NAME) == 1 and
          "\033" not in r.stdout and "  state       running\n" in r.stdout and
          "press any key" not in r.stdout and "  input (source table)" in r.stdout,
          "monitor with stdin not a TTY prints one frame and exits", r.stdout + r.stderr)
    if not shutil.which("tmux"):
        check(False, "tmux is installed (tools/setup.sh)")
        return
    try:
        monitor_in_tmux(tmp, conf, ["x"], "a key press")
        monitor_in_tmux(tmp, conf, ["C-c"], "Ctrl-C")
        prompt_in_tmux(tmp, conf)
    finally:
        tmux("kill-server")


def part_sdk(tmp, conf, home):
    code = r"""
import json, sys
from tapflow.cli.cli import init
from tapflow.lib import Flow
init(config=sys.argv[1], tap=sys.argv[2])
f = Flow(sys.argv[3])
out = {"stats": f.stats(), "errors": f.logs(limit=2, level="error")}
with f.logs(limit=1, follow=True) as lines:
    out["follow_first"] = next(lines)
    with open(sys.argv[4], "a") as log:
        log.write("2026-12-02T08:00:04.000Z tapflow-replica: sdk follow marker\n")
    out["follow_next"] = next(lines)
out["after_close"] = list(lines)
print(json.dumps(out))
"""
    env = tap_env(tmp)
    env["PYTHONPATH"] = os.path.join(lib.ROOT, "tools", "python")
    log = os.path.join(home, "logs", NAME + ".log")
    r = subprocess.run([sys.executable, "-c", code, conf, TAP, NAME, log], capture_output=True,
                       text=True, env=env, timeout=60)
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    st = out.get("stats", {})
    tap_st, _ = stats(tmp, conf)
    check(r.returncode == 0 and st.get("state") == "running" and
          st.get("input") == (tap_st or {}).get("input") and
          st.get("snapshot") == (tap_st or {}).get("snapshot"),
          "SDK: flow.stats() is the dict of tap's stats --json", r.stdout + r.stderr)
    check(out.get("errors", [None])[-1:] == ["2026-12-02T08:00:03.000Z tapflow-replica: error: "
                                             "follow marker"] and len(out["errors"]) == 2,
          "SDK: flow.logs(limit=2, level='error') is tap's lines", out.get("errors"))
    check(out.get("follow_next") == "2026-12-02T08:00:04.000Z tapflow-replica: sdk follow marker"
          and out.get("after_close") == [],
          "SDK: flow.logs(follow=True) yields an appended line, ends when closed", out)


def part_stopped(tmp, conf):
    r = tap(tmp, conf, "-c", "stop %s" % NAME)
    check(r.returncode == 0, "stop the flow", r.stderr)
    for cmd in ("stats %s" % NAME, "stats %s --json" % NAME, "monitor %s" % NAME):
        r = tap(tmp, conf, "-c", cmd)
        # (the last line: mongoc may warn first, "Falling back to malloc for counters")
        check(r.returncode == 1 and r.stdout == "" and
              r.stderr.splitlines()[-1:] == ["tap: -c:1: flow %s is not running (start %s runs "
                                             "it; status %s tells how it ended)"
                                             % (NAME, NAME, NAME)],
              "%s of a stopped flow: not running, exit 1" % cmd.split()[0] +
              (" (--json)" if "--json" in cmd else ""), r.stdout + r.stderr)


def main():
    for binary in (TAP, REPLICA):
        if not os.path.exists(binary):
            print("%s not built (set TAPFLOW_BUILD_DIR, TAPFLOW_TAP / TAPFLOW_REPLICA_BIN)"
                  % binary)
            print("0 passed, 1 failed")
            return 1
    tmp = tempfile.mkdtemp(prefix="tf_obs_")
    home = os.path.join(tmp, "home")
    conf = os.path.join(tmp, "tapflow.conf")
    lib.write_config(conf, DB, 8200 + os.getpid() % 300,
                     extra="home = %s\nstatus_ports = 17700-17799" % home)
    lib.sql("", "CREATE DATABASE %s" % DB)
    try:
        sql(lib.GUIDE_SCHEMA)
        if part_stats(tmp, conf) is not None:
            part_logs(tmp, conf, home)
            part_monitor(tmp, conf)
            part_sdk(tmp, conf, home)
            part_stopped(tmp, conf)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        check(False, "no exception", repr(e))
    finally:
        tap(tmp, conf, "-c", "stop %s" % NAME)
        try:
            lib.mongo_eval(DB, "db.dropDatabase()")
        except Exception as e:  # noqa: BLE001
            print("warning: could not drop the target database:", e)
        lib.sql("", "DROP DATABASE IF EXISTS %s" % DB)
        shutil.rmtree(tmp, ignore_errors=True)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

"""package_systemd.py — a stand-in for systemd where it is not PID 1 (containers,
CI): runs an installed unit file's ExecStart under the unit's own restart
policy, and answers the systemctl and journalctl calls tap makes in its
systemd mode. Used by tests/integration/package_flow.py; not a test itself.

    python3 package_systemd.py systemctl start|stop|reset-failed UNIT
    python3 package_systemd.py systemctl show --property=MainPID|SubState --value UNIT
    python3 package_systemd.py journalctl --unit UNIT [...]
    python3 package_systemd.py supervise UNIT       (what `start` runs, detached)

What it reads of the unit, as systemd does: User, Group, WorkingDirectory,
Environment, EnvironmentFile (re-read before every start; '-' = optional),
ExecStart (%i, $VAR as words, ${VAR} as one word), KillSignal,
TimeoutStopSec, Restart=on-failure, RestartSec, RestartSteps and
RestartMaxDelaySec (the delay grows from RestartSec to RestartMaxDelaySec
over RestartSteps failures, as systemd 254 does), StartLimitIntervalSec and
StartLimitBurst. Env TAPFLOW_FAKE_SYSTEMD_DIR: where the units' state and
output ("the journal") are kept; TAPFLOW_UNIT_DIR: where unit files are
(default /usr/lib/systemd/system).
"""
import os
import pwd
import re
import shlex
import signal
import subprocess
import sys
import time

STATE = os.environ.get("TAPFLOW_FAKE_SYSTEMD_DIR", "/tmp/tapflow-fake-systemd")
UNIT_DIR = os.environ.get("TAPFLOW_UNIT_DIR", "/usr/lib/systemd/system")


def unit_file(unit):
    """tapflow-flow@NAME.service -> (template file, instance NAME)."""
    m = re.match(r"^([^@]+@)([^.]*)(\.service)$", unit)
    if m:
        return os.path.join(UNIT_DIR, m.group(1) + m.group(3)), m.group(2)
    return os.path.join(UNIT_DIR, unit), ""


def parse_unit(path):
    """{key: [values in order]} of the unit's settings (sections merged)."""
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def seconds(text):
    m = re.match(r"^(\d+(?:\.\d+)?)(ms|s|min)?$", text)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "min": 60, None: 1}[m.group(2)]


def environment(settings, instance):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for assignments in settings.get("Environment", []):
        for word in shlex.split(assignments):
            key, _, value = word.partition("=")
            env[key] = value
    for name in settings.get("EnvironmentFile", []):
        optional = name.startswith("-")
        name = name.lstrip("-").replace("%i", instance)
        try:
            with open(name) as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#") and "=" in line:
                        key, _, value = line.partition("=")
                        env[key.strip()] = value.strip().strip('"')
        except OSError:
            if not optional:
                raise
    return env


def command_line(settings, instance, env):
    """ExecStart as argv: %i replaced, ${VAR} one word, $VAR split into words."""
    argv = []
    for word in shlex.split(settings["ExecStart"][-1].replace("%i", instance)):
        m = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", word)
        if m and m.group(1):
            argv.append(env.get(m.group(1), ""))
        elif m:
            argv.extend(env.get(m.group(2), "").split())
        else:
            argv.append(re.sub(r"\$\{(\w+)\}", lambda v: env.get(v.group(1), ""), word))
    return argv


def unit_dir(unit):
    path = os.path.join(STATE, unit)
    os.makedirs(path, exist_ok=True)
    return path


def read(unit, name, default=""):
    try:
        with open(os.path.join(unit_dir(unit), name)) as f:
            return f.read().strip()
    except OSError:
        return default


def write(unit, name, value):
    path = os.path.join(unit_dir(unit), name)
    with open(path + ".tmp", "w") as f:
        f.write("%s\n" % value)
    os.replace(path + ".tmp", path)


def journal(unit, text):
    with open(os.path.join(unit_dir(unit), "journal"), "a") as f:
        f.write("%s fake-systemd: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), text))


def supervise(unit):
    """Runs the unit until it stops cleanly, is stopped, or fails past its limits."""
    path, instance = unit_file(unit)
    settings = parse_unit(path)
    user = settings.get("User", [None])[-1]
    kill_signal = getattr(signal, settings.get("KillSignal", ["SIGTERM"])[-1])
    stop_timeout = seconds(settings.get("TimeoutStopSec", ["90s"])[-1])
    restart = settings.get("Restart", ["no"])[-1]
    restart_sec = seconds(settings.get("RestartSec", ["0.1"])[-1])
    steps = int(settings.get("RestartSteps", ["0"])[-1])
    max_delay = seconds(settings.get("RestartMaxDelaySec", ["0"])[-1])
    burst_window = seconds(settings.get("StartLimitIntervalSec", ["10"])[-1])
    burst = int(settings.get("StartLimitBurst", ["5"])[-1])
    stopping = []
    child = [None]

    def on_stop(sig, frame):
        stopping.append(True)
        if child[0] and child[0].poll() is None:
            child[0].send_signal(kill_signal)

    signal.signal(signal.SIGTERM, on_stop)
    starts = []
    failures = 0
    with open(os.path.join(unit_dir(unit), "journal"), "ab") as out:
        while not stopping:
            starts = [t for t in starts if t > time.time() - burst_window] + [time.time()]
            if len(starts) > burst:
                journal(unit, "start request repeated too quickly: failed")
                write(unit, "SubState", "failed")
                break
            env = environment(settings, instance)
            argv = command_line(settings, instance, env)
            preexec = None
            if user:
                pw = pwd.getpwnam(user)

                def preexec(pw=pw):
                    os.setsid()
                    os.initgroups(pw.pw_name, pw.pw_gid)
                    os.setgid(pw.pw_gid)
                    os.setuid(pw.pw_uid)
            journal(unit, "starting: " + " ".join(shlex.quote(a) for a in argv))
            child[0] = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=out, preexec_fn=preexec,
                                        cwd=settings.get("WorkingDirectory", ["/"])[-1])
            write(unit, "MainPID", child[0].pid)
            write(unit, "SubState", "running")
            deadline = None
            while child[0].poll() is None:
                if stopping and deadline is None:
                    deadline = time.time() + stop_timeout
                if deadline and time.time() > deadline:
                    child[0].kill()
                time.sleep(0.05)
            code = child[0].returncode
            write(unit, "MainPID", 0)
            how = "exited with code %d" % code if code >= 0 else \
                "killed by signal %d (%s)" % (-code, signal.Signals(-code).name)
            journal(unit, "main process %s" % how)
            clean = code == 0 or (stopping and code == -kill_signal)
            if clean or stopping or restart not in ("on-failure", "always"):
                write(unit, "SubState", "dead" if clean else "failed")
                break
            failures += 1
            delay = restart_sec
            if steps > 0 and max_delay > restart_sec:
                delay = min(max_delay, restart_sec *
                            (max_delay / restart_sec) ** (min(failures - 1, steps) / steps))
            write(unit, "SubState", "auto-restart")
            journal(unit, "scheduled restart %d in %.1f s (Restart=%s)" % (failures, delay,
                                                                         restart))
            until = time.time() + delay
            while time.time() < until and not stopping:
                time.sleep(0.05)
        else:
            write(unit, "SubState", "dead")
    write(unit, "SupervisorPID", 0)


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, ValueError):
        return False


def systemctl(args):
    verb, unit = args[0], args[-1]
    if verb == "show":
        prop = args[1].split("=", 1)[1]
        default = {"MainPID": "0", "SubState": "dead"}[prop]
        print(read(unit, prop, default))
        return 0
    if verb == "reset-failed":
        if read(unit, "SubState") == "failed":
            write(unit, "SubState", "dead")
        return 0
    supervisor = int(read(unit, "SupervisorPID", "0") or 0)
    if verb == "start":
        if supervisor and alive(supervisor):
            return 0
        write(unit, "SubState", "start")
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "supervise", unit],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        write(unit, "SupervisorPID", p.pid)
        return 0
    if verb == "stop":
        if supervisor and alive(supervisor):
            os.kill(supervisor, signal.SIGTERM)
            while alive(supervisor) and read(unit, "SupervisorPID", "0") != "0":
                time.sleep(0.05)
        return 0
    print("fake systemctl: %s is not implemented" % verb, file=sys.stderr)
    return 1


def journalctl(args):
    unit = args[args.index("--unit") + 1]
    try:
        with open(os.path.join(unit_dir(unit), "journal"), "rb") as f:
            sys.stdout.buffer.write(f.read())
    except OSError:
        pass
    return 0


def main():
    what, args = sys.argv[1], sys.argv[2:]
    if what == "supervise":
        supervise(args[0])
        return 0
    return {"systemctl": systemctl, "journalctl": journalctl}[what](args)


if __name__ == "__main__":
    sys.exit(main())

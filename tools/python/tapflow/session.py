"""Where the config and the `tap` binary are, and running `tap` for the SDK.

Lookup order (the same as tap's own, see notes/TAP_CONTRACT.md):
  config: the argument, else env TAPFLOW_CONFIG, else ~/.tapflow/tapflow.conf
  binary: the argument, else env TAPFLOW_TAP, else `tap` on PATH, else
          <repository>/build/tools/tap/tap (this package lives in
          <repository>/tools/python/tapflow).
"""
import os
import re
import shutil
import signal
import subprocess

from tapflow.errors import TapflowError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILT_TAP = os.path.join(REPO, "build", "tools", "tap", "tap")
# start waits for the daemon's status endpoint and stop for its exit (<= 60 s).
TAP_TIMEOUT_S = 180
SCRIPT_LOCATION = re.compile(r"^tap: (-|-c):\d+: ")
# How long a followed tap has to end after SIGINT before it is killed.
FOLLOW_STOP_S = 10


def _tap_error(stderr, returncode):
    lines = [line for line in stderr.splitlines() if line.strip()]
    detail = lines[-1] if lines else "tap: exit status %d, no message" % returncode
    # The location is in text the SDK wrote (stdin or -c), not the user's.
    return TapflowError(SCRIPT_LOCATION.sub("tap: ", detail, count=1))


def find_config(config=None):
    """The config file's path; TapflowError naming what was looked for if there is none."""
    if config is None:
        config = os.environ.get("TAPFLOW_CONFIG") or os.path.join(
            os.path.expanduser("~"), ".tapflow", "tapflow.conf")
        origin = "TAPFLOW_CONFIG" if os.environ.get("TAPFLOW_CONFIG") else "the default"
    else:
        origin = "init(config=...)"
    if not os.path.isfile(config):
        raise TapflowError("tapflow: no config file at %s (%s); set TAPFLOW_CONFIG to your "
                           "tapflow.conf with the flow's datasources" % (config, origin))
    if not os.access(config, os.R_OK):
        raise TapflowError("tapflow: the config file %s is not readable" % config)
    return os.path.abspath(config)


def find_tap(tap=None):
    """The tap binary's path; TapflowError naming what was looked for if there is none."""
    if tap is None:
        tap = os.environ.get("TAPFLOW_TAP")
        if tap:
            origin = "TAPFLOW_TAP"
        else:
            tap = shutil.which("tap") or BUILT_TAP
            origin = "PATH or " + BUILT_TAP
    else:
        origin = "init(tap=...)"
    if not (os.path.isfile(tap) and os.access(tap, os.X_OK)):
        raise TapflowError("tapflow: the tap binary was not found (looked at %s: %s); build it "
                           "with `ninja -C build` or set TAPFLOW_TAP" % (origin, tap))
    return os.path.abspath(tap)


class Session:
    """A config file and a tap binary: runs `tap --config CONFIG -q ...`."""

    def __init__(self, config=None, tap=None):
        self.config = find_config(config)
        self.tap = find_tap(tap)

    def run(self, args, stdin_text=None):
        """Runs tap quietly; returns its stdout, or raises TapflowError with tap's error line."""
        cmd = [self.tap, "--config", self.config, "-q"] + list(args)
        try:
            r = subprocess.run(cmd, input=stdin_text if stdin_text is not None else "",
                               capture_output=True, text=True, timeout=TAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise TapflowError("tapflow: `tap %s` did not finish within %d s"
                               % (" ".join(args), TAP_TIMEOUT_S)) from None
        except OSError as e:
            raise TapflowError("tapflow: cannot run %s: %s" % (self.tap, e.strerror)) from None
        if r.returncode != 0:
            raise _tap_error(r.stderr, r.returncode)
        return r.stdout

    def run_code(self, args, timeout=None):
        """Runs tap quietly and returns (exit status, stdout, stderr) whatever the
        status: for commands whose non-zero status is an answer (verify)."""
        cmd = [self.tap, "--config", self.config, "-q"] + list(args)
        try:
            r = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TapflowError("tapflow: `tap %s` did not finish within %s s"
                               % (" ".join(args), timeout)) from None
        except OSError as e:
            raise TapflowError("tapflow: cannot run %s: %s" % (self.tap, e.strerror)) from None
        return r.returncode, r.stdout, r.stderr

    def follow(self, args):
        """Starts tap on a command that runs until interrupted (logs --follow) and
        returns a Follow: an iterator over its output lines."""
        cmd = [self.tap, "--config", self.config, "-q"] + list(args)
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, bufsize=1)
        except OSError as e:
            raise TapflowError("tapflow: cannot run %s: %s" % (self.tap, e.strerror)) from None
        return Follow(proc)


class Follow:
    """The lines of a running `tap ... --follow`, without their newline, as they come.
    close() (or leaving a `with` block) interrupts tap with SIGINT, as Ctrl-C does;
    tap failing (no such flow, no log) raises TapflowError with its message."""

    def __init__(self, proc):
        self.proc = proc

    def __iter__(self):
        return self

    def __next__(self):
        if self.proc.stdout.closed:
            raise StopIteration
        line = self.proc.stdout.readline()
        if line:
            return line[:-1] if line.endswith("\n") else line
        self.proc.wait()
        stderr = self.proc.stderr.read()
        self._release()
        if self.proc.returncode not in (0, -signal.SIGINT):
            raise _tap_error(stderr, self.proc.returncode)
        raise StopIteration

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(FOLLOW_STOP_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._release()

    def _release(self):
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream and not stream.closed:
                stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 (interpreter shutdown)
            pass


# The session init() made; flows created before init() make one on first use.
_current = []


def set_current(session):
    _current[:] = [session]


def current():
    if not _current:
        set_current(Session())
    return _current[0]

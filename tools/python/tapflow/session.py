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
import subprocess

from tapflow.errors import TapflowError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILT_TAP = os.path.join(REPO, "build", "tools", "tap", "tap")
# start waits for the daemon's status endpoint and stop for its exit (<= 60 s).
TAP_TIMEOUT_S = 180
SCRIPT_LOCATION = re.compile(r"^tap: (-|-c):\d+: ")


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
            lines = [line for line in r.stderr.splitlines() if line.strip()]
            detail = lines[-1] if lines else "tap: exit status %d, no message" % r.returncode
            # The location is in text the SDK wrote (stdin or -c), not the user's.
            raise TapflowError(SCRIPT_LOCATION.sub("tap: ", detail, count=1))
        return r.stdout


# The session init() made; flows created before init() make one on first use.
_current = []


def set_current(session):
    _current[:] = [session]


def current():
    if not _current:
        set_current(Session())
    return _current[0]

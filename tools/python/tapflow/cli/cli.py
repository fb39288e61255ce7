"""init() for flow programs: `from tapflow.cli.cli import init`."""
from tapflow import session as sessions
from tapflow.errors import TapflowError


def init(config=None, tap=None):
    """Finds the config file (config, else env TAPFLOW_CONFIG, else
    ~/.tapflow/tapflow.conf) and the tap binary (tap, else env TAPFLOW_TAP, else
    `tap` on PATH, else <repository>/build/tools/tap/tap) for the Flow calls
    that follow. If either is missing the program ends with exit status 1 and
    one line on stderr saying what was looked for. Returns the session."""
    try:
        session = sessions.Session(config, tap)
    except TapflowError as e:
        raise SystemExit(str(e)) from None
    sessions.set_current(session)
    return session

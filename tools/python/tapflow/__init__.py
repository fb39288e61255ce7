"""tapflow — Python SDK for tapflow's real-time MongoDB wide tables.

The guide's programs use it as

    from tapflow.lib import *          # Flow, TapflowError, FlowError
    from tapflow.cli.cli import init
    init()                             # finds the config and the tap binary

Flows are recorded in Python, then saved, started, stopped and watched through
the `tap` binary (the Tap Shell), so the SDK and the shell drive the same
daemon and see the same saved flows. Standard library only.
"""

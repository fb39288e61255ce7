"""The SDK's exceptions."""


class TapflowError(Exception):
    """A tapflow operation failed (config or tap binary missing, tap refused a command)."""


class FlowError(TapflowError, ValueError):
    """A flow definition is malformed: the message says which argument and why."""

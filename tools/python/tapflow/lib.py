"""What `from tapflow.lib import *` gives a flow program: Flow and the SDK's exceptions."""
from tapflow.errors import FlowError, TapflowError
from tapflow.flow import Flow

__all__ = ["Flow", "FlowError", "TapflowError"]

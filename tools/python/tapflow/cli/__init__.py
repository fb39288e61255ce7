"""Command-line side of the SDK: init() for flow programs."""

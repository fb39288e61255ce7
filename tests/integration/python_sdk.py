#!/usr/bin/env python3
"""python_sdk.py — the tapflow Python SDK's unit tests (tools/python/tests,
python unittest, a fake tap binary), with the suite's summary line.

Needs no server. Prints one line per test, then "N passed, N failed"; exit
status 1 on any failure.
"""
import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tools", "python", "tests")


class CountingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    sys.path.insert(0, os.path.join(ROOT, "tools", "python"))
    suite = unittest.defaultTestLoader.discover(TESTS, pattern="test_*.py", top_level_dir=TESTS)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=CountingResult)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("%d passed, %d failed" % (result.passed, failed))
    return 1 if failed or result.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

"""Runs the tests of the ways to run songrec besides `songrec run` itself: the cron line
(test_cron.py) and the commands of Dockerfile and docker-compose.yaml outside containers
(test_containers.py). Used by `.ci/deploy.sh test`, with the Airflow venv's python (PyYAML and
Airflow):

    SONGREC_TEST_BIN=target/debug/songrec "$(bash .ci/airflow.sh python)" tests/deploy/run.py

Prints one closing line `deploy: N passed, N failed, N skipped` and exits non-zero when a test
failed or none passed.
"""

from __future__ import annotations

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if len(sys.argv) > 1:
        loader.testNamePatterns = [f"*{p}*" for p in sys.argv[1:]]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"deploy: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if result.wasSuccessful() and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Runs the DAG tests with Airflow configured for them: a throw-away AIRFLOW_HOME (SQLite
metadata database), this repository's DAG folder, no example DAGs.

    "$(bash .ci/airflow.sh python)" airflow/tests/run.py [TEST_NAME_PATTERN...]

test_dags.py loads the DAG folder; test_end_to_end.py runs `airflow dags test` of every DAG
against a songrec build (SONGREC_TEST_BIN), the fake Genius built beside it and a running
`songrec serve` (see that file). Prints one closing line `dags: N passed, N failed, N skipped`
and exits non-zero when a test failed or none ran.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DAGS = os.path.normpath(os.path.join(HERE, "..", "dags"))


def main() -> int:
    home = tempfile.mkdtemp(prefix="songrec-airflow-home-")
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = DAGS
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    # Airflow adds the DAG folder to sys.path for the DAG files; the tests import from it too.
    sys.path.insert(0, DAGS)
    sys.path.insert(0, HERE)
    try:
        loader = unittest.TestLoader()
        if len(sys.argv) > 1:
            loader.testNamePatterns = [f"*{p}*" for p in sys.argv[1:]]
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
        result = unittest.TextTestRunner(verbosity=2).run(suite)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"dags: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if result.wasSuccessful() and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

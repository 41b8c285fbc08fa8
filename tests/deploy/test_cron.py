"""The crontab line of README.md and docs/DEPLOYMENT.md, run the way cron runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import unittest

from support import BIN, need, read


def cron_lines(path: str) -> list[str]:
    """The crontab lines in a document's cron code blocks (and README's table)."""
    text = read(path)
    lines = []
    for block in re.findall(r"```cron\n(.*?)```", text, re.S):
        lines += [l for l in block.splitlines() if l.strip() and not l.startswith("#")]
    lines += re.findall(r"`(\d+ \* \* \* \* [^`]+)`", text)
    return lines


class CronLine(unittest.TestCase):
    """The documented crontab line, run the way cron runs it."""

    def test_readme_and_deployment_document_the_same_cron_line(self):
        readme, deployment = cron_lines("README.md"), cron_lines("docs/DEPLOYMENT.md")
        self.assertEqual(len(deployment), 1, deployment)
        self.assertEqual(readme, deployment)

    def test_the_cron_line_runs_a_cycle_with_cron_s_environment_and_logs_its_code(self):
        need(bool(BIN) and os.access(BIN, os.X_OK), f"SONGREC_TEST_BIN is not set ({BIN!r})")
        (line,) = cron_lines("docs/DEPLOYMENT.md")
        fields = line.split(None, 5)
        self.assertEqual(fields[:5], ["5", "*", "*", "*", "*"])
        command = fields[5]
        with tempfile.TemporaryDirectory(prefix="songrec-cron-") as work:
            home = os.path.join(work, "srv")
            logs = os.path.join(work, "log")
            os.makedirs(home)
            os.makedirs(logs)
            # The documented .env, with this machine's paths and no MLflow or Genius token.
            with open(os.path.join(home, ".env"), "w") as f:
                f.write(f"SONGREC_DATA_DIR={home}/data\n")
            catalogue = os.path.join(work, "songs.jsonl")
            env = {"PATH": os.environ.get("PATH", ""), "SONGREC_DATA_DIR": f"{home}/data"}
            for args in (["generate", "--songs", "200", "--out", catalogue], ["import", catalogue]):
                subprocess.run([BIN, *args], env=env, check=True, capture_output=True, timeout=120)
            command = (
                command.replace("/srv/songrec", home)
                .replace("/usr/local/bin/songrec", BIN)
                .replace("/var/log/songrec", logs)
            )
            # cron: /bin/sh, a minimal environment, no terminal, the user's HOME.
            cron_env = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "HOME": work, "LOGNAME": "songrec"}
            for expected in (0, 0):
                done = subprocess.run(["/bin/sh", "-c", command], env=cron_env,
                                      stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
                with open(f"{logs}/cycle.log") as f:
                    self.assertEqual(done.returncode, expected, f.read())
                self.assertEqual(done.stdout + done.stderr, b"", "cron would mail this")
            with open(f"{logs}/cycle.log") as f:
                log = f.read()
            self.assertIn("fetching is off", log)
            # The first run trains version 1 (no champion); the second has nothing new to train.
            models = subprocess.run([BIN, "models", "list", "--json"], env=env, check=True,
                                    capture_output=True, timeout=60)
            self.assertEqual([v["version"] for v in json.loads(models.stdout)], [1])

"""The commands of Dockerfile and docker-compose.yaml, run outside containers (no container
engine is needed): each test reads the command, its environment and its health check from
those files, changes only what a container changes (host names, ports, paths) and runs them
against the real songrec build, PostgreSQL and MLflow.

    python tests/deploy/run.py

Needs: PyYAML and Airflow in the running Python (the venv of .ci/airflow.sh), SONGREC_TEST_BIN,
SONGREC_TEST_PG_URL, and the MLflow venv (SONGREC_TEST_MLFLOW_PYTHON). What is missing is
skipped, unless SONGREC_REQUIRE_SERVICES=1, when it fails. Not run here: the image builds
themselves (`cargo build --release` in the build stage; CI builds the same sources in debug)
and the PostgreSQL image's `pg_isready`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import unittest

from support import (
    BIN,
    MLFLOW_PYTHON,
    PG_URL,
    Postgres,
    compose,
    dockerfile_stage,
    free_port,
    get,
    interpolate,
    need,
    read,
    stop,
    wait_until,
)


class PinnedVersions(unittest.TestCase):
    """The images run the versions the tests run."""

    def test_the_airflow_image_is_the_airflow_version_ci_installs(self):
        pinned = re.search(r"^AIRFLOW_VERSION=(\S+)$", read(".ci/airflow.sh"), re.M).group(1)
        self.assertIn(f"FROM apache/airflow:{pinned} AS airflow", read("Dockerfile"))

    def test_the_mlflow_image_is_the_mlflow_version_ci_installs(self):
        pinned = re.search(r"^MLFLOW_VERSION=(\S+)$", read(".ci/mlflow.sh"), re.M).group(1)
        self.assertEqual(compose()["services"]["mlflow"]["image"], f"ghcr.io/mlflow/mlflow:v{pinned}")

    def test_the_build_image_is_at_least_the_minimum_rust_version(self):
        minimum = re.search(r'^rust-version = "(\d+)\.(\d+)"', read("Cargo.toml"), re.M)
        image = re.search(r"^FROM rust:(\d+)\.(\d+)", read("Dockerfile"), re.M)
        self.assertGreaterEqual(
            (int(image.group(1)), int(image.group(2))),
            (int(minimum.group(1)), int(minimum.group(2))),
        )


class SongrecContainer(unittest.TestCase):
    """The `songrec` service: the image's entrypoint with compose's command and environment."""

    def setUp(self):
        need(bool(BIN) and os.access(BIN, os.X_OK), f"SONGREC_TEST_BIN is not set ({BIN!r})")
        need(bool(PG_URL), "SONGREC_TEST_PG_URL is not set")
        self.work = tempfile.TemporaryDirectory(prefix="songrec-container-")
        self.addCleanup(self.work.cleanup)
        self.database = Postgres()
        self.addCleanup(self.database.drop)
        self.image = dockerfile_stage("runtime")
        self.service = compose()["services"]["songrec"]
        self.port = free_port()

    def environment(self, operator_env: dict) -> dict:
        """The container's environment: the image's ENV, then compose's, with the service names
        and the data volume replaced by this machine's."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SONGREC_", "DB_", "GENIUS_", "MLFLOW_")) and k != "DATABASE_URL"
        }
        env.update(self.image["ENV"])
        env.update({k: interpolate(str(v), operator_env) for k, v in self.service["environment"].items()})
        self.assertEqual(env["DATABASE_URL"], "postgres://songrec:songrec@postgres:5432/songrec")
        env["DATABASE_URL"] = self.database.url
        self.assertEqual(env["MLFLOW_TRACKING_URI"], "http://mlflow:5000")
        # The local registry instead of MLflow (MLflow's service is tested on its own below).
        del env["MLFLOW_TRACKING_URI"]
        self.assertEqual(env["SONGREC_DATA_DIR"], "/var/lib/songrec")
        env["SONGREC_DATA_DIR"] = self.work.name
        self.assertEqual(env["SONGREC_ADDR"], "0.0.0.0:8000")
        env["SONGREC_ADDR"] = f"127.0.0.1:{self.port}"
        return env

    def command(self, operator_env: dict) -> list[str]:
        entrypoint = json.loads(self.image["ENTRYPOINT"])
        command = [interpolate(part, operator_env) for part in self.service["command"]]
        self.assertEqual(entrypoint, ["songrec"])
        return [BIN, *command]

    def healthcheck(self) -> bool:
        """The image's HEALTHCHECK command, on this test's port."""
        check = self.image["HEALTHCHECK"].split(" CMD ", 1)[1]
        self.assertIn("http://127.0.0.1:8000/health", check)
        check = check.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}")
        return subprocess.run(["sh", "-c", check], capture_output=True, timeout=10).returncode == 0

    def start(self, operator_env: dict):
        log = open(os.path.join(self.work.name, "container.log"), "w+")
        self.addCleanup(log.close)
        process = subprocess.Popen(
            self.command(operator_env),
            env=self.environment(operator_env),
            cwd=self.work.name,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.addCleanup(lambda: process.poll() is None and process.kill())

        def text():
            log.seek(0)
            return log.read()

        wait_until(self.healthcheck, 60, "the HEALTHCHECK passing", process, text)
        return process, text

    def test_the_default_command_runs_the_pipeline_serves_and_passes_the_healthcheck(self):
        self.assertEqual(json.loads(self.image["CMD"]), ["run"])
        # `docker compose up` with neither token set: compose passes them as empty strings.
        process, text = self.start({})
        self.assertEqual(
            get(f"http://127.0.0.1:{self.port}/admin/reload", method="POST"),
            404,
            "an empty SONGREC_ADMIN_TOKEN must leave the admin route off",
        )
        wait_until(lambda: "fetching is off" in text(), 30, "`run` saying fetching is off",
                   process, text)
        self.assertEqual(stop(process), 0, text())

    def test_the_serve_command_of_the_airflow_profile_serves_the_admin_route(self):
        token = "admin-" + secrets.token_hex(16)
        process, text = self.start({"SONGREC_COMMAND": "serve", "SONGREC_ADMIN_TOKEN": token})
        auth = {"Authorization": f"Bearer {token}"}
        url = f"http://127.0.0.1:{self.port}/admin/reload"
        self.assertEqual(get(url, auth, method="POST"), 200, text())
        self.assertEqual(get(url, {"Authorization": "Bearer wrong"}, method="POST"), 401)
        self.assertEqual(stop(process), 0, text())
        self.assertNotIn(token, text())


class MlflowContainer(unittest.TestCase):
    """The `mlflow` service's command with the pinned MLflow, and songrec registering with it."""

    def setUp(self):
        mlflow = os.path.join(os.path.dirname(MLFLOW_PYTHON), "mlflow") if MLFLOW_PYTHON else ""
        need(bool(mlflow) and os.access(mlflow, os.X_OK),
             f"SONGREC_TEST_MLFLOW_PYTHON is not an MLflow venv's python ({MLFLOW_PYTHON!r})")
        need(bool(BIN) and os.access(BIN, os.X_OK), f"SONGREC_TEST_BIN is not set ({BIN!r})")
        self.mlflow = mlflow
        self.work = tempfile.TemporaryDirectory(prefix="songrec-mlflow-container-")
        self.addCleanup(self.work.cleanup)
        self.service = compose()["services"]["mlflow"]
        self.port = free_port()

    def command(self) -> list[str]:
        command = list(self.service["command"])
        self.assertEqual(command[:2], ["mlflow", "server"])
        volume = os.path.join(self.work.name, "mlflow")
        os.makedirs(volume)
        out = [self.mlflow, "server"]
        for arg in command[2:]:
            arg = arg.replace("--host=0.0.0.0", "--host=127.0.0.1")
            arg = arg.replace(":5000", f":{self.port}").replace("--port=5000", f"--port={self.port}")
            arg = arg.replace("/mlflow/", volume + "/")
            out.append(arg)
        self.assertIn(f"--port={self.port}", out)
        return out

    def test_the_mlflow_service_accepts_songrec_s_requests_and_its_healthcheck_passes(self):
        log = open(os.path.join(self.work.name, "mlflow.log"), "w+")
        self.addCleanup(log.close)
        server = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.work.name, start_new_session=True,
        )

        def kill_group():
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

        self.addCleanup(kill_group)

        def text():
            log.seek(0)
            return log.read()

        base = f"http://127.0.0.1:{self.port}"
        wait_until(lambda: get(f"{base}/health") == 200, 180, "MLflow answering", server, text)
        # The service's healthcheck, with the image's python (MLflow's venv here).
        test = self.service["healthcheck"]["test"]
        self.assertEqual(test[:2], ["CMD", "python"])
        check = [MLFLOW_PYTHON, *[a.replace(":5000", f":{self.port}") for a in test[2:]]]
        self.assertEqual(subprocess.run(check, capture_output=True, timeout=30).returncode, 0)
        # songrec reaches it as http://mlflow:5000, so that is the Host header it sends; MLflow
        # refuses Host headers it was not told about (the health check is exempt).
        api = f"{base}/api/2.0/mlflow/experiments/search?max_results=1"
        self.assertEqual(get(api, {"Host": f"mlflow:{self.port}"}), 200, text())
        self.assertEqual(get(api, {"Host": f"elsewhere.example:{self.port}"}), 403)

        # Register a model through it, as the songrec service would.
        data = os.path.join(self.work.name, "songrec")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SONGREC_", "DB_", "GENIUS_", "MLFLOW_")) and k != "DATABASE_URL"}
        env.update({"SONGREC_DATA_DIR": data, "MLFLOW_TRACKING_URI": base, "SONGREC_LOG": "warn"})
        catalogue = os.path.join(self.work.name, "songs.jsonl")
        for args in (["generate", "--songs", "200", "--out", catalogue], ["import", catalogue],
                     ["train"]):
            done = subprocess.run([BIN, *args], env=env, capture_output=True, text=True,
                                  timeout=300)
            self.assertEqual(done.returncode, 0, f"songrec {args[0]}: {done.stderr}\n{text()}")
        self.assertIn("promoted to champion", done.stdout)


class AirflowContainer(unittest.TestCase):
    """The `airflow` service's command and settings."""

    def test_airflow_standalone_exists_in_the_pinned_airflow(self):
        try:
            import airflow  # noqa: F401
        except ImportError:
            need(False, "Airflow is not installed in this Python")
        service = compose()["services"]["airflow"]
        self.assertEqual(service["command"], ["airflow", "standalone"])
        with tempfile.TemporaryDirectory() as home:
            done = subprocess.run([sys.executable, "-m", "airflow", "standalone", "--help"],
                                  capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "AIRFLOW_HOME": home})
        self.assertEqual(done.returncode, 0, done.stderr)

    def test_the_variables_compose_sets_are_settings_the_dags_read(self):
        service = compose()["services"]["airflow"]
        settings = read("airflow/dags/songrec_tasks.py")
        names = [k for k in service["environment"] if k.startswith("AIRFLOW_VAR_")]
        self.assertTrue(names)
        for name in names:
            variable = name.removeprefix("AIRFLOW_VAR_").lower()
            self.assertRegex(settings, rf"\n    {variable} ", f"{name} is no DAG setting")

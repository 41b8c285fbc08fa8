"""The commands of Dockerfile and docker-compose.yaml, run outside containers (no container
engine is needed): each test reads the command, its environment and its health check from
those files, changes only what a container changes (host names, ports, paths) and runs them
against the real songrec build, PostgreSQL and MLflow.

    python tests/deploy/test_deploy.py

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
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REQUIRED = os.environ.get("SONGREC_REQUIRE_SERVICES") == "1"
BIN = os.environ.get("SONGREC_TEST_BIN", "")
PG_URL = os.environ.get("SONGREC_TEST_PG_URL", "")
MLFLOW_PYTHON = os.environ.get("SONGREC_TEST_MLFLOW_PYTHON", "")
# A container gets this long to stop after SIGTERM before `docker stop` kills it.
STOP_GRACE_SECS = 10


def need(condition: bool, what: str):
    """Skips the test when `what` is missing, or fails under SONGREC_REQUIRE_SERVICES=1."""
    if condition:
        return
    if REQUIRED:
        raise AssertionError(f"SONGREC_REQUIRE_SERVICES=1 and {what}")
    raise unittest.SkipTest(what)


def read(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def dockerfile_stage(name: str) -> dict:
    """The instructions of one stage of the Dockerfile: ENV as a dict, the rest as text."""
    lines, stage, joined = [], None, ""
    for raw in read("Dockerfile").splitlines():
        if raw.strip().startswith("#") and not joined:
            continue
        joined += raw.rstrip("\\").strip() + " " if raw.endswith("\\") else raw.strip()
        if raw.endswith("\\"):
            continue
        line, joined = joined.strip(), ""
        if not line:
            continue
        if line.upper().startswith("FROM "):
            stage = line.split()[-1] if " AS " in line.upper() else None
            continue
        if stage == name:
            lines.append(line)
    assert lines, f"no stage {name} in the Dockerfile"
    out = {"ENV": {}}
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                out["ENV"][key] = value
        else:
            out[keyword] = rest.strip()
    return out


def compose() -> dict:
    import yaml

    return yaml.safe_load(read("docker-compose.yaml"))


def interpolate(value: str, env: dict) -> str:
    """Compose's `${NAME:-default}` and `${NAME}` against `env` (the operator's shell)."""

    def one(match):
        name, default = match.group(1), match.group(3) or ""
        return env.get(name) or default

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(:-([^}]*))?\}", one, value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict | None = None, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # nothing listening (yet)


def wait_until(check, seconds: float, what: str, process=None, log=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen in {seconds:g}s\n{log() if log else ''}")


def stop(process, grace=STOP_GRACE_SECS) -> int:
    """`docker stop`: SIGTERM, then SIGKILL after the grace period; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return -9
    return process.returncode


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


class Postgres:
    """A uniquely named database for one test, dropped by `drop`."""

    def __init__(self):
        self.name = "songrec_containers_" + secrets.token_hex(6)
        self.url = PG_URL.rsplit("/", 1)[0] + "/" + self.name
        self.psql(f"CREATE DATABASE {self.name}")

    def psql(self, sql):
        subprocess.run(["psql", PG_URL, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True,
                       capture_output=True, timeout=60)

    def drop(self):
        self.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


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


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"containers: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(0 if result.wasSuccessful() and passed > 0 else 1)

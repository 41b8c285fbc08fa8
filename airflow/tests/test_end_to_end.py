"""`airflow dags test` of every DAG against a real songrec build, the fake Genius server and a
running `songrec serve`, in order, as a scheduler would run them:

1. `fetch_genius_songs` fetches an artist from the fake Genius into PostgreSQL (or SQLite when
   no PostgreSQL is configured) and triggers `train_knn_model`;
2. `train_knn_model` registers and promotes version 2 and triggers `restart_fastapi_after_knn`,
   while `songrec serve` (reloading only once an hour by itself) still serves version 1;
3. `restart_fastapi_after_knn` makes the server serve version 2 through `POST /admin/reload`;
4. `songrec_pipeline` fetches another artist and promotes version 3, and the restart DAG, with
   the API's address and token in an Airflow connection this time, makes the server serve it;
5. failures: a Genius token that Genius refuses fails the fetch at once (exit code 3, no retry,
   no training triggered), a wrong admin token fails the restart.

The admin token and the Genius token must appear in no output, log file or the metadata
database. Settings reach the DAGs as Airflow Variables in the environment (AIRFLOW_VAR_*), as
they would from a secrets backend.

Needs: SONGREC_TEST_BIN (the songrec binary), the fake Genius built beside it by `cargo test`
(`examples/fake_genius` next to the binary, or SONGREC_TEST_FAKE_GENIUS), and optionally
SONGREC_TEST_PG_URL. Without the binaries the tests are skipped, unless
SONGREC_REQUIRE_SERVICES=1, when they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

REQUIRED = os.environ.get("SONGREC_REQUIRE_SERVICES") == "1"
BIN = os.environ.get("SONGREC_TEST_BIN", "")
FAKE_GENIUS = os.environ.get("SONGREC_TEST_FAKE_GENIUS") or (
    os.path.join(os.path.dirname(BIN), "examples", "fake_genius") if BIN else ""
)
# One `airflow dags test` here takes 10-30 s; a run stuck for this long has hung.
DAG_TEST_TIMEOUT_SECS = 300
GENIUS_TOKEN = "genius-" + secrets.token_hex(16)
ADMIN_TOKEN = "admin-" + secrets.token_hex(16)
FIRST_ARTIST = "Airflow Test Artist"
SECOND_ARTIST = "Second Airflow Artist"


def missing() -> str | None:
    for name, path in (("SONGREC_TEST_BIN", BIN), ("fake Genius", FAKE_GENIUS)):
        if not path or not os.access(path, os.X_OK):
            return f"{name} is not an executable ({path or 'unset'})"
    return None


def http_json(url: str, timeout: float = 10) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


class PostgresDatabase:
    """A uniquely named database on SONGREC_TEST_PG_URL's server, dropped by `drop`."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.name = "songrec_airflow_" + secrets.token_hex(6)
        base = admin_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"
        self.psql(f"CREATE DATABASE {self.name}")

    def psql(self, sql: str):
        subprocess.run(
            ["psql", self.admin_url, "-v", "ON_ERROR_STOP=1", "-qc", sql],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def drop(self):
        self.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


@unittest.skipIf(missing() and not REQUIRED, missing() or "")
class DagsEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if missing():
            raise AssertionError(f"SONGREC_REQUIRE_SERVICES=1 and {missing()}")
        cls.work = tempfile.TemporaryDirectory(prefix="songrec-dags-")
        cls.data_dir = os.path.join(cls.work.name, "data")
        cls.processes = []
        cls.database = None
        # Everything `airflow dags test` printed, searched for secrets at the end.
        cls.outputs = []
        try:
            cls.start_world()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_world(cls):
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pg_url = os.environ.get("SONGREC_TEST_PG_URL")
        if pg_url:
            cls.database = PostgresDatabase(pg_url)
            cls.database_url = cls.database.url
        else:
            cls.database_url = "sqlite://" + os.path.join(cls.data_dir, "songrec.db")
        os.makedirs(cls.data_dir)
        cls.songrec_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SONGREC_", "DB_"))},
            "SONGREC_DATA_DIR": cls.data_dir,
            "DATABASE_URL": cls.database_url,
            "SONGREC_LOG": "warn",
        }
        for key in ("MLFLOW_TRACKING_URI", "GENIUS_API_TOKEN", "GENIUS_API_BASE_URL"):
            cls.songrec_env.pop(key, None)

        # Version 1, the champion the server starts with.
        catalogue = os.path.join(cls.work.name, "songs.jsonl")
        cls.songrec("generate", "--songs", "300", "--seed", "7", "--out", catalogue)
        cls.songrec("import", catalogue)
        cls.songrec("train", "--promote", "always")

        fake = subprocess.Popen(
            [FAKE_GENIUS, "--token", GENIUS_TOKEN, "--artist", f"{FIRST_ARTIST}=40",
             "--artist", f"{SECOND_ARTIST}=30", "--page-size", "20"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        cls.processes.append(fake)
        cls.genius_url = fake.stdout.readline().strip()
        assert cls.genius_url.startswith("http://127.0.0.1:"), cls.genius_url

        # The server reloads by itself only once an hour: within the test, only the restart
        # DAG's POST /admin/reload can make it serve a new champion.
        cls.server_log = open(os.path.join(cls.work.name, "serve.log"), "w+")
        serve = subprocess.Popen(
            [BIN, "serve", "--addr", "127.0.0.1:0", "--reload-interval", "1h"],
            env={**cls.songrec_env, "SONGREC_ADMIN_TOKEN": ADMIN_TOKEN, "SONGREC_LOG": "info"},
            stdin=subprocess.DEVNULL,
            stdout=cls.server_log,
            stderr=cls.server_log,
        )
        cls.processes.append(serve)
        cls.api_url = cls.wait_for_server(serve)
        cls.assert_served(1)

    @classmethod
    def wait_for_server(cls, serve) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cls.server_log.seek(0)
            for line in cls.server_log:
                if "serving on http://" in line and "songrec is" in line:
                    url = line.split("serving on ", 1)[1].split()[0].rstrip("/")
                    # The champion loads in the background after the socket is bound.
                    while time.monotonic() < deadline:
                        if http_json(f"{url}/model")[0] == 200:
                            return url
                        time.sleep(0.2)
            if serve.poll() is not None:
                break
            time.sleep(0.2)
        cls.server_log.seek(0)
        raise AssertionError(f"songrec serve did not come up:\n{cls.server_log.read()}")

    @classmethod
    def tearDownClass(cls):
        for process in reversed(cls.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for stream in (process.stdin, process.stdout):
                if stream:
                    stream.close()
        if getattr(cls, "server_log", None):
            cls.server_log.close()
        if cls.database:
            cls.database.drop()
        cls.work.cleanup()

    @classmethod
    def songrec(cls, *args) -> str:
        done = subprocess.run(
            [BIN, *args], env=cls.songrec_env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"songrec {' '.join(args)}: {done.stderr}"
        return done.stdout

    @classmethod
    def assert_served(cls, version):
        status, model = http_json(f"{cls.api_url}/model")
        assert status == 200 and model.get("version") == version, (status, model, version)

    def champion(self) -> int:
        versions = json.loads(self.songrec("models", "list", "--json"))
        return next(v["version"] for v in versions if v["is_champion"])

    def song_count(self) -> int:
        for line in self.songrec("db", "status").splitlines():
            if line.startswith("songs: "):
                return int(line.split()[1])
        raise AssertionError("songrec db status printed no song count")

    def airflow_env(self, **variables) -> dict:
        """The environment of an Airflow process: the settings as Variables, the rest of the
        workers' environment as a deployment would have it."""
        env = {k: v for k, v in self.songrec_env.items() if k not in ("DATABASE_URL",)}
        env.pop("SONGREC_DATA_DIR")
        env["GENIUS_API_BASE_URL"] = self.genius_url
        settings = {
            "songrec_bin": BIN,
            "songrec_data_dir": self.data_dir,
            "songrec_database_url": self.database_url,
            "songrec_genius_token": GENIUS_TOKEN,
            "songrec_fetch_args": f'--artist "{FIRST_ARTIST}" --max-songs 0 --rate 0',
            # Promotion by metric is the default; here every new version must win so the
            # restart has a new champion to wait for.
            "songrec_train_args": "--promote always",
            "songrec_api_url": self.api_url,
            "songrec_admin_token": ADMIN_TOKEN,
            "songrec_reload_timeout": "60",
        }
        settings.update(variables)
        for name, value in settings.items():
            if value is not None:
                env[f"AIRFLOW_VAR_{name.upper()}"] = value
        return env

    def dags_test(self, dag_id, env) -> tuple[int, str]:
        """Runs `airflow dags test DAG_ID`; a task put up for retry stops it (the retry would
        only come minutes later) and counts as a failure."""
        output = []
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id],
            env=env,
            cwd=self.work.name,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + DAG_TEST_TIMEOUT_SECS
        retried = False
        try:
            for line in process.stdout:
                output.append(line)
                if "new_state=up_for_retry" in line:
                    retried = True
                    break
                if time.monotonic() > deadline:
                    break
        finally:
            if process.poll() is None and (retried or time.monotonic() > deadline):
                process.kill()
            process.wait()
            process.stdout.close()
        text = "".join(output)
        self.outputs.append(text)
        return (-1 if retried else process.returncode), text

    def task_states(self, dag_id) -> dict[str, str]:
        """Task states of the DAG's latest run, from the metadata database."""
        with sqlite3.connect(os.path.join(os.environ["AIRFLOW_HOME"], "airflow.db")) as db:
            run_id = db.execute(
                "SELECT run_id FROM dag_run WHERE dag_id = ? AND run_type = 'manual' "
                "ORDER BY id DESC LIMIT 1",
                (dag_id,),
            ).fetchone()[0]
            return dict(
                db.execute(
                    "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                    (dag_id, run_id),
                ).fetchall()
            )

    def triggered_runs(self, dag_id) -> int:
        with sqlite3.connect(os.path.join(os.environ["AIRFLOW_HOME"], "airflow.db")) as db:
            return db.execute(
                # Stored as the enum's name or value, depending on the column type.
                "SELECT count(*) FROM dag_run WHERE dag_id = ? AND lower(triggered_by) = 'operator'",
                (dag_id,),
            ).fetchone()[0]

    def assert_dag_succeeds(self, dag_id, env):
        code, output = self.dags_test(dag_id, env)
        states = self.task_states(dag_id)
        self.assertEqual(code, 0, output[-6000:])
        self.assertTrue(states, output[-6000:])
        self.assertEqual(set(states.values()), {"success"}, states)

    def test_1_fetch_genius_songs_stores_the_artist_and_triggers_training(self):
        before = self.song_count()
        self.assert_dag_succeeds("fetch_genius_songs", self.airflow_env())
        self.assertEqual(self.song_count(), before + 40)
        self.assertEqual(self.triggered_runs("train_knn_model"), 1)

    def test_2_train_knn_model_promotes_a_new_version_and_triggers_the_restart(self):
        self.assert_dag_succeeds("train_knn_model", self.airflow_env())
        self.assertEqual(self.champion(), 2)
        self.assertEqual(self.triggered_runs("restart_fastapi_after_knn"), 1)
        # The server has not reloaded by itself: the restart DAG has something to do.
        self.assert_served(1)

    def test_3_restart_fastapi_after_knn_makes_the_api_serve_the_new_champion(self):
        self.assert_dag_succeeds("restart_fastapi_after_knn", self.airflow_env())
        self.assert_served(2)

    def test_4_songrec_pipeline_fetches_and_promotes_and_the_restart_follows_by_connection(self):
        before = self.song_count()
        env = self.airflow_env(
            songrec_fetch_args=f'--artist "{SECOND_ARTIST}" --max-songs 0 --rate 0'
        )
        self.assert_dag_succeeds("songrec_pipeline", env)
        self.assertEqual(self.song_count(), before + 30)
        self.assertEqual(self.champion(), 3)
        self.assert_served(2)
        # The API's address and token from a connection instead of the Variables.
        host_port = self.api_url.removeprefix("http://")
        env = self.airflow_env(songrec_api_url=None, songrec_admin_token=None)
        env["AIRFLOW_CONN_SONGREC_API"] = json.dumps(
            {
                "conn_type": "http",
                "host": host_port.split(":")[0],
                "port": int(host_port.split(":")[1]),
                "password": ADMIN_TOKEN,
            }
        )
        self.assert_dag_succeeds("restart_fastapi_after_knn", env)
        self.assert_served(3)

    def test_5_a_refused_genius_token_fails_the_fetch_at_once_and_triggers_nothing(self):
        trains = self.triggered_runs("train_knn_model")
        code, output = self.dags_test(
            "fetch_genius_songs", self.airflow_env(songrec_genius_token="refused-token")
        )
        self.assertNotEqual(code, 0)
        self.assertNotEqual(code, -1, "a refused token must not be retried")
        states = self.task_states("fetch_genius_songs")
        self.assertEqual(states["fetch_genius_data"], "failed", output[-6000:])
        self.assertEqual(states["trigger_train_knn_model"], "upstream_failed")
        self.assertIn("songrec exited with 3", output)
        self.assertEqual(self.triggered_runs("train_knn_model"), trains)

    def test_6_a_wrong_admin_token_fails_the_restart_at_once(self):
        code, output = self.dags_test(
            "restart_fastapi_after_knn",
            self.airflow_env(songrec_admin_token="wrong-" + secrets.token_hex(8)),
        )
        self.assertNotEqual(code, 0)
        self.assertNotEqual(code, -1, "a refused token must not be retried")
        self.assertEqual(self.task_states("restart_fastapi_after_knn"), {"reload_api": "failed"})
        self.assertIn("refused the admin token", output)

    def test_7_no_token_is_in_any_output_log_or_the_metadata_database(self):
        self.assertGreaterEqual(len(self.outputs), 6, "the DAG runs above did not all run")
        secrets_ = {"admin token": ADMIN_TOKEN, "Genius token": GENIUS_TOKEN}
        for text in self.outputs:
            for what, value in secrets_.items():
                self.assertNotIn(value, text, f"the {what} is in `airflow dags test` output")
        home = os.environ["AIRFLOW_HOME"]
        files = 0
        for root, _dirs, names in os.walk(home):
            for name in names:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read()
                files += 1
                for what, value in secrets_.items():
                    self.assertNotIn(value.encode(), data, f"the {what} is in {name}")
        self.assertGreater(files, 1)

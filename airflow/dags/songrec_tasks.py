"""What songrec's DAGs share: settings from Airflow Variables, the operator that runs a songrec
command, and the reload step of `restart_fastapi_after_knn`.

Settings are read when a task runs, never at parse time and never through templates, so a
database password or a token cannot end up in a rendered template or a log line (they are
also registered with Airflow's secrets masker). Each setting is an Airflow Variable; unset or
empty, the worker's own environment applies, then the default:

    Variable                 environment variable   default
    songrec_bin              (the command run)       songrec  (on the workers' PATH)
    songrec_data_dir         SONGREC_DATA_DIR        $AIRFLOW_HOME/songrec-data
    songrec_database_url     DATABASE_URL            the workers' DB_* variables, else SQLite in
                                                     the data dir
    songrec_registry         MLFLOW_TRACKING_URI     the local registry in the data dir
    songrec_genius_token     GENIUS_API_TOKEN        none (fetch fails with exit code 3)
    songrec_api_url          -                       http://127.0.0.1:8000
    songrec_admin_token      -                       none (the reload task fails)
    songrec_reload_timeout   -                       300 (seconds the reload task waits)
    songrec_fetch_args       -                       (none: the artist of the hour)
    songrec_train_args       -                       --promote auto

Instead of the two `songrec_api_*` Variables, an HTTP connection `songrec_api` can hold the
API's address (host, port, schema) and the admin token as its password.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Connection, Variable
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
from airflow.sdk.log import mask_secret

log = logging.getLogger(__name__)

DEFAULT_ARGS = {
    "owner": "songrec",
    # Genius and the database can be briefly unavailable; a later try usually succeeds.
    # Failures a retry cannot fix (exit codes 2 and 3) are not retried, see SongrecCommand.
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}

# What every songrec DAG shares: no backfill (each run fetches the artist of its own hour, and a
# training run covers everything stored), one run at a time.
DAG_SETTINGS = {
    "start_date": datetime(2026, 1, 1),
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
    "tags": ["songrec"],
}

# Variable -> environment variable of the songrec process, for the settings a command reads.
ENV_SETTINGS = {
    "songrec_data_dir": "SONGREC_DATA_DIR",
    "songrec_database_url": "DATABASE_URL",
    "songrec_registry": "MLFLOW_TRACKING_URI",
    "songrec_genius_token": "GENIUS_API_TOKEN",
}
# Settings that may hold a password or a token.
SECRET_SETTINGS = {"songrec_database_url", "songrec_genius_token"}

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_RELOAD_TIMEOUT_SECS = 300.0
API_CONNECTION = "songrec_api"

# songrec's exit codes (README, Running the pipeline). 2 and 3 fail the task at once: a
# retry runs the same command against the same missing precondition.
EXIT_MEANINGS = {
    1: "a step failed",
    2: "bad usage: check the songrec_*_args Variables",
    3: "a precondition is missing (Genius token missing or refused, too few songs to train on)",
    4: "another process is running a cycle",
    130: "stopped",
}
NOT_RETRIED = {2, 3}


def setting(name: str) -> str | None:
    """A Variable's value at run time; None when unset or empty."""
    value = Variable.get(name, default=None)
    if value is None or str(value).strip() == "":
        return None
    value = str(value).strip()
    if name in SECRET_SETTINGS:
        mask_secret(value, name)
    return value


def songrec_env(base: dict[str, str]) -> dict[str, str]:
    """`base` (the worker's environment) with the songrec settings of the Variables applied."""
    env = dict(base)
    for name, variable in ENV_SETTINGS.items():
        value = setting(name)
        if value is not None:
            env[variable] = value
        elif variable in env and name in SECRET_SETTINGS:
            mask_secret(env[variable], variable)
    if not env.get("SONGREC_DATA_DIR"):
        home = env.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
        env["SONGREC_DATA_DIR"] = os.path.join(home, "songrec-data")
    return env


class SongrecCommand(BashOperator):
    """Runs `songrec COMMAND` with the settings above; songrec's exit code decides the outcome.

    `command` is a template (e.g. `fetch {{ var.value.get('songrec_fetch_args', '') }}`); the
    binary is the Variable `songrec_bin`. Exit code 0 succeeds; 2 (usage) and 3 (precondition)
    fail without retries; any other code fails and Airflow's retries apply.
    """

    def __init__(self, *, command: str, **kwargs):
        super().__init__(
            bash_command="\"{{ var.value.get('songrec_bin', 'songrec') }}\" " + command,
            # No exit code means "skipped": every non-zero code is a failure.
            skip_on_exit_code=None,
            **kwargs,
        )

    def get_env(self, context) -> dict:
        return songrec_env(super().get_env(context))

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowException as error:
            process = getattr(self.subprocess_hook, "sub_process", None)
            code = getattr(process, "returncode", None)
            meaning = EXIT_MEANINGS.get(code, "unexpected exit code")
            if code in NOT_RETRIED:
                raise AirflowFailException(
                    f"songrec exited with {code}: {meaning}; not retried"
                ) from error
            if code is not None:
                raise AirflowException(f"songrec exited with {code}: {meaning}") from error
            raise


def fetch_task(task_id: str) -> SongrecCommand:
    """`songrec fetch` with the Variable songrec_fetch_args (default: the artist of the hour)."""
    return SongrecCommand(
        task_id=task_id,
        command="fetch {{ var.value.get('songrec_fetch_args', '') }}",
        # A fetch run is resumable: a retry continues where the failed try stopped.
        execution_timeout=timedelta(minutes=50),
    )


def train_task(task_id: str) -> SongrecCommand:
    """`songrec train` with the Variable songrec_train_args (default: promotion by metric)."""
    return SongrecCommand(
        task_id=task_id,
        command="train {{ var.value.get('songrec_train_args', '--promote auto') }}",
        execution_timeout=timedelta(minutes=30),
    )


def api_settings() -> tuple[str, str]:
    """The API's base URL and admin token: Variables first, then the `songrec_api` connection."""
    url = setting("songrec_api_url")
    token = Variable.get("songrec_admin_token", default=None) or None
    if url is None or token is None:
        try:
            conn = Connection.get(API_CONNECTION)
        except AirflowNotFoundException:
            conn = None
        if conn is not None:
            if url is None and conn.host:
                schema = conn.schema or "http"
                port = f":{conn.port}" if conn.port else ""
                host = conn.host if "://" in conn.host else f"{schema}://{conn.host}"
                url = f"{host}{port}"
            if token is None and conn.password:
                token = conn.password
    if token is None:
        raise AirflowFailException(
            "no admin token: set the Variable songrec_admin_token or the password of the "
            f"connection {API_CONNECTION} to the API's SONGREC_ADMIN_TOKEN"
        )
    mask_secret(token, "songrec_admin_token")
    return (url or DEFAULT_API_URL).rstrip("/"), token


class _Refused(Exception):
    """An answer that waiting will not change."""


def _call(method: str, url: str, token: str | None, timeout: float) -> dict:
    """One request; the JSON body of a 200. Raises _Refused for 401/404, OSError otherwise."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    request.add_header("Accept", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=max(timeout, 0.1)) as response:
            # Bounded: these answers are a few hundred bytes.
            return json.loads(response.read(1 << 20) or b"{}")
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise _Refused(f"{method} {url}: the API refused the admin token (401)") from None
        if error.code == 404:
            raise _Refused(
                f"{method} {url}: 404, the server has no admin route (is SONGREC_ADMIN_TOKEN "
                "set for songrec serve?)"
            ) from None
        raise OSError(f"{method} {url}: HTTP {error.code}") from None
    except ValueError as error:
        raise OSError(f"{method} {url}: not JSON ({error})") from None


def reload_and_wait(timeout: float | None = None) -> int:
    """Asks the API to reload (`POST /admin/reload`) until `GET /model` serves the registry's
    champion (`GET /models`), for at most `timeout` seconds (Variable songrec_reload_timeout).
    Returns the version served. Waits by polling with a growing interval, never a fixed sleep.
    A refused token fails at once, even when the champion is already served.
    """
    url, token = api_settings()
    if timeout is None:
        raw = setting("songrec_reload_timeout")
        try:
            timeout = float(raw) if raw is not None else DEFAULT_RELOAD_TIMEOUT_SECS
        except ValueError:
            raise AirflowFailException(f"songrec_reload_timeout {raw!r} is not a number") from None
    deadline = time.monotonic() + timeout
    delay = 0.25
    champion = served = None
    last_error = "no answer yet"
    while True:
        left = deadline - time.monotonic()
        try:
            champion = _call("GET", f"{url}/models", None, min(left, 10))["champion"]
            if champion is None:
                raise AirflowFailException("the registry has no champion: nothing to serve")
            report = _call("POST", f"{url}/admin/reload", token, min(left, 30))
            log.info("reload: %s; champion %s", report.get("outcome"), champion)
            served = _served(url, min(left, 10))
            if served == champion:
                log.info("the API at %s serves the champion, version %s", url, champion)
                return champion
            last_error = f"the reload's outcome was {report.get('outcome')!r}"
        except _Refused as error:
            raise AirflowFailException(str(error)) from None
        except OSError as error:
            last_error = str(error)
        if time.monotonic() + delay > deadline:
            raise AirflowException(
                f"after {timeout:g}s the API at {url} serves version {served}, the champion is "
                f"{champion}: {last_error}"
            )
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def _served(url: str, timeout: float) -> int | None:
    """The version `GET /model` reports; None while no model is loaded (503)."""
    try:
        return _call("GET", f"{url}/model", None, timeout).get("version")
    except OSError as error:
        if "HTTP 503" in str(error):
            return None
        raise

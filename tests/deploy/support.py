"""What the tests of the ways to run share: the settings from the environment, reading the
repository's files (Dockerfile, docker-compose.yaml, the docs), and process and HTTP helpers."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
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

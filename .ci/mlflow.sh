#!/usr/bin/env bash
# A local MLflow tracking server for the registry's integration tests.
#
#   .ci/mlflow.sh start   install MLflow into a venv (reused when present), start the server in
#                         the background, wait for /health, print `SONGREC_TEST_MLFLOW_URI=...`
#   .ci/mlflow.sh stop    stop the server started by `start` (by its PID)
#   .ci/mlflow.sh python  print the venv's python (the tests run the MLflow client with it)
#
# Settings (environment): SONGREC_CI_CACHE (default /tmp/songrec-ci), SONGREC_MLFLOW_PORT (5055).
set -euo pipefail

MLFLOW_VERSION=3.17.2
CACHE=${SONGREC_CI_CACHE:-/tmp/songrec-ci}
VENV=$CACHE/mlflow-venv
PORT=${SONGREC_MLFLOW_PORT:-5055}
STATE=$CACHE/mlflow-server-$PORT
PIDFILE=$STATE/server.pid
URI=http://127.0.0.1:$PORT

log() { echo "mlflow.sh: $*" >&2; }

healthy() {
    "$VENV/bin/python" - "$URI/health" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

running() {
    [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

install() {
    if [[ -x $VENV/bin/mlflow ]] &&
        [[ $("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null) == "$MLFLOW_VERSION" ]]; then
        # The `auth` extra (Flask-WTF) runs the basic-auth app the security tests start.
        if ! "$VENV/bin/python" -c 'import flask_wtf' 2>/dev/null; then
            log "adding mlflow[auth] $MLFLOW_VERSION to $VENV"
            "$VENV/bin/pip" install --quiet "mlflow[auth]==$MLFLOW_VERSION"
        fi
        return
    fi
    log "installing mlflow $MLFLOW_VERSION into $VENV"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "mlflow[auth]==$MLFLOW_VERSION"
}

start() {
    install
    if running && healthy; then
        log "already running (pid $(cat "$PIDFILE"))"
        echo "SONGREC_TEST_MLFLOW_URI=$URI"
        return
    fi
    # A fresh store each start: tests must not depend on what an earlier run left.
    rm -rf "$STATE"
    mkdir -p "$STATE/artifacts"
    # setsid: the server and its workers share one process group, stopped together by `stop`.
    setsid "$VENV/bin/mlflow" server \
        --host 127.0.0.1 --port "$PORT" --workers 2 \
        --backend-store-uri "sqlite:///$STATE/mlflow.db" \
        --serve-artifacts --artifacts-destination "$STATE/artifacts" \
        >"$STATE/server.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 180); do
        if healthy; then
            log "up at $URI (pid $(cat "$PIDFILE"), log $STATE/server.log)"
            echo "SONGREC_TEST_MLFLOW_URI=$URI"
            return
        fi
        if ! running; then
            log "server exited; its log follows"
            cat "$STATE/server.log" >&2
            exit 1
        fi
        sleep 1
    done
    log "no answer from $URI/health after 180 s; its log follows"
    cat "$STATE/server.log" >&2
    stop
    exit 1
}

stop() {
    if running; then
        local pid
        pid=$(cat "$PIDFILE")
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        log "stopped pid $pid"
    fi
    rm -f "$PIDFILE"
}

case ${1:-} in
start) start ;;
stop) stop ;;
python)
    install
    echo "$VENV/bin/python"
    ;;
*)
    echo "usage: $0 start|stop|python" >&2
    exit 2
    ;;
esac

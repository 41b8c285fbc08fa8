#!/usr/bin/env bash
# Schemathesis, pinned from PyPI, against a running `songrec serve` on a small demo catalogue:
# every check, every phase (examples, coverage, fuzzing, stateful), from /openapi.json.
#
#   .ci/schemathesis.sh python      install (once, cached) and print the virtualenv's python
#   .ci/schemathesis.sh run [BIN]   build the catalogue, serve it with BIN (default
#                                   $CARGO_TARGET_DIR/debug/songrec) and run schemathesis;
#                                   the exit status is schemathesis's (non-zero on any failure)
#
# Settings (environment): SONGREC_CI_CACHE (default /tmp/songrec-ci), SCHEMATHESIS_PORT (8765),
# SCHEMATHESIS_MAX_EXAMPLES (60 per operation and phase).
set -euo pipefail

VERSION=4.32.5
CACHE=${SONGREC_CI_CACHE:-/tmp/songrec-ci}
VENV=$CACHE/schemathesis-$VERSION
PORT=${SCHEMATHESIS_PORT:-8765}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-60}

install() {
    if [[ -x $VENV/bin/st ]]; then
        return
    fi
    echo "schemathesis.sh: installing schemathesis $VERSION into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$VERSION" >&2
}

run() {
    local bin=${1:-${CARGO_TARGET_DIR:-target}/debug/songrec}
    [[ -x $bin ]] || { echo "schemathesis.sh: no songrec binary at $bin" >&2; exit 2; }
    install
    work=$(mktemp -d)
    server=
    cleanup() {
        if [[ -n $server ]]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
        rm -rf "$work"
    }
    trap cleanup EXIT
    "$bin" --data-dir "$work/data" --log warn generate --songs 2000 --seed 7 --out "$work/songs.jsonl"
    "$bin" --data-dir "$work/data" --log warn import "$work/songs.jsonl" >/dev/null
    "$bin" --data-dir "$work/data" --log warn train --promote always >/dev/null
    # With an admin token, POST /admin/reload exists and answers 401 without it, as declared.
    SONGREC_ADMIN_TOKEN=schemathesis-token "$bin" --data-dir "$work/data" --log warn serve --addr "127.0.0.1:$PORT" 2>"$work/serve.log" &
    server=$!
    for _ in $(seq 1 120); do
        curl -sf -o /dev/null "http://127.0.0.1:$PORT/ready" && break
        kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
        sleep 0.5
    done
    "$VENV/bin/st" run "http://127.0.0.1:$PORT/openapi.json" \
        --checks all \
        --phases examples,coverage,fuzzing,stateful \
        --max-examples "$MAX_EXAMPLES" \
        --workers 2 \
        --generation-deterministic \
        --header "Authorization: Bearer schemathesis-token" \
        --no-color
}

case ${1:-} in
python) install; echo "$VENV/bin/python" ;;
run) shift; run "$@" ;;
*) echo "usage: .ci/schemathesis.sh python|run [BIN]" >&2; exit 2 ;;
esac

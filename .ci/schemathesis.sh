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
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/ready" || { echo "schemathesis.sh: songrec never became ready" >&2; cat "$work/serve.log" >&2; exit 1; }
    # Ids that exist, so that half the generated ids get past the 404s into the routes' logic.
    python3 - "http://127.0.0.1:$PORT" > "$work/schemathesis.toml" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def get(path):
    with urllib.request.urlopen(base + path) as r:
        return json.load(r)
songs = get("/songs?limit=40")["songs"] + get("/songs?limit=20&offset=1980")["songs"]
ids = sorted({s["id"] for s in songs})
artists = sorted({s["artist_id"] for s in songs})
seed_lists = [",".join(str(i) for i in ids[j:j + 3]) for j in range(0, len(ids) - 2, 3)]
for name, items in [("song_ids", ids), ("artist_ids", artists), ("seed_lists", seed_lists)]:
    print(f"[dictionaries.{name}]\nvalues = {json.dumps(items)}\n")
def bind(operation, parameters):
    inner = ", ".join(f'"{k}" = {{ dictionary = "{v}", probability = 0.5 }}' for k, v in parameters.items())
    print(f'[[operations]]\ninclude-name = "{operation}"\nparameters = {{ {inner} }}\n')
bind("GET /songs/{id}", {"path.id": "song_ids"})
bind("GET /songs/{id}/recommendations", {"path.id": "song_ids"})
bind("GET /artists/{id}", {"path.id": "artist_ids"})
bind("GET /recommendations", {"query.seeds": "seed_lists", "query.avoid": "seed_lists"})
bind("POST /recommendations", {"body.seeds[*]": "song_ids", "body.avoid[*]": "song_ids"})
PY
    # From the work directory, so that schemathesis keeps its cache out of the repository.
    # One worker: with two, hypothesis parses lambda sources with `ast.parse` on two threads at
    # once, which CPython 3.11 does not support (it fails at random with "SystemError: AST
    # constructor recursion depth mismatch").
    (cd "$work" && "$VENV/bin/st" --config-file "$work/schemathesis.toml" run "http://127.0.0.1:$PORT/openapi.json" \
        --checks all \
        --phases examples,coverage,fuzzing,stateful \
        --max-examples "$MAX_EXAMPLES" \
        --workers 1 \
        --generation-deterministic \
        --header "Authorization: Bearer schemathesis-token" \
        --no-color)
}

case ${1:-} in
python) install; echo "$VENV/bin/python" ;;
run) shift; run "$@" ;;
*) echo "usage: .ci/schemathesis.sh python|run [BIN]" >&2; exit 2 ;;
esac

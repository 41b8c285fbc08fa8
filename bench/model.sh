#!/usr/bin/env bash
# Side-by-side of songrec's model and the Python baseline on the same generated catalogues:
# training time (x REPS), scene precision, and per-query latency (one connection, so latency
# is not queueing).
#
#   bench/model.sh WORKDIR [N ...]          (default N: 10000 100000)
#
# Needs: a release build (cargo build --release), python3, wrk, curl, and the baseline's
# virtualenv (VENV, default WORKDIR/venv; created from ../shared/baseline/requirements.txt
# if missing). SHARED (default /work/shared) is the folder holding bench/ and baseline/.
# Environment: REPS (3), SEED (42), PORT (8300), DURATION (10s).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
SHARED="${SHARED:-/work/shared}"
W="${1:?usage: bench/model.sh WORKDIR [N ...]}"
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
mkdir -p "$W"
W="$(cd "$W" && pwd)"
VENV="${VENV:-$W/venv}"
REPS="${REPS:-3}"
SEED="${SEED:-42}"
PORT="${PORT:-8300}"
DURATION="${DURATION:-10s}"
SONGREC="$ROOT/target/release/songrec"
need_songrec

SRV_PID=""
cleanup() { [ -z "$SRV_PID" ] || kill -TERM "$SRV_PID" 2>/dev/null || true; }
trap cleanup EXIT

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q -r "$SHARED/baseline/requirements.txt"
fi

median() { sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wall() { /usr/bin/time -f '%e %M' -o "$W/time.tmp" "$@"; }

wait_up() {
    for _ in $(seq 1 240); do
        curl -sf -o /dev/null "$1" && return 0
        kill -0 "$SRV_PID" 2>/dev/null || { echo "server died" >&2; return 1; }
        sleep 0.5
    done
    return 1
}

latency() { # BASE N -> "p50 p99" in ms, one connection
    wrk -t1 -c1 -d"$DURATION" --latency -s "$SHARED/bench/random_index.lua" "$1" -- "$2" 5 \
        > "$W/wrk.tmp" 2>&1
    grep '^RESULT' "$W/wrk.tmp" | tr ' ' '\n' | awk -F= '$1=="p50_ms"{a=$2} $1=="p99_ms"{b=$2} END{print a, b}'
}

printf 'n\tsystem\ttrain_median_s\ttrain_runs_s\ttrain_peak_rss_mb\tp50_ms\tp99_ms\tscene_precision_other_artists\tsame_artist_share\n' > "$W/summary.tsv"

for N in "${SIZES[@]}"; do
    CAT="$W/songs_$N.jsonl"; TRUTH="$W/truth_$N.tsv"; DATA="$W/data_$N"
    [ -s "$CAT" ] || python3 "$SHARED/bench/gen_catalog.py" --songs "$N" --seed "$SEED" \
        --out "$CAT" --truth "$TRUTH" --quiet
    rm -rf "$DATA"
    "$SONGREC" --data-dir "$DATA" --log warn import "$CAT" >&2

    # songrec: the whole command (load from the store, train, evaluate, save, register).
    runs=(); rss=0
    for r in $(seq 1 "$REPS"); do
        wall "$SONGREC" --data-dir "$DATA" --log warn train --json --promote never > "$W/train_$N.json"
        read -r s m < "$W/time.tmp"; runs+=("$s"); rss=$(( m > rss ? m : rss ))
    done
    "$SONGREC" --data-dir "$DATA" --log warn train --json --promote always > "$W/train_$N.json"
    ours_eval="$("$SONGREC" --data-dir "$DATA" --log warn eval --truth "$TRUTH" --json)"
    "$SONGREC" --data-dir "$DATA" --log warn train --json --features original --promote never > "$W/train_original_$N.json"
    orig_version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$W/train_original_$N.json")"
    orig_eval="$("$SONGREC" --data-dir "$DATA" --log warn eval --truth "$TRUTH" --version "$orig_version" --json)"

    "$SONGREC" --data-dir "$DATA" --log warn serve --addr "127.0.0.1:$PORT" > "$W/serve_$N.log" 2>&1 &
    SRV_PID=$!
    wait_up "http://127.0.0.1:$PORT/recommend/0?k=5"
    DURATION=2s latency "http://127.0.0.1:$PORT" "$N" > /dev/null
    read -r p50 p99 < <(latency "http://127.0.0.1:$PORT" "$N")
    kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=""
    field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
    printf '%s\tsongrec\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$(printf '%s\n' "${runs[@]}" | median)" \
        "${runs[*]}" "$(( rss / 1024 ))" "$p50" "$p99" \
        "$(field "$ours_eval" scene_precision_other_artists_at_10)" \
        "$(field "$ours_eval" same_artist_share_at_10)" >> "$W/summary.tsv"
    printf '%s\tsongrec --features original\t-\t-\t-\t-\t-\t%s\t%s\n' "$N" \
        "$(field "$orig_eval" scene_precision_other_artists_at_10)" \
        "$(field "$orig_eval" same_artist_share_at_10)" >> "$W/summary.tsv"

    # The baseline: train.py, then uvicorn with one worker as the original ran.
    runs=(); rss=0; ART="$W/model_$N.joblib"
    for r in $(seq 1 "$REPS"); do
        wall "$VENV/bin/python" "$SHARED/baseline/train.py" --catalog "$CAT" --out "$ART" > /dev/null
        read -r s m < "$W/time.tmp"; runs+=("$s"); rss=$(( m > rss ? m : rss ))
    done
    (cd "$SHARED/baseline" && BASELINE_ARTIFACT="$ART" exec "$VENV/bin/python" -m uvicorn server:app \
        --host 127.0.0.1 --port "$PORT" --no-access-log) > "$W/baseline_$N.log" 2>&1 &
    SRV_PID=$!
    wait_up "http://127.0.0.1:$PORT/recommend/0?k=5"
    DURATION=2s latency "http://127.0.0.1:$PORT" "$N" > /dev/null
    read -r p50 p99 < <(latency "http://127.0.0.1:$PORT" "$N")
    base_eval="$("$VENV/bin/python" "$SHARED/bench/eval_recs.py" --base "http://127.0.0.1:$PORT" \
        --truth "$TRUTH" --samples 500 2>&1 | tr '\n' ' ')"
    kill -TERM "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=""
    printf '%s\tbaseline\t%s\t%s\t%s\t%s\t%s\t(eval_recs: %s)\t-\n' "$N" "$(printf '%s\n' "${runs[@]}" | median)" \
        "${runs[*]}" "$(( rss / 1024 ))" "$p50" "$p99" "$base_eval" >> "$W/summary.tsv"
done
cat "$W/summary.tsv"

#!/usr/bin/env bash
# Serving throughput and latency: songrec serve, the trivial-handler ceiling (limit-server) and
# the Python baseline, loaded with the shared wrk script in the same run, runs interleaved.
#
#   bench/serve.sh WORKDIR [N ...]          (default N: 10000 100000)
#
# Needs: a release build (cargo build --release), python3, wrk, curl, and the baseline's
# virtualenv (VENV, default WORKDIR/venv; created from ../shared/baseline/requirements.txt if
# missing). SHARED (default /work/shared) holds bench/ and baseline/.
# Environment: REPS (3), SEED (42), PORT (8400; +1 limit-server, +2 baseline), DURATION (15s),
# BASELINE_WORKERS (1, as the original ran).
# songrec is loaded over its /recommend catalogue (the songs with pageviews, GET /model's
# recommend_songs), the others over every line of the file.
# Output: WORKDIR/serve_summary.tsv (one row per run), WORKDIR/serve_hostile.tsv (bench/hostile.sh
# per size) and the medians on stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
SHARED="${SHARED:-/work/shared}"
W="${1:?usage: bench/serve.sh WORKDIR [N ...]}"
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
mkdir -p "$W"
W="$(cd "$W" && pwd)"
VENV="${VENV:-$W/venv}"
REPS="${REPS:-3}"
SEED="${SEED:-42}"
PORT="${PORT:-8400}"
DURATION="${DURATION:-15s}"
BASELINE_WORKERS="${BASELINE_WORKERS:-1}"
SONGREC="$ROOT/target/release/songrec"
need_songrec
need wrk "apt-get install -y wrk"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rss_mb() { awk '$1=="VmRSS:"{printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# Waits (up to 60 s) until the processes of group PGID have gone idle: the baseline keeps
# working through the requests still queued when wrk stops (at 1,000,000 songs each takes
# about a second), which would otherwise load the machine during the next system's run.
settle() {
    local tck; tck=$(getconf CLK_TCK)
    cpu() { pgrep -g "$1" | xargs -r -I{} awk '{s += $14 + $15} END {print s + 0}' /proc/{}/stat 2>/dev/null \
        | awk '{s += $1} END {print s + 0}'; }
    for _ in $(seq 1 120); do
        local a b; a=$(cpu "$1"); sleep 0.5; b=$(cpu "$1")
        [ $((b - a)) -le $((tck / 20)) ] && return 0
    done
}

# The ceiling, built outside the read-only shared folder.
LIMIT_DIR="$W/limit-server"
if [ ! -x "$LIMIT_DIR/target/release/limit-server" ]; then
    rm -rf "$LIMIT_DIR"
    cp -r "$SHARED/bench/limit-server" "$LIMIT_DIR"
    chmod -R u+w "$LIMIT_DIR"
    (cd "$LIMIT_DIR" && CARGO_TARGET_DIR="$LIMIT_DIR/target" cargo build --release -q)
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q -r "$SHARED/baseline/requirements.txt"
fi

printf 'n\tsystem\trep\trps\tp50_ms\tp99_ms\terrors\trequests\trss_mb\tload1_before\n' > "$W/serve_summary.tsv"

for N in "${SIZES[@]}"; do
    CAT="$W/songs_$N.jsonl"
    DATA="$W/data_$N"
    ART="$W/baseline_$N.joblib"
    [ -s "$CAT" ] || python3 "$SHARED/bench/gen_catalog.py" --songs "$N" --seed "$SEED" --out "$CAT" --quiet
    if [ ! -d "$DATA/registry" ]; then
        rm -rf "$DATA"
        "$SONGREC" --data-dir "$DATA" --log warn import "$CAT" >&2
        "$SONGREC" --data-dir "$DATA" --log warn train >&2
    fi
    [ -s "$ART" ] || "$VENV/bin/python" "$SHARED/baseline/train.py" --catalog "$CAT" --out "$ART" >&2

    "$SONGREC" --data-dir "$DATA" --log warn serve --addr "127.0.0.1:$PORT" 2> "$W/songrec_$N.log" &
    SONGREC_PID=$!; PIDS+=("$SONGREC_PID")
    "$LIMIT_DIR/target/release/limit-server" "127.0.0.1:$((PORT + 1))" &
    LIMIT_PID=$!; PIDS+=("$LIMIT_PID")
    SKIP_TRAIN=1 ARTIFACT="$ART" VENV="$VENV" setsid "$SHARED/baseline/run.sh" "$CAT" "$((PORT + 2))" "$BASELINE_WORKERS" \
        > "$W/baseline_$N.log" 2>&1 &
    BASE_PID=$!; PIDS+=("$BASE_PID")
    wait_up "http://127.0.0.1:$PORT/ready" "$SONGREC_PID"
    wait_up "http://127.0.0.1:$((PORT + 1))/recommend/0" "$LIMIT_PID"
    wait_up "http://127.0.0.1:$((PORT + 2))/recommend/0?k=5" "$BASE_PID"

    declare -A URL=([songrec]="http://127.0.0.1:$PORT" [limit-server]="http://127.0.0.1:$((PORT + 1))" \
        [baseline]="http://127.0.0.1:$((PORT + 2))")
    declare -A PID=([songrec]=$SONGREC_PID [limit-server]=$LIMIT_PID [baseline]=$BASE_PID)
    # songrec's /recommend/{index} serves the songs with pageviews (the original's catalogue,
    # indices 0..recommend_songs); the others answer any line of the file.
    UNIVERSE=$(curl -sf "http://127.0.0.1:$PORT/model" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recommend_songs"])')
    declare -A LOAD_N=([songrec]=$UNIVERSE [limit-server]=$N [baseline]=$N)
    # Warm-up, which also checks that no 200 answer carries an error (the check costs wrk CPU,
    # so the measured runs go without it).
    for system in songrec limit-server baseline; do
        BENCH_CHECK=1 DURATION=3s "$SHARED/bench/load.sh" "${URL[$system]}" "${LOAD_N[$system]}" 2>/dev/null | tail -1 \
            | sed "s/^/warm-up $N $system: /" >&2
        settle "$BASE_PID"
    done
    for rep in $(seq 1 "$REPS"); do
        for system in songrec limit-server baseline; do
            load1=$(cut -d' ' -f1 /proc/loadavg)
            out="$W/wrk_${N}_${system}_$rep.txt"
            OUT="$out" DURATION="$DURATION" "$SHARED/bench/load.sh" "${URL[$system]}" "${LOAD_N[$system]}" > /dev/null 2>&1
            res="$(grep '^RESULT' "$out")"
            g() { printf '%s\n' "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
            errs=$(( $(g errors_connect) + $(g errors_read) + $(g errors_write) + $(g errors_timeout) + $(g non2xx3xx) ))
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$system" "$rep" "$(g rps)" "$(g p50_ms)" \
                "$(g p99_ms)" "$errs" "$(g requests)" "$(rss_mb "${PID[$system]}")" "$load1" | tee -a "$W/serve_summary.tsv" >&2
            settle "$BASE_PID"
        done
    done
    stop "$SONGREC_PID"; stop "$LIMIT_PID"; kill -TERM -- "-$BASE_PID" 2>/dev/null || true; wait "$BASE_PID" 2>/dev/null || true
    PIDS=()
    # The two hostile requests of the API issue: the server's CPU time for each.
    PORT="$((PORT + 3))" "$ROOT/bench/hostile.sh" "$DATA" 3 | sed "s/^/$N\t/" | tee -a "$W/serve_hostile.tsv" >&2
done

echo "medians (N, system, req/s, p50 ms, p99 ms, errors, RSS MB):"
for N in "${SIZES[@]}"; do
    for system in songrec limit-server baseline; do
        col() { awk -F'\t' -v n="$N" -v s="$system" -v c="$1" '$1==n && $2==s {print $c}' "$W/serve_summary.tsv" | median; }
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$system" "$(col 4)" "$(col 5)" "$(col 6)" "$(col 7)" "$(col 9)"
    done
done

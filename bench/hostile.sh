#!/usr/bin/env bash
# CPU time the server spends on the two hostile requests of the API issue: POST /recommendations
# with a ~1.9 MB body of 250,000 seed ids, and GET /songs?q= with 15,000 one-letter words.
#
#   bench/hostile.sh DATA_DIR [REPS]
#
# Starts `songrec serve` (release build) on DATA_DIR (a data dir with a champion), sends each
# request REPS times (default 3) and prints, per request, the status and the server's CPU time
# (utime + stime from /proc/PID/stat, read before and after; resolution one clock tick, 10 ms).
# Environment: PORT (8410), SONGREC (default target/release/songrec).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
DATA="${1:?usage: bench/hostile.sh DATA_DIR [REPS]}"
REPS="${2:-3}"
PORT="${PORT:-8410}"
SONGREC="${SONGREC:-$ROOT/target/release/songrec}"
need_songrec

"$SONGREC" --data-dir "$DATA" --log warn serve --addr "127.0.0.1:$PORT" 2>/dev/null &
PID=$!
trap 'kill -TERM "$PID" 2>/dev/null || true' EXIT
wait_up "http://127.0.0.1:$PORT/ready" "$PID"

BODY="$(mktemp)"
trap 'kill -TERM "$PID" 2>/dev/null || true; rm -f "$BODY"' EXIT
python3 -c 'import json; print(json.dumps({"seeds": list(range(1, 250001)), "k": 5}))' > "$BODY"
WORDS="$(python3 -c 'print("+".join(["a"] * 15000))')"
TICK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

printf 'request\trep\tstatus\tserver_cpu_ms\n'
for rep in $(seq 1 "$REPS"); do
    before=$(cpu_ticks)
    status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
        --data-binary "@$BODY" "http://127.0.0.1:$PORT/recommendations")
    after=$(cpu_ticks)
    printf 'POST /recommendations (%s bytes, 250000 seeds)\t%s\t%s\t%s\n' "$(stat -c %s "$BODY")" \
        "$rep" "$status" $(( (after - before) * 1000 / TICK ))
    before=$(cpu_ticks)
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/songs?q=$WORDS")
    after=$(cpu_ticks)
    printf 'GET /songs?q= (15000 words)\t%s\t%s\t%s\n' "$rep" "$status" $(( (after - before) * 1000 / TICK ))
done

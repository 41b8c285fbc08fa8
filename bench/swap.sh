#!/usr/bin/env bash
# A server's memory before, during and after hot swaps, under random /recommend requests.
#
#   bench/swap.sh DATA_DIR VERSION_A VERSION_B
#
# DATA_DIR holds a store and a local registry with both versions (e.g. two trainings of one
# catalogue). Promotes VERSION_A, starts `songrec serve --reload-interval 1s`, then:
#   1. DURATION of ../shared/bench/load.sh over the /recommend catalogue;
#   2. promotes VERSION_B with the server idle, and waits until it serves it;
#   3. DURATION of load again;
#   4. promotes VERSION_A while DURATION of load runs, and waits for both.
# VmRSS and VmHWM (/proc/PID/status) are sampled every 0.2 s throughout; prints the RSS at
# each moment, the peak of each swap, the load reports (errors included) and the high-water
# mark. Environment: PORT (8430), DURATION (15s), SHARED (/work/shared), SONGREC (default
# target/release/songrec). Needs wrk, curl and python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
DATA="${1:?usage: bench/swap.sh DATA_DIR VERSION_A VERSION_B}"
A="${2:?usage: bench/swap.sh DATA_DIR VERSION_A VERSION_B}"
B="${3:?usage: bench/swap.sh DATA_DIR VERSION_A VERSION_B}"
PORT="${PORT:-8430}"
DURATION="${DURATION:-15s}"
SHARED="${SHARED:-/work/shared}"
SONGREC="${SONGREC:-$ROOT/target/release/songrec}"
need_songrec
need wrk "apt-get install -y wrk"

OUT="$(mktemp -d)"
SERVER=""
SAMPLER=""
cleanup() {
    [ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null || true
    [ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true
    rm -rf "$OUT"
}
trap cleanup EXIT

songrec() { "$SONGREC" --data-dir "$DATA" --log warn "$@"; }
url="http://127.0.0.1:$PORT"
served() { curl -sf "$url/model" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }
rss() { awk '$1=="VmRSS:"{printf "%.0f", $2/1024}' "/proc/$SERVER/status"; }
# The highest sample since line FROM of the samples file.
peak_since() { tail -n +"$1" "$OUT/rss" | awk 'max < $2 {max = $2} END {printf "%.0f", max / 1024}'; }
wait_for_version() {
    for _ in $(seq 1 600); do
        [ "$(served 2>/dev/null || true)" = "$1" ] && return 0
        sleep 0.2
    done
    echo "the server did not switch to version $1" >&2
    return 1
}
load() { DURATION="$DURATION" bash "$SHARED/bench/load.sh" "$url" "$UNIVERSE" 2> /dev/null | grep '^req/s'; }

songrec models promote "$A" > /dev/null
"$SONGREC" --data-dir "$DATA" --log warn serve --addr "127.0.0.1:$PORT" --reload-interval 1s \
    > "$OUT/server.log" 2>&1 &
SERVER=$!
wait_up "$url/ready" "$SERVER" "$OUT/server.log"
wait_for_version "$A"
UNIVERSE=$(curl -sf "$url/model" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recommend_songs"])')
(while kill -0 "$SERVER" 2>/dev/null; do
    awk -v t="$(date +%s.%N)" '$1=="VmRSS:"{print t, $2}' "/proc/$SERVER/status" 2>/dev/null || true
    sleep 0.2
done) > "$OUT/rss" &
SAMPLER=$!

echo "loaded version $A: $(rss) MiB"
echo "load 1: $(load)"
echo "after load 1: $(rss) MiB"
from=$(($(wc -l < "$OUT/rss") + 1))
songrec models promote "$B" > /dev/null
wait_for_version "$B"
sleep 1
echo "swap to $B (idle): peak $(peak_since "$from") MiB, after it $(rss) MiB"
echo "load 2: $(load)"
echo "after load 2: $(rss) MiB"
from=$(($(wc -l < "$OUT/rss") + 1))
load > "$OUT/load3" &
LOAD=$!
sleep 3
songrec models promote "$A" > /dev/null
wait_for_version "$A"
wait "$LOAD"
echo "swap to $A under load: peak $(peak_since "$from") MiB, after it $(rss) MiB"
echo "load 3 (across the swap): $(cat "$OUT/load3")"
echo "high-water mark: $(awk '$1=="VmHWM:"{printf "%.0f", $2/1024}' "/proc/$SERVER/status") MiB"

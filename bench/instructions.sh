#!/usr/bin/env bash
# Instructions the server executes per `GET /recommend/{i}?k=5` answer, counted by callgrind:
# unlike wall-clock rates, the count does not depend on what else the machine is doing.
#
#   bench/instructions.sh DATA_DIR [REQUESTS]
#
# Starts `songrec serve` (release build) on DATA_DIR (a data dir with a champion) under
# `valgrind --tool=callgrind`, zeroes the counters once it answers, sends REQUESTS (default
# 2000) sequential requests on one kept-alive connection (i = 7919 * n mod the /recommend
# catalogue's size), dumps the counters and prints the total and the count per request.
# Needs valgrind (callgrind_control), python3 and curl.
# Environment: PORT (8420), SONGREC (default target/release/songrec; any server answering
# /recommend/{i}?k=5 that takes the same arguments can be counted the same way), KEEP (a file
# to copy the profile of the requests to, for callgrind_annotate).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
DATA="${1:?usage: bench/instructions.sh DATA_DIR [REQUESTS]}"
N="${2:-2000}"
PORT="${PORT:-8420}"
SONGREC="${SONGREC:-$ROOT/target/release/songrec}"
need_songrec
need callgrind_control "apt-get install -y valgrind"
case "$N" in ''|*[!0-9]*) echo "REQUESTS must be a positive integer" >&2; exit 2;; esac

OUT="$(mktemp -d)"
trap 'kill "$VG" 2>/dev/null || true; rm -rf "$OUT"' EXIT
valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$OUT/cg.out" \
    "$SONGREC" --data-dir "$DATA" --log warn serve --addr "127.0.0.1:$PORT" 2> "$OUT/valgrind.log" &
VG=$!
wait_up "http://127.0.0.1:$PORT/recommend/0" "$VG" "$OUT/valgrind.log"
UNIVERSE=$(curl -sf "http://127.0.0.1:$PORT/model" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get("recommend_songs", 1))')
callgrind_control -z "$VG" > /dev/null 2>&1
python3 - "$PORT" "$N" "$UNIVERSE" <<'PY'
import socket, sys
port, n, universe = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
for i in range(n):
    s.sendall(b"GET /recommend/%d?k=5 HTTP/1.1\r\nHost: bench\r\n\r\n" % ((i * 7919) % universe))
    buf = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("the server closed the connection")
        buf += chunk
        head = buf.find(b"\r\n\r\n")
        if head < 0:
            continue
        length = [l for l in buf[:head].split(b"\r\n") if l.lower().startswith(b"content-length")]
        if length and len(buf) >= head + 4 + int(length[0].split(b":")[1]):
            break
PY
callgrind_control -d "$VG" > /dev/null 2>&1
sleep 1
TOTAL=$(grep -h '^summary:' "$OUT"/cg.out.* | awk '{print $2}' | tail -1)
PROFILE=$(grep -l '^summary:' "$OUT"/cg.out.* | tail -1)
[ -z "${KEEP:-}" ] || cp "$PROFILE" "$KEEP"
echo "requests: $N   instructions: $TOTAL   per request: $((TOTAL / N))"

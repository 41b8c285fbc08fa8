#!/usr/bin/env bash
# Scale benchmark: generate -> import -> train on SQLite and PostgreSQL at each size, and the
# Python baseline's train.py on the same catalogue, printed as one Markdown table of medians
# with peak RSS (GNU time). Every run starts from an empty database and data directory.
#
#   bench/scale.sh WORKDIR [N ...]                (default N: 100000)
#
# Per size: one `songrec generate --seed $SEED`, then RUNS rounds; in each round, for each
# backend: import into an empty database, import the same file again (every song unchanged),
# `Store::load_catalogue` alone (the store's example), and `songrec train --promote never`;
# then the baseline's `train.py` (at sizes up to BASELINE_MAX). Rounds alternate the systems,
# so a change in the machine's load hits all of them alike.
#
# Needs a release build (`cargo build --release --workspace --bins --example load_catalogue`),
# /usr/bin/time, psql, python3. Environment:
#   RUNS=3  SEED=42  BACKENDS="sqlite postgres"  BASELINE_MAX=100000
#   SONGREC, LOAD            the binary and the load_catalogue example measured as "after"
#                            (default: this checkout's release build)
#   BEFORE=path/to/songrec   an earlier build's binary, measured in the same rounds (rows "before")
#   BEFORE_LOAD=path/to/load_catalogue  the earlier build's example, for its load_catalogue row
#   VENV=dir                 the baseline's virtualenv (default WORKDIR/venv, created if missing
#                            from $SHARED/baseline/requirements.txt); SHARED=/work/shared
#   SONGREC_TEST_PG_URL      an administrative URL of the PostgreSQL server (default
#                            postgres://postgres@127.0.0.1:5432/postgres); a database named
#                            songrec_scale_<pid> is created for each run and dropped at the end.
# Raw figures: WORKDIR/scale_runs.tsv (one line per measurement); what the steps wrote to
# standard error, warnings included: WORKDIR/scale_steps.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-/work/shared}"
W="${1:?usage: bench/scale.sh WORKDIR [N ...]}"
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100000)
mkdir -p "$W"
W="$(cd "$W" && pwd)"
RUNS="${RUNS:-3}"
SEED="${SEED:-42}"
read -r -a BACKEND_LIST <<< "${BACKENDS:-sqlite postgres}"
BASELINE_MAX="${BASELINE_MAX:-100000}"
VENV="${VENV:-$W/venv}"
ADMIN_URL="${SONGREC_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="songrec_scale_$$"
PG_URL="${ADMIN_URL%/*}/$PG_DB"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SONGREC="${SONGREC:-$TARGET/release/songrec}"
LOAD="${LOAD:-$TARGET/release/examples/load_catalogue}"
[ -x "$SONGREC" ] && [ -x "$LOAD" ] || {
    echo "build first: cargo build --release --workspace --bins --example load_catalogue" >&2
    exit 2
}
export PGOPTIONS=--client-min-messages=warning
trap 'psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; rm -rf "$W/data"' EXIT

BUILDS=("after:$SONGREC:$LOAD")
if [ -n "${BEFORE:-}" ]; then
    BUILDS=("before:$BEFORE:${BEFORE_LOAD:-}" "${BUILDS[@]}")
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q -r "$SHARED/baseline/requirements.txt"
fi

RAW="$W/scale_runs.tsv"
printf 'songs\tsystem\tstep\tseconds\tpeak_rss_kb\n' > "$RAW"
LOG="$W/scale_steps.log"
: > "$LOG"

# timed SONGS SYSTEM STEP CMD...: runs CMD under GNU time, records wall seconds and peak RSS.
timed() {
    local n=$1 system=$2 step=$3
    shift 3
    /usr/bin/time -f '%e %M' -o "$W/time.tmp" "$@" > "$W/out.tmp" 2> "$W/err.tmp" || {
        echo "failed: $*" >&2
        tail -5 "$W/err.tmp" >&2
        exit 1
    }
    read -r s kb < "$W/time.tmp"
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$system" "$step" "$s" "$kb" >> "$RAW"
    # What each step said (warnings included), so that an outlier can be explained afterwards.
    if [ -s "$W/err.tmp" ]; then
        { printf '== %s\t%s\t%s\t%s s\n' "$n" "$system" "$step" "$s"; cat "$W/err.tmp"; } >> "$LOG"
    fi
}

record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RAW"; }

fresh_db() { # BACKEND -> URL of an empty database (and an empty data directory)
    rm -rf "$W/data"
    mkdir -p "$W/data"
    if [ "$1" = sqlite ]; then
        echo "sqlite://$W/data/songrec.db?mode=rwc"
    else
        psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" > /dev/null
        echo "$PG_URL"
    fi
}

for N in "${SIZES[@]}"; do
    CAT="$W/songs_$N.jsonl"
    TRUTH="$W/truth_$N.tsv"
    if [ ! -s "$CAT" ]; then
        timed "$N" songrec generate "$SONGREC" generate --songs "$N" --seed "$SEED" \
            --out "$CAT" --truth "$TRUTH"
    fi
    for round in $(seq "$RUNS"); do
        for backend in "${BACKEND_LIST[@]}"; do
            for build in "${BUILDS[@]}"; do
                IFS=: read -r label bin load <<< "$build"
                system="songrec $label, $backend"
                url="$(fresh_db "$backend")"
                export DATABASE_URL="$url"
                timed "$N" "$system" import "$bin" --log warn --data-dir "$W/data" import "$CAT"
                timed "$N" "$system" "re-import (unchanged)" \
                    "$bin" --log warn --data-dir "$W/data" import "$CAT"
                if [ -n "$load" ]; then
                    "$load" "$url" 1 > "$W/load.tmp"
                    record "$N" "$system" load_catalogue "$(awk '{print $4}' "$W/load.tmp")" ""
                fi
                timed "$N" "$system" train \
                    "$bin" --log warn --data-dir "$W/data" train --json --promote never
                python3 - "$W/out.tmp" "$N" "$system" >> "$RAW" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]
print(f"{sys.argv[2]}\t{sys.argv[3]}\ttrain: its load_catalogue\t{t['load_catalogue']:.3f}\t")
PY
                unset DATABASE_URL
            done
        done
        if [ "$N" -le "$BASELINE_MAX" ]; then
            timed "$N" "baseline train.py" train \
                "$VENV/bin/python" "$SHARED/baseline/train.py" --catalog "$CAT" --out "$W/model.joblib"
        fi
        echo "round $round of $RUNS at $N songs done (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    done
done

# One table: medians over the rounds, the largest peak RSS seen.
python3 - "$RAW" <<'PY'
import csv, statistics, sys
from collections import OrderedDict
rows = OrderedDict()
with open(sys.argv[1]) as f:
    for r in csv.DictReader(f, delimiter="\t"):
        key = (int(r["songs"]), r["system"], r["step"])
        secs, rss = rows.setdefault(key, ([], []))
        secs.append(float(r["seconds"]))
        if r["peak_rss_kb"]:
            rss.append(int(r["peak_rss_kb"]))
print("| songs | system | step | median s | runs s | peak RSS MB |")
print("| ---: | --- | --- | ---: | --- | ---: |")
for (n, system, step), (secs, rss) in rows.items():
    runs = ", ".join(f"{s:.2f}" for s in secs)
    peak = f"{max(rss) / 1024:.0f}" if rss else "-"
    print(f"| {n:,} | {system} | {step} | {statistics.median(secs):.2f} | {runs} | {peak} |")
PY

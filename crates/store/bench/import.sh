#!/usr/bin/env bash
# Store benchmark: `songrec import` of 10k and 100k generated songs into SQLite and PostgreSQL
# (first import, re-import of the same file, export, import of the export into a fresh
# database) and `Store::load_catalogue`. Prints a Markdown table of medians.
#
#   crates/store/bench/import.sh [RUNS=3] [SIZES="10000 100000"]
#
# PostgreSQL: a database named songrec_bench_<pid> on SONGREC_TEST_PG_URL's server (default
# postgres://postgres@127.0.0.1:5432/postgres), created and dropped by this script.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
RUNS=${1:-3}
SIZES=${2:-"10000 100000"}
ADMIN_URL=${SONGREC_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_DB=songrec_bench_$$
PG_URL=${ADMIN_URL%/*}/$PG_DB
WORK=$(mktemp -d)
export PGOPTIONS=--client-min-messages=warning
trap 'psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

cargo build --release --quiet --bin songrec
cargo build --release --quiet -p songrec-store --example load_catalogue
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/songrec
LOAD=$TARGET/release/examples/load_catalogue

# seconds NAME CMD...: runs CMD, appends its wall time to $WORK/NAME.
seconds() {
    local name=$1; shift
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc >>"$WORK/$name"
}

median() { sort -g "$WORK/$1" | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.2f", m}'; }

fresh_db() { # backend -> URL of an empty database
    if [[ $1 == sqlite ]]; then
        rm -rf "$WORK/data"
        echo "sqlite://$WORK/data/songrec.db?mode=rwc"
        mkdir -p "$WORK/data"
    else
        psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
        echo "$PG_URL"
    fi
}

echo "| backend | songs | import | re-import (unchanged) | export | import of the export | load_catalogue | import rate |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in $SIZES; do
    songs=$WORK/songs_$n.jsonl
    "$BIN" generate --songs "$n" --seed 42 --out "$songs" 2>/dev/null
    for backend in sqlite postgres; do
        key=${backend}_$n
        for _ in $(seq "$RUNS"); do
            url=$(fresh_db "$backend")
            export DATABASE_URL=$url
            seconds "$key.import" "$BIN" import "$songs"
            seconds "$key.reimport" "$BIN" import "$songs"
            seconds "$key.export" "$BIN" export "$WORK/export.jsonl"
            "$LOAD" "$url" 1 | awk '{print $4}' >>"$WORK/$key.load"
            url=$(fresh_db "$backend")
            export DATABASE_URL=$url
            seconds "$key.roundtrip" "$BIN" import "$WORK/export.jsonl"
            cmp -s <("$BIN" export - 2>/dev/null) "$WORK/export.jsonl" || { echo "round trip differs" >&2; exit 1; }
        done
        import=$(median "$key.import")
        rate=$(echo "$n / $import" | bc)
        echo "| $backend | $n | $import s | $(median "$key.reimport") s | $(median "$key.export") s | $(median "$key.roundtrip") s | $(median "$key.load") s | $rate songs/s |"
    done
done

#!/usr/bin/env bash
# cargo-deny, pinned, built once from crates.io and cached.
#
#   .ci/deny.sh path    build cargo-deny if the cache lacks it, print the binary's path
#   .ci/deny.sh check   run `cargo deny check licenses bans sources` with deny.toml
#
# Advisories are not checked here: their database is cloned from GitHub, which this CI cannot
# reach. Run `cargo deny check advisories` where GitHub is reachable (see docs/RELIABILITY.md).
#
# Settings (environment): SONGREC_CI_CACHE (default /tmp/songrec-ci).
set -euo pipefail

DENY_VERSION=0.20.2
CACHE=${SONGREC_CI_CACHE:-/tmp/songrec-ci}
ROOT=$CACHE/cargo-deny-$DENY_VERSION
BIN=$ROOT/bin/cargo-deny

install() {
    if [[ -x $BIN ]]; then
        return
    fi
    echo "deny.sh: building cargo-deny $DENY_VERSION into $ROOT" >&2
    # Its own target dir, so the build does not touch the project's.
    CARGO_TARGET_DIR=$CACHE/cargo-deny-build cargo install cargo-deny --version "$DENY_VERSION" \
        --locked --root "$ROOT" >&2
    rm -rf "$CACHE/cargo-deny-build"
}

case ${1:-} in
path)
    install
    echo "$BIN"
    ;;
check)
    install
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    # cargo-deny reads the metadata of every platform's dependencies, which a build for this
    # platform never downloads: fetch them all first (crates.io only), then check offline.
    cargo fetch --locked
    "$BIN" --offline check licenses bans sources
    ;;
*)
    echo "usage: $0 path|check" >&2
    exit 2
    ;;
esac

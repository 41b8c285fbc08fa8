#!/usr/bin/env bash
# Headless Chromium and the Playwright driver for the explorer test (tests/explorer.rs).
#
#   .ci/chromium.sh        install Debian's `chromium` if no Chromium is on PATH, print its
#                          version, and install tests/explorer's npm packages (playwright-core,
#                          pinned in package-lock.json; it never downloads a browser) into
#                          $SONGREC_CI_CACHE/explorer-node, reused while the lock file is unchanged
#   .ci/chromium.sh deps   print that folder (for SONGREC_NODE_DEPS)
#
# The test finds `chromium`, `chromium-browser` or `google-chrome` on PATH, or the binary named
# by SONGREC_CHROMIUM, and node on PATH (Debian's `nodejs` and `npm` are installed if missing).
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${SONGREC_CI_CACHE:-/tmp/songrec-ci}
deps=$cache/explorer-node

if [[ ${1:-} == deps ]]; then
    echo "$deps"
    exit 0
fi

find_chromium() {
    if [[ -n ${SONGREC_CHROMIUM:-} ]]; then
        echo "$SONGREC_CHROMIUM"
        return
    fi
    command -v chromium || command -v chromium-browser || command -v google-chrome || true
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q "$@" >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q "$@" >/dev/null
    fi
}

browser=$(find_chromium)
if [[ -z $browser ]]; then
    log "installing chromium with apt-get"
    apt_install chromium
    browser=$(find_chromium)
fi
if [[ -z $browser ]]; then
    log "chromium is still not on PATH"
    exit 1
fi
log "using $browser: $("$browser" --version 2>/dev/null | head -1)"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing nodejs and npm with apt-get"
    apt_install nodejs npm
fi
log "using node $(node --version)"

# npm ci into the cache, keyed by the lock file, so a warm run does not touch the network.
mkdir -p "$deps"
if ! cmp -s "$root/tests/explorer/package-lock.json" "$deps/package-lock.json" \
    || [[ ! -f $deps/node_modules/playwright-core/package.json ]]; then
    log "npm ci (playwright-core) into $deps"
    cp "$root/tests/explorer/package.json" "$root/tests/explorer/package-lock.json" "$deps/"
    (cd "$deps" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
fi
log "playwright-core $(node -p "require('$deps/node_modules/playwright-core/package.json').version")"

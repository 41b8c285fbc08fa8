#!/usr/bin/env bash
# Headless Chromium for the browser-page tests (crates/api/tests/api/browser.rs).
#
#   .ci/chromium.sh     install Debian's `chromium` if no Chromium is on PATH, print its version
#
# The tests find `chromium`, `chromium-browser` or `google-chrome` on PATH, or the binary named
# by SONGREC_CHROMIUM.
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }

find_chromium() {
    if [[ -n ${SONGREC_CHROMIUM:-} ]]; then
        echo "$SONGREC_CHROMIUM"
        return
    fi
    command -v chromium || command -v chromium-browser || command -v google-chrome || true
}

browser=$(find_chromium)
if [[ -z $browser ]]; then
    log "installing chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q chromium >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q chromium >/dev/null
    fi
    browser=$(find_chromium)
fi
if [[ -z $browser ]]; then
    log "chromium is still not on PATH"
    exit 1
fi
log "using $browser: $("$browser" --version 2>/dev/null | head -1)"

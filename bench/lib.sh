# Helpers the bench scripts share; sourced, not run.

# Exits unless the release binary $SONGREC is built.
need_songrec() {
    [ -x "$SONGREC" ] || { echo "build first: cargo build --release" >&2; exit 2; }
}

# Exits unless command CMD is installed; HINT says how to install it.
need() { # CMD HINT
    command -v "$1" >/dev/null || { echo "$1 not found ($2)" >&2; exit 2; }
}

# Waits (up to 300 s) until URL answers 2xx; fails as soon as process PID has exited, after
# printing LOG (a file) if given.
wait_up() { # URL PID [LOG]
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "$1" && return 0
        if ! kill -0 "$2" 2>/dev/null; then
            echo "the server for $1 died" >&2
            [ -z "${3:-}" ] || cat "$3" >&2
            return 1
        fi
        sleep 0.5
    done
    echo "timed out waiting for $1" >&2
    return 1
}

#!/usr/bin/env bash
# The documented ways to run songrec, checked without a container engine.
#
#   .ci/deploy.sh lint   lint Dockerfile and docker-compose.yaml: dclint (compose schema and
#                        practices, rules in .ci/deploy-lint/dclint.yaml, no warning allowed) and
#                        dockerfile-utils (Dockerfile syntax and instructions); npm packages
#                        pinned in .ci/deploy-lint/package-lock.json, installed into
#                        $SONGREC_CI_CACHE/deploy-lint-node and reused while the lock is unchanged
#   .ci/deploy.sh test   run the documented cron line and the commands the containers run,
#                        outside containers (tests/deploy/run.py, with the Airflow venv's
#                        python for PyYAML and Airflow; needs SONGREC_TEST_BIN,
#                        SONGREC_TEST_PG_URL, SONGREC_TEST_MLFLOW_PYTHON)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${SONGREC_CI_CACHE:-/tmp/songrec-ci}
deps=$cache/deploy-lint-node

log() { echo "deploy.sh: $*" >&2; }

install_linters() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        log "installing nodejs and npm with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q nodejs npm >/dev/null || {
            apt-get update -q >/dev/null
            apt-get install -y -q nodejs npm >/dev/null
        }
    fi
    mkdir -p "$deps"
    if ! cmp -s "$root/.ci/deploy-lint/package-lock.json" "$deps/package-lock.json" \
        || [[ ! -x $deps/node_modules/.bin/dclint ]]; then
        log "npm ci (dclint, dockerfile-utils) into $deps"
        cp "$root/.ci/deploy-lint/package.json" "$root/.ci/deploy-lint/package-lock.json" "$deps/"
        (cd "$deps" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    fi
}

case ${1:-} in
lint)
    install_linters
    log "dclint $("$deps/node_modules/.bin/dclint" --version)"
    "$deps/node_modules/.bin/dclint" --color=false -c "$root/.ci/deploy-lint/dclint.yaml" \
        --max-warnings 0 "$root/docker-compose.yaml"
    log "dockerfile-utils $(node -p "require('$deps/node_modules/dockerfile-utils/package.json').version")"
    "$deps/node_modules/.bin/dockerfile-utils" lint "$root/Dockerfile"
    log "Dockerfile and docker-compose.yaml: no problems"
    ;;
test)
    python=$(bash "$root/.ci/airflow.sh" python)
    "$python" "$root/tests/deploy/run.py"
    ;;
*)
    echo "usage: $0 lint|test" >&2
    exit 2
    ;;
esac

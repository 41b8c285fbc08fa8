#!/usr/bin/env bash
# Apache Airflow for the DAG tests (airflow/tests/test_dags.py).
#
#   .ci/airflow.sh python   install Airflow into a virtualenv (reused when present) and print
#                           the virtualenv's python
#
# Settings (environment): SONGREC_CI_CACHE (default /tmp/songrec-ci).
set -euo pipefail

AIRFLOW_VERSION=3.3.2
CACHE=${SONGREC_CI_CACHE:-/tmp/songrec-ci}
VENV=$CACHE/airflow-venv

log() { echo "airflow.sh: $*" >&2; }

install() {
    if [[ -x $VENV/bin/python ]] &&
        [[ $("$VENV/bin/python" -c 'import airflow; print(airflow.__version__)' 2>/dev/null | tail -1) == "$AIRFLOW_VERSION" ]]; then
        return
    fi
    log "installing apache-airflow $AIRFLOW_VERSION into $VENV"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "apache-airflow==$AIRFLOW_VERSION"
}

case ${1:-} in
python)
    install
    echo "$VENV/bin/python"
    ;;
*)
    echo "usage: $0 python" >&2
    exit 2
    ;;
esac

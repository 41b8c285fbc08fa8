#!/usr/bin/env bash
# Apache Airflow for the DAG tests (airflow/tests/).
#
#   .ci/airflow.sh python   install Airflow into a virtualenv (reused while the pin and the
#                           constraints file are unchanged) and print the virtualenv's python
#
# The version is pinned here and every dependency by airflow/constraints-$AIRFLOW_VERSION-py3.11.txt
# (see its header for how it was made). Settings (environment): SONGREC_CI_CACHE (default
# /tmp/songrec-ci).
set -euo pipefail

AIRFLOW_VERSION=3.3.2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONSTRAINTS=$ROOT/airflow/constraints-$AIRFLOW_VERSION-py3.11.txt
CACHE=${SONGREC_CI_CACHE:-/tmp/songrec-ci}
VENV=$CACHE/airflow-venv
STAMP=$VENV/.songrec-constraints.sha256

log() { echo "airflow.sh: $*" >&2; }

installed_version() {
    "$VENV/bin/python" -c 'import airflow; print(airflow.__version__)' 2>/dev/null | tail -1
}

install() {
    local want
    want=$(sha256sum "$CONSTRAINTS" | cut -d' ' -f1)
    if [[ -x $VENV/bin/python ]] && [[ $(installed_version) == "$AIRFLOW_VERSION" ]] &&
        [[ -f $STAMP ]] && [[ $(cat "$STAMP") == "$want" ]]; then
        return
    fi
    if [[ ! -x $VENV/bin/python ]] || [[ $(installed_version) != "$AIRFLOW_VERSION" ]]; then
        log "creating $VENV"
        rm -rf "$VENV"
        mkdir -p "$CACHE"
        python3 -m venv "$VENV"
    fi
    local python_version
    python_version=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [[ $python_version != 3.11 ]]; then
        log "warning: the constraints were resolved for Python 3.11, this is Python $python_version"
    fi
    log "installing apache-airflow $AIRFLOW_VERSION with $(basename "$CONSTRAINTS") into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -c "$CONSTRAINTS" pip
    "$VENV/bin/pip" install --quiet -c "$CONSTRAINTS" "apache-airflow==$AIRFLOW_VERSION"
    "$VENV/bin/pip" check >&2
    echo "$want" >"$STAMP"
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

"""songrec's pipeline for teams that run Apache Airflow (3.x).

One DAG, hourly: fetch the artist of the hour from Genius into the store, then train a model,
register it and let the promotion policy decide whether it becomes the champion. Nothing needs
restarting afterwards: `songrec serve` polls the registry and swaps in a new champion by itself.

The tasks run the `songrec` binary, so the workers need it on PATH (or `SONGREC_BIN` set to its
path) and the same environment as any other songrec command: `DATABASE_URL` (or the `DB_*`
variables), `MLFLOW_TRACKING_URI` when MLflow is the registry, `GENIUS_API_TOKEN`. Settings that
change per deployment come from Airflow Variables with these defaults:

    songrec_bin           songrec
    songrec_fetch_args    (empty: the artist of the hour)   e.g. --all-artists --max-songs 100
    songrec_train_args    --promote auto
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

DEFAULT_ARGS = {
    "owner": "songrec",
    # Genius and the database can be briefly unavailable; a later try usually succeeds.
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}

SONGREC = "{{ var.value.get('songrec_bin', 'songrec') }}"

with DAG(
    dag_id="songrec_pipeline",
    description="Hourly: fetch songs from Genius, train, register, promote by metric.",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    # One cycle at a time, and no backfill: each run fetches the artist of its own hour.
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["songrec"],
) as dag:
    fetch = BashOperator(
        task_id="fetch",
        bash_command=f"{SONGREC} fetch {{{{ var.value.get('songrec_fetch_args', '') }}}}",
        # A fetch run is resumable: a retry continues where the failed try stopped.
        execution_timeout=timedelta(minutes=50),
    )
    train = BashOperator(
        task_id="train",
        bash_command=(
            f"{SONGREC} train "
            "{{ var.value.get('songrec_train_args', '--promote auto') }}"
        ),
        execution_timeout=timedelta(minutes=30),
    )
    fetch >> train

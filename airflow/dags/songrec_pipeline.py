"""`songrec_pipeline`, hourly, the one-DAG alternative to the three DAGs of the original
system: fetch the artist of the hour from Genius into the store, then train a model, register
it and let the promotion policy decide whether it becomes the champion. `songrec serve` picks
a new champion up by itself within its `--reload-interval`; use `fetch_genius_songs` ->
`train_knn_model` -> `restart_fastapi_after_knn` instead to have the API reload at once.

Run either this DAG or the three others, not both: they would fetch and train twice an hour
(safely, as `songrec train` takes the pipeline lock, but for nothing). Settings: see
songrec_tasks.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG
from songrec_tasks import DEFAULT_ARGS, SongrecCommand

with DAG(
    dag_id="songrec_pipeline",
    description="Hourly: fetch songs from Genius, train, register, promote by metric.",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    # One cycle at a time, and no backfill: each run fetches the artist of its own hour.
    catchup=False,
    max_active_runs=1,
    # The alternative to the three DAGs: paused until chosen, so both never run by accident.
    is_paused_upon_creation=True,
    default_args=DEFAULT_ARGS,
    tags=["songrec"],
) as dag:
    fetch = SongrecCommand(
        task_id="fetch",
        command="fetch {{ var.value.get('songrec_fetch_args', '') }}",
        # A fetch run is resumable: a retry continues where the failed try stopped.
        execution_timeout=timedelta(minutes=50),
    )
    train = SongrecCommand(
        task_id="train",
        command="train {{ var.value.get('songrec_train_args', '--promote auto') }}",
        execution_timeout=timedelta(minutes=30),
    )
    fetch >> train

"""`fetch_genius_songs`, hourly: fetch the artist of the hour from Genius into the store, then
trigger `train_knn_model`. The DAG id and flow are the original system's.

A fetch that fails (Genius unreachable, token refused) fails its task, and training is not
triggered: there is nothing new to train on. Settings: see songrec_tasks.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG
from songrec_tasks import DEFAULT_ARGS, SongrecCommand

with DAG(
    dag_id="fetch_genius_songs",
    description="Hourly: fetch songs from Genius into the store, then trigger train_knn_model.",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    # No backfill: each run fetches the artist of its own hour.
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["songrec"],
) as dag:
    fetch = SongrecCommand(
        task_id="fetch_genius_data",
        command="fetch {{ var.value.get('songrec_fetch_args', '') }}",
        # A fetch run is resumable: a retry continues where the failed try stopped.
        execution_timeout=timedelta(minutes=50),
    )
    trigger_train = TriggerDagRunOperator(
        task_id="trigger_train_knn_model",
        trigger_dag_id="train_knn_model",
        # Fire and forget: the training DAG has its own runs, retries and failures.
        wait_for_completion=False,
    )
    fetch >> trigger_train

"""`fetch_genius_songs`, hourly: fetch the artist of the hour from Genius into the store, then
trigger `train_knn_model`. The DAG id and flow are the original system's.

A fetch that fails (Genius unreachable, token refused) fails its task, and training is not
triggered: there is nothing new to train on. Settings: see songrec_tasks.py.
"""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG
from songrec_tasks import DAG_SETTINGS, fetch_task

with DAG(
    dag_id="fetch_genius_songs",
    description="Hourly: fetch songs from Genius into the store, then trigger train_knn_model.",
    schedule="@hourly",
    **DAG_SETTINGS,
) as dag:
    fetch = fetch_task("fetch_genius_data")
    trigger_train = TriggerDagRunOperator(
        task_id="trigger_train_knn_model",
        trigger_dag_id="train_knn_model",
        # Fire and forget: the training DAG has its own runs, retries and failures.
        wait_for_completion=False,
    )
    fetch >> trigger_train

"""`train_knn_model`, triggered by `fetch_genius_songs`: train on the stored catalogue,
evaluate, register the new version, let the promotion policy decide whether it becomes the
champion, then trigger `restart_fastapi_after_knn`. The DAG id and flow are the original
system's; the original's fixed 20-second wait before the trigger is gone (the restart DAG
waits for the champion itself).

`songrec train` takes the pipeline lock, so it never promotes at the same time as a
`songrec run` or another trainer on the same database. Settings: see songrec_tasks.py.
"""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG
from songrec_tasks import DAG_SETTINGS, train_task

with DAG(
    dag_id="train_knn_model",
    description="Train, evaluate, register and promote a model; then make the API serve the champion.",
    schedule=None,
    **DAG_SETTINGS,
) as dag:
    train = train_task("train_knn")
    trigger_restart = TriggerDagRunOperator(
        task_id="trigger_restart_fastapi_after_knn",
        trigger_dag_id="restart_fastapi_after_knn",
        wait_for_completion=False,
    )
    train >> trigger_restart

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

from airflow.sdk import DAG
from songrec_tasks import DAG_SETTINGS, fetch_task, train_task

with DAG(
    dag_id="songrec_pipeline",
    description="Hourly: fetch songs from Genius, train, register, promote by metric.",
    schedule="@hourly",
    # The alternative to the three DAGs: paused until chosen, so both never run by accident.
    is_paused_upon_creation=True,
    **DAG_SETTINGS,
) as dag:
    fetch = fetch_task("fetch")
    train = train_task("train")
    fetch >> train

"""`restart_fastapi_after_knn`, triggered by `train_knn_model`: make the API serve the new
champion. The id is the original system's, kept for compatibility; nothing restarts any more.
The task asks `songrec serve` to reload (`POST /admin/reload` with the admin token) and waits,
for at most the Variable `songrec_reload_timeout` seconds, until `GET /model` reports the
registry's champion.

The admin token comes from the Variable `songrec_admin_token` or the password of the
connection `songrec_api`, read when the task runs: it is never in a template and Airflow
masks it in logs. With several API replicas behind a load balancer the request reaches one of
them; the others pick the champion up by themselves within their `--reload-interval`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, task
from songrec_tasks import DAG_SETTINGS, DEFAULT_ARGS, reload_and_wait

with DAG(
    dag_id="restart_fastapi_after_knn",
    description="Ask songrec serve to reload and wait until it serves the champion.",
    schedule=None,
    **{
        **DAG_SETTINGS,
        # The task waits by itself; one more try covers a worker lost mid-wait.
        "default_args": {**DEFAULT_ARGS, "retries": 1, "retry_delay": timedelta(minutes=1)},
    },
) as dag:

    @task(task_id="reload_api", execution_timeout=timedelta(minutes=15))
    def reload_api() -> int:
        """Returns the version the API serves (the champion)."""
        return reload_and_wait()

    reload_api()

"""The DAG folder as Airflow loads it: ids, schedules, dependencies, triggers and commands.

Run with airflow/tests/run.py, which configures Airflow for the tests.
"""

from __future__ import annotations

import os
import unittest

DAGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dags")

# Variables whose values may be secret: no template may name them, so their values can never be
# rendered into a task's fields (the tasks read them when they run, see songrec_tasks.py).
SECRET_VARIABLES = (
    "songrec_admin_token",
    "songrec_genius_token",
    "songrec_database_url",
)


def load():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS)


class DagFolder(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bag = load()

    def dag(self, dag_id):
        dag = self.bag.dags.get(dag_id)
        self.assertIsNotNone(dag, f"no DAG {dag_id}; found {sorted(self.bag.dags)}")
        return dag

    def test_the_folder_imports_without_errors_and_holds_the_four_dags(self):
        self.assertEqual(self.bag.import_errors, {})
        self.assertEqual(
            sorted(self.bag.dags),
            [
                "fetch_genius_songs",
                "restart_fastapi_after_knn",
                "songrec_pipeline",
                "train_knn_model",
            ],
        )

    def test_fetch_genius_songs_runs_hourly_and_triggers_train_knn_model(self):
        dag = self.dag("fetch_genius_songs")
        self.assertEqual(dag.timetable.expression, "0 * * * *")
        self.assertFalse(dag.catchup)
        self.assertEqual(dag.max_active_runs, 1)
        self.assertEqual(sorted(dag.task_ids), ["fetch_genius_data", "trigger_train_knn_model"])
        self.assertEqual(
            dag.get_task("fetch_genius_data").downstream_task_ids, {"trigger_train_knn_model"}
        )
        trigger = dag.get_task("trigger_train_knn_model")
        self.assertEqual(trigger.trigger_dag_id, "train_knn_model")
        self.assertIn(" fetch ", dag.get_task("fetch_genius_data").bash_command)

    def test_train_knn_model_is_triggered_only_and_triggers_the_restart(self):
        dag = self.dag("train_knn_model")
        self.assertFalse(dag.timetable.can_be_scheduled)
        self.assertEqual(sorted(dag.task_ids), ["train_knn", "trigger_restart_fastapi_after_knn"])
        self.assertEqual(
            dag.get_task("train_knn").downstream_task_ids, {"trigger_restart_fastapi_after_knn"}
        )
        trigger = dag.get_task("trigger_restart_fastapi_after_knn")
        self.assertEqual(trigger.trigger_dag_id, "restart_fastapi_after_knn")
        train = dag.get_task("train_knn").bash_command
        self.assertIn(" train ", train)
        self.assertIn("--promote auto", train)

    def test_restart_fastapi_after_knn_is_triggered_only_and_has_one_reload_task(self):
        dag = self.dag("restart_fastapi_after_knn")
        self.assertFalse(dag.timetable.can_be_scheduled)
        self.assertEqual(dag.task_ids, ["reload_api"])
        self.assertIsNotNone(dag.get_task("reload_api").execution_timeout)

    def test_songrec_pipeline_runs_hourly_fetch_before_train(self):
        dag = self.dag("songrec_pipeline")
        self.assertEqual(dag.timetable.expression, "0 * * * *")
        self.assertFalse(dag.catchup)
        self.assertEqual(dag.max_active_runs, 1)
        self.assertEqual(sorted(dag.task_ids), ["fetch", "train"])
        self.assertEqual(dag.get_task("fetch").downstream_task_ids, {"train"})
        # The alternative to the original's three DAGs: never both running by default.
        self.assertTrue(dag.is_paused_upon_creation)
        for original in ("fetch_genius_songs", "train_knn_model", "restart_fastapi_after_knn"):
            self.assertFalse(self.dag(original).is_paused_upon_creation, original)

    def test_songrec_tasks_are_bash_operators_that_fail_on_every_nonzero_exit_code(self):
        from airflow.providers.standard.operators.bash import BashOperator

        commands = [
            task
            for dag in self.bag.dags.values()
            for task in dag.tasks
            if type(task).__name__ == "SongrecCommand"
        ]
        self.assertEqual(len(commands), 4)
        for task in commands:
            self.assertIsInstance(task, BashOperator)
            self.assertEqual(task.skip_on_exit_code, [], task.task_id)
            self.assertIsNotNone(task.execution_timeout, task.task_id)
            self.assertIn("songrec_bin", task.bash_command)

    def test_no_template_names_a_secret_variable(self):
        for dag in self.bag.dags.values():
            for task in dag.tasks:
                for field in task.template_fields:
                    text = str(getattr(task, field, ""))
                    for name in SECRET_VARIABLES:
                        self.assertNotIn(name, text, f"{dag.dag_id}.{task.task_id}.{field}")


class ExitCodes(unittest.TestCase):
    """songrec's exit codes map to task outcomes (the operator's own logic, no Airflow run)."""

    def run_exit(self, code):
        import songrec_tasks
        from airflow.sdk.exceptions import AirflowException, AirflowFailException

        task = songrec_tasks.SongrecCommand(task_id=f"exit_{code}", command="x")
        task.bash_command = f"exit {code}"
        task.get_env = lambda context: dict(os.environ)
        try:
            task.execute({})
        except AirflowFailException as error:
            return "failed, not retried", str(error)
        except AirflowException as error:
            return "failed, retried", str(error)
        return "succeeded", ""

    def test_exit_codes_decide_the_task_outcome(self):
        self.assertEqual(self.run_exit(0)[0], "succeeded")
        for code in (1, 4, 130):
            outcome, message = self.run_exit(code)
            self.assertEqual(outcome, "failed, retried", code)
            self.assertIn(f"songrec exited with {code}", message)
        for code in (2, 3):
            outcome, message = self.run_exit(code)
            self.assertEqual(outcome, "failed, not retried", code)
            self.assertIn("not retried", message)
        # 99 is BashOperator's default "skip" code; for songrec it is a failure like any other.
        self.assertEqual(self.run_exit(99)[0], "failed, retried")


if __name__ == "__main__":
    unittest.main(verbosity=2)

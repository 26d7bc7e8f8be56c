"""MLflow's default experiment: ``mlflow.start_run()`` with no experiment set, as most tutorials begin.

The tutorial runs in a fresh Python process (the MLflow fluent API remembers the last experiment
set in a process, so a test in this one could not start from "nothing set").
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import glashaus
from glashaus.server.app import ServerThread, create_app

pytest.importorskip("mlflow")

TUTORIAL = """
import mlflow
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("rmse", 0.31)
print(run.info.experiment_id, run.info.run_id)
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("default-exp") / "lh", user="alice")
    lh.create_user("bob")
    tokens = {"alice": lh.create_token(), "bob": lh.create_token("bob")}
    with ServerThread(create_app(lh)) as server:
        yield lh, server.url, tokens
    lh.close()


def _tutorial(url: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_TRACKING_TOKEN": token,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    return subprocess.run([sys.executable, "-c", TUTORIAL], env=env, capture_output=True, text=True, timeout=120)


def test_a_run_with_no_experiment_set_goes_to_experiment_0_named_default(served):
    lh, url, tokens = served
    done = _tutorial(url, tokens["alice"])
    assert done.returncode == 0, done.stderr
    experiment_id, run_id = done.stdout.splitlines()[-1].split()
    assert experiment_id == "0"
    default = lh.experiments.get("0")
    assert default.name == "Default" and lh.experiments.get("Default").experiment_id == "0"
    run = lh.runs.get(run_id)
    assert run.params == {"alpha": "0.5"} and run.metrics["rmse"].value == 0.31
    # a governed experiment in the default schema, owned by the lakehouse's first admin
    assert lh.get("main.default.default_0").owner == "alice"


def test_others_log_to_default_once_granted_and_a_refusal_is_audited(served):
    lh, url, tokens = served
    refused = _tutorial(url, tokens["bob"])
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr
    lh.flush()
    denied = lh.sql(
        "SELECT action FROM system.access.audit WHERE principal = 'bob' AND decision = 'deny' "
        "AND securable = 'main.default.default_0'"
    ).fetchall()
    assert denied
    lh.grant("MODIFY", on="main.default.default_0", to="bob")
    lh.grant("EXECUTE", on="main.default.default_0", to="bob")
    done = _tutorial(url, tokens["bob"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].split()[0] == "0"


def test_an_older_lakehouse_gets_the_default_experiment_from_its_next_admin(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.experiments.delete("0")  # stands for a lakehouse made before experiment 0 existed: none active
        lh.drop("main.default.default_0")
        assert not lh.exists("main.default.default_0")
        lh.create_user("bob")
    with glashaus.connect(tmp_path / "lh", user="bob") as bob:  # not an admin: creates nothing
        assert not bob.exists("main.default.default_0")
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        assert lh.experiments.get("0").name == "Default"


def test_an_experiment_already_called_default_is_left_alone(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.experiments.delete("0")
        lh.drop("main.default.default_0")
        mine = lh.experiments.create("Default", tags={"team": "reco"})
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        assert lh.experiments.get("Default").experiment_id == mine.experiment_id != "0"

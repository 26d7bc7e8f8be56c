"""An unmodified MLflow 2.22 client against ``glashaus serve`` (the 3.x client is tested in the other modules).

MLflow 2.22 cannot share an environment with the 3.x client the project installs, so
this test creates its own virtual environment once (``.venvs/mlflow-2.22`` in the
repository, git-ignored; a few minutes the first time, then reused) and runs the
client there, as a separate process, against a real server in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import glashaus
from glashaus.server.app import ServerThread, create_app

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venvs" / "mlflow-2.22"
PACKAGES = ["mlflow-skinny==2.22.*", "scikit-learn", "pandas<3"]

CLIENT = textwrap.dedent(
    """
    import json, sys
    import mlflow, numpy as np, pandas as pd
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    assert mlflow.__version__.startswith("2.22"), mlflow.__version__
    out = {}
    mlflow.set_experiment("main.shop.reco_training")
    X = pd.DataFrame({"light": np.linspace(-1, 1, 40), "water": np.linspace(1, -1, 40)})
    y = (X["light"] > 0).astype(int)
    for C in (0.1, 1.0):
        with mlflow.start_run(run_name=f"C={C}") as run:
            mlflow.log_param("C", C)
            model = LogisticRegression(C=C).fit(X, y)
            mlflow.log_metric("accuracy", float((model.predict(X) == y).mean()))
            mlflow.log_metrics({"loss": 0.5, "auc": 0.9})
            for step in range(3):
                mlflow.log_metric("curve", step / 10, step=step)
            with open(sys.argv[1], "w") as f:
                f.write("notes")
            mlflow.log_artifact(sys.argv[1])
            info = mlflow.sklearn.log_model(model, artifact_path="model", input_example=X.head(2))
    client = MlflowClient()
    out["history"] = [m.value for m in client.get_metric_history(run.info.run_id, "curve")]
    found = mlflow.search_runs(experiment_names=["main.shop.reco_training"], filter_string="params.C = '1.0'",
                               order_by=["metrics.accuracy DESC"])
    out["found"] = len(found)
    out["artifacts"] = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "main.shop.recommender")
    client.set_registered_model_alias("main.shop.recommender", "champion", version.version)
    loaded = mlflow.pyfunc.load_model("models:/main.shop.recommender@champion")
    out["predictions"] = [int(p) for p in loaded.predict(X.head(3))]
    out["expected"] = [int(p) for p in model.predict(X.head(3))]
    client.delete_run(run.info.run_id)
    out["after_delete"] = len(mlflow.search_runs(experiment_names=["main.shop.reco_training"]))
    client.restore_run(run.info.run_id)
    print(json.dumps(out))
    """
)


def _client_python() -> Path:
    python = VENV / "bin" / "python"
    marker = VENV / ".complete"
    if marker.exists() and marker.read_text() == " ".join(PACKAGES):
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"could not install the MLflow 2.22 client: {result.stderr[-2000:]}")
    marker.write_text(" ".join(PACKAGES))
    return python


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_an_mlflow_2_22_client_logs_registers_and_loads(tmp_path):
    python = _client_python()
    lh = glashaus.connect(tmp_path / "lh", user="alice")
    lh.create_schema("main.shop")
    token = lh.create_token(expires_in=3600)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    try:
        with ServerThread(create_app(lh)) as server:
            env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_TRACKING_TOKEN": token,
                   "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": ""}
            result = subprocess.run([str(python), str(script), str(tmp_path / "notes.txt")], env=env,
                                    capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-4000:]
        out = json.loads(result.stdout.strip().splitlines()[-1])
        assert out["history"] == [0.0, 0.1, 0.2]
        assert out["found"] == 1
        assert {"model", "notes.txt"} <= set(out["artifacts"])
        assert out["predictions"] == out["expected"]
        assert out["after_delete"] == 1
        version = lh.models.version("main.shop.recommender@champion")
        assert version.run_id and version.version == 1
    finally:
        lh.close()

"""Unmodified MLflow clients of other versions against ``glashaus serve``: the client matrix.

The other test modules drive the client in the lock (``constraints.txt``) in this process.
These run the oldest client we support and the newest release we have tested, each in a
virtual environment of its own (``.venvs/mlflow-<version>`` in the repository, git-ignored;
a few minutes the first time, then reused while its pins stay the same), as a separate
process, against a real server in this process. When MLflow releases, move ``NEWEST`` to it,
run these, and widen ``pyproject.toml``'s range or pin below the release (docs/development.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

import glashaus
from glashaus.server.app import ServerThread, create_app
from tests.venvs import LOCK, REPO, create, pip_install

OLDEST = "2.22.5"
NEWEST = "3.18.0"
#: What each client's venv holds. 2.22 needs pandas<3, so its pins are its own; the newest
#: client gets the lock's versions of everything but MLflow.
CLIENTS = {
    OLDEST: [f"mlflow-skinny=={OLDEST}", "scikit-learn==1.9.1", "pandas==2.3.3", "numpy==2.4.6"],
    NEWEST: [f"mlflow-skinny=={NEWEST}", "scikit-learn", "pandas", "skops"],  # 3.18 saves sklearn with skops
}

CLIENT = textwrap.dedent(
    """
    import json, sys
    import mlflow, numpy as np, pandas as pd
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    assert mlflow.__version__ == sys.argv[2], mlflow.__version__
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
            where = {"artifact_path" if mlflow.__version__.startswith("2.") else "name": "model"}
            info = mlflow.sklearn.log_model(model, input_example=X.head(2), **where)
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


def _client_python(version: str, tmp_path: Path) -> Path:
    venv = REPO / ".venvs" / f"mlflow-{version}"
    packages = CLIENTS[version]
    marker = venv / ".complete"
    if marker.exists() and marker.read_text() == " ".join(packages):
        return venv / "bin" / "python"
    bin_dir = create(venv)
    if version == OLDEST:
        pip_install(bin_dir, *packages, locked=False)
    else:  # the lock, but for MLflow itself
        lock = tmp_path / "lock-but-mlflow.txt"
        lock.write_text(
            "".join(line + "\n" for line in LOCK.read_text().splitlines() if not line.startswith("mlflow-skinny=="))
        )
        pip_install(bin_dir, *packages, "-c", str(lock), locked=False)
    marker.write_text(" ".join(packages))
    return bin_dir / "python"


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_an_mlflow_client_logs_registers_and_loads(tmp_path, version):
    python = _client_python(version, tmp_path)
    lh = glashaus.connect(tmp_path / "lh", user="alice")
    lh.create_schema("main.shop")
    token = lh.create_token(expires_in=3600)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    try:
        with ServerThread(create_app(lh)) as server:
            env = {
                **os.environ,
                "MLFLOW_TRACKING_URI": server.url,
                "MLFLOW_TRACKING_TOKEN": token,
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "PYTHONPATH": "",
            }
            result = subprocess.run(
                [str(python), str(script), str(tmp_path / "notes.txt"), version],
                env=env,
                cwd=tmp_path,
                check=False,
                capture_output=True,
                text=True,
                timeout=600,
            )
        assert result.returncode == 0, result.stderr[-4000:]
        out = json.loads(result.stdout.strip().splitlines()[-1])
        assert out["history"] == [0.0, 0.1, 0.2]
        assert out["found"] == 1
        # MLflow 3 keeps a logged model beside the run's artifacts (a LoggedModel), 2.x inside them
        assert ({"model", "notes.txt"} if version.startswith("2.") else {"notes.txt"}) <= set(out["artifacts"])
        assert out["predictions"] == out["expected"]
        assert out["after_delete"] == 1
        version = lh.models.version("main.shop.recommender@champion")
        assert version.run_id and version.version == 1
    finally:
        lh.close()

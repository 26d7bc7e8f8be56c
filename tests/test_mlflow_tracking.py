"""The real ``mlflow`` client against ``glashaus serve`` (and embedded, ``glashaus:`` URIs)."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import numpy as np
import pytest
from mlflow_env import sign_in

import glashaus
from glashaus.server.app import ServerThread, create_app

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

EXP = "main.shop.reco_training"
X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]] * 5)
Y = np.array([0, 1, 1, 0] * 5)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("mlflow") / "lh", user="alice")
    lh.create_schema("main.shop")
    lh.create_user("bob")
    tokens = {"alice": lh.create_token(), "bob": lh.create_token("bob")}
    with ServerThread(create_app(lh)) as server:
        yield lh, server.url, tokens
    lh.close()


@pytest.fixture
def client(served, monkeypatch):
    """MLflow's fluent API and client pointed at the server, signed in as alice."""
    _lh, url, tokens = served
    sign_in(monkeypatch, url, tokens["alice"])
    yield MlflowClient()
    mlflow.end_run()


def _logged_run(name: str, rmse: float):
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_param("model", "gbm")
        mlflow.log_metric("rmse", rmse * 2, step=0)
        mlflow.log_metric("rmse", rmse, step=1)
        mlflow.log_metrics({"mae": rmse / 2, "nan": float("nan")}, step=1)
        mlflow.set_tag("team", "reco")
    return run


def test_core_flow_of_the_real_client(client, served, tmp_path):
    lh = served[0]
    exp = mlflow.set_experiment(EXP)
    assert lh.get(EXP).kind == "experiment" and exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"
    assert exp.tags["glashaus.securable"] == EXP
    good, bad = _logged_run("good", 0.2), _logged_run("bad", 0.7)
    client.log_batch(
        good.info.run_id, metrics=[Metric("auc", 0.9, 1, 0)], params=[Param("lr", "0.1")], tags=[RunTag("stage", "dev")]
    )
    (tmp_path / "notes.txt").write_text("trained on main.shop.orders@v3")
    mlflow.log_artifact(str(tmp_path / "notes.txt"), "docs", run_id=good.info.run_id)

    run = client.get_run(good.info.run_id)
    assert run.info.status == "FINISHED" and run.info.user_id == "alice"
    assert run.data.params == {"model": "gbm", "lr": "0.1"}
    assert run.data.metrics["rmse"] == 0.2 and math.isnan(run.data.metrics["nan"])
    assert run.data.tags["stage"] == "dev" and run.data.tags["mlflow.runName"] == "good"
    assert [(m.step, m.value) for m in client.get_metric_history(good.info.run_id, "rmse")] == [(0, 0.4), (1, 0.2)]
    assert [f.path for f in client.list_artifacts(good.info.run_id, "docs")] == ["docs/notes.txt"]
    local = mlflow.artifacts.download_artifacts(
        run_id=good.info.run_id, artifact_path="docs/notes.txt", dst_path=str(tmp_path / "down")
    )
    assert Path(local).read_text() == "trained on main.shop.orders@v3"

    found = client.search_runs([exp.experiment_id], "metrics.rmse < 0.5 and params.model = 'gbm'")
    assert [r.info.run_id for r in found] == [good.info.run_id]
    ordered = mlflow.search_runs([exp.experiment_id], order_by=["metrics.rmse DESC"], output_format="list")
    assert [r.info.run_name for r in ordered][:2] == ["bad", "good"]
    page = client.search_runs([exp.experiment_id], max_results=1, order_by=["attributes.run_name"])
    assert page.token and [r.info.run_name for r in page] == ["bad"]

    client.delete_run(bad.info.run_id)
    assert client.get_run(bad.info.run_id).info.lifecycle_stage == "deleted"
    assert bad.info.run_id not in [r.info.run_id for r in client.search_runs([exp.experiment_id])]
    client.restore_run(bad.info.run_id)
    assert client.get_run(bad.info.run_id).info.lifecycle_stage == "active"
    with pytest.raises(MlflowException, match="Changing param values is not allowed") as err:
        client.log_param(good.info.run_id, "model", "lin")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_search_replies_with_the_same_run_messages_as_get(client, served):
    """runs/search builds its reply from the stored rows directly: each run is get-run's message."""
    _, url, tokens = served
    exp = mlflow.set_experiment("main.shop.search_shape")
    good = _logged_run("good", 0.2)
    _logged_run("bad", 0.7)
    client.create_run(exp.experiment_id, run_name="empty")
    client.log_batch(
        good.info.run_id, metrics=[Metric("tiny", 4.056220604842231e-06, 1, 0), Metric("big", float("inf"), 1, 0)]
    )
    headers = {"Authorization": f"Bearer {tokens['alice']}"}
    reply = httpx.post(
        f"{url}/api/2.0/mlflow/runs/search",
        headers=headers,
        json={"experiment_ids": [exp.experiment_id], "order_by": ["attributes.run_name"]},
    )
    assert reply.headers["content-type"] == "application/json"
    found = reply.json()["runs"]
    assert [r["info"]["run_name"] for r in found] == ["bad", "empty", "good"]
    for message in found:
        got = httpx.get(
            f"{url}/api/2.0/mlflow/runs/get", headers=headers, params={"run_id": message["info"]["run_id"]}
        ).json()["run"]
        assert message == got
        assert list(message) == ["info", "data", "inputs", "outputs"]
    metrics = {m["key"]: m for m in found[2]["data"]["metrics"]}
    assert metrics["nan"]["value"] == "NaN" and metrics["tiny"]["value"] == 4.056220604842231e-06
    assert set(metrics["rmse"]) == {"key", "value", "timestamp", "step"}
    for run, fetched in zip(
        client.search_runs([exp.experiment_id], order_by=["attributes.run_name"]),
        [client.get_run(r["info"]["run_id"]) for r in found],
        strict=False,
    ):
        assert run.data.params == fetched.data.params and run.data.tags == fetched.data.tags
        assert repr(run.data.metrics) == repr(fetched.data.metrics)  # NaN too
        assert run.info.run_id == fetched.info.run_id and run.info.end_time == fetched.info.end_time


def test_sklearn_autolog_and_log_model_make_a_loadable_logged_model(client):
    exp = mlflow.set_experiment("main.shop.autolog")
    mlflow.sklearn.autolog(log_models=False, log_datasets=True)
    try:
        with mlflow.start_run() as run:
            model = LogisticRegression().fit(X, Y)
            info = mlflow.sklearn.log_model(
                model, name="model", signature=infer_signature(X, model.predict(X)), input_example=X[:2]
            )
    finally:
        mlflow.sklearn.autolog(disable=True)
    logged = client.get_run(run.info.run_id)
    assert logged.data.params["solver"] == "lbfgs" and "training_score" in logged.data.metrics
    assert logged.inputs.dataset_inputs and logged.outputs.model_outputs[0].model_id == info.model_id
    model_info = client.get_logged_model(info.model_id)
    assert model_info.status.to_proto() == 2 and model_info.source_run_id == run.info.run_id  # READY
    assert model_info.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}/models/{info.model_id}/artifacts"
    assert [
        m.model_id for m in mlflow.search_logged_models(experiment_ids=[exp.experiment_id], output_format="list")
    ] == [info.model_id]
    loaded = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    assert list(loaded.predict(X[:3])) == [0, 1, 1]
    assert loaded.metadata.get_input_schema() is not None


def test_a_client_without_privileges_gets_permission_denied_and_is_audited(client, served, monkeypatch):
    lh, _, tokens = served
    exp = mlflow.set_experiment("main.shop.private")
    run = client.create_run(exp.experiment_id)
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", tokens["bob"])
    with pytest.raises(MlflowException) as err:
        client.log_metric(run.info.run_id, "m", 1.0)
    assert err.value.error_code == "PERMISSION_DENIED" and "GRANT MODIFY ON EXPERIMENT" in err.value.message
    with pytest.raises(MlflowException) as err:
        client.get_run(run.info.run_id)
    assert err.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as err:
        client.create_experiment("main.shop.bobs")
    assert err.value.error_code == "PERMISSION_DENIED"
    assert client.search_experiments() == []
    lh.flush()
    denied = lh.sql(
        "SELECT action, privilege FROM system.access.audit WHERE principal = 'bob' "
        "AND decision = 'deny' AND client IS NOT NULL"
    ).fetchall()
    assert ("run.log", "MODIFY") in denied and ("run.get", "EXECUTE") in denied


def test_malformed_requests_get_mlflow_errors(client, served):
    _, url, tokens = served
    exp = mlflow.set_experiment("main.shop.errors")
    run = client.create_run(exp.experiment_id)
    api = httpx.Client(base_url=url + "/api/2.0/mlflow", headers={"Authorization": f"Bearer {tokens['alice']}"})
    cases = [
        (api.post("/runs/log-metric", content=b"{not json"), 400, "INVALID_PARAMETER_VALUE", "not valid JSON"),
        (
            api.post("/runs/log-metric", json={"run_id": run.info.run_id, "key": "m", "value": "high", "timestamp": 1}),
            400,
            "INVALID_PARAMETER_VALUE",
            "value",
        ),
        (
            api.post("/runs/log-metric", json={"run_id": run.info.run_id, "key": "m", "timestamp": 1}),
            400,
            "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter 'value'",
        ),
        (api.post("/experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE", "'name'"),
        (
            api.post("/experiments/create", json={"name": "main.shop.x", "artifact_location": "s3://elsewhere"}),
            400,
            "INVALID_PARAMETER_VALUE",
            "managed storage",
        ),
        (api.get("/runs/get", params={"run_id": "0" * 32}), 404, "RESOURCE_DOES_NOT_EXIST", "not found"),
        (api.post("/runs/create", json={"experiment_id": "999999"}), 404, "RESOURCE_DOES_NOT_EXIST", "999999"),
        (
            api.post(
                "/runs/log-batch",
                json={
                    "run_id": run.info.run_id,
                    "tags": [{"key": f"t{i}", "value": "x" * 8000} for i in range(100)],
                    "params": [{"key": f"p{i}", "value": "x" * 6000} for i in range(50)],
                },
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "at most 1000000 bytes",
        ),
        (
            api.post(
                "/runs/log-batch",
                json={
                    "run_id": run.info.run_id,
                    "metrics": [{"key": "m", "value": 1.0, "timestamp": i} for i in range(1001)],
                },
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "at most 1000 metrics",
        ),
        (api.post("/experiments/create", json={"name": EXP}), 400, "RESOURCE_ALREADY_EXISTS", "already exists"),
        (
            api.post("/runs/search", json={"experiment_ids": [exp.experiment_id], "filter": "metrics.m >"}),
            400,
            "INVALID_PARAMETER_VALUE",
            "",
        ),
        (
            api.post("/experiments/create", json={"name": "main.shop.Bad-Name!"}),
            400,
            "INVALID_PARAMETER_VALUE",
            "not a valid identifier",
        ),
        (
            api.get("/metrics/get-history", params={"run_id": run.info.run_id}),
            400,
            "INVALID_PARAMETER_VALUE",
            "metric_key",
        ),
        (
            api.put(
                f"{url}/api/2.0/mlflow-artifacts/artifacts/{exp.experiment_id}/{run.info.run_id}/artifacts/"
                "a/%2E%2E/%2E%2E/x",
                content=b"x",
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "'..'",
        ),
        (
            httpx.post(url + "/api/2.0/mlflow/runs/create", json={"experiment_id": exp.experiment_id}),
            401,
            "UNAUTHENTICATED",
            "token",
        ),
    ]
    for response, status, code, words in cases:
        body = response.json()
        assert "error_code" in body, (response.request.url, body)
        assert (response.status_code, body["error_code"]) == (status, code), body
        assert words in body["message"]
    api.close()


def test_artifact_proxy_upload_list_download_delete(client, served):
    _, url, tokens = served
    exp = mlflow.set_experiment("main.shop.files")
    run = client.create_run(exp.experiment_id)
    base = f"{url}/api/2.0/mlflow-artifacts/artifacts"
    root = f"{exp.experiment_id}/{run.info.run_id}/artifacts"
    headers = {"Authorization": f"Bearer {tokens['alice']}"}
    assert httpx.put(f"{base}/{root}/plots/roc.json", content=b"{}", headers=headers).json() == {}
    listed = httpx.get(base, params={"path": root}, headers=headers).json()
    assert listed == {"files": [{"path": "plots", "is_dir": True}]}
    assert httpx.get(f"{base}/{root}/plots/roc.json", headers=headers).content == b"{}"
    assert httpx.delete(f"{base}/{root}/plots", headers=headers).json() == {}
    assert httpx.get(base, params={"path": root}, headers=headers).json() == {}
    missing = httpx.get(f"{base}/{root}/plots/roc.json", headers=headers)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_embedded_glashaus_uri_runs_the_same_flow(tmp_path, monkeypatch):
    root = tmp_path / "lake"
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"glashaus:{root}?user=alice")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    exp = mlflow.set_experiment(EXP)
    with mlflow.start_run(run_name="local") as run:
        mlflow.log_params({"model": "logreg"})
        mlflow.log_metric("acc", 0.8, step=0)
        mlflow.log_metric("acc", 0.9, step=1)
        model = LogisticRegression().fit(X, Y)
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(X, model.predict(X)), input_example=X[:2]
        )
    client = MlflowClient()
    got = client.get_run(run.info.run_id)
    assert got.info.artifact_uri == f"glashaus-artifacts:/{exp.experiment_id}/{run.info.run_id}/artifacts"
    assert [m.value for m in client.get_metric_history(run.info.run_id, "acc")] == [0.8, 0.9]
    assert [r.info.run_id for r in client.search_runs([exp.experiment_id], "metrics.acc > 0.85")] == [run.info.run_id]
    assert list(mlflow.sklearn.load_model(info.model_uri).predict(X[:3])) == [0, 1, 1]
    client.delete_run(run.info.run_id)
    assert client.search_runs([exp.experiment_id]) == []
    with glashaus.connect(root, user="alice") as lh:
        assert lh.runs.get(run.info.run_id).lifecycle_stage == "deleted"  # one store: the lakehouse


def test_bad_tag_keys_and_too_long_values_get_invalid_parameter_value(client, served):
    exp = mlflow.set_experiment("main.shop.bad_input")
    run = client.create_run(exp.experiment_id)
    cases = [
        (lambda: client.set_tag(run.info.run_id, "a/../b", "x"), ["tag key 'a/../b'", "resolve to 'b'"]),
        (
            lambda: client.log_param(run.info.run_id, "bad key!", "x"),
            ["param key 'bad key!'", "contains '!'", "Names may only contain"],
        ),
        (lambda: client.set_experiment_tag(exp.experiment_id, "a/../b", "x"), ["experiment tag key 'a/../b'"]),
        (
            lambda: client.set_experiment_tag(exp.experiment_id, "notes", "x" * 20_001),
            ["experiment tag 'notes'", "exceeds the maximum length of 20000 characters (it has 20001)"],
        ),
        (
            lambda: client.log_batch(run.info.run_id, metrics=[Metric("../m", 1.0, 0, 0)]),
            ["metric key '../m'", "starts with '..'"],
        ),
    ]
    for call, words in cases:
        with pytest.raises(MlflowException) as err:
            call()
        assert err.value.error_code == "INVALID_PARAMETER_VALUE", err.value.message
        for word in words:
            assert word in err.value.message, (word, err.value.message)
    # Too long a run tag value is cut, MLflow's default (MLFLOW_TRUNCATE_LONG_VALUES), not refused.
    client.set_tag(run.info.run_id, "long", "y" * 8001)
    got = client.get_run(run.info.run_id).data
    assert len(got.tags["long"]) == 8000 and "a/../b" not in got.tags and "bad key!" not in got.params
    assert "notes" not in client.get_experiment(exp.experiment_id).tags

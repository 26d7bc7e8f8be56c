"""The real ``mlflow`` client creating experiments whose files live in a governed volume (issue 18 item 3)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from mlflow_env import sign_in

import glashaus
from glashaus.server.app import ServerThread, create_app

mlflow = pytest.importorskip("mlflow")
import mlflow.pyfunc  # noqa: E402, F811 -- the submodule, after importorskip bound `mlflow`
import mlflow.sklearn  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]] * 5)
Y = np.array([0, 1, 1, 0] * 5)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("mlflow_artifact_location") / "lh", user="alice")
    lh.create_schema("main.shop")
    lh.create_volume("main.shop.files")
    lh.create_user("bob")
    tokens = {"alice": lh.create_token(), "bob": lh.create_token("bob")}
    with ServerThread(create_app(lh)) as server:
        yield SimpleNamespace(lh=lh, url=server.url, tokens=tokens)
    lh.close()


@pytest.fixture
def client(served, monkeypatch):
    sign_in(monkeypatch, served.url, served.tokens["alice"])
    yield MlflowClient()
    mlflow.end_run()


def _error(err: pytest.ExceptionInfo) -> tuple[str, str]:
    return err.value.error_code, err.value.message


def test_an_experiment_in_a_volume_keeps_its_run_files_and_models_there(client, served, tmp_path):
    location = "/Volumes/main/shop/files/experiments/reco"
    experiment_id = client.create_experiment("main.shop.reco_in_volume", artifact_location=location)
    assert client.get_experiment(experiment_id).artifact_location == location
    assert client.get_experiment_by_name("main.shop.reco_in_volume").artifact_location == location

    mlflow.set_experiment(experiment_id=experiment_id)
    notes = tmp_path / "notes.txt"
    notes.write_text("ferns like shade")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(notes))
        mlflow.sklearn.log_model(LogisticRegression().fit(X, Y), name="model", serialization_format="skops")
    run_id = run.info.run_id

    in_volume = [f.path for f in served.lh.list_files("main.shop.files", "experiments/reco")]
    assert f"experiments/reco/{run_id}/artifacts/notes.txt" in in_volume
    assert any(p.endswith("/artifacts/MLmodel") for p in in_volume)  # the logged model's files
    assert served.lh.get_file("main.shop.files", f"experiments/reco/{run_id}/artifacts/notes.txt") == (
        b"ferns like shade"
    )
    back = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes.txt", dst_path=str(tmp_path / "d"))
    assert Path(back).read_text() == "ferns like shade"

    mv = mlflow.register_model(f"runs:/{run_id}/model", "main.shop.reco_from_volume")
    assert mlflow.pyfunc.load_model(f"models:/main.shop.reco_from_volume/{mv.version}").predict(X[:2]).tolist() == [
        0,
        1,
    ]


def test_the_databricks_dbfs_form_is_accepted_and_reported_as_given(client):
    location = "dbfs:/Volumes/main/shop/files/dbfs_style"
    experiment_id = client.create_experiment("dbfs style", artifact_location=location)
    assert client.get_experiment(experiment_id).artifact_location == location


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("s3://bucket/experiments", "/Volumes/<catalog>/<schema>/<volume>"),
        ("/tmp/experiments", "dbfs:/Volumes/<catalog>/<schema>/<volume>"),
        ("mlflow-artifacts:/elsewhere", "not allowed"),
        ("file:///Volumes/main/shop/files", "not allowed"),
        ("/Volumes/main/shop", "names no volume"),
        ("/Volumes/main/shop/files/../../escape", "'..'"),
        ("/Volumes/main/shop/Bad-Volume/x", "not a valid identifier"),
    ],
)
def test_other_locations_are_refused_naming_the_allowed_ones_and_nothing_is_created(client, location, words):
    with pytest.raises(MlflowException) as err:
        client.create_experiment("refused location", artifact_location=location)
    code, message = _error(err)
    assert code == "INVALID_PARAMETER_VALUE" and words in message
    assert client.get_experiment_by_name("refused location") is None


def test_a_volume_that_does_not_exist_is_not_found(client):
    with pytest.raises(MlflowException) as err:
        client.create_experiment("no volume", artifact_location="/Volumes/main/shop/nothing/x")
    code, message = _error(err)
    assert code == "RESOURCE_DOES_NOT_EXIST" and "main.shop.nothing" in message
    assert client.get_experiment_by_name("no volume") is None


def test_a_volume_the_caller_may_only_read_is_refused_and_audited(client, served, monkeypatch):
    lh = served.lh
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    lh.grant("READ VOLUME", on="main.shop.files", to="bob")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", served.tokens["bob"])
    bob = MlflowClient()
    with pytest.raises(MlflowException) as err:
        bob.create_experiment("bobs files", artifact_location="/Volumes/main/shop/files/bob")
    code, message = _error(err)
    assert code == "PERMISSION_DENIED" and "WRITE VOLUME" in message
    assert bob.get_experiment_by_name("bobs files") is None
    denied = lh.sql(
        "SELECT privilege FROM system.access.audit WHERE principal = 'bob' "
        "AND action = 'experiment.artifact_location' AND decision = 'deny'"
    ).fetchall()
    assert denied == [("WRITE VOLUME",)]

    lh.grant("WRITE VOLUME", on="main.shop.files", to="bob")
    experiment_id = bob.create_experiment("bobs files", artifact_location="/Volumes/main/shop/files/bob")
    assert bob.get_experiment(experiment_id).artifact_location == "/Volumes/main/shop/files/bob"
    run_id = bob.create_run(experiment_id).info.run_id
    bob.log_text(run_id, "bob's ferns", "notes.txt")
    assert lh.get_file("main.shop.files", f"bob/{run_id}/artifacts/notes.txt") == b"bob's ferns"


def test_the_embedded_store_keeps_a_volume_experiments_files_in_the_volume_and_refuses_others(tmp_path, monkeypatch):
    root = tmp_path / "lake"
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_volume("main.shop.files")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"glashaus:{root}?user=alice")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    client = MlflowClient()
    experiment_id = client.create_experiment("embedded", artifact_location="/Volumes/main/shop/files/embedded")
    assert client.get_experiment(experiment_id).artifact_location == "/Volumes/main/shop/files/embedded"
    notes = tmp_path / "notes.txt"
    notes.write_text("embedded ferns")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifact(str(notes))
    with pytest.raises(MlflowException) as err:
        client.create_experiment("elsewhere", artifact_location="s3://bucket/x")
    code, message = _error(err)
    assert code == "INVALID_PARAMETER_VALUE" and "/Volumes/<catalog>/<schema>/<volume>" in message
    with glashaus.connect(root, user="alice") as lh:
        path = f"embedded/{run.info.run_id}/artifacts/notes.txt"
        assert lh.get_file("main.shop.files", path) == b"embedded ferns"

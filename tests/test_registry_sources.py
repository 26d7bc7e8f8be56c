"""Embedded ``lh.models.register_files`` from MLflow's source URIs, as the MLflow server takes them.

Runs and models are logged by the real ``mlflow`` client through a ``glashaus:`` tracking URI
(in-process, no server): a run with an MLflow 2 style model folder among its files, and an
MLflow 3 logged model. Then the same lakehouse registers them by ``runs:/``, ``models:/m-<id>``,
``models:/<name>@<alias>``, ``mlflow-artifacts:/`` and ``glashaus-artifacts:/`` URIs, and refuses
what the MLflow server refuses, with the same errors.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

import glashaus
from glashaus.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("mlflow.sklearn")  # mlflow.sklearn.log_model below
from sklearn.linear_model import LogisticRegression  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*")

EXP = "main.shop.reco_training"
X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]] * 5)
Y = np.array([0, 1, 1, 0] * 5)


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A lakehouse whose run holds ``files_model/`` (a saved folder) and logged the MLflow 3 model ``model``."""
    root = tmp_path_factory.mktemp("sources") / "lake"
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_user("bob")
        for privilege in ("USE SCHEMA", "CREATE MODEL"):
            lh.grant(privilege, on="main.shop", to="bob")
    folder = tmp_path_factory.mktemp("saved") / "model"
    mlflow.sklearn.save_model(LogisticRegression().fit(X, Y), str(folder), serialization_format="skops")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"glashaus:{root}?user=alice")
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        experiment = mlflow.set_experiment(EXP)
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(folder), "files_model")
            info = mlflow.sklearn.log_model(LogisticRegression().fit(X, Y), name="model", serialization_format="skops")
    return SimpleNamespace(
        root=root,
        run_id=run.info.run_id,
        experiment_id=experiment.experiment_id,
        artifact_uri=run.info.artifact_uri,
        model_id=info.model_id,
    )


@pytest.fixture
def lh(logged):
    with glashaus.connect(logged.root, user="alice") as lake:
        yield lake
        for model in lake.list("main.shop", kind="model"):
            lake.drop(model.full_name)


def _predicts(lh, ref: str) -> list[int]:
    return [int(p) for p in lh.models.load(ref).predict(X[:3])]


def _files(lh, ref: str) -> dict[str, bytes]:
    return {f.path: lh.models.read_file(ref, f.path) for f in lh.models.files(ref)}


def _denied(lh, principal: str, action: str) -> list[tuple]:
    lh.flush()
    return lh.sql(
        "SELECT privilege, securable FROM system.access.audit WHERE principal = '"
        + principal
        + "' AND action = '"
        + action
        + "' AND decision = 'deny'"
    ).fetchall()


def test_runs_uri_registers_the_runs_folder_or_its_logged_model_with_the_run(lh, logged):
    run = logged.run_id
    mv = lh.models.register_files(f"runs:/{run}/files_model", "main.shop.reco", description="from the run")
    assert (mv.version, mv.source, mv.run_id, mv.logged_model_id) == (1, f"runs:/{run}/files_model", run, None)
    assert _predicts(lh, "main.shop.reco/1") == [0, 1, 1]
    # MLflow 3: runs:/<run>/<name> with no folder of that name is the run's logged model called so.
    mv = lh.models.register_files(f"runs:/{run}/model", "main.shop.reco", run_id=run)
    assert (mv.version, mv.run_id, mv.logged_model_id) == (2, run, logged.model_id)
    assert _predicts(lh, "main.shop.reco/2") == [0, 1, 1]


def test_logged_model_uri_records_the_model_and_the_run_that_logged_it(lh, logged):
    mv = lh.models.register_files(f"models:/{logged.model_id}", "main.shop.reco")
    assert (mv.source, mv.run_id, mv.logged_model_id) == (f"models:/{logged.model_id}", logged.run_id, logged.model_id)
    assert _predicts(lh, "main.shop.reco@1") == [0, 1, 1]


def test_a_version_uri_copies_that_version_into_another_model(lh, logged):
    first = lh.models.register_files(f"models:/{logged.model_id}", "main.shop.reco")
    lh.models.set_alias("main.shop.reco", "champion", first.version)
    copy = lh.models.register_files("models:/main.shop.reco@champion", "main.shop.reco2")
    assert (copy.name, copy.version, copy.source) == ("main.shop.reco2", 1, "models:/main.shop.reco@champion")
    assert (copy.run_id, copy.logged_model_id) == (logged.run_id, logged.model_id)
    assert _files(lh, "main.shop.reco2/1") == _files(lh, "main.shop.reco/1")
    assert copy.storage_location != first.storage_location  # copied, not shared
    # The artifact proxy's registry/ tree names the same files.
    tree = lh.models.register_files("mlflow-artifacts:/registry/main.shop.reco/1", "main.shop.reco2")
    assert tree.version == 2 and _files(lh, "main.shop.reco2/2") == _files(lh, "main.shop.reco/1")


def test_artifact_uris_of_the_proxy_and_of_embedded_runs(lh, logged):
    path = f"{logged.experiment_id}/{logged.run_id}/artifacts/files_model"
    by_proxy = lh.models.register_files(f"mlflow-artifacts:/{path}", "main.shop.reco")
    assert (by_proxy.source, by_proxy.run_id, by_proxy.logged_model_id) == (
        f"mlflow-artifacts:/{path}",
        logged.run_id,
        None,
    )
    embedded = f"{logged.artifact_uri}/files_model"
    assert embedded == f"glashaus-artifacts:/{path}"
    assert lh.models.register_files(embedded, "main.shop.reco").run_id == logged.run_id
    model_path = f"{logged.experiment_id}/models/{logged.model_id}/artifacts"
    mv = lh.models.register_files(f"mlflow-artifacts:/{model_path}", "main.shop.reco")
    assert (mv.run_id, mv.logged_model_id) == (logged.run_id, logged.model_id)


def test_reading_a_run_or_logged_model_needs_execute_on_its_experiment_and_is_audited(lh, logged):
    with lh.as_user("bob") as bob:
        for source in (
            f"runs:/{logged.run_id}/files_model",
            f"models:/{logged.model_id}",
            f"mlflow-artifacts:/{logged.experiment_id}/{logged.run_id}/artifacts/files_model",
        ):
            with pytest.raises(PermissionDeniedError, match=f"bob lacks EXECUTE on experiment {EXP}"):
                bob.models.register_files(source, "main.shop.bobs")
        assert lh.list("main.shop", kind="model") == []  # nothing created for a refused source
        assert ("EXECUTE", EXP) in _denied(lh, "bob", "run.get")
        assert ("EXECUTE", EXP) in _denied(lh, "bob", "logged_model.get")

        lh.grant("EXECUTE", on=EXP, to="bob")
        try:
            mv = bob.models.register_files(f"runs:/{logged.run_id}/files_model", "main.shop.bobs")
            assert (mv.created_by, mv.run_id) == ("bob", logged.run_id)
            # Copying a version takes EXECUTE on the model that holds it.
            lh.models.register_files(f"models:/{logged.model_id}", "main.shop.reco")
            with pytest.raises(PermissionDeniedError, match=r"bob lacks EXECUTE on model main.shop.reco"):
                bob.models.register_files("models:/main.shop.reco/1", "main.shop.bobs")
            assert ("EXECUTE", "main.shop.reco") in _denied(lh, "bob", "model.version.get")
        finally:
            lh.revoke("EXECUTE", on=EXP, from_="bob")


def test_a_path_with_no_model_in_the_run_is_not_found_naming_it(lh, logged):
    with pytest.raises(
        NotFoundError, match=f"run {logged.run_id} has no MLmodel at 'nothing' and no logged model named 'nothing'"
    ):
        lh.models.register_files(f"runs:/{logged.run_id}/nothing", "main.shop.reco")
    with pytest.raises(NotFoundError, match="Logged model with ID 'm-0123456789abcdef' not found"):
        lh.models.register_files("models:/m-0123456789abcdef", "main.shop.reco")
    with pytest.raises(NotFoundError, match="Run with id=0123456789abcdef not found"):
        lh.models.register_files("runs:/0123456789abcdef/model", "main.shop.reco")
    with pytest.raises(NotFoundError, match=r"no model files at 'registry/main.shop.reco/one'"):
        lh.models.register_files("mlflow-artifacts:/registry/main.shop.reco/one", "main.shop.reco")
    assert lh.list("main.shop", kind="model") == []


@pytest.mark.parametrize(
    ("source", "error", "words"),
    [
        ("runs://elsewhere/0a1b/model", InvalidArgumentError, "name a run or model of this lakehouse"),
        ("models://elsewhere/m-0a1b", InvalidArgumentError, "name a run or model of this lakehouse"),
        ("runs:/", InvalidArgumentError, "Not a proper runs:/ URI"),
        ("runs:no-slash", InvalidArgumentError, "Not a proper runs:/ URI"),
        ("mlflow-artifacts:/1/0a1b/not-artifacts", NotFoundError, "no artifacts at '1/0a1b/not-artifacts'"),
        ("runs://[0a1b/model", InvalidArgumentError, "it is no valid URI (Invalid IPv6 URL)"),
        ("s3://[bucket/model", InvalidArgumentError, "it is no valid URI (Invalid IPv6 URL)"),
    ],
)
def test_malformed_uris_are_refused_with_the_shape_to_use(lh, source, error, words):
    with pytest.raises(error, match=re.escape(words)):
        lh.models.register_files(source, "main.shop.reco")
    assert lh.list("main.shop", kind="model") == []


def test_ids_that_contradict_the_source_and_dot_dot_paths_are_refused(lh, logged):
    run = logged.run_id
    with pytest.raises(InvalidArgumentError, match=f"it belongs to run_id '{run}', but the request names '0+'"):
        lh.models.register_files(f"runs:/{run}/files_model", "main.shop.reco", run_id="0" * 32)
    other = f"{int(logged.experiment_id) + 1}/{run}/artifacts/files_model"
    with pytest.raises(InvalidArgumentError, match=f"run {run} belongs to experiment '{logged.experiment_id}'"):
        lh.models.register_files(f"mlflow-artifacts:/{other}", "main.shop.reco")
    with pytest.raises(InvalidArgumentError, match=r"it contains '..'"):
        lh.models.register_files(f"runs:/{run}/../../models", "main.shop.reco")
    lh.flush()
    refused = lh.sql(
        "SELECT reason FROM system.access.audit WHERE action = 'model.version.create' AND decision = 'deny'"
    ).fetchall()
    assert any("'..'" in reason for (reason,) in refused)  # the refusal is audited
    assert lh.list("main.shop", kind="model") == []

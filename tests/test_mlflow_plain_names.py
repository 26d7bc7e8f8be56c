"""The real ``mlflow`` client registering models under plain names (issue 18 item 2), and log_model's source run."""

from __future__ import annotations

import hashlib
import re
import time
from types import SimpleNamespace

import numpy as np
import pytest
from mlflow_env import sign_in

import glashaus
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.server.app import ServerThread, create_app

mlflow = pytest.importorskip("mlflow")
import mlflow.pyfunc  # noqa: E402, F811 -- the submodule, after importorskip bound `mlflow`
import mlflow.sklearn  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]] * 5)
Y = np.array([0, 1, 1, 0] * 5)


def _securable(plain: str, schema: str = "main.default") -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")
    return f"{schema}.{slug}_{hashlib.sha256(plain.encode()).hexdigest()[:12]}"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("mlflow_plain_names") / "lh", user="alice")
    lh.create_schema("main.shop")
    lh.create_schema("main.lab")
    lh.create_user("bob")
    tokens = {"alice": lh.create_token(), "bob": lh.create_token("bob")}
    with ServerThread(create_app(lh)) as server, ServerThread(create_app(lh, default_schema="main.lab")) as lab:
        yield SimpleNamespace(lh=lh, url=server.url, lab_url=lab.url, tokens=tokens)
    lh.close()


@pytest.fixture(scope="module")
def env(served):
    with pytest.MonkeyPatch.context() as mp:
        sign_in(mp, served.url, served.tokens["alice"])
        yield mp


@pytest.fixture
def client(env):
    yield MlflowClient()
    mlflow.end_run()


@pytest.fixture(scope="module")
def logged(env):
    """A model logged in a run by the MLflow client, for registering under several names."""
    mlflow.set_experiment("main.shop.plain_names")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, Y), name="model", serialization_format="skops")
    return SimpleNamespace(uri=f"runs:/{run.info.run_id}/model", model_uri=info.model_uri)


def _error(err: pytest.ExceptionInfo) -> tuple[str, str]:
    return err.value.error_code, err.value.message


def test_a_plain_name_registers_loads_and_comes_back_as_written_everywhere(client, logged, served):
    mv = mlflow.register_model(logged.uri, "CreateRMTest")
    assert (mv.name, mv.version) == ("CreateRMTest", "1")
    client.set_registered_model_alias("CreateRMTest", "champion", 1)
    client.update_registered_model("CreateRMTest", description="plain")

    rm = client.get_registered_model("CreateRMTest")
    assert (rm.name, rm.description, rm.aliases) == ("CreateRMTest", "plain", {"champion": "1"})
    assert [v.name for v in rm.latest_versions] == ["CreateRMTest"]
    assert client.get_model_version("CreateRMTest", "1").name == "CreateRMTest"
    assert client.get_model_version_by_alias("CreateRMTest", "champion").name == "CreateRMTest"
    assert [v.name for v in client.get_latest_versions("CreateRMTest")] == ["CreateRMTest"]
    assert [m.name for m in client.search_registered_models(filter_string="name = 'CreateRMTest'")] == ["CreateRMTest"]
    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'CreateRM%'")] == ["CreateRMTest"]
    found = client.search_model_versions("name = 'CreateRMTest'")
    assert [(v.name, v.version) for v in found] == [("CreateRMTest", "1")]
    assert ("CreateRMTest", "1") in [(v.name, v.version) for v in client.search_model_versions()]
    assert mlflow.pyfunc.load_model("models:/CreateRMTest@champion").predict(X[:2]).tolist() == [0, 1]

    copied = client.copy_model_version("models:/CreateRMTest/1", "Copied Model")
    assert (copied.name, copied.version, copied.source) == ("Copied Model", "1", "models:/CreateRMTest/1")
    assert client.create_model_version("Copied Model", "models:/CreateRMTest@champion").version == "2"

    # The securable a user grants on: the default schema, a slug and a hash of the exact name.
    securable = _securable("CreateRMTest")
    assert [m.name for m in served.lh.models.list("main.default")] == sorted([securable, _securable("Copied Model")])
    assert client.get_registered_model(securable).description == "plain"  # one model, two names


def test_a_lower_case_plain_name_and_its_three_part_name_are_one_model(client, logged):
    mlflow.register_model(logged.uri, "ferns")
    assert client.get_registered_model("main.default.ferns").latest_versions[0].version == "1"
    mv = mlflow.register_model(logged.uri, "main.default.ferns")  # exists: a second version of the same model
    assert (mv.name, mv.version) == ("main.default.ferns", "2")
    assert client.get_registered_model("ferns").latest_versions[0].version == "2"
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("main.default.ferns")
    assert _error(err)[0] == "RESOURCE_ALREADY_EXISTS"


def test_names_differing_only_in_case_are_two_models_and_lookups_match_case_exactly(client):
    client.create_registered_model("MyModel", description="upper")
    client.create_registered_model("mymodel", description="lower")
    assert client.get_registered_model("MyModel").description == "upper"
    assert client.get_registered_model("mymodel").description == "lower"
    with pytest.raises(MlflowException) as err:
        client.get_registered_model("MYMODEL")
    code, message = _error(err)
    assert code == "RESOURCE_DOES_NOT_EXIST" and "Registered Model with name=MYMODEL not found" in message
    with pytest.raises(MlflowException) as err:
        client.get_model_version("MyModel", "5")
    code, message = _error(err)
    assert code == "RESOURCE_DOES_NOT_EXIST" and "version 5" in message and "'MyModel'" in message
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("MyModel")
    code, message = _error(err)
    assert code == "RESOURCE_ALREADY_EXISTS" and message.endswith("Registered Model (name=MyModel) already exists.")


def test_names_with_spaces_and_dashes_work_and_slashes_and_colons_are_refused_as_mlflow_does(client):
    client.create_registered_model("fern picker-2 (beta)")
    assert client.get_registered_model("fern picker-2 (beta)").name == "fern picker-2 (beta)"
    for bad in ("ferns/v2", "ferns:v2"):
        with pytest.raises(MlflowException) as err:
            client.create_registered_model(bad)
        code, message = _error(err)
        assert code == "INVALID_PARAMETER_VALUE" and "cannot contain '/' or ':'" in message


def test_a_name_whose_catalog_name_another_model_holds_is_refused_naming_both(client):
    squatter = _securable("Hidden Gem").rsplit(".", 1)[1]
    client.create_registered_model(squatter)
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("Hidden Gem")
    code, message = _error(err)
    assert code == "RESOURCE_ALREADY_EXISTS"
    assert "name=Hidden Gem" in message and repr(squatter) in message


def test_errors_about_a_plain_named_model_name_it_as_written_and_by_its_catalog_name(client, served, monkeypatch):
    client.create_registered_model("Alices Model")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", served.tokens["bob"])
    with pytest.raises(MlflowException) as err:
        MlflowClient().get_registered_model("Alices Model")
    code, message = _error(err)
    assert code in ("PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST")
    assert "'Alices Model'" in message and f"ON MODEL {_securable('Alices Model')} TO bob" in message


def test_a_server_may_place_plain_names_in_another_schema(served, env):
    lab = MlflowClient(tracking_uri=served.lab_url, registry_uri=served.lab_url)
    assert lab.create_registered_model("LabModel").name == "LabModel"
    assert [m.name for m in served.lh.models.list("main.lab")] == [_securable("LabModel", "main.lab")]
    # Seen from a server with the default schema main.default, the model has its three-part name.
    other = {m.name for m in MlflowClient().search_registered_models()}
    assert _securable("LabModel", "main.lab") in other and "LabModel" not in other
    # Free-form experiment names follow the same setting.
    experiment = lab.get_experiment(lab.create_experiment("Lab Experiment"))
    assert experiment.name == "Lab Experiment"
    assert experiment.tags["glashaus.securable"].startswith("main.lab.lab_experiment_")
    with pytest.raises(InvalidArgumentError, match=r"catalog\.schema"):
        create_app(served.lh, default_schema="nowhere")


def test_a_logged_model_may_name_a_source_run_that_does_not_exist_but_not_one_it_may_not_read(
    client, served, logged, monkeypatch
):
    experiment = client.create_experiment("main.shop.source_runs")
    ghost = "0" * 32
    model = client.create_logged_model(experiment, source_run_id=ghost)  # as MLflow's server accepts it
    assert client.get_logged_model(model.model_id).source_run_id == ghost
    # A version's run id is recorded as given too, when its source holds the files.
    assert client.create_model_version("Ghost Run", logged.model_uri, run_id=ghost).run_id == ghost

    private = client.create_run(experiment).info.run_id
    lh = served.lh
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    lh.grant("CREATE MODEL", on="main.shop", to="bob")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", served.tokens["bob"])
    bob = MlflowClient()
    bobs = bob.create_experiment("main.shop.bobs_source_runs")
    with pytest.raises(MlflowException) as err:
        bob.create_logged_model(bobs, source_run_id=private)
    assert _error(err)[0] in ("PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST")
    decisions = lh.sql(
        "SELECT decision FROM system.access.audit WHERE principal = 'bob' AND action = 'logged_model.source_run'"
    ).fetchall()
    assert decisions == [("deny",)]


def test_glashaus_serve_refuses_a_default_schema_that_is_not_catalog_dot_schema(tmp_path):
    from typer.testing import CliRunner

    from glashaus.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--default-schema", "main", "--lakehouse", str(tmp_path / "lh")])
    assert result.exit_code == 1
    assert "--default-schema" in result.output and "catalog.schema" in result.output
    assert not (tmp_path / "lh").exists()  # refused before anything was opened or created


def test_a_version_from_a_run_this_server_does_not_have_is_recorded_without_files(client, served, logged, monkeypatch):
    client.create_registered_model("CreateMVTest")
    mv = client.create_model_version("CreateMVTest", "runs:/run_id/model", "run_id_1", tags={"k": "v"})
    assert (mv.name, mv.version, mv.source, mv.run_id, mv.status) == (
        "CreateMVTest",
        "1",
        "runs:/run_id/model",
        "run_id_1",
        "READY",
    )
    assert [(v.name, v.version) for v in client.search_model_versions("run_id = 'run_id_1'")] == [("CreateMVTest", "1")]
    assert client.get_model_version_download_uri("CreateMVTest", "1") == "runs:/run_id/model"
    client.set_registered_model_alias("CreateMVTest", "first", "1")
    copied = client.copy_model_version("models:/CreateMVTest@first", "CopyMVTest")
    assert (copied.version, copied.source, copied.run_id) == ("1", "models:/CreateMVTest/1", "run_id_1")
    assert client.get_model_version_download_uri("CopyMVTest", "1") == "runs:/run_id/model"  # as MLflow answers

    # Its files cannot be loaded, listed or copied with files: there are none, and the refusal says why.
    securable = _securable("CreateMVTest")
    for attempt in (
        lambda: served.lh.models.load(f"{securable}/1"),
        lambda: served.lh.models.files(f"{securable}/1"),
        lambda: served.lh.models.register_files(f"models:/{securable}/1", "main.default.copied"),
    ):
        with pytest.raises(
            NotFoundError, match="has no files: an MLflow client registered it from 'runs:/run_id/model'"
        ):
            attempt()
    # A copy whose original is gone answers its own source.
    client.delete_model_version("CreateMVTest", "1")
    assert client.get_model_version_download_uri("CopyMVTest", "1") == "models:/CreateMVTest/1"
    # The Python API keeps refusing a source naming no run of this lakehouse.
    with pytest.raises(NotFoundError, match="run_id"):
        served.lh.models.register_files("runs:/run_id/model", "main.default.fileless")

    # A run that exists but that the caller may not read is refused (access control), not recorded without files.
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", served.tokens["bob"])
    with pytest.raises(MlflowException) as err:
        MlflowClient().create_model_version("Bobs Copy", logged.uri)
    assert _error(err)[0] == "PERMISSION_DENIED"
    assert [v.version for v in client.search_model_versions("name = 'Bobs Copy'")] == []


def test_model_versions_are_searched_newest_change_first_by_default_as_mlflow_orders_them(client):
    for name in ("Order A", "Order B"):
        client.create_registered_model(name)
    for name in ("Order B", "Order A", "Order B"):
        time.sleep(0.002)  # distinct millisecond timestamps, as MLflow's own test makes them
        client.create_model_version(name, "runs:/run_id/model", "run_id")
    found = client.search_model_versions("name LIKE 'Order %'")
    assert [(v.name, v.version) for v in found] == [("Order B", "2"), ("Order A", "1"), ("Order B", "1")]


def test_a_version_has_mlflows_empty_description_and_deleting_it_updates_its_model(client):
    client.create_registered_model("DeleteMVTest")
    client.create_model_version("DeleteMVTest", "runs:/run_id/model", "run_id_1")
    mv = client.create_model_version("DeleteMVTest", "runs:/run_id/model", "run_id_1")
    assert client.get_model_version("DeleteMVTest", mv.version).description == ""  # as MLflow's server answers
    before = client.get_registered_model("DeleteMVTest").last_updated_timestamp
    time.sleep(0.01)
    client.delete_model_version("DeleteMVTest", mv.version)
    assert (
        client.get_registered_model("DeleteMVTest").last_updated_timestamp > before
    )  # a version's change is its model's

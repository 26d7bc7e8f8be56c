"""The real ``mlflow`` client against the registry endpoints of ``glashaus serve``."""

from __future__ import annotations

import os
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from mlflow_env import sign_in

import glashaus
from glashaus.lakehouse import services
from glashaus.server.app import ServerThread, create_app

mlflow = pytest.importorskip("mlflow")
import mlflow.sklearn  # noqa: E402, F811 -- the submodule, after importorskip bound `mlflow`
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from mlflow.store.model_registry.rest_store import RestStore  # noqa: E402
from mlflow.utils.rest_utils import MlflowHostCreds  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

NAME = "main.shop.recommender"
X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]] * 5)
Y = np.array([0, 1, 1, 0] * 5)
API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("mlflow_registry") / "lh", user="alice")
    lh.create_schema("main.shop")
    lh.create_user("bob")
    tokens = {"alice": lh.create_token(), "bob": lh.create_token("bob")}
    with ServerThread(create_app(lh)) as server:
        yield SimpleNamespace(lh=lh, url=server.url, tokens=tokens)
    lh.close()


@pytest.fixture(scope="module")
def env(served):
    """MLflow's client and fluent API pointed at the server, signed in as alice."""
    with pytest.MonkeyPatch.context() as mp:
        sign_in(mp, served.url, served.tokens["alice"])
        yield mp


@pytest.fixture
def client(env):
    yield MlflowClient()
    mlflow.end_run()


@pytest.fixture(scope="module")
def champion(env):
    """A model logged in a run by the MLflow client (MLflow 3: a logged model), registered, aliased @champion."""
    mlflow.set_experiment("main.shop.reco_training")
    with mlflow.start_run() as run:
        model = LogisticRegression().fit(X, Y)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X, model.predict(X)),
            input_example=X[:2],
            serialization_format="skops",
        )
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", NAME)
    MlflowClient().set_registered_model_alias(NAME, "champion", mv.version)
    return SimpleNamespace(
        run_id=run.info.run_id, experiment_id=run.info.experiment_id, model_id=info.model_id, version=mv
    )


@pytest.fixture(scope="module")
def files_run(env, tmp_path_factory):
    """A run whose artifacts hold a model folder (MLflow 2's layout: ``<run>/artifacts/files_model/MLmodel``)."""
    folder = tmp_path_factory.mktemp("saved") / "model"
    mlflow.sklearn.save_model(LogisticRegression().fit(X, Y), str(folder), serialization_format="skops")
    mlflow.set_experiment("main.shop.basket_training")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), "files_model")
    return run.info


def _error(err: pytest.ExceptionInfo) -> tuple[str, str]:
    return err.value.error_code, err.value.message


def test_log_register_alias_and_load_back_through_models_uris(champion, served, client, tmp_path):
    mv = champion.version
    assert (mv.name, mv.version, mv.status, mv.user_id) == (NAME, "1", "READY", "alice")
    assert mv.run_id == champion.run_id and mv.source == f"models:/{champion.model_id}"

    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    assert list(loaded.predict(X[:3])) == [0, 1, 1]
    assert loaded.metadata.get_input_schema() is not None
    assert list(mlflow.pyfunc.load_model(f"models:/{NAME}/1").predict(X[:1])) == [0]

    by_alias = client.get_model_version_by_alias(NAME, "champion")
    assert by_alias.version == "1" and by_alias.aliases == ["champion"]
    assert client.get_registered_model(NAME).aliases == {"champion": "1"}
    # The native API sees the same version, with the MLflow 3 logged model and the run it came from.
    native = served.lh.models.version(f"{NAME}@champion")
    assert (native.logged_model_id, native.run_id) == (champion.model_id, champion.run_id)
    assert list(served.lh.models.load(f"{NAME}@champion").predict(X[:3])) == [0, 1, 1]
    # MLflow 3 links the logged model to the version it became.
    assert NAME in client.get_logged_model(champion.model_id).tags["mlflow.modelVersions"]

    uri = client.get_model_version_download_uri(NAME, "1")
    assert uri == f"mlflow-artifacts:/registry/{NAME}/1"
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "down"))
    assert {"MLmodel", "model.skops"} <= set(os.listdir(local))


def test_registered_models_create_get_update_tag_search_page_and_delete(client):
    for name, team in (("main.shop.basket_a", "growth"), ("main.shop.basket_b", "search")):
        created = client.create_registered_model(name, tags={"team": team}, description="first")
        assert created.name == name and created.tags == {"team": team} and created.description == "first"
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("main.shop.basket_a")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.update_registered_model("main.shop.basket_a", description="baskets people build")
    client.set_registered_model_tag("main.shop.basket_a", "tier", "gold")
    client.delete_registered_model_tag("main.shop.basket_a", "team")
    got = client.get_registered_model("main.shop.basket_a")
    assert got.description == "baskets people build" and got.tags == {"tier": "gold"}

    # The 3.x client appends "AND tag.`mlflow.prompt.is_prompt` != 'true'" to every filter.
    found = client.search_registered_models("name LIKE 'main.shop.basket%'", order_by=["name DESC"])
    assert [m.name for m in found] == ["main.shop.basket_b", "main.shop.basket_a"]
    assert [m.name for m in client.search_registered_models("tags.team = 'search'")] == ["main.shop.basket_b"]
    first = client.search_registered_models("name LIKE 'main.shop.basket%'", max_results=1)
    assert [m.name for m in first] == ["main.shop.basket_a"] and first.token
    second = client.search_registered_models("name LIKE 'main.shop.basket%'", max_results=1, page_token=first.token)
    assert [m.name for m in second] == ["main.shop.basket_b"] and not second.token

    with pytest.raises(MlflowException) as err:
        client.rename_registered_model("main.shop.basket_a", "main.shop.basket_c")
    code, message = _error(err)
    assert code == "INVALID_PARAMETER_VALUE" and "cannot be renamed" in message
    assert client.get_registered_model("main.shop.basket_a").name == "main.shop.basket_a"

    client.delete_registered_model("main.shop.basket_b")
    with pytest.raises(MlflowException) as err:
        client.get_registered_model("main.shop.basket_b")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_versions_from_run_files_artifact_uris_logged_models_and_other_versions(client, champion, files_run, served):
    name, run_id = "main.shop.basket", files_run.run_id
    v1 = client.create_model_version(
        name, f"runs:/{run_id}/files_model", run_id=run_id, tags={"data": "v3"}, description="from the run's files"
    )
    assert (v1.version, v1.source, v1.run_id, v1.tags) == ("1", f"runs:/{run_id}/files_model", run_id, {"data": "v3"})
    artifact_uri = f"mlflow-artifacts:/{files_run.experiment_id}/{run_id}/artifacts/files_model"
    v2 = client.create_model_version(name, artifact_uri)
    assert (v2.version, v2.source, v2.run_id) == ("2", artifact_uri, run_id)
    v3 = client.create_model_version(name, f"models:/{name}/1")  # a copy of another version
    assert (v3.version, v3.run_id) == ("3", run_id)
    # MLflow 2's call shape for an MLflow 3 model: runs:/<run>/<name> finds the run's logged model.
    v4 = client.create_model_version(name, f"runs:/{champion.run_id}/model", run_id=champion.run_id)
    assert served.lh.models.version(f"{name}/4").logged_model_id == champion.model_id
    for version in ("1", "2", "3", "4"):
        assert list(mlflow.pyfunc.load_model(f"models:/{name}/{version}").predict(X[:2])) == [0, 1]

    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["4", "3", "2", "1"]
    assert {(v.name, v.version) for v in client.search_model_versions(f"run_id = '{run_id}'")} == {
        (name, "1"),
        (name, "2"),
        (name, "3"),
    }
    assert [v.version for v in client.search_model_versions(f"name = '{name}' AND tags.data = 'v3'")] == ["1"]
    page = client.search_model_versions(f"name = '{name}'", max_results=3, order_by=["version_number ASC"])
    assert [v.version for v in page] == ["1", "2", "3"] and page.token
    assert client.search_model_versions("name = 'main.shop.no_such_model'") == []

    client.set_model_version_tag(name, "2", "checked", "yes")
    client.delete_model_version_tag(name, "1", "data")
    client.update_model_version(name, "2", description="same files, by URI")
    got = client.get_model_version(name, "2")
    assert got.tags == {"checked": "yes"} and got.description == "same files, by URI"
    assert client.get_model_version(name, "1").tags == {}
    assert [v.version for v in client.get_latest_versions(name)] == ["4"]
    assert client.get_latest_versions(name, stages=["Production"]) == []
    assert v4.version == "4"

    with pytest.raises(MlflowException) as err:
        client.transition_model_version_stage(name, "2", "Production")
    code, message = _error(err)
    assert code == "INVALID_PARAMETER_VALUE" and "use aliases" in message

    client.delete_model_version(name, "2")
    with pytest.raises(MlflowException, match=r"Model Version \(name=.+, version=2\) not found") as err:
        client.transition_model_version_stage(name, "2", "Production")  # missing first, as MLflow says
    assert _error(err)[0] == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.get_model_version(name, "2")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST" and "deleted" in err.value.message
    client.set_registered_model_alias(name, "challenger", "3")
    client.delete_registered_model_alias(name, "challenger")
    assert client.get_registered_model(name).aliases == {}
    assert [m.action for m in served.lh.models.alias_history(name)] == ["delete", "set"]


def test_a_client_without_execute_cannot_get_or_load_and_each_attempt_is_audited(champion, served, env):
    served.lh.grant("USE SCHEMA", on="main.shop", to="bob")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_TOKEN", served.tokens["bob"])
        client = MlflowClient()
        for call in (
            lambda: client.get_registered_model(NAME),
            lambda: client.get_model_version(NAME, "1"),
            lambda: client.get_model_version_download_uri(NAME, "1"),
            lambda: mlflow.pyfunc.load_model(f"models:/{NAME}@champion"),
        ):
            with pytest.raises(MlflowException) as err:
                call()
            assert err.value.error_code == "PERMISSION_DENIED" and "EXECUTE" in err.value.message
        # Nor can bob fetch the files by their proxy path, or see the model in a search.
        reply = httpx.get(
            f"{served.url}/api/2.0/mlflow-artifacts/artifacts/registry/{NAME}/1/MLmodel",
            headers={"Authorization": f"Bearer {served.tokens['bob']}"},
        )
        assert reply.status_code == 403 and reply.json()["error_code"] == "PERMISSION_DENIED"
        assert client.search_registered_models() == []
        assert client.search_model_versions(f"name = '{NAME}'") == []
        with pytest.raises(MlflowException) as err:
            client.create_registered_model("main.shop.bobs_model")
        assert err.value.error_code == "PERMISSION_DENIED" and "CREATE MODEL" in err.value.message

        served.lh.grant("EXECUTE", on=NAME, to="bob")
        try:
            assert list(mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(X[:3])) == [0, 1, 1]
            with pytest.raises(MlflowException) as err:  # moving an alias takes ownership or MANAGE
                client.set_registered_model_alias(NAME, "champion", "1")
            assert err.value.error_code == "PERMISSION_DENIED" and "MANAGE" in err.value.message
            # mlflow.register_model's first step answers as MLflow does for a model bob may see.
            with pytest.raises(MlflowException) as err:
                client.create_registered_model(NAME)
            assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
        finally:
            served.lh.revoke("EXECUTE", on=NAME, from_="bob")
    served.lh.flush()
    denied = served.lh.sql(
        "SELECT DISTINCT action, privilege FROM system.access.audit WHERE principal = 'bob' "
        "AND decision = 'deny' AND client IS NOT NULL"
    ).fetchall()
    assert {
        ("model.get", "EXECUTE"),
        ("model.version.get", "EXECUTE"),
        ("model.files", "EXECUTE"),
        ("model.alias.set", "MANAGE"),
    } <= set(denied)


def test_malformed_requests_get_400_in_mlflow_error_shape(champion, served, client):
    headers = {"Authorization": f"Bearer {served.tokens['alice']}"}

    def call(method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, served.url + path, headers=headers, **kwargs)

    cases = [
        (call("POST", f"{API}/registered-models/create", content=b"{not json"), "not valid JSON"),
        (call("POST", f"{API}/registered-models/create", json={}), "required parameter 'name'"),
        (call("POST", f"{API}/registered-models/create", json={"name": "fern/picker"}), "cannot contain '/'"),
        (call("POST", f"{API}/registered-models/create", json={"name": "main.shop.Bad-Name"}), "three-part"),
        (call("POST", f"{API}/registered-models/create", json={"name": "main.shop.x", "tags": "team"}), "tags"),
        (call("GET", f"{API}/model-versions/get", params={"name": NAME, "version": "one"}), "must be an integer"),
        (call("GET", f"{API}/registered-models/alias", params={"name": NAME, "alias": "3"}), "all digits"),
        (call("GET", f"{API}/registered-models/search", params={"max_results": "5000"}), "max_results"),
        (call("GET", f"{API}/registered-models/search", params={"filter": "name = = 'x'"}), "filter"),
        (call("GET", f"{API}/registered-models/search", params={"page_token": "not-a-token"}), "token"),
        (call("GET", f"{API}/model-versions/search", params={"filter": "params.lr = '1'"}), "entity type"),
        (call("POST", f"{API}/model-versions/create", json={"name": NAME}), "required parameter 'source'"),
        (
            call("PUT", f"/api/2.0/mlflow-artifacts/artifacts/registry/{NAME}/1/MLmodel", content=b"x"),
            "cannot be uploaded",
        ),
    ]
    for reply, words in cases:
        assert reply.status_code == 400, reply.text
        body = reply.json()
        assert set(body) == {"error_code", "message"} and body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert words.lower() in body["message"].lower(), body["message"]

    missing = call("GET", f"{API}/model-versions/get", params={"name": "main.shop.nothing", "version": "1"})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("fern:picker")
    code, message = _error(err)
    assert code == "INVALID_PARAMETER_VALUE" and "cannot contain '/' or ':'" in message
    assert "main.shop.x" not in [m.name for m in client.search_registered_models()]


def test_sources_outside_managed_storage_are_refused_and_nothing_is_registered(client, champion, served, tmp_path):
    outside = tmp_path / "model"
    mlflow.sklearn.save_model(LogisticRegression().fit(X, Y), str(outside), serialization_format="skops")
    run = champion.run_id
    refused = [
        (str(outside), "outside the lakehouse's managed storage"),
        (f"file://{outside}", "outside the lakehouse's managed storage"),
        ("s3://someone-elses-bucket/model", "not an absolute path"),
        (f"{services(served.lh).layout.root}/_metastore.db", "lies in no volume, registered model or experiment"),
        (f"mlflow-artifacts:/{champion.experiment_id}/{run}/artifacts/../../../../etc", "'..'"),
        (f"runs:/{run}/../../models", "'..'"),
        ("s3://[bucket/model", "it is no valid URI"),  # urlparse's ValueError was a 500
    ]
    for source, words in refused:
        with pytest.raises(MlflowException) as err:
            client.create_model_version("main.shop.smuggled", source)
        code, message = _error(err)
        assert code == "INVALID_PARAMETER_VALUE" and words in message, (source, message)
    with pytest.raises(MlflowException) as err:
        client.create_model_version("main.shop.smuggled", f"runs:/{run}/model", run_id="0" * 32)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE" and "run_id" in err.value.message
    with pytest.raises(MlflowException) as err:
        client.create_model_version("main.shop.smuggled", f"models:/{champion.model_id}", model_id="m-" + "0" * 32)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE" and "model_id" in err.value.message
    with pytest.raises(MlflowException) as err:
        client.create_model_version("main.shop.smuggled", "models:/m-0123456789abcdef")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    with pytest.raises(MlflowException) as err:
        client.get_registered_model("main.shop.smuggled")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"  # a refused registration leaves no model behind
    served.lh.flush()
    audited = served.lh.sql(
        "SELECT count(*) FROM system.access.audit WHERE decision = 'deny' "
        "AND action = 'model.version.create' AND reason LIKE '%is refused%'"
    ).fetchall()
    assert audited[0][0] >= 4


def test_bad_aliases_and_tags_get_invalid_parameter_value_with_a_clear_message(champion, served, client):
    # The client lets reserved names through; the server refuses them (issue 9: no MLflow internals used).
    for alias, words in (
        ("latest", "'latest' (in any case) always means the newest version"),
        ("v3", "'v<number>' means that version number"),
    ):
        with pytest.raises(MlflowException) as err:
            client.set_registered_model_alias(NAME, alias, "1")
        code, message = _error(err)
        assert code == "INVALID_PARAMETER_VALUE" and f"alias {alias!r} is reserved" in message and words in message
    # MlflowClient refuses "bad alias!" itself before sending; MLflow's REST store sends what it is given.
    store = RestStore(lambda: MlflowHostCreds(served.url, token=served.tokens["alice"]))
    for alias in ("bad alias!", "latest", "v3"):
        with pytest.raises(MlflowException) as err:
            store.set_registered_model_alias(NAME, alias, "1")
        code, message = _error(err)
        assert code == "INVALID_PARAMETER_VALUE" and repr(alias) in message, message
    assert "contains ' !'" in _error(_raises(lambda: store.set_registered_model_alias(NAME, "bad alias!", "1")))[1]
    with pytest.raises(MlflowException) as err:
        client.get_model_version_by_alias(NAME, "bad alias!")
    code, message = _error(err)
    assert code == "INVALID_PARAMETER_VALUE" and "Invalid alias name: 'bad alias!'" in message

    for call in (
        lambda: client.set_registered_model_tag(NAME, "a/../b", "x"),
        lambda: client.set_model_version_tag(NAME, "1", "a/../b", "x"),
    ):
        with pytest.raises(MlflowException) as err:
            call()
        code, message = _error(err)
        assert code == "INVALID_PARAMETER_VALUE" and "tag key 'a/../b'" in message and "resolve to 'b'" in message
    with pytest.raises(MlflowException) as err:
        client.set_registered_model_tag(NAME, "notes", "x" * 100_001)
    code, message = _error(err)
    assert code == "INVALID_PARAMETER_VALUE" and "registered model tag 'notes'" in message
    assert "exceeds the maximum length of 100000 characters (it has 100001)" in message

    model = client.get_registered_model(NAME)  # nothing of it was written
    assert model.aliases == {"champion": "1"} and "a/../b" not in model.tags and "notes" not in model.tags
    assert "a/../b" not in client.get_model_version(NAME, "1").tags


def _raises(call) -> pytest.ExceptionInfo:
    with pytest.raises(MlflowException) as err:
        call()
    return err

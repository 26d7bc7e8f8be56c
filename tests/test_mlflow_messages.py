"""One way to write MLflow JSON: Glashaus' hand-built messages are the JSON MLflow's own protos give.

Also the error messages MLflow's own test suite compares (``scripts/mlflow_suite.py`` runs it
against ``glashaus serve``): the same code and MLflow's sentence, read by the unmodified client.

Tracking (``glashaus.tracking.messages``) and registry (``server/mlflow/registry_messages.py``)
messages are plain dicts; here each is checked against MLflow itself: registry messages
against ``message_to_json(entity.to_proto())`` of the same model or version, tracking
messages by reading them into MLflow's proto (``ParseDict``) and writing them back
(``message_to_json``): the same JSON, so no field is misnamed, mistyped or extra. The
in-process store (``glashaus:`` URIs) reads the same messages into MLflow's entities.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import glashaus
from glashaus.lakehouse import services
from glashaus.tracking import messages
from glashaus.tracking.entities import Metric

mlflow = pytest.importorskip("mlflow")
from google.protobuf.json_format import ParseDict  # noqa: E402
from mlflow.protos import service_pb2  # noqa: E402
from mlflow.utils.proto_json_utils import message_to_json  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from glashaus.server.app import ServerThread, create_app  # noqa: E402
from glashaus.server.mlflow.registry_messages import (  # noqa: E402
    model_entity,
    model_message,
    version_entity,
    version_message,
)

MODEL = "main.shop.reco"


@pytest.fixture(scope="module")
def lh(tmp_path_factory):
    with glashaus.connect(tmp_path_factory.mktemp("messages") / "lh", user="alice") as lake:
        lake.create_schema("main.shop")
        yield lake


def mlflow_json(proto) -> dict:
    return json.loads(message_to_json(proto, pretty=False))


def test_registry_messages_are_what_mlflows_protos_write(lh):
    X = np.array([[0.0, 1.0], [1.0, 0.0]] * 5)
    fitted = LogisticRegression().fit(X, [0, 1] * 5)
    bare = lh.models.register(fitted, MODEL)  # no description, tags or aliases
    rich = lh.models.register(fitted, MODEL, description="", tags={"team": "reco", "stage": "x"})
    lh.models.set_alias(MODEL, "champion", rich.version)
    lh.models.set_description(MODEL, "Plants a buyer may like.")
    versions = [lh.models.version(f"{MODEL}/{v.version}") for v in (bare, rich)]
    assert versions[1].aliases == ["champion"] and versions[1].description == ""
    for mv in versions:
        expected = mlflow_json(version_entity(mv).to_proto())
        if mv.logged_model_id:  # MLflow's to_proto leaves model_id out; MLflow 3 clients read it
            expected["model_id"] = mv.logged_model_id
        assert version_message(mv) == expected
    rm = lh.models.get(MODEL)
    entity = model_entity(rm)
    entity.latest_versions.append(version_entity(versions[1]))  # what the server answers: the latest version
    assert model_message(rm, versions[1]) == mlflow_json(entity.to_proto())
    assert model_message(rm)["aliases"] == [{"alias": "champion", "version": str(rich.version)}]


def test_tracking_messages_read_back_as_the_same_json_through_mlflows_protos(lh):
    svc, who = services(lh).tracking, lh.principal
    experiment = svc.create_experiment(who, "main.shop.messages", tags={"team": "reco"})
    run = svc.create_run(who, experiment.experiment_id, run_name="first", tags={"t": "1"})
    svc.log_batch(
        who,
        run.run_id,
        metrics=[Metric("rmse", float("nan"), 1, 0), Metric("mae", 0.5, 2, 3)],
        params=[("alpha", "0.1")],
    )
    model = svc.models.create(
        who, experiment.experiment_id, name="reco", source_run_id=run.run_id, tags={"k": "v"}, params={"p": "1"}
    )
    run = svc.get_run(who, run.run_id)
    scheme = "mlflow-artifacts"
    for message, proto in (
        (
            messages.experiment_message(svc.get_experiment(who, experiment.experiment_id), scheme=scheme),
            service_pb2.Experiment,
        ),
        (messages.run_message(run, scheme=scheme), service_pb2.Run),
        (messages.logged_model_message(model, scheme=scheme), service_pb2.LoggedModel),
        (messages.metric_message(Metric("rmse", float("nan"), 1, 2)), service_pb2.Metric),
    ):
        assert mlflow_json(ParseDict(message, proto())) == message
    # search (straight from the stored rows) writes the very messages get does
    page = svc.search_run_messages(who, [experiment.experiment_id], scheme=scheme)
    assert page.items == [messages.run_message(run, scheme=scheme)]


# -- error messages, as MLflow's test suite compares them ---------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory, request):
    """A server, an MLflow client authenticated as its admin, and raw POST/GET with the same token."""
    import requests

    lake = glashaus.connect(tmp_path_factory.mktemp("errors") / "lh", user="alice")
    token = lake.create_token()
    saved = os.environ.get("MLFLOW_TRACKING_TOKEN")
    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    headers = {"Authorization": f"Bearer {token}"}
    with ServerThread(create_app(lake)) as server:
        url = server.url

        def call(method, path, payload=None):
            if method == "GET":
                return requests.get(url + path, params=payload, headers=headers, timeout=60)
            return requests.request(method, url + path, json=payload, headers=headers, timeout=60)

        yield mlflow.MlflowClient(url), call
    if saved is None:
        del os.environ["MLFLOW_TRACKING_TOKEN"]
    else:
        os.environ["MLFLOW_TRACKING_TOKEN"] = saved
    lake.close()


def test_a_value_of_the_wrong_type_is_named_in_mlflows_words(served):
    client, call = served
    run_id = client.create_run(client.create_experiment("main.default.types")).info.run_id
    cases = [
        ("/experiments/create", {"name": 123}, "Invalid value 123 for parameter 'name' supplied"),
        ("/experiments/create", {"name": "e", "artifact_location": 9.0}, "Invalid value 9.0 for parameter"),
        ("/experiments/create", {"name": "e", "tags": "5"}, """Invalid value "5" for parameter 'tags' supplied"""),
        ("/runs/log-metric", {"run_id": 31, "key": "m", "value": 1, "timestamp": 5}, "Invalid value 31 for "),
        ("/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 5, "step": "foo"}, "'step'"),
        ("/runs/log-parameter", {"run_id": run_id, "key": 31, "value": "v"}, "Invalid value 31 for parameter 'key'"),
        ("/runs/set-tag", {"run_id": run_id, "key": "k", "value": 41}, "Invalid value 41 for parameter 'value'"),
        ("/runs/log-batch", {"run_id": run_id, "params": "foo"}, """Invalid value "foo" for parameter 'params'"""),
    ]
    for path, payload, expected in cases:
        reply = call("POST", "/api/2.0/mlflow" + path, payload)
        assert reply.status_code == 400, (path, reply.text)
        body = reply.json()
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert expected in body["message"] and "supplied: it must be " in body["message"], body
    # and nothing was written by the refused calls
    assert client.get_run(run_id).data.params == {} and client.get_run(run_id).data.tags.get("k") is None


def test_missing_models_and_versions_are_named_in_mlflows_words(served):
    from mlflow.exceptions import MlflowException

    client, _ = served
    name, missing = "main.default.reco_messages", "main.default.no_such_model"
    client.create_registered_model(name)
    with pytest.raises(MlflowException, match=rf"Registered Model with name={missing} not found") as caught:
        client.get_registered_model(missing)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException, match=r"Registered Model .+ not found"):
        client.rename_registered_model(missing, "main.default.other")
    with pytest.raises(MlflowException, match=r"Registered Model \(name=.+\) already exists") as caught:
        client.create_registered_model(name)
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException, match=rf"Model Version \(name={name}, version=7\) not found") as caught:
        client.get_model_version(name, "7")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException, match=r"Model Version .+ not found"):
        client.delete_model_version(name, "7")
    message = "Parameter 'version' must be an integer, got 'something not correct'."
    with pytest.raises(MlflowException, match=f"INVALID_PARAMETER_VALUE: {message}"):
        client.get_model_version(name=name, version="something not correct")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/3.0/mlflow/gateway/secrets/create"),  # AI gateway
        ("GET", "/api/3.0/mlflow/gateway/endpoints/list"),
        ("GET", "/ajax-api/3.0/mlflow/gateway/secrets/config"),
        ("POST", "/ajax-api/2.0/mlflow/gateway-proxy"),
        ("POST", "/api/3.0/mlflow/issues"),  # issues
        ("POST", "/api/3.0/mlflow/scorers/register"),  # scorers
        ("GET", "/api/3.0/mlflow/scorers/list"),
        ("POST", "/api/3.0/mlflow/datasets/create"),  # evaluation datasets
        ("GET", "/api/3.0/mlflow/datasets/d-0123"),
        ("POST", "/graphql"),
        ("GET", "/graphql"),
        ("GET", "/get-artifact"),  # routes only MLflow's web UI calls
        ("GET", "/model-versions/get-artifact"),
        ("POST", "/ajax-api/2.0/mlflow/upload-artifact"),
        ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk"),
        ("POST", "/ajax-api/2.0/mlflow/runs/create-promptlab-run"),
        ("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets"),
        ("POST", "/api/3.0/mlflow/traces/metrics"),  # a known path's other method (GET .../{trace_id}): no 405
        ("POST", "/api/3.0/mlflow/traces/calculate-filter-correlation"),
        ("PUT", "/api/2.0/mlflow/experiments/create"),
        ("DELETE", "/ajax-api/3.0/mlflow/traces/get"),
    ],
)
def test_out_of_scope_routes_are_mlflows_endpoint_not_found(served, method, path):
    _, call = served
    reply = call(method, path, {})
    assert reply.status_code == 404
    body = reply.json()
    assert body["error_code"] == "ENDPOINT_NOT_FOUND" and path in body["message"]


def test_the_client_reads_an_out_of_scope_call_as_endpoint_not_found(served):
    """MLflow's client falls back or gives up on ENDPOINT_NOT_FOUND (its v3 -> v2 trace calls do)."""
    from mlflow.exceptions import MlflowException

    client, _ = served
    with pytest.raises(MlflowException) as caught:
        client.search_datasets()  # MLflow 3's evaluation datasets: not served
    assert caught.value.error_code == "ENDPOINT_NOT_FOUND"

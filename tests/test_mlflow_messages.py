"""One way to write MLflow JSON: Glashaus' hand-built messages are the JSON MLflow's own protos give.

Tracking (``glashaus.tracking.messages``) and registry (``server/mlflow/registry_messages.py``)
messages are plain dicts; here each is checked against MLflow itself: registry messages
against ``message_to_json(entity.to_proto())`` of the same model or version, tracking
messages by reading them into MLflow's proto (``ParseDict``) and writing them back
(``message_to_json``): the same JSON, so no field is misnamed, mistyped or extra. The
in-process store (``glashaus:`` URIs) reads the same messages into MLflow's entities.
"""

from __future__ import annotations

import json

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

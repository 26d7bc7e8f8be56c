"""Serving never adopts what it did not create: inference tables found by name (before and after the
endpoint exists), endpoints re-created under their name, models dropped and re-created under theirs.

Two users: alice (admin, creates endpoints) and bob (an ordinary user, who may create tables,
models and experiments in main.default, as every user may)."""

from __future__ import annotations

import json
import os

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import glashaus
from glashaus.errors import AlreadyExistsError, NotFoundError, PermissionDeniedError
from glashaus.server.app import ServerThread, create_app
from glashaus.serving.inference import SCHEMA as INFERENCE_SCHEMA

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MODEL = "main.default.reco"
TABLE = "main.default.reco_inference"  # the default inference table of endpoint "reco" on MODEL


def trained(flip: bool = False):
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["light", "water"])
    y = ((X["light"] + X["water"]) > 0).astype(int)
    return LogisticRegression().fit(X, 1 - y if flip else y), X


def register(lh, name: str = MODEL, *, flip: bool = False):
    model, X = trained(flip)
    version = lh.models.register(model, name, input_example=X.head(3))
    lh.models.set_alias(name, "champion", version.version)
    return model, X


@pytest.fixture
def lake(tmp_path):
    lh = glashaus.connect(tmp_path / "lh", user="alice")
    register(lh)
    lh.create_user("bob")
    lh.grant("EXECUTE", on=MODEL, to="bob")
    try:
        yield lh
    finally:
        lh.close()


def denied(lh, action: str) -> list[tuple]:
    lh.flush()
    return lh.sql(
        f"SELECT principal, details FROM system.access.audit WHERE action = '{action}' AND decision = 'deny'"
    ).fetchall()


# -- creating an endpoint next to a table someone else made ---------------------------------------


def squat_plainly(bob) -> None:
    bob.create_table(TABLE, schema=INFERENCE_SCHEMA)


def squat_and_give_it_away(bob) -> None:
    bob.create_table(TABLE, schema=INFERENCE_SCHEMA)
    bob.grant("SELECT", on=TABLE, to="bob")  # kept after the table changes hands
    bob.set_owner(TABLE, "alice")


def leave_own_endpoint_table(bob) -> None:
    bob.serving.create_endpoint("reco", model=f"{MODEL}@champion")  # serving creates TABLE for bob
    bob.serving.delete_endpoint("reco")  # the endpoint goes, its table stays (bob's)


@pytest.mark.parametrize(
    "squat",
    [squat_plainly, squat_and_give_it_away, leave_own_endpoint_table],
    ids=["bob-owns-it", "bob-gave-it-to-alice", "bobs-old-endpoint-table"],
)
def test_an_inference_table_someone_else_created_is_refused_naming_its_owner(lake, squat):
    with lake.as_user("bob") as bob:
        squat(bob)
    owner = lake.get(TABLE).owner
    with pytest.raises(AlreadyExistsError, match=f"owned by {owner}") as refused:
        lake.serving.create_endpoint("reco", model=f"{MODEL}@champion")
    assert "never adopts a table it did not create" in str(refused.value)
    assert "inference_table=" in str(refused.value)  # the fix: another name
    with pytest.raises(NotFoundError):
        lake.serving.get_endpoint("reco")
    assert [p for p, _ in denied(lake, "serving.create_endpoint")] == ["alice"]
    # With a table of its own, the endpoint is created.
    endpoint = lake.serving.create_endpoint("reco", model=f"{MODEL}@champion", inference_table="main.default.reco_log")
    assert lake.get(endpoint.inference_table).owner == "alice"


def test_an_endpoint_re_created_by_its_owner_keeps_its_own_inference_table(lake):
    first = lake.serving.create_endpoint("reco", model=f"{MODEL}@champion")
    lake.serving.delete_endpoint("reco")
    again = lake.serving.create_endpoint("reco", model=f"{MODEL}@champion")
    assert again.inference_table == first.inference_table == TABLE
    assert again.inference_table_id == first.inference_table_id == lake.get(TABLE).id


def test_a_table_the_owner_made_by_hand_is_not_adopted_either(lake):
    lake.create_table(TABLE, schema=INFERENCE_SCHEMA)  # alice's, but not made by serving
    with pytest.raises(AlreadyExistsError, match="owned by alice"):
        lake.serving.create_endpoint("reco", model=f"{MODEL}@champion")


def test_a_later_user_of_a_deleted_owners_name_does_not_inherit_the_endpoint(lake):
    with lake.as_user("bob") as bob:
        bob.serving.create_endpoint("bobs", model=f"{MODEL}@champion", inference_table=None)
        bob.serving.update_endpoint("bobs", shadow=None)  # the owner may change it
    lake.drop_principal("bob")  # bob leaves; someone else gets the name later
    lake.create_user("bob")
    lake.grant("EXECUTE", on=MODEL, to="bob")
    with lake.as_user("bob") as newcomer, pytest.raises(PermissionDeniedError, match="only the owner"):
        newcomer.serving.update_endpoint("bobs", traffic={"champion": 100})
    lake.serving.delete_endpoint("bobs")  # an admin still may


def test_who_may_change_an_endpoint_is_decided_and_audited_both_ways(lake):
    """Before, a refused change of someone else's endpoint left no audit event (only the model check
    before it did); every decision is audited now, allowed (owner, admin) or denied."""
    lake.serving.create_endpoint("reco", model=f"{MODEL}@champion", inference_table=None)
    with lake.as_user("bob") as bob:
        for change in (
            lambda: bob.serving.update_endpoint("reco", shadow=None),
            lambda: bob.serving.delete_endpoint("reco"),
        ):
            with pytest.raises(PermissionDeniedError, match="only the owner of endpoint 'reco' \\(alice\\)"):
                change()
    lake.serving.update_endpoint("reco", shadow=None)
    lake.flush()
    rows = lake.sql(
        "SELECT principal, action, decision, reason, details FROM system.access.audit "
        "WHERE action IN ('serving.update_endpoint', 'serving.delete_endpoint') "
        "ORDER BY event_time"
    ).fetchall()
    assert [(p, a, d, r) for p, a, d, r, _ in rows] == [
        ("bob", "serving.update_endpoint", "deny", rows[0][3]),
        ("bob", "serving.delete_endpoint", "deny", rows[1][3]),
        ("alice", "serving.update_endpoint", "allow", "owner"),
    ]
    assert all("only the owner" in r for _, _, d, r, _ in rows if d == "deny")
    assert json.loads(rows[0][4]) == {"endpoint": "reco", "owner": "alice"}
    assert lake.serving.get_endpoint("reco").owner == "alice"


# -- a running server: tables and models replaced under their names -------------------------------


@pytest.fixture
def served(lake):
    tokens = {user: lake.create_token(user) for user in ("alice", "bob")}
    app = create_app(lake, serving_options={"flush_interval": 3600, "flush_rows": 10**6})
    with ServerThread(app) as server:
        yield {"lh": lake, "url": server.url, "tokens": tokens, "runtime": app.state.serving}


def invoke(served, endpoint: str, *, user: str = "alice", request_id: str | None = None):
    _, X = trained()
    headers = {"Authorization": f"Bearer {served['tokens'][user]}", "Content-Type": "application/json"}
    if request_id:
        headers["X-Request-Id"] = request_id
    body = json.dumps({"dataframe_split": X.head(3).to_dict(orient="split", index=False)})
    return httpx.post(f"{served['url']}/serving/{endpoint}/invocations", content=body, headers=headers, timeout=60)


def test_an_inference_table_dropped_and_retaken_by_another_user_gets_no_rows(served):
    lh, runtime = served["lh"], served["runtime"]
    lh.serving.create_endpoint("reco", model=f"{MODEL}@champion")
    assert invoke(served, "reco", request_id="before").status_code == 200
    runtime.flush()
    lh.drop(TABLE)
    with lh.as_user("bob") as bob:  # bob takes the name and lets alice (the endpoint's writer) write
        bob.create_table(TABLE, schema=INFERENCE_SCHEMA)
        bob.grant("MODIFY", on=TABLE, to="alice")
    runtime.refresh()  # as one second later
    r = invoke(served, "reco", request_id="after")
    assert r.status_code == 503, r.text
    assert "was dropped and bob created another" in r.json()["message"] and "predictions" not in r.text
    runtime.flush()
    assert lh.read(TABLE).num_rows == 0  # bob's table never sees a request


def test_an_endpoint_re_created_under_its_name_logs_to_its_new_table(served):
    lh, runtime = served["lh"], served["runtime"]
    lh.serving.create_endpoint("reco", model=f"{MODEL}@champion", inference_table="main.default.first_log")
    first = invoke(served, "reco", request_id="first")
    assert first.status_code == 200
    lh.serving.delete_endpoint("reco")
    lh.serving.create_endpoint("reco", model=f"{MODEL}@champion", inference_table="main.default.second_log")
    runtime.refresh()
    second = invoke(served, "reco", request_id="second")
    assert second.status_code == 200
    runtime.flush()
    # Rows carry the server's request id (the client's own is only echoed as a correlation id).
    assert lh.read("main.default.first_log")["request_id"].to_pylist() == [first.headers["x-request-id"]]
    assert lh.read("main.default.second_log")["request_id"].to_pylist() == [second.headers["x-request-id"]]


def test_a_model_dropped_and_re_created_under_its_name_is_not_served_by_the_old_process(served):
    lh, runtime = served["lh"], served["runtime"]
    lh.serving.create_endpoint("alices", model=f"{MODEL}@champion", inference_table=None)
    model, X = trained()
    first = invoke(served, "alices")
    assert first.json()["predictions"] == model.predict(X.head(3)).tolist()
    lh.drop(MODEL)  # its endpoint goes with it
    with lh.as_user("bob") as bob:  # bob registers another model under the freed name
        flipped, _ = register(bob, flip=True)
        bob.serving.create_endpoint("bobs", model=f"{MODEL}@champion", inference_table=None)
    runtime.refresh()
    r = invoke(served, "bobs", user="bob")
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == flipped.predict(X.head(3)).tolist() != first.json()["predictions"]


def test_an_endpoint_deleted_while_it_is_being_updated_is_not_found(lake, monkeypatch):
    # update_endpoint reads the endpoint, checks each new route's version, then writes the row: a
    # delete by another request in between once left no row and failed with an AttributeError (a 500).
    from glashaus.registry.service import RegistryService

    lake.serving.create_endpoint("reco", model=f"{MODEL}@champion", inference_table=None)
    original = RegistryService.get_version

    def deleted_meanwhile(self, who, ref):  # the other request's delete lands between check and write
        monkeypatch.setattr(RegistryService, "get_version", original)
        lake.serving.delete_endpoint("reco")
        return original(self, who, ref)

    monkeypatch.setattr(RegistryService, "get_version", deleted_meanwhile)
    with pytest.raises(NotFoundError, match="serving endpoint 'reco' does not exist"):
        lake.serving.update_endpoint("reco", traffic={"champion": 100})
    assert [e.name for e in lake.serving.list_endpoints()] == []

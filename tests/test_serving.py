"""Online serving on a real server: MLflow's scoring formats, traffic split, shadow, alias moves,
inference tables, governance and bad input."""

from __future__ import annotations

import concurrent.futures
import json
import os
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from glashaus.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError, PermissionDeniedError
from glashaus.lakehouse import services
from glashaus.server.app import ServerThread, create_app

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MODEL = "main.shop.reco"
COLUMNS = ["light", "water"]


def _model(flip: bool):
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=COLUMNS)
    y = ((X["light"] + X["water"]) > 0).astype(int)
    return LogisticRegression().fit(X, 1 - y if flip else y), X


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A lakehouse with model versions 1 (champion) and 2 (challenger, flipped), an endpoint, a server."""
    import glashaus

    lh = glashaus.connect(tmp_path_factory.mktemp("serving") / "lh", user="alice")
    lh.create_schema("main.shop")
    m1, X = _model(False)
    m2, _ = _model(True)
    lh.models.register(m1, MODEL, input_example=X.head(3))
    lh.models.register(m2, MODEL, input_example=X.head(3))
    lh.models.set_alias(MODEL, "champion", 1)
    lh.models.set_alias(MODEL, "challenger", 2)
    lh.serving.create_endpoint("reco", model=f"{MODEL}@champion")
    lh.create_user("bob")
    tokens = {"alice": lh.create_token("alice"), "bob": lh.create_token("bob")}
    app = create_app(lh)
    with ServerThread(app) as server:
        yield {"lh": lh, "url": server.url, "tokens": tokens, "X": X, "m1": m1, "m2": m2, "app": app}
    lh.close()


def post(served, body, *, endpoint="reco", user="alice", raw=None):
    headers = {"Authorization": f"Bearer {served['tokens'][user]}"} if user else {}
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(
        f"{served['url']}/serving/{endpoint}/invocations",
        content=content,
        headers={**headers, "Content-Type": "application/json"},
        timeout=30,
    )


def rows(served, n=4):
    return served["X"].head(n)


@pytest.mark.parametrize("fmt", ["dataframe_split", "dataframe_records", "instances", "inputs"])
def test_every_mlflow_scoring_format_predicts_like_the_model(served, fmt):
    X = rows(served)
    body = {
        "dataframe_split": {"dataframe_split": X.to_dict(orient="split", index=False)},
        "dataframe_records": {"dataframe_records": X.to_dict(orient="records")},
        "instances": {"instances": X.to_dict(orient="records")},
        "inputs": {"inputs": X.to_dict(orient="list")},
    }[fmt]
    r = post(served, body)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == served["m1"].predict(X).tolist()
    assert r.headers["X-Model-Version"] == "1"
    assert r.headers["X-Request-Id"]


def test_the_inference_table_gets_every_request_with_version_and_latency(served):
    lh = served["lh"]
    r = post(served, {"dataframe_records": rows(served, 2).to_dict(orient="records")})
    request_id = r.headers["X-Request-Id"]
    served["app"].state.serving.flush()
    table = lh.read("main.shop.reco_inference").to_pylist()
    mine = [row for row in table if row["request_id"] == request_id]
    assert len(mine) == 1
    row = mine[0]
    assert row["endpoint"] == "reco" and row["model"] == MODEL and row["model_version"] == 1
    assert row["principal"] == "alice" and row["status_code"] == 200 and row["shadow"] is False
    assert row["latency_ms"] > 0
    assert json.loads(row["response"])["predictions"] == r.json()["predictions"]
    assert "dataframe_records" in row["request"]


def test_an_alias_move_is_picked_up_without_a_restart(served):
    lh = served["lh"]
    body = {"dataframe_split": rows(served).to_dict(orient="split", index=False)}
    assert post(served, body).headers["X-Model-Version"] == "1"
    lh.models.set_alias(MODEL, "champion", 2, reason="test")
    try:
        deadline = time.monotonic() + 10  # the runtime re-reads aliases at least every second
        while (r := post(served, body)).headers["X-Model-Version"] == "1" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert r.headers["X-Model-Version"] == "2"
        assert r.json()["predictions"] == served["m2"].predict(rows(served)).tolist()
    finally:
        lh.models.set_alias(MODEL, "champion", 1)
        served["app"].state.serving.refresh()


def test_traffic_split_and_shadow(served):
    lh = served["lh"]
    lh.serving.create_endpoint(
        "split", model=MODEL, traffic={"champion": 50, "challenger": 50}, inference_table="main.shop.split_log"
    )
    body = {"dataframe_split": rows(served, 1).to_dict(orient="split", index=False)}
    versions = [post(served, body, endpoint="split").headers["X-Model-Version"] for _ in range(40)]
    assert set(versions) == {"1", "2"}  # both variants get traffic (P(all one side) = 2 * 0.5**40)

    lh.serving.create_endpoint(
        "shadowed", model=f"{MODEL}@champion", shadow="challenger", inference_table="main.shop.shadow_log"
    )
    r = post(served, body, endpoint="shadowed")
    assert r.headers["X-Model-Version"] == "1"
    request_id = r.headers["X-Request-Id"]
    served["app"].state.serving.wait_for_shadows()
    served["app"].state.serving.flush()
    logged = [x for x in lh.read("main.shop.shadow_log").to_pylist() if x["request_id"] == request_id]
    assert sorted((x["shadow"], x["model_version"]) for x in logged) == [(False, 1), (True, 2)]


def test_a_caller_without_execute_gets_403_and_is_audited(served):
    lh = served["lh"]
    r = post(served, {"inputs": rows(served).to_dict(orient="list")}, user="bob")
    assert r.status_code == 403
    assert r.json()["error_code"] == "PERMISSION_DENIED"
    lh.flush()
    denied = lh.sql(
        "SELECT principal, securable FROM system.access.audit "
        "WHERE principal = 'bob' AND decision = 'deny' AND securable = 'main.shop.reco'"
    ).fetchall()
    assert denied


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"rows": [[1, 2]]}).encode(), "dataframe_split"),
        (json.dumps({"dataframe_records": [{"light": 1.0}]}).encode(), "water"),
        (json.dumps({"dataframe_records": [{"light": "bright", "water": 1.0}]}).encode(), "signature"),
    ],
    ids=["not-json", "not-an-object", "unknown-format", "missing-column", "wrong-type"],
)
def test_bad_input_is_a_400_that_says_what_is_wrong(served, raw, message):
    r = post(served, None, raw=raw)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in r.json()["message"]


def test_an_oversized_payload_is_a_400(served):
    runtime = served["app"].state.serving
    limit, runtime.max_payload_bytes = runtime.max_payload_bytes, 100
    try:
        r = post(served, {"dataframe_records": rows(served, 20).to_dict(orient="records")})
    finally:
        runtime.max_payload_bytes = limit
    assert r.status_code == 400 and "at most 100 bytes" in r.json()["message"]


def test_unknown_endpoint_and_missing_token(served):
    assert post(served, {"inputs": []}, endpoint="nope").status_code == 404
    assert post(served, {"inputs": []}, user=None).status_code == 401


def test_metrics_count_requests_per_endpoint(served):
    post(served, {"inputs": rows(served).to_dict(orient="list")})
    headers = {"Authorization": f"Bearer {served['tokens']['alice']}"}
    text = httpx.get(f"{served['url']}/metrics", headers=headers).text
    assert 'glashaus_serving_requests_total{endpoint="reco",status="200",variant="champion"}' in text
    assert "glashaus_serving_latency_seconds_bucket" in text
    assert httpx.get(f"{served['url']}/metrics").status_code == 401


def test_endpoint_configuration_errors(served):
    lh = served["lh"]
    with pytest.raises(InvalidArgumentError, match="endpoint name"):
        lh.serving.create_endpoint("Bad Name", model=f"{MODEL}@champion")
    with pytest.raises(InvalidArgumentError, match="add up to 100"):
        lh.serving.create_endpoint("x1", model=MODEL, traffic={"champion": 60, "challenger": 30})
    with pytest.raises(InvalidArgumentError, match="which model variant"):
        lh.serving.create_endpoint("x2", model=MODEL)
    with pytest.raises(NotFoundError):
        lh.serving.create_endpoint("x3", model=f"{MODEL}@nosuchalias")
    with pytest.raises(AlreadyExistsError):
        lh.serving.create_endpoint("reco", model=f"{MODEL}@champion")
    with lh.as_user("bob") as bob, pytest.raises(PermissionDeniedError):
        bob.serving.create_endpoint("x4", model=f"{MODEL}@champion")
    assert [e.name for e in lh.serving.list_endpoints()][:1] == ["reco"]


def test_accepted_rows_survive_a_clean_shutdown(tmp_path):
    import glashaus

    lh = glashaus.connect(tmp_path / "lh", user="alice")
    lh.create_schema("main.shop")
    m1, X = _model(False)
    lh.models.register(m1, MODEL, input_example=X.head(3))
    lh.models.set_alias(MODEL, "champion", 1)
    lh.serving.create_endpoint("reco", model=f"{MODEL}@champion")
    token = lh.create_token("alice")
    app = create_app(lh, serving_options={"flush_rows": 10_000, "flush_interval": 3600})
    with ServerThread(app) as server:
        for _ in range(25):
            r = httpx.post(
                f"{server.url}/serving/reco/invocations",
                headers={"Authorization": f"Bearer {token}"},
                json={"inputs": X.head(1).to_dict(orient="list")},
                timeout=60,
            )
            assert r.status_code == 200
    assert lh.read("main.shop.reco_inference").num_rows == 25
    lh.close()


class Clock:
    """A monotonic clock the test moves by hand (the server's token cache reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_revoked_token_is_refused_at_once_here_and_within_5_s_when_revoked_elsewhere(served):
    import glashaus

    lh, directory = served["lh"], services(served["lh"]).directory
    clock = directory.clock = Clock()
    body = {"inputs": rows(served, 1).to_dict(orient="list")}
    try:
        for comment in ("revoked elsewhere", "revoked here"):
            served["tokens"][comment] = lh.create_token("alice", comment=comment)
            assert post(served, body, user=comment).status_code == 200  # verified, now remembered
        other = glashaus.connect(lh.root, user="alice")  # another process: the CLI, another server
        try:
            other.revoke_token(next(t.id for t in other.tokens("alice") if t.comment == "revoked elsewhere"))
        finally:
            other.close()
        assert post(served, body, user="revoked elsewhere").status_code == 200  # remembered: at most 5 s more
        clock.now += 5.0
        r = post(served, body, user="revoked elsewhere")
        assert r.status_code == 401 and "revoked" in r.json()["message"]

        assert post(served, body, user="revoked here").status_code == 200
        lh.revoke_token(next(t.id for t in lh.tokens("alice") if t.comment == "revoked here"))
        r = post(served, body, user="revoked here")
        assert r.status_code == 401 and "revoked" in r.json()["message"]
    finally:
        directory.clock = time.monotonic


def test_a_request_whose_audit_event_cannot_be_journaled_is_a_503_without_an_answer(served):
    lh = served["lh"]
    with services(lh).metastore.engine.begin() as conn:  # the metastore lost its journal table
        conn.execute(sa.text("ALTER TABLE audit_journal RENAME TO audit_journal_away"))
    try:
        r = post(served, {"inputs": rows(served, 1).to_dict(orient="list")})
    finally:
        with services(lh).metastore.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE audit_journal_away RENAME TO audit_journal"))
    assert r.status_code == 503, r.text
    assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE" and "predictions" not in r.json()
    assert "audit journal could not record this request" in r.json()["message"]
    assert post(served, {"inputs": rows(served, 1).to_dict(orient="list")}).status_code == 200


def test_failed_requests_leave_no_request_counted_as_on_its_way(served):
    post(served, None, raw=b"not json")
    post(served, {"inputs": []}, endpoint="nope")
    post(served, {"inputs": []}, user=None)
    post(served, {"inputs": rows(served).to_dict(orient="list")}, user="bob")
    assert served["app"].state.serving.arriving == 0  # else every batch would wait for a ghost


def test_concurrent_first_requests_load_a_version_once(served, monkeypatch):
    lh = served["lh"]
    lh.models.register(served["m1"], MODEL, input_example=served["X"].head(3))  # version 3, not loaded yet
    lh.serving.create_endpoint("fresh", model=MODEL, traffic={"3": 100})
    registry = services(lh).serving.registry
    loads = []
    real = registry.local_path  # the checked folder a model process loads

    def counted(who, ref):
        loads.append(ref)
        return real(who, ref)

    monkeypatch.setattr(registry, "local_path", counted)
    body = {"inputs": rows(served, 1).to_dict(orient="list")}
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post(served, body, endpoint="fresh"), range(6)))
    assert [r.status_code for r in answers] == [200] * 6
    assert {r.headers["X-Model-Version"] for r in answers} == {"3"}
    assert loads == [f"{MODEL}/3"]


def test_a_model_process_that_stopped_is_a_503_once_and_started_again(served):
    body = {"inputs": rows(served, 1).to_dict(orient="list")}
    assert post(served, body).status_code == 200
    key = (served["lh"].get(MODEL).id, 1)  # model processes are known by the model's id
    process = served["app"].state.serving._models[key]
    process._proc.kill()  # as the kernel's OOM killer would
    process._proc.wait()
    r = post(served, body)
    assert r.status_code == 503 and "retry" in r.json()["message"]
    r = post(served, body)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == served["m1"].predict(rows(served, 1)).tolist()
    assert served["app"].state.serving._models[key] is not process

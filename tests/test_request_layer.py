"""The one request layer under every face (REST, MLflow, serving and /metrics, the web shell), on a real server.

Request ids are the server's: before, the serving route took a client's ``X-Request-Id``
as the request's id (into the audit log and the inference table), so a client could give
its requests any id, another's included. Now every answer's ``X-Request-Id`` is an id the
server drew; a client's own is echoed as ``X-Correlation-Id`` and kept in the audit log's
details (``request.correlation`` under the server's id; ``auth.failed`` carries it too).
Body limits, sign-in and errors are the layer's, in each face's own shape.
"""

from __future__ import annotations

import json
import re

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import glashaus
from glashaus.lakehouse import services
from glashaus.server.app import ServerThread, create_app

MODEL = "main.shop.reco"
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("layer") / "lh", user="alice")
    lh.create_schema("main.shop")
    X = pd.DataFrame(np.random.default_rng(3).normal(size=(50, 2)), columns=["light", "water"])
    lh.models.register(LogisticRegression().fit(X, (X["light"] > 0).astype(int)), MODEL, input_example=X.head(2))
    lh.models.set_alias(MODEL, "champion", 1)
    lh.serving.create_endpoint("reco", model=f"{MODEL}@champion")
    try:
        yield lh
    finally:
        lh.close()


@pytest.fixture(scope="module")
def app(lake):
    return create_app(lake, max_body_bytes=64 * 1024, max_auth_failures=10**6)


@pytest.fixture(scope="module")
def server(app):
    with ServerThread(app) as running:
        yield running


@pytest.fixture(scope="module")
def token(lake):
    return lake.create_token()


def audit(lake, where: str) -> list[dict]:
    return lake.sql(f"SELECT * FROM system.access.audit WHERE {where} ORDER BY event_time").to_pylist()


SCORE = json.dumps({"dataframe_split": {"columns": ["light", "water"], "data": [[0.5, 0.1]]}})


def faces(server, token):
    """One signed-in request per face: (what, method, path, keyword arguments for httpx)."""
    bearer = {"Authorization": f"Bearer {token}"}
    return [
        ("rest", "GET", "/api/catalogs", {"headers": bearer}),
        ("mlflow", "POST", "/api/2.0/mlflow/experiments/search", {"headers": bearer, "json": {"max_results": 5}}),
        (
            "serving",
            "POST",
            "/serving/reco/invocations",
            {"headers": {**bearer, "Content-Type": "application/json"}, "content": SCORE},
        ),
        ("metrics", "GET", "/metrics", {"headers": bearer}),
        ("web", "GET", "/catalog", {"cookies": {"glashaus_session": token}}),
    ]


def test_every_answer_carries_a_request_id_the_server_drew(server, token):
    seen = set()
    for what, method, path, kw in [
        *faces(server, token),
        ("health", "GET", "/health", {}),
        ("no route", "GET", "/api/nowhere", {}),
        ("static", "GET", "/static/style.css", {}),
    ]:
        response = httpx.request(method, server.url + path, timeout=60, **kw)
        assert response.status_code in (200, 404), (what, response.status_code, response.text[:300])
        request_id = response.headers["x-request-id"]
        assert HEX32.match(request_id), (what, request_id)
        assert "x-correlation-id" not in response.headers
        seen.add(request_id)
    assert len(seen) == 8  # one per request


def test_a_clients_request_id_is_only_a_correlation_id_on_every_face(server, lake, app, token):
    for what, method, path, kw in faces(server, token):
        mine = f"client-{what}-42"
        kw = {**kw, "headers": {**kw.get("headers", {}), "X-Request-Id": mine}}
        response = httpx.request(method, server.url + path, timeout=60, **kw)
        assert response.status_code == 200, (what, response.text[:300])
        request_id = response.headers["x-request-id"]
        assert HEX32.match(request_id) and request_id != mine, what
        assert response.headers["x-correlation-id"] == mine, what
        (event,) = audit(lake, f"action = 'request.correlation' AND request_id = '{request_id}'")
        details = json.loads(event["details"])
        assert event["principal"] == "alice" and details["correlation_id"] == mine and details["path"] == path
        assert not audit(lake, f"request_id = '{mine}'"), what  # the client's id names no request
        if what == "serving":  # the inference row is the server's request, as its audit events are
            app.state.serving.flush()
            ids = lake.read("main.shop.reco_inference")["request_id"].to_pylist()
            assert request_id in ids and mine not in ids
            assert audit(lake, f"action = 'serving.invoke' AND request_id = '{request_id}'")


def test_a_correlation_id_that_is_no_printable_text_is_dropped_and_a_long_one_cut(server, token):
    bearer = {"Authorization": f"Bearer {token}"}
    long = httpx.get(server.url + "/api/catalogs", headers={**bearer, "X-Request-Id": "x" * 300})
    assert long.headers["x-correlation-id"] == "x" * 64
    odd = httpx.get(server.url + "/api/catalogs", headers=[*bearer.items(), ("X-Request-Id", "a\tb")])
    assert "x-correlation-id" not in odd.headers and HEX32.match(odd.headers["x-request-id"])


def test_a_failed_sign_in_keeps_the_correlation_id_in_its_audit_event(server, lake):
    response = httpx.get(
        server.url + "/api/catalogs", headers={"Authorization": "Bearer ghs_nope", "X-Request-Id": "trace-7"}
    )
    assert response.status_code == 401
    (event,) = audit(lake, f"action = 'auth.failed' AND request_id = '{response.headers['x-request-id']}'")
    assert json.loads(event["details"])["correlation_id"] == "trace-7"


def test_oversized_bodies_are_413_in_each_faces_shape(server, token):
    big = b"x" * (65 * 1024)
    bearer = {"Authorization": f"Bearer {token}"}
    rest = httpx.post(server.url + "/api/sql", headers=bearer, content=big)
    assert rest.status_code == 413 and rest.json()["error_code"] == "REQUEST_TOO_LARGE"
    mlflow = httpx.post(server.url + "/api/2.0/mlflow/runs/search", headers=bearer, content=big)
    assert mlflow.status_code == 413 and mlflow.json()["error_code"] == "RESOURCE_EXHAUSTED"  # a code MLflow knows
    scoring = httpx.post(server.url + "/serving/reco/invocations", headers=bearer, content=big)
    assert scoring.status_code == 413 and scoring.json()["error_code"] == "REQUEST_TOO_LARGE"
    page = httpx.post(
        server.url + "/sql",
        cookies={"glashaus_session": token},
        content=b"query=" + big,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "Traceback" not in page.text


def test_a_bug_on_any_face_is_a_500_naming_the_request_id_never_a_trace(server, lake, token, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services(lake).access, "is_admin", broken)  # /metrics asks it first
    response = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500 and response.json()["error_code"] == "INTERNAL_ERROR"
    assert response.headers["x-request-id"] in response.json()["message"]
    assert "secret internals" not in response.text
    monkeypatch.undo()
    monkeypatch.setattr(services(lake).tracking, "search_experiments", broken)
    response = httpx.post(
        server.url + "/api/2.0/mlflow/experiments/search", headers={"Authorization": f"Bearer {token}"}, json={}
    )
    assert response.status_code == 500 and response.json()["error_code"] == "INTERNAL_ERROR"
    assert response.headers["x-request-id"] in response.json()["message"]
    monkeypatch.setattr(lake, "list", broken)
    page = httpx.get(server.url + "/catalog", cookies={"glashaus_session": token})
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert page.headers["x-request-id"] in page.text and "secret internals" not in page.text

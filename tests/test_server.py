"""Server mode over a real uvicorn server on 127.0.0.1: tokens, status codes, JSON errors, limits, audit."""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import pyarrow as pa
import pytest

import glashaus
from glashaus.server.app import ServerThread, SignInGate, create_app
from glashaus.server.operations import OPERATIONS
from glashaus.server.wire import ARROW_STREAM


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("server") / "lh", user="alice")
    lh.create_user("bob")
    lh.create_schema("main.shop")
    lh.create_table("main.shop.secret", schema=pa.schema([("id", pa.int64()), ("v", pa.string())]))
    lh.write("main.shop.secret", pa.table({"id": [1, 2], "v": ["x", "y"]}))
    try:
        yield lh
    finally:
        lh.close()


@pytest.fixture(scope="module")
def server(lake):
    # A generous sign-in budget here: the lockout has its own server below.
    with ServerThread(create_app(lake, max_auth_failures=1000)) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(lake):
    return {"alice": lake.create_token(), "bob": lake.create_token("bob")}


def call(server, method, path, token=None, **kw):
    headers = kw.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kw)


def audit(lake, where: str) -> list[dict]:
    return lake.sql(f"SELECT * FROM system.access.audit WHERE {where} ORDER BY event_time").to_pylist()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def test_health_needs_no_token(server):
    response = call(server, "GET", "/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_every_other_route_needs_a_token(server):
    for path in ("/api/catalogs", "/api/tables/main.shop.secret", "/api/tables/main.shop.secret/rows"):
        body = assert_error(call(server, "GET", path), 401, "UNAUTHENTICATED")
        assert "Bearer" in body["message"]
    assert_error(call(server, "POST", "/api/sql", json={"query": "SELECT 1"}), 401, "UNAUTHENTICATED")


def test_forged_malformed_expired_and_revoked_tokens_get_401(server, lake):
    forged = "ghs_" + "A" * 43
    assert_error(call(server, "GET", "/api/catalogs", forged), 401, "UNAUTHENTICATED")
    assert_error(call(server, "GET", "/api/catalogs", headers={"Authorization": "Basic abc"}), 401,
                 "UNAUTHENTICATED")
    expiring = lake.create_token("bob", expires_in=dt.timedelta(milliseconds=50))
    time.sleep(0.1)
    body = assert_error(call(server, "GET", "/api/catalogs", expiring), 401, "UNAUTHENTICATED")
    assert "expired" in body["message"]
    revoked = lake.create_token("bob", comment="to revoke")
    assert call(server, "GET", "/api/catalogs", revoked).status_code == 200
    token_id = next(t.id for t in lake.tokens("bob") if t.comment == "to revoke")
    lake.revoke_token(token_id)
    body = assert_error(call(server, "GET", "/api/catalogs", revoked), 401, "UNAUTHENTICATED")
    assert "revoked" in body["message"]
    assert call(server, "GET", "/api/catalogs", forged).headers["www-authenticate"] == "Bearer"
    failed = audit(lake, "action = 'auth.failed'")
    assert len(failed) >= 4 and {e["decision"] for e in failed} == {"deny"}
    assert {e["client"] for e in failed} == {"127.0.0.1"} and {e["principal"] for e in failed} == {"anonymous"}


def test_denied_privilege_is_403_and_audited_with_the_client_address(server, lake, tokens):
    response = call(server, "GET", "/api/tables/main.shop.secret/rows", tokens["bob"])
    body = assert_error(response, 403, "PERMISSION_DENIED")
    assert "bob" in body["message"]
    denied = audit(lake, "principal = 'bob' AND decision = 'deny' AND action = 'table.read'")
    assert denied and denied[-1]["client"] == "127.0.0.1"
    assert denied[-1]["request_id"] == response.headers["x-request-id"]


def test_unknown_names_and_routes_are_404(server, tokens):
    assert_error(call(server, "GET", "/api/tables/main.shop.nope", tokens["alice"]), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(call(server, "GET", "/api/tables/main.shop.nope/rows", tokens["alice"]), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(call(server, "GET", "/api/no/such/route", tokens["alice"]), 404, "ENDPOINT_NOT_FOUND")
    assert_error(call(server, "PATCH", "/api/sql", tokens["alice"]), 405, "METHOD_NOT_ALLOWED")


def test_bad_input_is_400(server, tokens):
    alice = tokens["alice"]
    assert_error(call(server, "GET", "/api/tables/main.shop.secret/rows?version=abc", alice), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "GET", "/api/tables/main.shop.secret/rows?colour=red", alice), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "GET", "/api/tables/not-a-name", alice), 400, "INVALID_NAME")
    assert_error(call(server, "POST", "/api/sql", alice, content=b"{not json"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "POST", "/api/sql", alice, json={}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "POST", "/api/sql", alice, json={"query": 42}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "POST", "/api/sql", alice, json={"query": "SELEKT 1"}), 400, "SQL_ERROR")
    assert_error(call(server, "POST", "/api/tables/main.shop.secret/rows", alice, content=b"not arrow",
                      headers={"Content-Type": ARROW_STREAM}), 400, "INVALID_PARAMETER_VALUE")


def test_sql_and_rows_travel_as_arrow_ipc(server, tokens):
    response = call(server, "POST", "/api/sql", tokens["alice"], json={"query": "SELECT 42 AS answer"})
    assert response.status_code == 200 and response.headers["content-type"] == ARROW_STREAM
    assert pa.ipc.open_stream(response.content).read_all().to_pylist() == [{"answer": 42}]
    assert response.headers["x-glashaus-statement"] == "SELECT"
    rows = call(server, "GET", "/api/tables/main.shop.secret/rows?columns=[\"id\"]", tokens["alice"])
    assert pa.ipc.open_stream(rows.content).read_all().to_pylist() == [{"id": 1}, {"id": 2}]


def test_json_routes_return_plain_json(server, tokens):
    described = call(server, "GET", "/api/tables/main.shop.secret", tokens["alice"]).json()
    assert described["name"] == "main.shop.secret" and [c["name"] for c in described["columns"]] == ["id", "v"]
    schemas = call(server, "GET", "/api/schemas/main", tokens["alice"]).json()
    assert "main.shop" in [s["name"] for s in schemas]
    history = call(server, "GET", "/api/tables/main.shop.secret/history", tokens["alice"]).json()
    assert [h["version"] for h in history] == [1, 0]


def test_a_bug_is_a_json_500_without_a_stack_trace(server, lake, tokens, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(lake, "history", broken)
    body = assert_error(call(server, "GET", "/api/tables/main.shop.secret/history", tokens["alice"]), 500,
                        "INTERNAL_ERROR")
    assert "secret internals" not in body["message"]


def test_openapi_lists_every_registry_route(server):
    spec = call(server, "GET", "/api/openapi.json").json()
    for op in OPERATIONS:
        assert op.http.lower() in spec["paths"][op.path.replace(":path", "")], op
    assert spec["paths"]["/api/tables/{name}/rows"]["post"]["requestBody"]["content"][ARROW_STREAM]
    assert call(server, "GET", "/api/docs").status_code == 200


def test_oversized_bodies_get_413(lake, tokens):
    with ServerThread(create_app(lake, max_body_bytes=4096)) as small:
        body = json.dumps({"query": "SELECT '" + "x" * 10_000 + "'"}).encode()
        assert_error(call(small, "POST", "/api/sql", tokens["alice"], content=body), 413, "REQUEST_TOO_LARGE")

        def chunks():  # no Content-Length: counted while read
            for _ in range(10):
                yield b" " * 1000

        assert_error(call(small, "POST", "/api/sql", tokens["alice"], content=chunks()), 413, "REQUEST_TOO_LARGE")
        assert call(small, "POST", "/api/sql", tokens["alice"], json={"query": "SELECT 1"}).status_code == 200
        remote = glashaus.connect(small.url, token=tokens["alice"])
        with pytest.raises(glashaus.errors.RequestTooLargeError):
            remote.write("main.shop.secret", pa.table({"id": list(range(2000)), "v": ["y" * 10] * 2000}))
        remote.close()


def test_token_brute_force_is_rate_limited_per_address(lake, tokens):
    with ServerThread(create_app(lake, max_auth_failures=3, auth_window=60)) as guarded:
        for i in range(3):
            assert_error(call(guarded, "GET", "/api/catalogs", f"ghs_guess{i}"), 401, "UNAUTHENTICATED")
        response = call(guarded, "GET", "/api/catalogs", "ghs_guess4")
        assert_error(response, 429, "RATE_LIMITED")
        assert int(response.headers["retry-after"]) > 0
        # Locked out even with a good token, from this address only.
        assert_error(call(guarded, "GET", "/api/catalogs", tokens["alice"]), 429, "RATE_LIMITED")
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        ok = other.get(guarded.url + "/api/catalogs", headers={"Authorization": f"Bearer {tokens['alice']}"})
        other.close()
        assert ok.status_code == 200
        assert call(guarded, "GET", "/health").status_code == 200


def test_sign_in_gate_forgets_old_failures():
    now = [0.0]
    gate = SignInGate(2, 10.0, clock=lambda: now[0])
    gate.fail("a")
    gate.fail("a")
    with pytest.raises(glashaus.errors.RateLimitedError):
        gate.check("a")
    gate.check("b")
    now[0] = 11.0
    gate.check("a")

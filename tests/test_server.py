"""Server mode over a real uvicorn server on 127.0.0.1: tokens, status codes, JSON errors, limits, audit."""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import pyarrow as pa
import pytest

import glashaus
from glashaus.http.signin import SignInGate
from glashaus.operations import ROUTES
from glashaus.server.app import ServerThread, create_app
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
    assert_error(call(server, "GET", "/api/catalogs", headers={"Authorization": "Basic abc"}), 401, "UNAUTHENTICATED")
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
    assert_error(
        call(server, "GET", "/api/tables/main.shop.nope/rows", tokens["alice"]), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(call(server, "GET", "/api/no/such/route", tokens["alice"]), 404, "ENDPOINT_NOT_FOUND")
    assert_error(call(server, "PATCH", "/api/sql", tokens["alice"]), 405, "METHOD_NOT_ALLOWED")


def test_bad_input_is_400(server, tokens):
    alice = tokens["alice"]
    assert_error(
        call(server, "GET", "/api/tables/main.shop.secret/rows?version=abc", alice), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        call(server, "GET", "/api/tables/main.shop.secret/rows?colour=red", alice), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(call(server, "GET", "/api/tables/not-a-name", alice), 400, "INVALID_NAME")
    assert_error(call(server, "POST", "/api/sql", alice, content=b"{not json"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "POST", "/api/sql", alice, json={}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "POST", "/api/sql", alice, json={"query": 42}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(call(server, "POST", "/api/sql", alice, json={"query": "SELEKT 1"}), 400, "SQL_ERROR")
    assert_error(
        call(
            server,
            "POST",
            "/api/tables/main.shop.secret/rows",
            alice,
            content=b"not arrow",
            headers={"Content-Type": ARROW_STREAM},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_sql_and_rows_travel_as_arrow_ipc(server, tokens):
    response = call(server, "POST", "/api/sql", tokens["alice"], json={"query": "SELECT 42 AS answer"})
    assert response.status_code == 200 and response.headers["content-type"] == ARROW_STREAM
    assert pa.ipc.open_stream(response.content).read_all().to_pylist() == [{"answer": 42}]
    assert response.headers["x-glashaus-statement"] == "SELECT"
    rows = call(server, "GET", '/api/tables/main.shop.secret/rows?columns=["id"]', tokens["alice"])
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
    body = assert_error(
        call(server, "GET", "/api/tables/main.shop.secret/history", tokens["alice"]), 500, "INTERNAL_ERROR"
    )
    assert "secret internals" not in body["message"]


def test_openapi_lists_every_registry_route(server):
    spec = call(server, "GET", "/api/openapi.json").json()
    for op in ROUTES:
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


def test_failed_sign_ins_are_slowed_down_but_a_valid_token_is_always_accepted(lake, tokens):
    with ServerThread(create_app(lake, max_auth_failures=3, auth_window=60)) as guarded:
        for i in range(3):
            assert_error(call(guarded, "GET", "/api/catalogs", f"ghs_guess{i}"), 401, "UNAUTHENTICATED")
        response = call(guarded, "GET", "/api/catalogs", "ghs_guess4")
        body = assert_error(response, 429, "RATE_LIMITED")
        assert int(response.headers["retry-after"]) > 0 and "127.0.0.1" in body["message"]
        # The address is slowed down, yet a correct token from it is served: nobody can lock a user out.
        assert call(guarded, "GET", "/api/catalogs", tokens["alice"]).status_code == 200
        assert_error(call(guarded, "GET", "/api/catalogs", "ghs_guess5"), 429, "RATE_LIMITED")
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        fresh = other.get(guarded.url + "/api/catalogs", headers={"Authorization": "Bearer ghs_other"})
        other.close()
        assert fresh.status_code == 401  # another address has its own count
        assert call(guarded, "GET", "/health").status_code == 200
    limited = audit(lake, "action = 'auth.failed' AND details LIKE '%backoff_seconds%'")
    assert limited and {e["principal"] for e in limited} == {"anonymous"}  # each refused attempt is audited


def test_a_token_prefix_that_keeps_failing_is_slowed_down_from_any_address(lake, tokens):
    with ServerThread(create_app(lake, max_auth_failures=2, auth_window=60)) as guarded:
        for n in range(3):
            client = httpx.Client(transport=httpx.HTTPTransport(local_address=f"127.0.1.{n + 1}"))
            response = client.get(guarded.url + "/api/catalogs", headers={"Authorization": "Bearer ghs_samePREFIX-x"})
            client.close()
        body = assert_error(response, 429, "RATE_LIMITED")
        assert "ghs_samePREF" in body["message"]
        assert call(guarded, "GET", "/api/catalogs", tokens["bob"]).status_code == 200


def test_sign_in_backoff_doubles_and_a_quiet_window_ends_it():
    now = [0.0]
    gate = SignInGate(2, 10.0, clock=lambda: now[0])
    assert gate.failed("a", None) is None and gate.failed("a", None) is None
    assert gate.failed("a", None).seconds == 1
    now[0] = 0.5
    assert gate.failed("a", None).seconds == 2  # a failure while backing off doubles the wait
    now[0] = 1.0
    assert gate.failed("a", None).seconds == 4
    assert gate.failed("b", None) is None  # other addresses are counted apart
    now[0] = 30.0  # a quiet window after the backoff: the streak is over
    assert gate.failed("a", None) is None


# -- what the OpenAPI fuzz (tests/test_openapi_fuzz.py) found: each was a 500, now a clear 4xx --------


def test_integers_beyond_64_bits_are_400(server, tokens):
    huge = 10**23
    body = assert_error(
        call(server, "GET", f"/api/tables/main.shop.secret/history?limit={huge}", tokens["alice"]),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "limit" in body["message"] and "64-bit" in body["message"]
    assert_error(
        call(server, "POST", "/api/tables/main.shop.secret/vacuum", tokens["alice"], json={"retention_hours": huge}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_nan_and_infinity_are_not_json_numbers(server, tokens):
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = assert_error(
            call(
                server,
                "POST",
                "/api/tokens",
                tokens["alice"],
                content=b'{"expires_in": ' + constant.encode() + b"}",
                headers={"Content-Type": "application/json"},
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        assert constant.lstrip("-") in body["message"]
    assert_error(
        call(server, "GET", "/api/tables/main.shop.secret/history?limit=NaN", tokens["alice"]),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_token_lifetimes_out_of_range_are_400(server, tokens):
    body = assert_error(
        call(server, "POST", "/api/tokens", tokens["alice"], json={"expires_in": 1e300}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "expires_in" in body["message"]
    body = assert_error(
        call(server, "POST", "/api/tokens", tokens["alice"], json={"expires_in": 1e12}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "at most" in body["message"]


def test_negative_history_limit_and_huge_vacuum_retention_are_400(server, tokens):
    body = assert_error(
        call(server, "GET", "/api/tables/main.shop.secret/history?limit=-1", tokens["alice"]),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "limit=-1" in body["message"]
    # Fits 64 bits but not delta-rs's duration: was a Rust panic (a plain-text 500).
    body = assert_error(
        call(
            server,
            "POST",
            "/api/tables/main.shop.secret/vacuum",
            tokens["alice"],
            json={"retention_hours": 2**63 - 1, "dry_run": True},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "retention_hours" in body["message"]


def test_volume_paths_naming_folders_or_passing_through_files_are_400(server, lake, tokens):
    lake.create_volume("main.shop.fuzzvol")
    lake.put_file("main.shop.fuzzvol", "dir/file.txt", b"x")
    alice = tokens["alice"]
    base = "/api/volumes/main.shop.fuzzvol/files"
    for method, path, kw in (
        ("GET", "/dir", {}),
        ("PUT", "/dir", {"content": b"y"}),
        ("DELETE", "/dir", {}),
        ("PUT", "/dir/file.txt/deeper", {"content": b"y"}),
        ("PUT", "/" + "n" * 300, {"content": b"y"}),
    ):
        body = assert_error(call(server, method, base + path, alice, **kw), 400, "INVALID_PARAMETER_VALUE")
        assert "fuzzvol" in body["message"] or "at most 255 bytes" in body["message"]
    listed = call(server, "GET", base + "?prefix=dir/file.txt", alice).json()
    assert [f["path"] for f in listed] == ["dir/file.txt"]
    assert lake.get_file("main.shop.fuzzvol", "dir/file.txt") == b"x"
    assert [f.path for f in lake.list_files("main.shop.fuzzvol")] == ["dir/file.txt"]  # no temporary file left


def test_types_a_delta_table_cannot_store_are_400_and_leave_the_table_whole(server, lake, tokens):
    import base64

    from glashaus.server.wire import ipc_bytes

    alice = tokens["alice"]
    time_schema = pa.schema([("t", pa.time64("us"))]).serialize().to_pybytes()
    body = assert_error(
        call(
            server,
            "POST",
            "/api/tables/main.shop.fz_time",
            alice,
            json={"schema": base64.b64encode(time_schema).decode()},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "'t'" in body["message"] and "time64" in body["message"]
    assert_error(
        call(server, "POST", "/api/tables/main.shop.fz_duration", alice, json={"data": {"d": [{"$seconds": 5}]}}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert_error(
        call(server, "POST", "/api/tables/main.shop.fz_empty", alice, json={"data": []}), 400, "INVALID_PARAMETER_VALUE"
    )
    body = assert_error(
        call(
            server,
            "POST",
            "/api/sql",
            alice,
            json={"query": "CREATE TABLE main.shop.fz_iv AS SELECT INTERVAL 1 DAY AS a"},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "'a'" in body["message"]
    lake.create_table("main.shop.fz_keep", data=pa.table({"id": [1, 2]}))
    for data in (pa.table({}), pa.table({"t": pa.array([1], pa.time64("us"))})):
        assert_error(
            call(
                server,
                "POST",
                "/api/tables/main.shop.fz_keep/rows?mode=overwrite&schema_mode=overwrite",
                alice,
                content=ipc_bytes(data),
                headers={"Content-Type": ARROW_STREAM},
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        )
    assert lake.read("main.shop.fz_keep").to_pylist() == [{"id": 1}, {"id": 2}]
    for name in ("main.shop.fz_time", "main.shop.fz_duration", "main.shop.fz_empty", "main.shop.fz_iv"):
        assert_error(call(server, "GET", f"/api/tables/{name}", alice), 404, "RESOURCE_DOES_NOT_EXIST")


def test_data_that_cannot_become_columns_is_400(server, tokens):
    for i, data in enumerate(
        ({"a": [1, "x"]}, [{"a": 1}, {"a": "x"}], {"a": [1], "b": [1, 2]}, {"a": 1}, {"a": [2**64]})
    ):
        body = assert_error(
            call(server, "POST", f"/api/tables/main.shop.fz_cols{i}", tokens["alice"], json={"data": data}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        assert "columns" in body["message"]


def test_sql_decimal_precision_and_delete_type_errors_are_400(server, tokens):
    alice = tokens["alice"]
    body = assert_error(
        call(server, "POST", "/api/sql", alice, json={"query": "CREATE TABLE main.shop.fz_dec (a DECIMAL(99, 2))"}),
        400,
        "SQL_ERROR",
    )
    assert "DECIMAL" in body["message"] and "38" in body["message"]
    body = assert_error(
        call(server, "POST", "/api/sql", alice, json={"query": "DELETE FROM main.shop.secret WHERE id = 'x'"}),
        400,
        "SCHEMA_MISMATCH",
    )
    assert "Nothing was written" in body["message"]
    assert call(server, "GET", "/api/tables/main.shop.secret/rows", alice).status_code == 200


def test_untokenizable_filters_and_masks_are_400(server, tokens):
    alice = tokens["alice"]
    body = assert_error(
        call(server, "PUT", "/api/tables/main.shop.secret/row-filter", alice, json={"expression": "v = 'unclosed\\"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "row filter" in body["message"]
    assert_error(
        call(
            server,
            "POST",
            "/api/tag-policies/fz_bad",
            alice,
            json={"tag": "pii", "mask": "'unclosed", "except_groups": []},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_a_rust_panic_is_a_json_500_not_a_dropped_request(server, lake, tokens, monkeypatch):
    class PanicException(BaseException):  # what pyo3 raises for a panic in delta-rs
        pass

    def panics(*args, **kwargs):
        raise PanicException("TimeDelta::hours out of bounds")

    monkeypatch.setattr(lake, "history", panics)
    body = assert_error(
        call(server, "GET", "/api/tables/main.shop.secret/history", tokens["alice"]), 500, "INTERNAL_ERROR"
    )
    assert "TimeDelta" not in body["message"]
    assert call(server, "GET", "/health").status_code == 200


# -- SQL results streamed -----------------------------------------------------------------------------------


def test_sql_results_are_streamed_from_duckdb_never_materialized(server, lake, tokens, monkeypatch):
    n = 300_000
    lake.create_table("main.shop.stream_rows", data=pa.table({"id": pa.array(range(n), pa.int64())}))

    def materialized(self):
        raise AssertionError("the server materialized a query result")

    monkeypatch.setattr(glashaus.Result, "to_arrow", materialized)
    with httpx.stream(
        "POST",
        server.url + "/api/sql",
        json={"query": "SELECT * FROM main.shop.stream_rows"},
        headers={"Authorization": f"Bearer {tokens['alice']}"},
        timeout=60,
    ) as response:
        assert response.status_code == 200 and "content-length" not in response.headers
        table = pa.ipc.open_stream(response.read()).read_all()
    assert table.num_rows == n and table.column("id").to_pylist()[:3] == [0, 1, 2]
    assert len(table.to_batches()) > 1


def test_a_stream_failing_half_way_ends_with_its_error_and_a_cut_off_body(server, lake, tokens, monkeypatch):
    schema = pa.schema([("n", pa.int64())])

    def half_way(query):
        def batches():
            yield pa.record_batch({"n": [1, 2]}, schema=schema)
            raise glashaus.errors.SqlError("SQL error: Conversion Error: row 3 does not convert")

        return glashaus.Result.lazy(schema, batches())

    monkeypatch.setattr(lake, "sql", half_way)
    with httpx.stream(
        "POST",
        server.url + "/api/sql",
        json={"query": "SELECT n"},
        timeout=30,
        headers={"Authorization": f"Bearer {tokens['alice']}"},
    ) as response:
        assert response.status_code == 200  # the first batch was out before the failure
        with pytest.raises(httpx.RemoteProtocolError):  # a plain client cannot mistake it for a whole result
            response.read()
    remote = glashaus.connect(server.url, token=tokens["alice"])
    with pytest.raises(glashaus.errors.SqlError, match="row 3 does not convert"):
        remote.sql("SELECT n")
    remote.close()


def test_a_stream_failing_half_way_does_not_name_the_lakehouse_root(server, lake, tokens, monkeypatch):
    schema = pa.schema([("n", pa.int64())])

    def half_way(query):  # e.g. a Parquet file of the table vanished under the reader
        def batches():
            yield pa.record_batch({"n": [1]}, schema=schema)
            raise glashaus.errors.StorageError(f"no such file: {lake.root}/tables/main/shop/t-1/part-0.parquet")

        return glashaus.Result.lazy(schema, batches())

    monkeypatch.setattr(lake, "sql", half_way)
    remote = glashaus.connect(server.url, token=tokens["alice"])
    with pytest.raises(glashaus.errors.StorageError) as raised:
        remote.sql("SELECT n")
    remote.close()
    assert "<lakehouse>/tables/main/shop/t-1/part-0.parquet" in str(raised.value)
    assert str(lake.root) not in str(raised.value)


def test_the_change_feed_across_a_schema_change_is_400(server, lake, tokens):
    lake.create_table("main.shop.fz_cdf", data=pa.table({"id": [1], "v": ["a"]}))
    lake.write("main.shop.fz_cdf", pa.table({"id": [2], "v": [{"a": 1}]}), mode="overwrite", schema_mode="overwrite")
    body = assert_error(
        call(server, "GET", "/api/tables/main.shop.fz_cdf/changes", tokens["alice"]), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "schema" in body["message"] and "history" in body["message"]


def test_a_schema_that_is_base64_but_not_arrow_ipc_is_400(server, tokens):
    import base64

    for raw in (b"\x80\x00\x00\x80" + b"x" * 20, b"\xff\xff\xff\xff\x80\x00\x00\x00" + b"x" * 20):
        body = assert_error(
            call(
                server,
                "POST",
                "/api/tables/main.shop.fz_schema",
                tokens["alice"],
                json={"schema": base64.b64encode(raw).decode()},
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        assert "schema" in body["message"]
        assert_error(
            call(
                server,
                "POST",
                "/api/tables/main.shop.fz_schema",
                tokens["alice"],
                json={"data": {"$arrow": base64.b64encode(raw).decode()}},
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        )

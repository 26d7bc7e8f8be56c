"""Issue 10's attacker review of the server, against a real uvicorn server: each finding now holds.

- hostile input (JSON nested 100,000 deep, integers beyond 64 bits, artifact names over
  255 bytes or below a file) is a 400 with a message on every face, never a 500;
- forwarded headers are believed only from configured proxies;
- a token of a principal dropped and re-created elsewhere acts as nobody;
- ``/metrics`` shows a caller only the endpoints they may call; ``anonymous`` is reserved;
- MLflow artifact listings name paths relative to the root; error messages never name
  the lakehouse root.
The sign-in limit (a correct token is never refused) is in ``test_server.py``.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

import glashaus
from glashaus.access import Principal
from glashaus.errors import InvalidArgumentError, InvalidNameError
from glashaus.lakehouse import services
from glashaus.operations import ROUTES
from glashaus.server.app import ServerThread, create_app, free_port

MODEL = "main.shop.reco"
DEEP = 100_000


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("hardening") / "lh", user="alice")
    lh.create_schema("main.shop")
    lh.create_user("bob")
    lh.create_table("main.shop.t", data=pa.table({"a": pa.array([1, 2], pa.int64())}))
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    lh.grant("SELECT", on="main.shop.t", to="bob")
    X = np.array([[0.0, 1.0], [1.0, 0.0]] * 5)
    lh.models.register(LogisticRegression().fit(X, [0, 1] * 5), MODEL)
    lh.models.set_alias(MODEL, "champion", 1)
    lh.serving.create_endpoint("reco", model=f"{MODEL}@champion", inference_table=None)
    try:
        yield lh
    finally:
        lh.close()


@pytest.fixture(scope="module")
def tokens(lake):
    return {"alice": lake.create_token(), "bob": lake.create_token("bob")}


@pytest.fixture(scope="module")
def server(lake):
    with ServerThread(create_app(lake, max_auth_failures=10**6)) as running:
        yield running


@pytest.fixture(scope="module")
def run(lake, server, tokens):
    """An MLflow experiment with one active run, made through the protocol."""
    experiment = call(
        server, "POST", "/api/2.0/mlflow/experiments/create", tokens["alice"], json={"name": "main.shop.hardening"}
    ).json()["experiment_id"]
    info = call(
        server, "POST", "/api/2.0/mlflow/runs/create", tokens["alice"], json={"experiment_id": experiment}
    ).json()["run"]["info"]
    return {
        "experiment_id": experiment,
        "run_id": info["run_id"],
        "files": f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{info['run_id']}/artifacts",
    }


def call(server, method, path, token=None, **kw):
    headers = kw.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, server.url + path, headers=headers, timeout=60, **kw)


def assert_400(response, *fragments: str) -> str:
    assert response.status_code == 400, (response.status_code, response.text[:500])
    message = response.json()["message"]
    for fragment in fragments:
        assert fragment in message, message
    return message


def deep(levels: int = DEEP) -> bytes:
    return b"[" * levels + b"]" * levels


def audit(lake, where: str) -> list[dict]:
    return lake.sql(f"SELECT * FROM system.access.audit WHERE {where} ORDER BY event_time").to_pylist()


# -- JSON nested 100,000 deep: refused by the request layer of every face ----------------------------


def test_deeply_nested_json_is_400_on_every_json_route_of_the_rest_api(server, tokens):
    json_routes = [op for op in ROUTES if op.carrier == "json" and op.body is None]
    assert len(json_routes) > 10
    for op in json_routes:
        path = op.path.replace("{path:path}", "a.txt")
        for name in op.url_names.values():
            path = path.replace("{" + name + "}", "main.shop.t")
        response = call(
            server,
            op.http,
            path,
            tokens["alice"],
            content=b'{"x": ' + deep() + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert_400(response, "nested deeper than 64 levels")


def test_deeply_nested_json_in_a_query_value_is_400(server, tokens):
    # A value that is not a string is read as JSON: 5,000 levels was a RecursionError.
    response = call(server, "GET", "/api/tables/main.shop.t/history?limit=" + deep(5000).decode(), tokens["alice"])
    assert_400(response, "limit")


def test_deeply_nested_json_is_400_on_the_mlflow_protocol(server, tokens, run):
    assert_400(
        call(
            server,
            "POST",
            "/api/2.0/mlflow/runs/search",
            tokens["alice"],
            content=b'{"experiment_ids": ' + deep() + b"}",
        ),
        "nested deeper than 64 levels",
    )
    # JSON inside a JSON string (MLflow 2's log-model) is read with the same bound.
    model_json = '{"run_id": "' + run["run_id"] + '", "flavors": ' + deep(3000).decode() + "}"
    assert_400(
        call(
            server,
            "POST",
            "/api/2.0/mlflow/runs/log-model",
            tokens["alice"],
            json={"run_id": run["run_id"], "model_json": model_json},
        ),
        "model_json",
        "nested deeper",
    )


def test_deeply_nested_json_is_a_json_400_on_serving(server, tokens):
    for endpoint in ("reco", "no_such_endpoint"):
        response = call(
            server,
            "POST",
            f"/serving/{endpoint}/invocations",
            tokens["alice"],
            content=b'{"inputs": ' + deep() + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert response.headers["content-type"].startswith("application/json")
        assert_400(response, "nested deeper than 64 levels")


# -- integers beyond 64 bits: one check where numbers are read, for every face -------------------------


def test_huge_or_odd_model_versions_are_400_on_the_mlflow_protocol(server, tokens):
    huge = "99999999999999999999999"
    base = "/api/2.0/mlflow/model-versions"
    for version in (huge, "²", "-1", "0"):
        assert_400(
            call(server, "GET", f"{base}/get", tokens["alice"], params={"name": MODEL, "version": version}),
            "Model version",
        )
    assert_400(
        call(server, "GET", f"{base}/get-download-uri", tokens["alice"], params={"name": MODEL, "version": huge}),
        "64-bit",
    )
    assert_400(
        call(
            server,
            "POST",
            "/api/2.0/mlflow/registered-models/alias",
            tokens["alice"],
            json={"name": MODEL, "alias": "a", "version": huge},
        ),
        "64-bit",
    )
    for path in (f"registry/{MODEL}/{huge}/MLmodel", f"registry/{MODEL}/²/MLmodel"):
        response = call(server, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{path}", tokens["alice"])
        assert response.status_code == 404 and "registry/<catalog>" in response.json()["message"]


def test_huge_numbers_in_run_searches_are_400(server, tokens, run):
    search = "/api/2.0/mlflow/runs/search"
    for clause in ("attributes.start_time > 99999999999999999999999", "attributes.end_time < 99999999999999999999"):
        assert_400(
            call(
                server,
                "POST",
                search,
                tokens["alice"],
                json={"experiment_ids": [run["experiment_id"]], "filter": clause},
            ),
            "64-bit",
        )
    token = base64.b64encode(json.dumps({"offset": 10**30}).encode()).decode()
    assert_400(
        call(
            server,
            "POST",
            search,
            tokens["alice"],
            json={"experiment_ids": [run["experiment_id"]], "page_token": token},
        ),
        "page token",
    )
    ok = call(
        server,
        "POST",
        search,
        tokens["alice"],
        json={"experiment_ids": [run["experiment_id"]], "filter": "attributes.start_time > 0"},
    )
    assert ok.status_code == 200 and ok.json()["runs"]


def test_huge_versions_are_refused_by_the_name_parsers_embedded_too(lake):
    with pytest.raises(InvalidNameError, match="64-bit"):
        lake.models.version(f"{MODEL}/99999999999999999999999")
    with pytest.raises(InvalidNameError, match="64-bit"):
        lake.read("main.shop.t@v99999999999999999999999")
    with pytest.raises(InvalidArgumentError, match="64-bit"):
        lake.models.set_alias(MODEL, "big", 2**64)


def test_the_web_version_page_answers_400_for_a_huge_version(server, tokens):
    response = call(
        server,
        "GET",
        f"/models/{MODEL}/versions/99999999999999999999999",
        cookies={"glashaus_session": tokens["alice"]},
    )
    assert response.status_code == 400 and "64-bit" in response.text


# -- artifact names the file system refuses ------------------------------------------------------------


def test_artifact_names_over_255_bytes_or_below_a_file_are_400(server, tokens, run):
    alice, files = tokens["alice"], run["files"]
    assert call(server, "PUT", f"{files}/notes.txt", alice, content=b"x").status_code == 200
    assert_400(call(server, "PUT", f"{files}/{'a' * 256}", alice, content=b"x"), "255 bytes")
    assert_400(call(server, "PUT", f"{files}/{'é' * 128}.txt", alice, content=b"x"), "255 bytes")
    assert_400(call(server, "PUT", f"{files}/notes.txt/below", alice, content=b"x"), "runs through a file")
    assert call(server, "GET", f"{files}/notes.txt/below", alice).status_code == 404
    assert call(server, "GET", f"{files}/notes.txt", alice).content == b"x"  # nothing else changed


def test_volume_paths_with_long_names_are_400_before_storage(server, lake, tokens):
    lake.create_volume("main.shop.files")
    base = "/api/volumes/main.shop.files/files"
    assert_400(
        call(
            server,
            "PUT",
            f"{base}/{'n' * 300}?overwrite=false",
            tokens["alice"],
            content=b"x",
            headers={"Content-Type": "application/octet-stream"},
        ),
        "255 bytes",
    )
    assert_400(call(server, "GET", f"{base}?prefix={'n' * 300}", tokens["alice"]), "255 bytes")


def test_artifact_listings_name_paths_relative_to_the_root(server, tokens, run):
    alice = tokens["alice"]
    assert call(server, "PUT", f"{run['files']}/plots/roc.png", alice, content=b"png").status_code == 200
    listing = "/api/2.0/mlflow/artifacts/list"
    for path, expected in (
        ("/", {"notes.txt", "plots"}),
        ("", {"notes.txt", "plots"}),
        ("/plots", {"plots/roc.png"}),
        ("plots/", {"plots/roc.png"}),
    ):
        files = call(server, "GET", listing, alice, params={"run_id": run["run_id"], "path": path}).json()["files"]
        assert {f["path"] for f in files} >= expected, (path, files)
        assert not any(f["path"].startswith("/") for f in files)


# -- forwarded headers -------------------------------------------------------------------------------


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(lake):
    forged = {"X-Forwarded-For": "203.0.113.7", "Authorization": "Bearer ghs_not_a_token"}
    with ServerThread(create_app(lake)) as plain:
        assert httpx.get(plain.url + "/api/catalogs", headers=forged).status_code == 401
    with ServerThread(create_app(lake), trusted_proxies=["127.0.0.1"]) as behind_proxy:
        assert httpx.get(behind_proxy.url + "/api/catalogs", headers=forged).status_code == 401
    clients = [e["client"] for e in audit(lake, "action = 'auth.failed' AND reason = 'invalid token.'")]
    assert clients[-2:] == ["127.0.0.1", "203.0.113.7"]


def test_glashaus_serve_trusts_the_proxies_named_on_its_command_line(lake):
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "glashaus.cli.main",
        "serve",
        "--lakehouse",
        lake.root,
        "--user",
        "alice",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--trusted-proxy",
        "127.0.0.1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/catalogs",
            headers={"X-Forwarded-For": "198.51.100.4", "Authorization": "Bearer ghs_cli_proxy"},
        )
        assert response.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert audit(lake, "client = '198.51.100.4'")


# -- a principal dropped and re-created elsewhere -----------------------------------------------------


def test_a_token_of_a_dropped_and_recreated_principal_acts_as_nobody(lake, server):
    lake.create_user("carol")
    old = lake.create_token("carol")
    assert call(server, "GET", "/api/catalogs", old).status_code == 200  # verified: the server remembers it
    with glashaus.connect(lake.root, user="alice") as elsewhere:  # another process: its own token cache
        elsewhere.drop_principal("carol")
        elsewhere.create_user("carol")
        elsewhere.add_member("admins", "carol")
    for path in ("/api/catalogs", "/api/principals"):
        response = call(server, "GET", path, old)
        assert response.status_code == 401 and "no longer stands for 'carol'" in response.json()["message"]
    response = call(server, "GET", "/api/2.0/mlflow/registered-models/search", old)
    assert response.status_code == 401
    stale = Principal("carol", token_id=services(lake).directory.cached_principal(old).token_id)
    assert not services(lake).access.allows(stale, "SELECT", lake.get("main.shop.t"))  # the serving path's check
    new = lake.create_token("carol")
    assert call(server, "GET", "/api/principals", new).status_code == 200


# -- reserved names, /metrics, the API's description ----------------------------------------------------


def test_the_audit_logs_own_principal_names_are_reserved(lake, tmp_path):
    for name in ("anonymous", "system"):
        with pytest.raises(InvalidArgumentError, match="reserved"):
            lake.create_user(name)
        with pytest.raises(InvalidArgumentError, match="reserved"):
            lake.create_service_principal(name)
    with pytest.raises(InvalidArgumentError, match="reserved"):
        glashaus.connect(tmp_path / "new", user="anonymous")


def test_metrics_show_only_the_endpoints_the_caller_may_call(server, lake, tokens):
    # bob may not call 'reco': his attempt is refused (and counted under 'reco').
    response = call(server, "POST", "/serving/reco/invocations", tokens["bob"], json={"inputs": [[0.0, 1.0]]})
    assert response.status_code == 403
    assert 'endpoint="reco"' in call(server, "GET", "/metrics", tokens["alice"]).text  # admins see all
    mine = call(server, "GET", "/metrics", tokens["bob"])
    assert mine.status_code == 200 and "glashaus_serving_requests_total" in mine.text
    assert "reco" not in mine.text
    lake.grant("EXECUTE", on=MODEL, to="bob")
    try:
        assert 'endpoint="reco"' in call(server, "GET", "/metrics", tokens["bob"]).text
    finally:
        lake.revoke("EXECUTE", on=MODEL, from_="bob")
    assert call(server, "GET", "/metrics").status_code == 401


def test_the_api_description_needs_no_token_and_says_so(server):
    spec = httpx.get(server.url + "/api/openapi.json")
    assert spec.status_code == 200 and httpx.get(server.url + "/api/docs").status_code == 200
    description = spec.json()["info"]["description"]
    assert "/health" in description and "/api/openapi.json" in description
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "`/api/openapi.json`" in readme.split("## Server mode", 1)[1].split("##", 1)[0]


# -- error messages never name the lakehouse root ------------------------------------------------------


def test_error_messages_never_show_the_lakehouse_root(server, lake, tokens):
    root = lake.root
    bob = tokens["bob"]
    lake.create_volume("main.default.drop_box")
    lake.grant("READ VOLUME", on="main.default.drop_box", to="bob")
    register = "/api/2.0/mlflow/model-versions/create"
    call(server, "POST", "/api/2.0/mlflow/registered-models/create", bob, json={"name": "main.default.bobs"})
    for source in ("/etc", f"{root}/../elsewhere", "/Volumes/main/default/drop_box/missing"):
        response = call(server, "POST", register, bob, json={"name": "main.default.bobs", "source": source})
        assert response.status_code in (400, 404), response.text
        assert root not in response.json()["message"].replace(source, ""), response.text
    # A message quoting a library's error (DuckDB names the missing file) is shown without the root.
    lake.create_table("main.shop.fragile", data=pa.table({"a": [1]}))
    lake.grant("SELECT", on="main.shop.fragile", to="bob")
    for path in glob.glob(f"{root}/tables/main/shop/fragile-*/*.parquet"):
        os.remove(path)
    response = call(server, "POST", "/api/sql", bob, json={"query": "SELECT * FROM main.shop.fragile"})
    assert response.status_code >= 400 and root not in response.text, response.text

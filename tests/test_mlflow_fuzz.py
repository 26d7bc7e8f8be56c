"""Fuzz every MLflow route and the serving route on a real server: no request ever gets a 5xx.

The MLflow routes are not in the OpenAPI (``tests/test_openapi_fuzz.py`` covers what is), so
their requests are drawn here with hypothesis from MLflow's own request messages: for each
route the protobuf message its RPC declares (``mlflow.protos``: the method and path of the
``rpc`` option), and for every field of it either nothing, a value of its type, a real one
(the seeded experiment, run, logged model, registered model, version, alias), or a hostile
one: integers beyond 64 bits, '²', names over 255 bytes, '..', JSON nested 100,000 deep in
place of the field, wrong JSON types. The artifact proxy and the routes without a message
get paths and bodies of the same kinds; the serving route gets MLflow's scoring formats over
the model's columns with the same hostile values. Sent as an admin, as a user without
grants and without a token. Hypothesis runs derandomized (the same requests every run);
routes that delete run last, so that the others meet the seeded objects.
"""

from __future__ import annotations

import base64
import json

import httpx
import hypothesis
import numpy as np
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

import glashaus
from glashaus.server.app import ServerThread, create_app
from glashaus.server.mlflow import artifacts as artifact_routes
from glashaus.server.mlflow import registry as registry_routes
from glashaus.server.mlflow import traces as traces_routes
from glashaus.server.mlflow import tracking as tracking_routes
from glashaus.server.mlflow.protocol import PREFIXES

mlflow_protos = pytest.importorskip("mlflow.protos")
from mlflow.protos import databricks_pb2, model_registry_pb2, service_pb2  # noqa: E402

#: Examples per route: signed in as an admin, as a user without grants, without a token.
ADMIN_EXAMPLES, USER_EXAMPLES, ANONYMOUS_EXAMPLES = 10, 4, 2
MODEL = "main.fz.reco"
EXPERIMENT = "main.fz.fuzzed"
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = [10**23, -(10**23), 2**63, 2**64 + 1]
ODD_TEXT = [
    "",
    " ",
    "99999999999999999999999",
    "\u00b2",
    "-1",
    "0",
    "a" * 300,
    "é" * 200,
    "../../etc/passwd",
    "..",
    "/",
    "//x",
    "a\x00b",
    "a\\b",
    "%2e%2e",
    "NaN",
    "main.fz.reco@v99999999999999999999999",
    "models:/main.fz.reco/99999999999999999999999",
    "x' OR '1'='1",
]
WRONG_TYPES = [None, [], {}, [1, [2]], {"a": {"b": 1}}, True, 1.5, "text"]


# -- the seeded lakehouse and server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("mlflow_fuzz") / "lh", user="alice")
    lh.create_schema("main.fz")
    lh.create_user("bob")
    features = np.array([[0.0, 1.0], [1.0, 0.0]] * 5)
    lh.models.register(LogisticRegression().fit(features, [0, 1] * 5), MODEL, input_example=features[:2])
    lh.models.set_alias(MODEL, "champion", 1)
    lh.serving.create_endpoint("reco", model=f"{MODEL}@champion", inference_table=None)
    tokens = {"alice": lh.create_token(), "bob": lh.create_token("bob"), None: None}
    with ServerThread(create_app(lh, max_auth_failures=10**9)) as server:

        def mlflow(method, path, **kw):
            response = httpx.request(
                method,
                server.url + "/api/2.0/mlflow" + path,
                timeout=60,
                headers={"Authorization": f"Bearer {tokens['alice']}"},
                **kw,
            )
            assert response.status_code == 200, response.text
            return response.json()

        experiment = mlflow("POST", "/experiments/create", json={"name": EXPERIMENT})["experiment_id"]
        run = mlflow("POST", "/runs/create", json={"experiment_id": experiment})["run"]["info"]["run_id"]
        mlflow(
            "POST",
            "/runs/log-batch",
            json={
                "run_id": run,
                "params": [{"key": "p", "value": "1"}],
                "metrics": [{"key": "m", "value": 0.5, "timestamp": 1, "step": 0}],
                "tags": [{"key": "t", "value": "x"}],
            },
        )
        model = mlflow("POST", "/logged-models", json={"experiment_id": experiment, "name": "fz"})["model"]
        model_id = model["info"]["model_id"]
        files = f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts"
        httpx.put(
            server.url + files + "/dir/notes.txt", content=b"x", headers={"Authorization": f"Bearer {tokens['alice']}"}
        )
        trace = "tr-" + "ab" * 16
        start = {
            "trace_id": trace,
            "trace_location": {"type": "MLFLOW_EXPERIMENT"},
            "request_time": "2026-01-01T00:00:00Z",
        }
        start["trace_location"]["mlflow_experiment"] = {"experiment_id": experiment}
        assert httpx.post(
            server.url + "/api/3.0/mlflow/traces",
            json={"trace": {"trace_info": start}},
            headers={"Authorization": f"Bearer {tokens['alice']}"},
        ).is_success
        yield {
            "lh": lh,
            "trace": trace,
            "url": server.url,
            "tokens": tokens,
            "experiment": experiment,
            "run": run,
            "model_id": model_id,
            "files": files,
        }
    lh.close()


# -- requests drawn from MLflow's messages ---------------------------------------------------------------


def _rpc_messages() -> dict[tuple[str, str], type]:
    """(HTTP method, path below /api/2.0) -> the request message MLflow declares for it."""
    found = {}
    for module, service in ((service_pb2, "MlflowService"), (model_registry_pb2, "ModelRegistryService")):
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            for endpoint in method.GetOptions().Extensions[databricks_pb2.rpc].endpoints:
                found[(endpoint.method, "/" + endpoint.path.lstrip("/"))] = message_factory.GetMessageClass(
                    method.input_type
                )
    return found


RPC = _rpc_messages()
ROUTES = tracking_routes.ROUTES + artifact_routes.ROUTES + registry_routes.ROUTES + traces_routes.ROUTES


def _rpc_key(route) -> tuple[str, str]:
    """The (method, path) MLflow declares a route under: v3 trace routes are absolute, below /api/3.0."""
    path = route.path.split("/3.0", 1)[1] if route.path.startswith(("/api/3.0/", "/ajax-api/3.0/")) else route.path
    return route.method, path if path.startswith("/mlflow") else "/mlflow" + path


def _label(route) -> str:
    return f"{route.method} {route.path}"


def _destructive(route) -> bool:
    return route.method == "DELETE" or "delete" in route.path or route.path.endswith(("/update", "/rename"))


ORDERED = [r for r in ROUTES if not _destructive(r)] + [r for r in ROUTES if _destructive(r)]


def _real(world, name: str) -> list:
    """Values of the seeded world for a field of this name (empty: none)."""
    run, experiment, model_id = world["run"], world["experiment"], world["model_id"]
    offsets = [base64.b64encode(json.dumps({"offset": n}).encode()).decode() for n in (1, 10**30, -5)]
    return {
        "experiment_id": [experiment, "0", "999999"],
        "experiment_ids": [[experiment], [experiment, "1"]],
        "trace_id": [world["trace"], "tr-0", "x'y"],
        "trace_ids": [[world["trace"]], [world["trace"], "tr-0"]],
        "request_ids": [[world["trace"]]],
        "run_id": [run, "0" * 32],
        "run_uuid": [run],
        "model_id": [model_id, "m-0"],
        "source_run_id": [run],
        "name": [MODEL, EXPERIMENT, "main.fz.other", "fz"],
        "experiment_name": [EXPERIMENT],
        "new_name": ["main.fz.renamed"],
        "version": ["1", "2"],
        "alias": ["champion", "latest", "v1", "1"],
        "key": ["p", "t", "m", "mlflow.runName"],
        "metric_key": ["m"],
        "stages": [["None"], ["Production"]],
        "source": [
            f"runs:/{run}/model",
            f"models:/{model_id}",
            f"models:/{MODEL}/1",
            f"models:/{MODEL}@champion",
            f"mlflow-artifacts:/{experiment}/{run}/artifacts/dir",
            f"mlflow-artifacts:/registry/{MODEL}/1",
            "/etc",
            "s3://elsewhere/x",
            "runs://host/x",
        ],
        "filter": [
            "",
            "attributes.start_time > 99999999999999999999999",
            "attributes.start_time > 0",
            "metrics.m > 1e400",
            "params.p = '1'",
            "tags.t LIKE 'x%'",
            "name LIKE 'main%'",
            "version_number > 99999999999999999999999",
            "run_id IN ('a', 'b')",
            "bad filter (",
            "attributes.created < -99999999999999999999",
        ],
        "order_by": [["start_time DESC"], ["metrics.m"], ["bad key"]],
        "page_token": [*offsets, "garbage"],
        "path": ["", "/", "dir", "/dir", "dir/notes.txt", "dir/notes.txt/below", "../x"],
        "model_json": ['{"run_id": "x", "flavors": {}}', '{"flavors": ' + "[" * 3000 + "]" * 3000 + "}", "[]"],
    }.get(name, [])


def _scalar(world, field) -> st.SearchStrategy:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        typed = st.text(max_size=12) | st.sampled_from(ODD_TEXT)
    elif kind in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SINT32,
    ):
        typed = st.integers(-3, 10**6) | st.integers(-(2**63), 2**63 - 1) | st.sampled_from(HUGE)
    elif kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        typed = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(["NaN", "Infinity", 1e308])
    elif kind == FieldDescriptor.TYPE_BOOL:
        typed = st.booleans()
    elif kind == FieldDescriptor.TYPE_ENUM:
        typed = st.sampled_from([v.name for v in field.enum_type.values]) | st.integers(-1, 99)
    elif kind == FieldDescriptor.TYPE_MESSAGE:
        typed = _message(world, field.message_type, nested=True)
    else:
        typed = st.none()
    return typed


def _field(world, field) -> st.SearchStrategy:
    real = _real(world, field.name)
    one = _scalar(world, field)
    typed = st.lists(one, max_size=3) if field.is_repeated else one
    options = [typed, st.sampled_from(WRONG_TYPES)]
    if real:
        options.insert(0, st.sampled_from(real))
    return st.one_of(options)


def _message(world, descriptor, *, nested: bool = False) -> st.SearchStrategy:
    fields = list(descriptor.fields)
    if nested:  # nested messages: their own fields, typed or missing, one level deep
        return st.fixed_dictionaries({}, optional={f.name: _scalar_only(world, f) for f in fields})
    return st.fixed_dictionaries({}, optional={f.name: _field(world, f) for f in fields})


def _scalar_only(world, field) -> st.SearchStrategy:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return st.sampled_from([{}, None, "x"])
    real = _real(world, field.name)
    one = _scalar(world, field)
    typed = st.lists(one, max_size=2) if field.is_repeated else one
    return st.one_of([st.sampled_from(real), typed] if real else [typed])


def _encode_query(params: dict) -> list[tuple[str, str]]:
    return [
        (key, item if isinstance(item, str) else json.dumps(item))
        for key, value in params.items()
        for item in (value if isinstance(value, list) else [value])
    ]


def _body(params: dict, deep_field: str | None) -> bytes:
    """``params`` as a JSON body; ``deep_field``: that field's value is JSON nested 100,000 deep."""
    if deep_field is None:
        return json.dumps(params).encode()
    marker = "\u0000deep\u0000"
    text = json.dumps({**params, deep_field: marker})
    return text.replace(json.dumps(marker), "\u0001").encode().replace(b"\x01", DEEP)


def _path_values(world) -> dict[str, st.SearchStrategy]:
    files = world["files"].rsplit("/artifacts", 1)[0].removeprefix("/api/2.0/mlflow-artifacts/artifacts/")
    names = ["notes.txt", "a" * 300, "é" * 200, "dir/notes.txt/below", "..", "%2e%2e/x", "x\\y", "a//b"]
    return {
        "model_id": st.sampled_from([world["model_id"], "m-0", "a" * 300, "..", "%2e%2e"]),
        "trace_id": st.sampled_from([world["trace"], "tr-0", "a" * 300, "x'y", "%2e%2e"]),
        "tag_key": st.sampled_from(["t", "a" * 300, "mlflow.user"]),
        "artifact_path": st.sampled_from(
            [f"{files}/artifacts/{n}" for n in names]
            + [
                f"{files}/artifacts/dir",
                f"{files}/artifacts",
                f"registry/{MODEL}/1/MLmodel",
                f"registry/{MODEL}/99999999999999999999999",
                f"registry/{MODEL}/\u00b2/x",
                "registry/x",
                "999999999999999999999/x/artifacts/y",
                "../etc/passwd",
                "0/x/artifacts/y",
            ]
        ),
    }


@st.composite
def requests(draw, world, route):
    """One request for ``route``: (method, path, query, body)."""
    paths = _path_values(world)
    path = route.path
    for name in ("model_id", "tag_key", "artifact_path:path", "trace_id"):
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", draw(paths[name.split(":")[0]]))
    if not route.absolute:
        path = draw(st.sampled_from(PREFIXES)) + path
    message = RPC.get(_rpc_key(route))
    if message is not None:
        params = draw(_message(world, message.DESCRIPTOR))
    elif route.path.endswith("/artifacts") and route.method == "GET":  # the proxy's listing
        params = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "path": st.sampled_from(
                        [
                            "",
                            "/",
                            world["files"].removeprefix("/api/2.0/mlflow-artifacts/artifacts/"),
                            f"registry/{MODEL}/1",
                            "registry",
                            "a" * 300,
                            "../x",
                            "1/" + "a" * 300 + "/artifacts",
                        ]
                    )
                },
            )
        )
    else:
        params = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "allow_deleted": st.sampled_from(["true", "x"]),
                    "artifact_directory_path": st.sampled_from(["", "/", "dir", "..", "a" * 300]),
                },
            )
        )
    if route.method == "GET":
        return route.method, path, _encode_query(params), None
    if route.raw_body:
        return route.method, path, [], draw(st.sampled_from([b"", b"x", DEEP, b"\x00" * 10]))
    deep_field = draw(st.sampled_from([None, None, None, *params])) if params else draw(st.sampled_from([None, "x"]))
    return route.method, path, [], _body(params, deep_field)


def _fuzz(world, route, user: str | None, examples: int) -> None:
    headers = {"Authorization": f"Bearer {world['tokens'][user]}"} if user else {}

    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(request=requests(world, route))
    def check(request):
        method, path, query, body = request
        response = httpx.request(
            method,
            world["url"] + path,
            params=query,
            content=body,
            timeout=60,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code < 500, (method, path, query, (body or b"")[:300], response.text[:500])
        assert response.headers["content-type"].startswith(
            ("application/json", "text/plain", "application/", "image/")
        ), response.headers
        if user is None:  # (a path with '..' in it may resolve to no route at all)
            assert response.status_code in (401, 404), response.text

    check()


@pytest.mark.parametrize("route", ORDERED, ids=_label)
def test_mlflow_routes_never_answer_5xx(world, route):
    _fuzz(world, route, "alice", ADMIN_EXAMPLES)
    _fuzz(world, route, "bob", USER_EXAMPLES)
    _fuzz(world, route, None, ANONYMOUS_EXAMPLES)


def test_every_mlflow_route_is_fuzzed_with_its_message():
    """Routes without an RPC message are only the ones whose inputs are their path (fuzzed above too)."""
    without = {_label(r) for r in ROUTES if _rpc_key(r) not in RPC}
    proxy = "/api/2.0/mlflow-artifacts/artifacts"
    assert without <= {
        f"GET {proxy}",
        f"GET {proxy}/{{artifact_path:path}}",
        f"PUT {proxy}/{{artifact_path:path}}",
        f"DELETE {proxy}/{{artifact_path:path}}",
        "GET /api/3.0/mlflow/server-info",
        "GET /version",
        "POST /v1/traces",
    }, without


# -- serving: MLflow's scoring formats with hostile values ------------------------------------------------


COLUMNS = ["0", "1"]  # an input example of a 2-column array names its columns by position
VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-5, 5),
    st.sampled_from(HUGE),
    st.sampled_from(["x", None, True, [1, 2], {"a": 1}, "NaN"]),
)


@st.composite
def scoring_bodies(draw):
    rows = draw(st.lists(st.lists(VALUES, min_size=1, max_size=3), min_size=0, max_size=3))
    columns = draw(st.sampled_from([COLUMNS, ["a", "b"], [], [*COLUMNS, "extra"]]))
    body = draw(
        st.sampled_from(
            [
                {"dataframe_split": {"columns": columns, "data": rows}},
                {"dataframe_records": [dict(zip(columns, row, strict=False)) for row in rows]},
                {"instances": rows},
                {"inputs": rows},
                {"inputs": {"0": [r[0] for r in rows]}},
                {"dataframe_split": {"columns": columns}},
                {"params": {"x": 1}},
                {},
                {"unknown": 1},
            ]
        )
    )
    text = json.dumps(body).encode()
    return draw(
        st.sampled_from(
            [
                text,
                text,
                text,
                DEEP,
                b'{"inputs": ' + DEEP + b"}",
                b"[1, 2]",
                b"{",
                b"",
                b'{"inputs": [[99999999999999999999999, 1e999]]}',
                b"\xff\xfe",
            ]
        )
    )


def test_the_serving_route_never_answers_5xx(world):
    @hypothesis.settings(
        max_examples=40,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(
        body=scoring_bodies(),
        name=st.sampled_from(["reco", "reco", "missing", "a" * 300]),
        user=st.sampled_from(["alice", "alice", "bob", None]),
    )
    def check(body, name, user):
        headers = {"Authorization": f"Bearer {world['tokens'][user]}"} if user else {}
        response = httpx.post(
            f"{world['url']}/serving/{name}/invocations",
            content=body,
            timeout=60,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code < 500, (name, user, body[:300], response.text[:500])
        assert response.headers["content-type"].startswith("application/json")

    check()

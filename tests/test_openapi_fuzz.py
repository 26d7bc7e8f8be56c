"""Fuzz the REST API from its own OpenAPI with schemathesis: no request ever gets a 500.

A real uvicorn server over a seeded lakehouse (a catalog, a schema, a table with rows,
a view, a volume with a file, a registered model served by an endpoint). Every operation
of the OpenAPI (the REST API, ``/health``, the serving routes ``/serving/{name}/invocations``
and ``/metrics``) gets a bounded number of generated requests, valid and invalid ones
(schemathesis' positive and negative modes) and valid ones with one value made hostile
(integers beyond 64 bits, '²', JSON nested 200 deep), once with an admin's token and once
without a token. Hypothesis runs derandomized, so CI sends the same requests every time.
The MLflow routes are not in the OpenAPI (``include_in_schema=False``): ``tests/test_mlflow_fuzz.py``
fuzzes them, and JSON nested 100,000 deep, which no JSON library here can even write, is sent
raw by ``tests/test_server_hardening.py``.

Not fuzzed with the admin token, because one success would make the later examples
meaningless: ``DELETE /api/principals/{name}`` and ``DELETE /api/tokens/{token_id}``
(they could drop the admin or revoke the token the fuzzer signs in with).
"""

from __future__ import annotations

import json

import hypothesis
import numpy as np
import pyarrow as pa
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sklearn.linear_model import LogisticRegression

import glashaus
from glashaus.lakehouse import services
from glashaus.operations import ROUTES
from glashaus.server.app import ServerThread, create_app
from glashaus.server.wire import ARROW_STREAM, ipc_bytes
from glashaus.tracing import Span, TraceInfo

#: Requests per operation; the whole module stays well under 90 s on 2 busy cores.
ADMIN_EXAMPLES = 25
ANONYMOUS_EXAMPLES = 4

LABELS = list(
    dict.fromkeys(
        ["GET /health"]
        + [f"{op.http} {op.path.replace(':path', '')}" for op in ROUTES]
        + ["POST /serving/{name}/invocations", "GET /metrics"]
    )
)
DESTRUCTIVE = {"DELETE /api/principals/{name}", "DELETE /api/tokens/{token_id}"}
#: Path parameters that name what the seeded lakehouse holds: most random names only reach the 404 path.
REAL = {
    "name": ["fz.s.t", "fz.s.w", "fz.s.v", "fz.s", "fz", "bob", "analysts", "fz.s.t@v1", "fz.s.m", "reco"],
    "table": ["fz.s.t", "fz.s.w"],
    "column": ["v", "id", "nope"],
    "volume": ["fz.s.v"],
    "path": ["a/b.txt", "a", "../x", "c.txt"],
    "catalog": ["fz", "main"],
    "schema": ["fz.s", "main.default"],
    "group": ["analysts", "admins"],
    "member": ["bob"],
    "token_id": ["0"],
    "ref": ["fz.s.m/1", "fz.s.m@champion", "fz.s.m", "fz.s.m/9"],
    "alias": ["champion", "nope"],
    "version": ["1", "2"],
    "experiment": ["fz.s.e", "1", "nope"],
    "key": ["k", "rmse"],
    "run_id": ["0" * 32],  # and the seeded run's id (the lake fixture adds it)
    "trace_id": ["tr-fz", "tr-" + "0" * 32, "x'y"],
}
#: The endpoint (the serving route's {name}) the seeded lakehouse serves.
ENDPOINT = "reco"
#: Values that once reached storage as they were (each a 500): one replaces one value of a valid request.
HOSTILE = [
    10**23,
    -(10**23),
    2**63,
    "99999999999999999999999",
    "\u00b2",
    1e308,
    -0.0,
    "",
    "\x00",
    "a" * 300,
    "../../etc/passwd",
    "main.shop.t@v99999999999999999999999",
    {"$datetime": "x"},
    {"$arrow": "AAAA"},
]


def _nested(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


HOSTILE.append(_nested(200))
#: Arrow IPC bodies for writes: fitting rows, wrong types, extra and missing columns, no columns, nulls, nesting.
ARROW_BODIES = [
    ipc_bytes(pa.table({"id": pa.array([7], pa.int64()), "v": ["z"]})),
    ipc_bytes(pa.table({"id": ["x"], "v": [1.5]})),
    ipc_bytes(pa.table({"id": pa.array([8], pa.int64()), "v": ["y"], "extra": [True]})),
    ipc_bytes(pa.table({"v": ["only v"]})),
    ipc_bytes(pa.table({})),
    ipc_bytes(pa.table({"id": pa.array([None], pa.int64()), "v": pa.array([None], pa.string())})),
    ipc_bytes(pa.table({"id": pa.array([[1]]), "v": pa.array([{"a": 1}])})),
    ipc_bytes(pa.table({"id": pa.array([1], pa.int64())}))[:20],
]
schemathesis.serializer.alias(ARROW_STREAM, "application/octet-stream")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("fuzz") / "lh", user="alice")
    lh.create_user("bob")
    lh.create_group("analysts")
    lh.create_catalog("fz")
    lh.create_schema("fz.s")
    lh.create_table("fz.s.t", data=pa.table({"id": pa.array([1, 2, 3], pa.int64()), "v": ["a", "b", "c"]}))
    lh.sql("CREATE VIEW fz.s.w AS SELECT id FROM fz.s.t")
    lh.create_volume("fz.s.v")
    lh.put_file("fz.s.v", "a/b.txt", b"hello")
    features = np.array([[0.0, 1.0], [1.0, 0.0]] * 5)
    lh.models.register(LogisticRegression().fit(features, [0, 1] * 5), "fz.s.m")
    lh.models.set_alias("fz.s.m", "champion", 1)
    lh.serving.create_endpoint(ENDPOINT, model="fz.s.m@champion")
    lh.experiments.create("fz.s.e")
    run = lh.runs.start("fz.s.e")
    lh.runs.log_metrics(run.run_id, {"rmse": 0.5})
    REAL["run_id"].append(run.run_id)
    tracing = services(lh).tracing  # a trace as MLflow's client logs it (spans first, then its info)
    experiment_id = lh.experiments.get("fz.s.e").experiment_id
    tracing.log_spans(lh.principal, experiment_id, [Span("tr-fz", "00f067aa0ba902b7", "answer", 10**18)])
    tracing.start_trace(lh.principal, TraceInfo("tr-fz", experiment_id, request_time=10**9))
    try:
        yield lh
    finally:
        lh.close()


@pytest.fixture(scope="module")
def server(lake):
    # The sign-in gate would lock 127.0.0.1 out after the anonymous requests: a generous budget here.
    with ServerThread(create_app(lake, max_auth_failures=10**9)) as running:
        yield running


@pytest.fixture(scope="module")
def token(lake):
    return lake.create_token(comment="fuzz")


@pytest.fixture(scope="module")
def api(server):
    return schemathesis.openapi.from_url(server.url + "/api/openapi.json")


def _hostile(case, slot: int, value):
    """``case`` with one of its values (a body field, a query parameter, a path parameter) made ``value``."""
    places = [("body", k) for k in (case.body if isinstance(case.body, dict) else {})]
    places += [("query", k) for k in (case.query or {})] + [("path", k) for k in (case.path_parameters or {})]
    if not places:
        return case
    where, key = places[slot % len(places)]
    if where == "body":
        case.body = {**case.body, key: value}
    else:
        text = value if isinstance(value, str) else json.dumps(value)
        target = "query" if where == "query" else "path_parameters"
        setattr(case, target, {**getattr(case, target), key: text})
    return case


def fuzz(api, label: str, examples: int, call) -> None:
    operation = api.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the OpenAPI"
    strategies = [operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    strategies.append(
        st.tuples(operation.as_strategy(GenerationMode.POSITIVE), st.integers(0, 50), st.sampled_from(HOSTILE)).map(
            lambda drawn: _hostile(*drawn)
        )
    )
    names = [p.name for p in operation.path_parameters]
    if label.startswith("POST /serving/"):  # the real endpoint: the model scores, or says why not
        real = st.fixed_dictionaries({"name": st.sampled_from([ENDPOINT, "missing"])})
        strategies.append(
            real.flatmap(lambda chosen: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=chosen))
        )
    elif names and not label.startswith("DELETE"):  # real names, except where a success would drop them
        real = st.fixed_dictionaries({n: st.sampled_from(REAL[n]) for n in names})
        body = {"body": st.sampled_from(ARROW_BODIES)} if label == "POST /api/tables/{name}/rows" else {}
        strategies.append(
            st.tuples(real, st.fixed_dictionaries(body)).flatmap(
                lambda chosen: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=chosen[0], **chosen[1])
            )
        )
    cases = st.one_of(strategies)

    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=cases)
    def check(case):
        call(case)

    check()


@pytest.mark.parametrize("label", [label for label in LABELS if label not in DESTRUCTIVE])
def test_no_server_errors_as_admin(api, server, token, label):
    def call(case):
        case.call_and_validate(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error], timeout=60
        )

    fuzz(api, label, ADMIN_EXAMPLES, call)


@pytest.mark.parametrize("label", LABELS)
def test_no_server_errors_without_a_token(api, server, label):
    def call(case):
        if case.headers:
            case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
        response = case.call_and_validate(base_url=server.url, checks=[not_a_server_error], timeout=60)
        if label != "GET /health":
            assert response.status_code in (400, 401, 404, 405), (response.status_code, response.text)

    fuzz(api, label, ANONYMOUS_EXAMPLES, call)

"""MLflow 3 tracing through ``glashaus serve``, with the unmodified ``mlflow`` client.

A traced program (``@mlflow.trace``, ``mlflow.start_span``) runs in a fresh process as alice
(the tracer is process-wide state); this process reads the traces back with MLflow's client,
``lh.traces`` and SQL (``system.ml.spans``, ``system.ml.traces``).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import httpx
import pytest
from browser import needs_chromium, sign_in, table_text
from mlflow_env import client_env

import glashaus
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.lakehouse import services
from glashaus.server.app import ServerThread, create_app
from glashaus.tracing import Span, TraceInfo

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

EXP = "main.shop.chatbot"

AGENT = """
import json, mlflow
mlflow.set_experiment("main.shop.chatbot")

@mlflow.trace(span_type="TOOL")
def lookup(q):
    return {"answer": q.upper()}

@mlflow.trace(name="answer", span_type="CHAIN")
def answer(q):
    with mlflow.start_span(name="retrieve", span_type="RETRIEVER") as span:
        span.set_inputs({"q": q})
        span.set_outputs(["doc-1"])
    return lookup(q)["answer"]

with mlflow.start_run() as run:
    answer("fern")
    in_run = mlflow.get_last_active_trace_id()
answer("ivy")
alone = mlflow.get_last_active_trace_id()
model = mlflow.set_active_model(name="chat-v1")
answer("moss")
of_model = mlflow.get_last_active_trace_id()
mlflow.flush_trace_async_logging()
print(json.dumps({"in_run": in_run, "alone": alone, "of_model": of_model, "run_id": run.info.run_id,
                  "model_id": model.model_id}))
"""


def _env(url: str, token: str) -> dict[str, str]:
    return {**client_env(url, token), "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("tracing") / "lh", user="alice")
    lh.create_schema("main.shop")
    lh.create_user("bob")
    tokens = {"alice": lh.create_token(), "bob": lh.create_token("bob")}
    with ServerThread(create_app(lh)) as server:
        env = {**os.environ, **_env(server.url, tokens["alice"])}
        done = subprocess.run([sys.executable, "-c", AGENT], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        ids = json.loads(done.stdout.splitlines()[-1])
        yield lh, server.url, tokens, ids
    lh.close()


@pytest.fixture
def client(served, monkeypatch):
    """MLflow's client in this process, signed in as alice (or as another user: ``client.as_user``)."""
    _lh, url, tokens, _ids = served
    for key, value in _env(url, tokens["alice"]).items():
        monkeypatch.setenv(key, value)
    return MlflowClient()


def _experiment_id(lh) -> str:
    return lh.experiments.get(EXP).experiment_id


def test_a_traced_function_and_its_nested_spans_are_read_back_as_logged(served, client):
    lh, _url, _tokens, ids = served
    trace = client.get_trace(ids["in_run"])
    assert trace.info.state == "OK" and trace.info.experiment_id == _experiment_id(lh)
    # the spans were stored here, not uploaded as a traces.json artifact
    assert trace.info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    spans = {s.name: s for s in trace.data.spans}
    assert [s.name for s in trace.data.spans] == ["answer", "retrieve", "lookup"]
    root = spans["answer"]
    assert root.parent_id is None and root.span_type == "CHAIN"
    assert spans["retrieve"].parent_id == root.span_id and spans["lookup"].parent_id == root.span_id
    assert spans["retrieve"].span_type == "RETRIEVER" and spans["lookup"].span_type == "TOOL"
    assert spans["retrieve"].inputs == {"q": "fern"} and spans["retrieve"].outputs == ["doc-1"]
    assert root.inputs == {"q": "fern"} and root.outputs == "FERN"
    assert root.start_time_ns <= spans["retrieve"].start_time_ns <= spans["retrieve"].end_time_ns <= root.end_time_ns

    found = mlflow.search_traces(locations=[_experiment_id(lh)], return_type="list")
    assert {t.info.trace_id for t in found} == {ids["in_run"], ids["alone"], ids["of_model"]}
    assert all(len(t.data.spans) == 3 for t in found)
    # the trace made with an active model is that logged model's
    of_model = mlflow.search_traces(locations=[_experiment_id(lh)], model_id=ids["model_id"], return_type="list")
    assert [t.info.trace_id for t in of_model] == [ids["of_model"]]
    # the trace made inside the run is that run's
    in_run = mlflow.search_traces(locations=[_experiment_id(lh)], run_id=ids["run_id"], return_type="list")
    assert [t.info.trace_id for t in in_run] == [ids["in_run"]]

    mine = lh.traces.get(ids["in_run"])
    assert [s.name for s in mine.spans] == ["answer", "retrieve", "lookup"]
    newest_first = sorted(ids[k] for k in ("in_run", "alone", "of_model"))
    newest_first.sort(key=lambda t: -lh.traces.get(t).info.request_time)
    assert [t.trace_id for t in lh.traces.search([EXP], "attribute.status = 'OK'")] == newest_first


def test_spans_are_rows_of_a_delta_table_readable_in_sql(served):
    lh, _url, _tokens, ids = served
    rows = lh.sql(
        "SELECT name, span_type, parent_span_id IS NULL AS root, attributes['mlflow.spanInputs'] AS inputs, "
        f"experiment FROM system.ml.spans WHERE trace_id = '{ids['in_run']}' ORDER BY start_time_ns"
    ).fetchall()
    assert rows == [
        ("answer", "CHAIN", True, '{"q": "fern"}', EXP),
        ("retrieve", "RETRIEVER", False, '{"q": "fern"}', EXP),
        ("lookup", "TOOL", False, '{"q": "fern"}', EXP),
    ]
    traces = lh.sql(
        "SELECT t.trace_id, t.state, count(*) FROM system.ml.traces t JOIN system.ml.spans s USING (trace_id) "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert traces == sorted((ids[k], "OK", 3) for k in ("in_run", "alone", "of_model"))
    # the span log is a Delta table in the system catalog, appended to by Glashaus
    assert lh.get("system.ml.span_log").kind == "table"
    assert lh.history("system.ml.span_log")[0].operation.startswith(("WRITE", "DELETE"))


def test_trace_tags_are_set_searched_and_deleted(served, client):
    lh, _url, _tokens, ids = served
    client.set_trace_tag(ids["alone"], "reviewed", "yes")
    assert client.get_trace(ids["alone"]).info.tags["reviewed"] == "yes"
    tagged = mlflow.search_traces(
        locations=[_experiment_id(lh)], filter_string="tag.reviewed = 'yes'", return_type="list"
    )
    assert [t.info.trace_id for t in tagged] == [ids["alone"]]
    client.delete_trace_tag(ids["alone"], "reviewed")
    assert "reviewed" not in mlflow.get_trace(ids["alone"]).info.tags
    with pytest.raises(MlflowException, match="No trace tag with key 'reviewed'"):
        client.delete_trace_tag(ids["alone"], "reviewed")
    lh.traces.set_tag(ids["alone"], "team", "reco")
    assert lh.traces.get(ids["alone"]).info.tags["team"] == "reco"
    lh.traces.delete_tag(ids["alone"], "team")
    with pytest.raises(NotFoundError):
        lh.traces.delete_tag(ids["alone"], "team")


def test_full_text_search_finds_traces_by_what_their_spans_hold(served, client):
    lh, _url, _tokens, ids = served
    found = mlflow.search_traces(
        locations=[_experiment_id(lh)], filter_string="trace.text LIKE '%IVY%'", return_type="list"
    )
    assert [t.info.trace_id for t in found] == [ids["alone"]]  # lookup's output, {"answer": "IVY"}
    spans_of_all = lh.traces.search([EXP], filter_string="trace.text ILIKE '%retrieve%'")
    assert {t.trace_id for t in spans_of_all} == {ids["alone"], ids["in_run"], ids["of_model"]}
    with pytest.raises(InvalidArgumentError, match=r"trace\.text takes LIKE or ILIKE"):
        lh.traces.search([EXP], filter_string="trace.text = 'ivy'")


def test_the_v3_tag_routes_set_and_delete_as_the_v2_ones(served):
    lh, url, tokens, ids = served
    tags = f"{url}/api/3.0/mlflow/traces/{ids['alone']}/tags"
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    assert httpx.patch(tags, json={"trace_id": ids["alone"], "key": "v3", "value": "on"}, headers=auth).json() == {}
    assert lh.traces.get(ids["alone"]).info.tags["v3"] == "on"
    assert httpx.request("DELETE", tags, json={"trace_id": ids["alone"], "key": "v3"}, headers=auth).json() == {}
    assert "v3" not in lh.traces.get(ids["alone"]).info.tags
    again = httpx.request("DELETE", tags, json={"trace_id": ids["alone"], "key": "v3"}, headers=auth)
    assert again.status_code == 404 and again.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bob = httpx.patch(tags, json={"key": "v3", "value": "x"}, headers={"Authorization": f"Bearer {tokens['bob']}"})
    assert bob.status_code in (403, 404) and "v3" not in lh.traces.get(ids["alone"]).info.tags


def test_traces_are_linked_to_a_run(served, client):
    lh, _url, _tokens, ids = served
    run = client.create_run(_experiment_id(lh))
    client.link_traces_to_run([ids["alone"]], run.info.run_id)
    linked = mlflow.search_traces(locations=[_experiment_id(lh)], run_id=run.info.run_id, return_type="list")
    assert [t.info.trace_id for t in linked] == [ids["alone"]]
    assert lh.traces.get(ids["alone"]).info.run_ids == [run.info.run_id]
    with pytest.raises(MlflowException, match="Run with id=nope not found"):
        client.link_traces_to_run([ids["alone"]], "nope")


@needs_chromium
def test_the_web_shell_shows_a_trace_as_its_span_tree(served, page):
    _lh, url, tokens, ids = served
    server = type("Server", (), {"url": url})
    sign_in(page, server, tokens["alice"], f"/catalog/{EXP}")
    page.click("#traces-link")
    assert ids["in_run"] in page.inner_text("#traces")
    page.click(f"a[href='/traces/{ids['in_run']}']")
    assert page.inner_text("#state") == "OK"
    rows = page.query_selector_all("#spans tbody tr")
    assert [(r.get_attribute("data-depth"), r.query_selector(".span-name").inner_text()) for r in rows] == [
        ("0", "answer"),
        ("1", "retrieve"),
        ("1", "lookup"),
    ]
    assert [cells[1] for cells in table_text(page, "#spans")] == ["CHAIN", "RETRIEVER", "TOOL"]
    assert '"q": "fern"' in table_text(page, "#spans")[1][4]
    # an experiment named unlike its securable (MLflow's "Default") is reached from its catalog page too
    page.goto(f"{url}/catalog/main.default.default_0")
    page.click("#traces-link")
    assert page.inner_text("h1") == "Traces of Default"
    # bob may not read the experiment: the page is refused
    context = page.context
    context.clear_cookies()
    response = sign_in(page, server, tokens["bob"], f"/traces/{ids['in_run']}")
    assert response.status == 403


def test_a_reader_without_access_is_denied_and_audited(served, monkeypatch):
    lh, url, tokens, ids = served
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", tokens["bob"])
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    bob = MlflowClient()
    with pytest.raises(MlflowException) as denied:
        bob.get_trace(ids["in_run"])
    assert denied.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as searched:
        mlflow.search_traces(locations=[_experiment_id(lh)], return_type="list")
    assert searched.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as tagged:
        bob.set_trace_tag(ids["in_run"], "k", "v")
    assert tagged.value.error_code == "PERMISSION_DENIED"
    lh.flush()
    audited = lh.sql(
        "SELECT DISTINCT action FROM system.access.audit WHERE principal = 'bob' AND decision = 'deny' "
        f"AND securable = '{EXP}' ORDER BY 1"
    ).fetchall()
    assert audited == [("trace.get",), ("trace.search",), ("trace.set_tag",)]
    # in SQL bob sees no rows of experiments he may not read
    with lh.as_user("bob") as as_bob:
        assert as_bob.sql("SELECT count(*) FROM system.ml.spans").scalar() == 0
        assert as_bob.sql("SELECT count(*) FROM system.ml.traces").scalar() == 0
    # granted EXECUTE, he reads them
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    lh.grant("EXECUTE", on=EXP, to="bob")
    try:
        assert [s.name for s in bob.get_trace(ids["in_run"]).data.spans] == ["answer", "retrieve", "lookup"]
        with lh.as_user("bob") as as_bob:
            assert as_bob.sql("SELECT count(*) FROM system.ml.spans").scalar() == 9
    finally:
        lh.revoke("EXECUTE", on=EXP, from_="bob")


def _otlp_body(trace_hex: str = "ab" * 16) -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes.fromhex(trace_hex)
    span.span_id = bytes.fromhex("cd" * 8)
    span.name = "sneaky"
    span.start_time_unix_nano = 1
    return request.SerializeToString()


def test_spans_for_an_experiment_the_caller_may_not_modify_are_refused_whole(served):
    lh, url, tokens, _ids = served
    before = lh.sql("SELECT count(*) FROM system.ml.span_log").scalar()
    reply = httpx.post(
        f"{url}/v1/traces",
        content=_otlp_body(),
        headers={
            "Authorization": f"Bearer {tokens['bob']}",
            "Content-Type": "application/x-protobuf",
            "x-mlflow-experiment-id": _experiment_id(lh),
        },
    )
    assert reply.status_code == 403 and reply.json()["error_code"] == "PERMISSION_DENIED"
    assert lh.sql("SELECT count(*) FROM system.ml.span_log").scalar() == before
    lh.flush()
    assert lh.sql(
        "SELECT count(*) FROM system.access.audit WHERE principal = 'bob' AND action = 'trace.log_spans' "
        "AND decision = 'deny'"
    ).scalar()


def test_the_otlp_path_refuses_what_is_no_span_batch(served):
    lh, url, tokens, _ids = served
    auth = {"Authorization": f"Bearer {tokens['alice']}", "Content-Type": "application/x-protobuf"}
    garbage = httpx.post(
        f"{url}/v1/traces", content=b"\xff\x00nope", headers={**auth, "x-mlflow-experiment-id": _experiment_id(lh)}
    )
    assert garbage.status_code == 400 and "ExportTraceServiceRequest" in garbage.json()["message"]
    headless = httpx.post(f"{url}/v1/traces", content=_otlp_body(), headers=auth)
    assert headless.status_code == 400 and "x-mlflow-experiment-id" in headless.json()["message"]
    assert httpx.get(f"{url}/version", headers=auth).text == "3.18.0"


def test_deleting_traces_removes_their_spans(served, client):
    lh, _url, _tokens, ids = served
    experiment_id = _experiment_id(lh)
    assert client.delete_traces(experiment_id, trace_ids=[ids["alone"]]) == 1
    with pytest.raises(MlflowException) as gone:
        client.get_trace(ids["alone"])
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert lh.sql(f"SELECT count(*) FROM system.ml.span_log WHERE trace_id = '{ids['alone']}'").scalar() == 0
    assert lh.sql(f"SELECT count(*) FROM system.ml.spans WHERE trace_id = '{ids['in_run']}'").scalar() == 3
    assert lh.history("system.ml.span_log", limit=1)[0].operation.startswith("DELETE")
    with pytest.raises(InvalidArgumentError, match="Exactly one of"):
        lh.traces.delete(EXP)
    both = httpx.post(
        f"{_url}/api/2.0/mlflow/traces/delete-traces",
        json={"experiment_id": experiment_id, "request_ids": [ids["in_run"]], "max_timestamp_millis": 1},
        headers={"Authorization": f"Bearer {_tokens['alice']}"},
    )
    assert both.status_code == 400 and both.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert lh.traces.get(ids["in_run"]).spans
    assert lh.traces.delete(EXP, max_timestamp_millis=0) == 0
    v3 = httpx.post(
        f"{_url}/api/3.0/mlflow/traces/delete-traces",
        json={"experiment_id": experiment_id, "max_timestamp_millis": 0},
        headers={"Authorization": f"Bearer {_tokens['alice']}"},
    )
    assert v3.json() == {"traces_deleted": 0} and lh.traces.get(ids["in_run"]).spans
    with pytest.raises(InvalidArgumentError, match="invalid trace id"):
        lh.traces.get("x' OR 1=1")


def test_bad_trace_requests_get_clear_errors_and_write_nothing(served):
    lh, url, tokens, ids = served
    tracing = services(lh).tracing
    experiment_id = _experiment_id(lh)
    other = lh.experiments.create("main.shop.other_bot").experiment_id
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    spans_before = lh.sql("SELECT count(*) FROM system.ml.span_log").scalar()
    # a trace id names one trace: not in two experiments
    with pytest.raises(InvalidArgumentError, match="belongs to another experiment"):
        tracing.log_spans(lh.principal, other, [Span(ids["in_run"], "ee" * 8, "stray", 1)])
    with pytest.raises(InvalidArgumentError, match="belongs to another experiment"):
        tracing.start_trace(lh.principal, TraceInfo(ids["in_run"], other, request_time=1))
    assert lh.sql("SELECT count(*) FROM system.ml.span_log").scalar() == spans_before
    assert lh.traces.get(ids["in_run"]).info.experiment_id == experiment_id
    with pytest.raises(InvalidArgumentError, match="invalid trace state 'DONE'"):
        tracing.start_trace(lh.principal, TraceInfo("tr-new", experiment_id, request_time=1, state="DONE"))
    with pytest.raises(InvalidArgumentError, match="invalid trace tag key"):
        lh.traces.set_tag(ids["in_run"], "k" * 251, "v")
    with pytest.raises(InvalidArgumentError, match="'max_traces' can't be specified"):
        lh.traces.delete(EXP, trace_ids=[ids["in_run"]], max_traces=1)
    with pytest.raises(InvalidArgumentError, match="'max_traces' must be a positive integer"):
        lh.traces.delete(EXP, max_timestamp_millis=1, max_traces=0)
    with pytest.raises(InvalidArgumentError, match="Cannot link more than 100 traces"):
        tracing.link_traces_to_run(lh.principal, [ids["in_run"]] * 101, ids["run_id"])
    with pytest.raises(InvalidArgumentError, match=r"cannot order traces by 'tag\.x'"):
        lh.traces.search([EXP], order_by=["tag.x"])
    with pytest.raises(InvalidArgumentError, match="filtering traces on span"):
        lh.traces.search([EXP], "span.name = 'answer'")
    with pytest.raises(InvalidArgumentError, match="at least one experiment"):
        lh.traces.search([])
    # the MLflow routes answer in MLflow's error format
    no_location = httpx.post(
        f"{url}/api/3.0/mlflow/traces", json={"trace": {"trace_info": {"trace_id": "tr-x"}}}, headers=auth
    )
    assert no_location.status_code == 400 and "mlflow_experiment" in no_location.json()["message"]
    otlp = {**auth, "Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
    brotli = httpx.post(f"{url}/v1/traces", content=_otlp_body(), headers={**otlp, "Content-Encoding": "br"})
    assert brotli.status_code == 400 and "Content-Encoding" in brotli.json()["message"]
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(trace_id=b"short", span_id=b"x" * 8, name="bad")
    short = httpx.post(f"{url}/v1/traces", content=request.SerializeToString(), headers=otlp)
    assert short.status_code == 400 and "16-byte trace_id" in short.json()["message"]
    assert lh.sql("SELECT count(*) FROM system.ml.span_log").scalar() == spans_before
    # a gzip-compressed batch is taken
    zipped = httpx.post(
        f"{url}/v1/traces", content=gzip.compress(_otlp_body("12" * 16)), headers={**otlp, "Content-Encoding": "gzip"}
    )
    assert zipped.status_code == 200
    assert lh.sql(f"SELECT name FROM system.ml.spans WHERE trace_id = 'tr-{'12' * 16}'").fetchall() == [("sneaky",)]

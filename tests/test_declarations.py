"""The declarations: each operation declared once, exposed the same embedded and remote.

- the checked-in typed API (``glashaus/api.py``, ``glashaus/server/remote.py``) is what the
  generator writes from the declarations today;
- every declared operation is called both ways (an embedded lakehouse, and a remote client of
  a second, identical lakehouse behind a real server) with the same arguments: the results
  have the same types and contents (ids, times and paths aside), the errors the same class;
  the embedded-only ones refuse remotely with their reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

import glashaus
from glashaus.api import LakehouseAPI
from glashaus.errors import GlashausError, InvalidArgumentError, NotFoundError
from glashaus.lakehouse import services
from glashaus.operations import OPERATIONS, by_name
from glashaus.server import generate
from glashaus.server.app import ServerThread, create_app
from glashaus.sql.result import Result
from glashaus.tracing import Span, TraceInfo

DATA = pa.table(
    {
        "x1": [0.1, 0.9, 0.2, 0.8, 0.3, 0.7],
        "x2": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0],
        "y": pa.array([0, 1, 0, 1, 0, 1], pa.int64()),
    }
)
ROWS = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "v": ["a", "b", "c"]})


def test_the_checked_in_typed_api_is_generated_from_the_declarations():
    for key, text in generate.texts().items():
        assert generate.TARGETS[key].read_text() == text, (
            f"{generate.TARGETS[key]} is out of date: run `python -m glashaus.server.generate`"
        )


def test_every_facade_method_is_generated_from_its_declaration():
    """Adding an operation is its declaration plus its function: no hand-written facade method."""
    from glashaus.operations import facade_class

    for op in OPERATIONS:
        assert op.calls is not None, f"{op.qualname}: declare the function it calls (calls=...)"
        method = getattr(facade_class(op.facade), op.name)
        assert method.__module__ == "glashaus.facades", f"{op.qualname} is written by hand in {method.__module__}"
        generated = inspect.signature(method)
        generated = generated.replace(parameters=list(generated.parameters.values())[1:])
        # the same parameters, defaults and types (a class with a `list` method writes builtins.list)
        assert str(op.signature).replace("builtins.list[", "list[") == str(generated).replace("builtins.list[", "list[")


def test_every_declaration_names_a_method_and_its_route_is_unique():
    routes = [(op.http, op.path) for op in OPERATIONS if not op.embedded_only]
    assert len(routes) == len(set(routes))
    for op in OPERATIONS:
        assert callable(op.function), op.qualname
        assert op.embedded_only or op.path.startswith("/api/"), op.qualname


# -- every operation, both ways ---------------------------------------------------------------

#: One call per operation, in an order where each finds what the ones before made.
#: ``ctx`` carries what a call returned (a run id) to later calls of the same side.
Case = Callable[[Any, dict[str, Any]], Any]


TRACE = "tr-0af7651916cd43dd8448eb211c80319c"


def _setup(lh) -> None:
    """What both lakehouses hold before the calls (made embedded on each)."""
    lh.create_user("bob")
    lh.create_schema("main.shop")
    lh.create_table("main.shop.train", data=DATA)
    lh.create_table("main.shop.cand", data=DATA.select(["x1", "x2"]))
    model = LogisticRegression().fit(DATA.select(["x1", "x2"]).to_pandas(), DATA["y"].to_numpy())
    lh.models.register(
        model,
        "main.shop.reco",
        training_set="main.shop.train",
        input_example=DATA.select(["x1", "x2"]).to_pandas().head(2),
    )
    lh.create_volume("main.shop.uploads")
    # a trace as MLflow's client logs it through glashaus serve (spans first, then its info)
    experiment = lh.experiments.create("main.shop.chat")
    tracing = services(lh).tracing
    tracing.log_spans(lh.principal, experiment.experiment_id, [Span(TRACE, "00f067aa0ba902b7", "answer", 10**18)])
    tracing.start_trace(lh.principal, TraceInfo(TRACE, experiment.experiment_id, request_time=10**9))


def _remember(key: str, attribute: str, call: Case) -> Case:
    def case(lh, ctx):
        value = call(lh, ctx)
        ctx[key] = getattr(value, attribute)
        return value

    return case


def _copy_model_files(lh, ctx):
    for f in lh.models.files("main.shop.reco/1"):
        lh.put_file("main.shop.uploads", f"reco/{f.path}", lh.models.read_file("main.shop.reco/1", f.path))
    return lh.models.register_files("/Volumes/main/shop/uploads/reco", "main.shop.reco", description="copied")


CASES: list[tuple[str, Case]] = [
    ("sql", lambda lh, ctx: lh.sql("SELECT 1 AS x, 'a' AS y")),
    ("create_catalog", lambda lh, ctx: lh.create_catalog("dev", comment="c")),
    ("create_schema", lambda lh, ctx: lh.create_schema("dev.s")),
    ("create_table", lambda lh, ctx: lh.create_table("dev.s.t", schema=ROWS.schema, primary_key=["id"])),
    ("write", lambda lh, ctx: lh.write("dev.s.t", ROWS)),
    ("read", lambda lh, ctx: lh.read("dev.s.t", columns=["id"])),
    ("create_view", lambda lh, ctx: lh.create_view("dev.s.w", "SELECT id FROM dev.s.t")),
    ("list", lambda lh, ctx: lh.list("dev.s")),
    ("get", lambda lh, ctx: lh.get("dev.s.t")),
    ("exists", lambda lh, ctx: (lh.exists("dev.s.t"), lh.exists("dev.s.nope"))),
    ("describe", lambda lh, ctx: lh.describe("dev.s.t").columns),
    ("set_comment", lambda lh, ctx: lh.set_comment("dev.s.t", "rows", column="v")),
    ("set_tags", lambda lh, ctx: lh.set_tags("dev.s.t", {"pii": "no"})),
    ("unset_tags", lambda lh, ctx: lh.unset_tags("dev.s.t", ["pii"])),
    ("set_properties", lambda lh, ctx: lh.set_properties("dev.s.t", {"k": "v"})),
    ("history", lambda lh, ctx: [h.operation for h in lh.history("dev.s.t")]),
    ("changes", lambda lh, ctx: lh.changes("dev.s.t").num_rows),
    ("restore", lambda lh, ctx: lh.restore("dev.s.t", version=0).version),
    ("optimize", lambda lh, ctx: sorted(lh.optimize("dev.s.t").to_dict())),
    ("vacuum", lambda lh, ctx: lh.vacuum("dev.s.t", dry_run=True)),
    ("lineage", lambda lh, ctx: lh.lineage("dev.s.t")),
    ("column_lineage", lambda lh, ctx: lh.column_lineage("dev.s.w")),
    ("create_volume", lambda lh, ctx: lh.create_volume("dev.s.files")),
    ("put_file", lambda lh, ctx: lh.put_file("dev.s.files", "a/b.txt", b"hello")),
    ("list_files", lambda lh, ctx: lh.list_files("dev.s.files")),
    ("get_file", lambda lh, ctx: lh.get_file("dev.s.files", "a/b.txt")),
    ("delete_file", lambda lh, ctx: lh.delete_file("dev.s.files", "a/b.txt")),
    ("create_group", lambda lh, ctx: lh.create_group("analysts")),
    ("create_service_principal", lambda lh, ctx: lh.create_service_principal("etl")),
    ("create_user", lambda lh, ctx: lh.create_user("carol")),
    ("add_member", lambda lh, ctx: lh.add_member("analysts", "carol")),
    ("remove_member", lambda lh, ctx: lh.remove_member("analysts", "carol")),
    ("principals", lambda lh, ctx: lh.principals(kind="group")),
    ("principal_info", lambda lh, ctx: lh.principal_info("bob")),
    ("grant", lambda lh, ctx: lh.grant("SELECT", on="dev.s.t", to="analysts")),
    ("show_grants", lambda lh, ctx: lh.show_grants("dev.s.t")),
    ("revoke", lambda lh, ctx: lh.revoke("SELECT", on="dev.s.t", from_="analysts")),
    ("set_owner", lambda lh, ctx: lh.set_owner("dev.s.w", "bob")),
    ("set_row_filter", lambda lh, ctx: lh.set_row_filter("dev.s.t", "id > 1")),
    ("set_column_mask", lambda lh, ctx: lh.set_column_mask("dev.s.t", "v", "'***'")),
    ("create_tag_policy", lambda lh, ctx: lh.create_tag_policy("hide", tag="pii", mask="'x'", except_groups=[])),
    ("tag_policies", lambda lh, ctx: lh.tag_policies()),
    ("drop_tag_policy", lambda lh, ctx: lh.drop_tag_policy("hide")),
    ("create_token", lambda lh, ctx: lh.create_token("bob", expires_in=60).startswith("ghs_")),
    ("tokens", lambda lh, ctx: [t.principal for t in lh.tokens("bob")]),
    ("revoke_token", lambda lh, ctx: lh.revoke_token(lh.tokens("bob")[0].id).principal),
    ("drop_principal", lambda lh, ctx: lh.drop_principal("etl")),
    # models
    ("models.create", lambda lh, ctx: lh.models.create("main.shop.other", description="d", tags={"t": "1"})),
    ("models.list", lambda lh, ctx: lh.models.list("main.shop")),
    ("models.get", lambda lh, ctx: lh.models.get("main.shop.reco")),
    ("models.set_description", lambda lh, ctx: lh.models.set_description("main.shop.reco", "recommends")),
    ("models.set_tags", lambda lh, ctx: lh.models.set_tags("main.shop.reco", {"team": "reco"})),
    ("models.unset_tags", lambda lh, ctx: lh.models.unset_tags("main.shop.reco", ["team"])),
    ("models.register", lambda lh, ctx: lh.models.register(None, "main.shop.reco")),
    ("models.files", lambda lh, ctx: sorted(f.path for f in lh.models.files("main.shop.reco/1"))),
    ("models.read_file", lambda lh, ctx: lh.models.read_file("main.shop.reco/1", "MLmodel")[:20]),
    ("models.register_files", _copy_model_files),
    ("models.versions", lambda lh, ctx: lh.models.versions("main.shop.reco")),
    ("models.version", lambda lh, ctx: lh.models.version("main.shop.reco/2")),
    ("models.set_trusted", lambda lh, ctx: lh.models.set_trusted("main.shop.reco", 2, False).trusted),
    (
        "models.set_alias",
        lambda lh, ctx: [lh.models.set_alias("main.shop.reco", "champion", v, reason="try") for v in (2, 1)],
    ),
    ("models.alias_history", lambda lh, ctx: lh.models.alias_history("main.shop.reco", alias="champion")),
    ("models.load", lambda lh, ctx: type(lh.models.load("main.shop.reco@champion")).__name__),
    (
        "models.score",
        lambda lh, ctx: (
            lh.models.score(
                "main.shop.reco@champion", table="main.shop.cand", output="main.shop.scores", keep=["x1"]
            ).rows
        ),
    ),
    ("models.rollback", lambda lh, ctx: lh.models.rollback("main.shop.reco", "champion")),
    ("models.delete_alias", lambda lh, ctx: lh.models.delete_alias("main.shop.reco", "champion")),
    ("models.delete_version", lambda lh, ctx: lh.models.delete_version("main.shop.reco", 2, reason="copy")),
    ("models.delete", lambda lh, ctx: lh.models.delete("main.shop.other")),
    # serving
    ("serving.create_endpoint", lambda lh, ctx: lh.serving.create_endpoint("reco", model="main.shop.reco@1")),
    ("serving.list_endpoints", lambda lh, ctx: lh.serving.list_endpoints()),
    ("serving.get_endpoint", lambda lh, ctx: lh.serving.get_endpoint("reco")),
    ("serving.update_endpoint", lambda lh, ctx: lh.serving.update_endpoint("reco", shadow=None)),
    ("serving.delete_endpoint", lambda lh, ctx: lh.serving.delete_endpoint("reco")),
    # experiments and runs
    ("experiments.create", lambda lh, ctx: lh.experiments.create("main.shop.training", tags={"t": "1"})),
    ("experiments.get", lambda lh, ctx: lh.experiments.get("main.shop.training")),
    ("experiments.search", lambda lh, ctx: lh.experiments.search("name LIKE 'main.shop.%'")),
    ("experiments.set_tag", lambda lh, ctx: lh.experiments.set_tag("main.shop.training", "k", "v")),
    ("experiments.delete_tag", lambda lh, ctx: lh.experiments.delete_tag("main.shop.training", "k")),
    ("runs.start", _remember("run", "run_id", lambda lh, ctx: lh.runs.start("main.shop.training", name="b"))),
    ("runs.log_params", lambda lh, ctx: lh.runs.log_params(ctx["run"], {"lr": 0.1})),
    ("runs.log_metrics", lambda lh, ctx: lh.runs.log_metrics(ctx["run"], {"rmse": 0.3}, step=1, timestamp=5)),
    ("runs.set_tags", lambda lh, ctx: lh.runs.set_tags(ctx["run"], {"k": "v"})),
    ("runs.metric_history", lambda lh, ctx: lh.runs.metric_history(ctx["run"], "rmse")),
    ("runs.log_artifact", lambda lh, ctx: lh.runs.log_artifact(ctx["run"], "out/a.txt", b"hi")),
    ("runs.artifacts", lambda lh, ctx: lh.runs.artifacts(ctx["run"], "out")),
    ("runs.read_artifact", lambda lh, ctx: lh.runs.read_artifact(ctx["run"], "out/a.txt")),
    ("runs.get", lambda lh, ctx: lh.runs.get(ctx["run"])),
    ("runs.search", lambda lh, ctx: lh.runs.search(["main.shop.training"], "metrics.rmse < 0.4")),
    ("runs.end", lambda lh, ctx: lh.runs.end(ctx["run"])),
    ("runs.delete", lambda lh, ctx: lh.runs.delete(ctx["run"])),
    ("runs.restore", lambda lh, ctx: lh.runs.restore(ctx["run"])),
    ("experiments.delete", lambda lh, ctx: lh.experiments.delete("main.shop.training")),
    ("experiments.restore", lambda lh, ctx: lh.experiments.restore("main.shop.training")),
    # traces
    ("traces.search", lambda lh, ctx: lh.traces.search(["main.shop.chat"], "attribute.status = 'OK'")),
    ("traces.get", lambda lh, ctx: lh.traces.get(TRACE)),
    ("traces.set_tag", lambda lh, ctx: lh.traces.set_tag(TRACE, "reviewed", "yes")),
    ("traces.delete_tag", lambda lh, ctx: lh.traces.delete_tag(TRACE, "reviewed")),
    ("traces.delete", lambda lh, ctx: lh.traces.delete("main.shop.chat", trace_ids=[TRACE])),
    # errors travel as the same classes
    ("drop", lambda lh, ctx: lh.drop("dev", cascade=True)),
]
#: Calls that fail, the same way on both sides.
ERRORS: list[tuple[str, Case]] = [
    ("get", lambda lh, ctx: lh.get("dev.nope.t")),
    ("models.get", lambda lh, ctx: lh.models.get("main.shop.nope")),
    ("runs.get", lambda lh, ctx: lh.runs.get("0" * 32)),
    ("serving.get_endpoint", lambda lh, ctx: lh.serving.get_endpoint("nope")),
    ("traces.get", lambda lh, ctx: lh.traces.get("tr-nope")),
    ("experiments.delete_tag", lambda lh, ctx: lh.experiments.delete_tag("main.shop.training", "never-set")),
    ("create_table", lambda lh, ctx: lh.create_table("main.shop.train", schema=ROWS.schema)),
]

#: Fields that differ between two lakehouses made alike (ids, times, where files lie).
VOLATILE = {
    "run_id",
    "experiment_id",
    "id",
    "created_at",
    "updated_at",
    "creation_time",
    "last_update_time",
    "start_time",
    "end_time",
    "timestamp",
    "storage_location",
    "source",
    "event_time",
    "request_id",
    "expires_at",
    "inference_table_id",
    "owner_since",
    "securable_id",
    "model_id",
    "environment",
    "created",
    "modified",
    "last_modified",
    "modification_time",
    "timestamp_ms",
}


def _shape(value: Any, key: str | None = None) -> Any:
    """``value`` with what differs between two alike lakehouses replaced by its type."""
    if key in VOLATILE:
        return type(value).__name__
    if isinstance(value, Result):
        return ("Result", value.statement, _shape(value.to_arrow()))
    if isinstance(value, pa.Table):
        return ("Table", str(value.schema), value.to_pylist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            {f.name: _shape(getattr(value, f.name), f.name) for f in dataclasses.fields(value)},
        )
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a NamedTuple
        return (type(value).__name__, {k: _shape(v, k) for k, v in value._asdict().items()})
    if isinstance(value, dict):
        return {k: _shape(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shape(v) for v in value]
    if isinstance(value, dt.datetime):
        return "datetime"
    return value


def _outcome(case: Case, lh, ctx) -> Any:
    try:
        return _shape(case(lh, ctx))
    except GlashausError as exc:
        return ("error", type(exc).__name__)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    embedded = glashaus.connect(tmp_path_factory.mktemp("embedded") / "lh", user="alice")
    served = glashaus.connect(tmp_path_factory.mktemp("served") / "lh", user="alice")
    for lh in (embedded, served):
        _setup(lh)
    try:
        with (
            ServerThread(create_app(served)) as server,
            glashaus.connect(server.url, token=served.create_token()) as remote,
        ):
            yield embedded, remote
    finally:
        embedded.close()
        served.close()


def test_every_declared_operation_behaves_the_same_embedded_and_remote(pair):
    embedded, remote = pair
    assert isinstance(embedded, LakehouseAPI) and isinstance(remote, LakehouseAPI)
    assert {name for name, _ in CASES} == set(by_name()), "give each declared operation a case here"
    ctx_e: dict[str, Any] = {}
    ctx_r: dict[str, Any] = {}
    embedded_only = {}
    for name, case in CASES:
        op = by_name()[name]
        if op.embedded_only:
            with pytest.raises(InvalidArgumentError, match="not available on a served lakehouse"):
                case(remote, ctx_r)
            embedded_only[name] = op.embedded_only
            if name != "models.register":  # its embedded call is the setup's
                assert _outcome(case, embedded, ctx_e)[0] != "error", name
            continue
        theirs = _outcome(case, remote, ctx_r)
        assert theirs == _outcome(case, embedded, ctx_e), name
        assert not (isinstance(theirs, tuple) and theirs[:1] == ("error",)), f"{name} failed both ways: {theirs}"
    assert set(embedded_only) == {"models.register", "models.load"}, embedded_only


def test_errors_are_the_same_classes_embedded_and_remote(pair):
    embedded, remote = pair
    for name, case in ERRORS:
        theirs = _outcome(case, remote, {})
        assert theirs == _outcome(case, embedded, {}) and theirs[0] == "error", name
    with pytest.raises(NotFoundError):
        remote.models.version("main.shop.nope/1")


def test_the_remote_signatures_are_the_embedded_ones(pair):
    embedded, remote = pair
    for op in OPERATIONS:
        mine = getattr(getattr(remote, op.facade) if op.facade else remote, op.name)
        theirs = getattr(getattr(embedded, op.facade) if op.facade else embedded, op.name)

        # either text may say builtins.list where the class's own list method would shadow it
        def text(method: object) -> str:
            return str(inspect.signature(method)).replace("builtins.", "")  # type: ignore[arg-type]

        assert text(mine) == text(theirs), op.qualname
        assert inspect.getdoc(mine) == inspect.getdoc(theirs), op.qualname


#: Operations with no single audited check, and why.
UNAUDITED = {
    "sql": "each statement is checked (and audited) as what it is; SELECT 1 touches nothing",
    "principals": "principals are no securables: listing them decides nothing",
    "principal_info": "principals are no securables",
    "experiments.search": "shows only the experiments the caller may read (no decision to record)",
    "serving.list_endpoints": "shows only the endpoints whose model the caller may execute",
}
USE_PRIVILEGES = {"USE CATALOG", "USE SCHEMA", "SELECT", "READ VOLUME", "EXECUTE"}


def _declared_decision(op, event: dict) -> bool:
    action = re.fullmatch(re.escape(op.audit).replace(re.escape("{kind}"), r"\w+"), event["action"])
    privilege = event["privilege"] in USE_PRIVILEGES if op.privilege == "USE" else event["privilege"] == op.privilege
    return bool(action) and privilege and event["decision"] == "allow"


def test_each_operation_makes_the_decision_it_declares(tmp_path):
    """Run embedded, each operation's audit events hold the privilege and action its declaration names."""
    lh = glashaus.connect(tmp_path / "lh", user="alice")
    _setup(lh)
    ctx: dict[str, Any] = {}
    windows = []
    for name, case in CASES:
        start = dt.datetime.now(dt.UTC)
        if name != "models.register":  # embedded-only and made by the setup
            case(lh, ctx)
        windows.append((by_name()[name], start, dt.datetime.now(dt.UTC)))
    lh.flush()
    events = lh.sql(
        "SELECT action, privilege, decision, event_time FROM system.access.audit "
        "WHERE principal = 'alice' ORDER BY event_time"
    ).to_pylist()
    for event in events:
        event["event_time"] = event["event_time"].replace(tzinfo=dt.UTC)
    for op, start, end in windows:
        mine = [e for e in events if start <= e["event_time"] <= end]
        if op.audit is None:
            assert op.qualname in UNAUDITED, f"declare the privilege and audit action of {op.qualname}"
            continue
        if op.qualname == "models.register":
            continue  # embedded-only; its setup call is not in a window
        assert any(_declared_decision(op, e) for e in mine), (op.qualname, op.privilege, op.audit, mine)
    assert set(UNAUDITED) == {op.qualname for op in OPERATIONS if op.audit is None}
    lh.close()


# -- nothing on a Lakehouse skips the guard ----------------------------------------------------------

#: Public members of ``lh`` that are no declared operation, and why each touches no securable.
HARMLESS = {
    "": {
        "principal": "the caller's identity (a name and token id), nothing of the lakehouse",
        "user": "the caller's name",
        "root": "where the lakehouse lies (its folder or URI)",
        "models": "a namespace: its members are checked in turn",
        "experiments": "a namespace: its members are checked in turn",
        "runs": "a namespace: its members are checked in turn",
        "serving": "a namespace: its members are checked in turn",
        "traces": "a namespace: its members are checked in turn",
        "as_user": "the same lakehouse as another known principal (the directory checks it); no securable",
        "flush": "writes the journaled audit events and inference rows Glashaus itself recorded",
        "close": "flushes, then releases the engine and the metastore's connections",
    },
    **{
        namespace: {"principal": "the caller's identity (a name and token id), nothing of the lakehouse"}
        for namespace in ("models", "experiments", "runs", "serving", "traces")
    },
}


def _public(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


def test_every_public_member_of_a_lakehouse_is_a_declared_operation_or_touches_no_securable(lh):
    from glashaus.operations import FACADES

    declared = {(op.facade, op.name) for op in OPERATIONS}
    streams = {(op.facade, op.stream) for op in OPERATIONS if op.stream}
    unexplained = []
    for facade in FACADES:
        target = getattr(lh, facade) if facade else lh
        for name in _public(target):
            if (facade, name) in declared or (facade, name) in streams or name in HARMLESS.get(facade, {}):
                continue
            unexplained.append(f"{'lh.' + facade if facade else 'lh'}.{name}")
    assert not unexplained, f"declare these as operations, or say here why they touch no securable: {unexplained}"
    # the services and stores are no attributes of lh (the faces reach them with lakehouse.services(lh))
    for gone in (
        "tables",
        "engine",
        "metastore",
        "store",
        "catalog",
        "access",
        "directory",
        "admin",
        "audit",
        "registry",
        "tracking",
        "serving_service",
        "layout",
        "system",
        "volumes",
        "lineage_store",
    ):
        assert not hasattr(lh, gone), gone


def test_the_harmless_list_names_only_real_members(lh):
    for facade, names in HARMLESS.items():
        target = getattr(lh, facade) if facade else lh
        assert set(names) <= _public(target), set(names) - _public(target)


# -- connect(), above both modes ----------------------------------------------------------------


def test_connect_lives_above_both_modes_and_the_old_import_warns(tmp_path):
    from glashaus.entry import connect
    from glashaus.lakehouse import connect as old

    assert glashaus.connect is connect
    with pytest.warns(DeprecationWarning, match="use glashaus.connect"):
        lh = old(tmp_path / "lh", user="alice")
    with lh:
        assert isinstance(lh, glashaus.Lakehouse) and isinstance(lh, LakehouseAPI)


def test_open_embedded_refuses_a_served_lakehouse_and_says_what_to_use():
    with pytest.raises(InvalidArgumentError, match=r"served lakehouse: use glashaus.connect\('http://h:1'"):
        glashaus.open_embedded("http://h:1")


def test_each_declared_cli_command_exists():
    import typer

    from glashaus.cli.main import app

    root = typer.main.get_command(app)
    for op in OPERATIONS:
        if op.cli is None:
            continue
        command = root
        for word in op.cli.split()[1:]:
            command = command.commands.get(word) if hasattr(command, "commands") else None
            assert command is not None, f"{op.qualname}: no command {op.cli!r}"

"""Experiment tracking: experiments as securables, runs, MLflow's rules, search, files, logged models."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import glashaus
from glashaus.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
)
from glashaus.lakehouse import services
from glashaus.metastore import Base
from glashaus.tracking import Dataset, DatasetInput, Metric, ModelOutput, messages
from glashaus.tracking import rows as tracking_rows

EXP = "main.shop.reco_training"
TS = 1_767_225_600_000


@pytest.fixture
def exp(shop):
    return shop.experiments.create(EXP, tags={"team": "reco"})


@pytest.fixture
def bob(shop):
    shop.create_user("bob")
    return shop.as_user("bob")


def denials(lh, action):
    lh.flush()
    return lh.sql(
        "SELECT principal, privilege, securable FROM system.access.audit "
        f"WHERE decision = 'deny' AND action = '{action}'"
    ).fetchall()


# -- metastore ----------------------------------------------------------------------------------


def test_migration_creates_exactly_the_declared_tables(lh):
    with services(lh).metastore.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if "ml_" in repr(d)]
    assert ours == []
    assert tracking_rows.RunRow.__tablename__ in sa.inspect(services(lh).metastore.engine).get_table_names()


# -- experiments ----------------------------------------------------------------------------------


def test_a_three_part_name_is_the_experiments_securable(shop, exp):
    assert (exp.name, exp.securable, exp.owner, exp.tags) == (EXP, EXP, "alice", {"team": "reco"})
    assert shop.get(EXP).kind == "experiment"
    assert shop.experiments.get("Main.Shop.Reco_Training").experiment_id == exp.experiment_id
    assert shop.experiments.get(exp.experiment_id).name == EXP
    assert shop.get(EXP).storage_location.endswith(f"/ml/experiments/{exp.experiment_id}")


def test_a_free_form_name_lives_in_main_default_under_a_slug(lh):
    first = lh.experiments.create("/Users/ana/Plant Shop")
    second = lh.experiments.create("/Users/ana/plant-shop")
    assert first.name == "/Users/ana/Plant Shop"
    assert first.securable.startswith("main.default.users_ana_plant_shop_")
    assert first.securable != second.securable
    assert lh.get(first.securable).kind == "experiment"
    assert lh.experiments.get("/Users/ana/Plant Shop").experiment_id == first.experiment_id
    numeric = lh.experiments.create("2024 runs")
    assert numeric.securable.startswith("main.default.exp_2024_runs_")


def test_experiment_names_are_unique_even_when_deleted(shop, exp):
    with pytest.raises(AlreadyExistsError, match="already exists"):
        shop.experiments.create(EXP)
    shop.experiments.delete(EXP)
    with pytest.raises(AlreadyExistsError, match="deleted state"):
        shop.experiments.create(EXP)
    shop.experiments.restore(EXP)
    assert shop.experiments.get(EXP).lifecycle_stage == "active"


def test_bad_experiment_input_is_refused_with_the_fix(shop, exp):
    svc, alice = services(shop).tracking, shop.principal
    with pytest.raises(InvalidArgumentError, match="Invalid experiment name"):
        svc.create_experiment(alice, "")
    with pytest.raises(InvalidArgumentError, match="exceeds the maximum length"):
        svc.create_experiment(alice, "x" * 501)
    with pytest.raises(NotFoundError, match=r"schema 'main.nope' does not exist"):
        svc.create_experiment(alice, "main.nope.exp")
    with pytest.raises(InvalidNameError, match="'Bad-Name!' is not a valid identifier"):
        svc.create_experiment(alice, "main.shop.Bad-Name!")
    assert svc.create_experiment(alice, "v1.2.3").securable.startswith("main.default.v1_2_3_")
    with pytest.raises(InvalidArgumentError, match="Glashaus's own"):
        svc.set_experiment_tag(alice, exp.experiment_id, "glashaus.securable", "x")
    with pytest.raises(InvalidArgumentError, match="three-part name"):
        svc.rename_experiment(alice, exp.experiment_id, "free-name")
    assert svc.get_experiment(alice, "0").name == "Default"  # MLflow's default experiment (was refused up to 0.2)
    with pytest.raises(InvalidArgumentError, match="whole numbers"):
        svc.get_experiment(alice, "abc")
    with pytest.raises(NotFoundError, match="Could not find experiment"):
        svc.get_experiment_by_name(alice, "main.shop.nope")


def test_rename_and_tags_of_a_free_form_experiment(lh):
    e = lh.experiments.create("draft")
    renamed = services(lh).tracking.rename_experiment(lh.principal, e.experiment_id, "final")
    assert renamed.name == "final" and renamed.securable == e.securable
    lh.experiments.set_tag("final", "stage", "dev")
    assert lh.experiments.get("final").tags == {"stage": "dev"}
    services(lh).tracking.delete_experiment_tag(lh.principal, e.experiment_id, "stage")
    with pytest.raises(NotFoundError, match="No tag with name: stage"):
        services(lh).tracking.delete_experiment_tag(lh.principal, e.experiment_id, "stage")


def test_search_experiments_filters_orders_and_pages(shop, exp):
    for name in ("main.shop.b_exp", "main.shop.c_exp"):
        shop.experiments.create(name)
    shop.experiments.set_tag("main.shop.c_exp", "team", "reco")
    svc, alice = services(shop).tracking, shop.principal
    assert [e.name for e in shop.experiments.search("tags.team = 'reco'", order_by=["name DESC"])] == [
        "main.shop.reco_training",
        "main.shop.c_exp",
    ]
    first = svc.search_experiments(alice, max_results=2, order_by=["name"])
    second = svc.search_experiments(alice, max_results=2, order_by=["name"], page_token=first.next_page_token)
    # "Default": MLflow's default experiment, experiment 0, which every lakehouse has
    assert [e.name for e in first.items + second.items] == ["Default", "main.shop.b_exp", "main.shop.c_exp", EXP]
    assert second.next_page_token is None
    shop.experiments.delete("main.shop.b_exp")
    assert [e.name for e in shop.experiments.search(view="deleted")] == ["main.shop.b_exp"]
    with pytest.raises(InvalidArgumentError):
        shop.experiments.search("nonsense ~ 3")


# -- runs and logging -------------------------------------------------------------------------------


def test_a_run_records_params_metrics_tags_and_its_user(shop, exp):
    run = shop.runs.start(EXP, name="baseline", tags={"mlflow.user": "someone-else"})
    assert (run.status, run.user_id, run.tags["mlflow.user"], run.tags["mlflow.runName"]) == (
        "RUNNING",
        "alice",
        "alice",
        "baseline",
    )
    shop.runs.log_params(run.run_id, {"lr": 0.1, "model": "gbm"})
    shop.runs.log_metrics(run.run_id, {"rmse": 0.4}, step=1, timestamp=TS)
    shop.runs.log_metrics(run.run_id, {"rmse": 0.3}, step=2, timestamp=TS - 5)  # a later step wins
    shop.runs.log_metrics(run.run_id, {"rmse": 0.9}, step=0, timestamp=TS + 99)
    shop.runs.set_tags(run.run_id, {"stage": "dev"})
    done = shop.runs.end(run.run_id)
    assert done.status == "FINISHED" and done.end_time is not None
    assert done.params == {"lr": "0.1", "model": "gbm"}
    assert done.metrics["rmse"].value == 0.3 and done.metrics["rmse"].step == 2
    assert [(m.step, m.value) for m in shop.runs.metric_history(run.run_id, "rmse")] == [(0, 0.9), (1, 0.4), (2, 0.3)]
    auto = shop.runs.start(EXP)
    assert auto.name and auto.name != "baseline"  # MLflow's generated names


def test_nan_and_infinity_are_stored_as_mlflow_stores_them(shop, exp):
    run = shop.runs.start(EXP)
    shop.runs.log_metrics(run.run_id, {"nan": float("nan"), "up": float("inf"), "down": float("-inf")})
    metrics = shop.runs.get(run.run_id).metrics
    assert math.isnan(metrics["nan"].value)
    assert (metrics["up"].value, metrics["down"].value) == (1.7976931348623157e308, -1.7976931348623157e308)
    assert math.isnan(shop.runs.metric_history(run.run_id, "nan")[0].value)


def test_params_are_immutable_and_a_refused_batch_writes_nothing(shop, exp):
    run = shop.runs.start(EXP)
    shop.runs.log_params(run.run_id, {"lr": "0.1"})
    shop.runs.log_params(run.run_id, {"lr": "0.1"})  # the same value again is fine
    with pytest.raises(InvalidArgumentError, match="Changing param values is not allowed"):
        services(shop).tracking.log_batch(
            shop.principal, run.run_id, params={"lr": "0.2"}, metrics=[Metric("loss", 1.0, TS)], tags={"t": "v"}
        )
    after = shop.runs.get(run.run_id)
    assert after.params == {"lr": "0.1"} and "loss" not in after.metrics and "t" not in after.tags
    assert shop.runs.metric_history(run.run_id, "loss") == []
    shop.runs.log_params(run.run_id, {"long": "x" * 6001})  # MLflow truncates long values (with a warning)
    assert len(shop.runs.get(run.run_id).params["long"]) == 6000


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, w, r: s.log_batch(w, r, params={f"p{i}": "v" for i in range(101)}), "at most 100 params"),
        (lambda s, w, r: s.log_batch(w, r, metrics=[Metric("../x", 1.0, TS)]), "must not resolve to other names"),
        (lambda s, w, r: s.log_batch(w, r, metrics=[Metric("m", "high", TS)]), "valid double"),
        (lambda s, w, r: s.log_batch(w, r, metrics=[Metric("m", 1.0, -1)]), "nonnegative"),
        (lambda s, w, r: s.log_batch(w, r, params=[("a", "1"), ("a", "2")]), "Duplicate parameter keys"),
        (lambda s, w, r: s.log_batch(w, r, params={"k" * 251: "v"}), "exceeds the maximum length"),
        (lambda s, w, r: s.log_batch(w, r, tags={"bad\tkey": "v"}), "Names may only contain"),
        (lambda s, w, r: s.update_run(w, r, status="DONE"), "Invalid run status"),
        (lambda s, w, r: s.create_run(w, "1", run_name="a", tags={"mlflow.runName": "b"}), "different values"),
    ],
)
def test_mlflow_size_and_name_limits_are_enforced(shop, exp, call, message):
    run = shop.runs.start(EXP)
    with pytest.raises(InvalidArgumentError, match=message):
        call(services(shop).tracking, shop.principal, run.run_id)


def test_deleted_runs_and_experiments_refuse_logging_until_restored(shop, exp):
    run = shop.runs.start(EXP)
    shop.runs.delete(run.run_id)
    with pytest.raises(InvalidArgumentError, match="must be in the 'active' state"):
        shop.runs.log_metrics(run.run_id, {"m": 1.0})
    shop.runs.restore(run.run_id)
    shop.runs.log_metrics(run.run_id, {"m": 1.0})
    shop.experiments.delete(EXP)
    assert shop.runs.get(run.run_id).lifecycle_stage == "deleted"
    with pytest.raises(InvalidArgumentError, match=r"experiment .* must be in the 'active' state"):
        shop.runs.start(EXP)
    shop.experiments.restore(EXP)
    assert shop.runs.get(run.run_id).lifecycle_stage == "active"
    with pytest.raises(NotFoundError, match="Run with id=nope not found"):
        shop.runs.get("nope")


def test_inputs_outputs_and_the_mlflow_2_model_history(shop, exp):
    run = shop.runs.start(EXP)
    data = DatasetInput(
        Dataset("orders", "abc123", "delta", '{"table": "main.shop.orders@v3"}'), {"mlflow.data.context": "training"}
    )
    services(shop).tracking.log_inputs(shop.principal, run.run_id, datasets=[data, data], models=["m-1"])
    services(shop).tracking.log_outputs(shop.principal, run.run_id, [ModelOutput("m-2", 3)])
    services(shop).tracking.record_logged_model(shop.principal, run.run_id, {"artifact_path": "model"})
    got = shop.runs.get(run.run_id)
    assert got.inputs == [data] and got.model_inputs == ["m-1"] and got.outputs == [ModelOutput("m-2", 3)]
    assert '"artifact_path": "model"' in got.tags["mlflow.log-model.history"]
    assert [r.run_id for r in shop.runs.search([EXP], "datasets.context = 'training'")] == [run.run_id]
    with pytest.raises(InvalidArgumentError, match="digest"):
        services(shop).tracking.log_inputs(
            shop.principal, run.run_id, datasets=[DatasetInput(Dataset("d", "x" * 40, "delta", "s"))]
        )


# -- search ------------------------------------------------------------------------------------------


@pytest.fixture
def runs(shop, exp):
    made = {}
    for name, rmse, model, team in [
        ("a", 0.5, "gbm", "Reco"),
        ("b", 0.2, "gbm", "reco"),
        ("c", 0.9, "lin", None),
        ("d", float("nan"), "gbm", None),
    ]:
        run = shop.runs.start(EXP, name=name)
        shop.runs.log_params(run.run_id, {"model": model})
        shop.runs.log_metrics(run.run_id, {"rmse": rmse})
        if team:
            shop.runs.set_tags(run.run_id, {"team": team})
        made[name] = run.run_id
    shop.runs.start(EXP, name="e")  # no metrics at all
    return made


def names(found):
    return [r.name for r in found]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.rmse < 0.6", ["a", "b"]),
        ("metrics.rmse != 0.5", ["b", "c", "d"]),  # NaN matches only '!='
        ("params.model = 'gbm' and metrics.rmse >= 0.2", ["a", "b"]),
        ("tags.team LIKE 'reco'", ["b"]),  # LIKE is case-sensitive
        ("tags.team ILIKE 'RECO'", ["a", "b"]),
        ("tags.team IS NULL", ["c", "d", "e"]),
        ("run_name = 'c'", ["c"]),
        ("tags.`mlflow.runName` LIKE '%e'", ["e"]),
        ("attributes.status = 'RUNNING' and params.model != 'gbm'", ["c"]),
    ],
)
def test_search_runs_with_mlflow_filters(shop, runs, filter_string, expected):
    assert sorted(names(shop.runs.search([EXP], filter_string))) == expected


def test_search_runs_orders_with_missing_and_nan_last_and_pages(shop, runs):
    assert names(shop.runs.search([EXP], order_by=["metrics.rmse"])) == ["b", "a", "c", "d", "e"]
    assert names(shop.runs.search([EXP], order_by=["metrics.rmse DESC"])) == ["c", "a", "b", "d", "e"]
    assert names(shop.runs.search([EXP], order_by=["attributes.run_name DESC"]))[:2] == ["e", "d"]
    assert set(names(shop.runs.search([EXP], f"run_id IN ('{runs['a']}', '{runs['c']}')"))) == {"a", "c"}
    svc, alice, exp_id = services(shop).tracking, shop.principal, shop.experiments.get(EXP).experiment_id
    pages, token = [], None
    while True:
        page = svc.search_runs(alice, [exp_id], order_by=["params.model", "run_name"], max_results=2, page_token=token)
        pages.append(names(page.items))
        token = page.next_page_token
        if not token:
            break
    assert pages == [["a", "b"], ["d", "c"], ["e"]]
    shop.runs.delete(runs["a"])
    assert names(shop.runs.search([EXP], view="deleted")) == ["a"]


@pytest.mark.parametrize(
    ("filter_string", "order_by", "message"),
    [
        ("metrics.rmse > 'x'", None, "Expected numeric value type"),
        ("metrics.rmse LIKE 0.5", None, "Invalid comparator"),
        ("params.model = gbm", None, "not quoted"),
        ("bogus.x = 'y'", None, "Invalid entity type"),
        ("attributes.artifact_uri = 'x'", None, "artifact_uri is not supported"),
        ("metrics.rmse > 0 OR metrics.rmse < 0", None, "Invalid clause"),
        (None, ["metrics.rmse", "metrics.rmse DESC"], "duplicate"),
        (None, ["metrics.rmse SIDEWAYS"], "Invalid"),
    ],
)
def test_bad_search_input_is_invalid_parameter_value(shop, runs, filter_string, order_by, message):
    with pytest.raises(InvalidArgumentError, match=message):
        shop.runs.search([EXP], filter_string, order_by=order_by)
    with pytest.raises(InvalidArgumentError, match="max_results"):
        shop.runs.search([EXP], max_results=50_001)
    with pytest.raises(InvalidArgumentError, match="page token"):
        services(shop).tracking.search_runs(shop.principal, ["1"], page_token="not base64!")


def test_filter_values_are_bound_never_pasted(shop, runs):
    for evil in ("x' OR '1'='1", "'; DROP TABLE ml_runs; --"):
        assert shop.runs.search([EXP], f'params.model = "{evil}"') == []
    assert len(shop.runs.search([EXP])) == 5


def test_search_messages_are_the_messages_of_the_runs_found(shop, runs):
    """The MLflow faces' fast path (rows straight to messages) answers exactly what the entities give."""
    svc, alice, exp_id = services(shop).tracking, shop.principal, shop.experiments.get(EXP).experiment_id
    full = runs["a"]
    data = DatasetInput(
        Dataset(
            "orders", "abc123", "delta", '{"table": "main.shop.orders@v3"}', schema='{"a": 1}', profile='{"rows": 3}'
        ),
        {"mlflow.data.context": "training"},
    )
    svc.log_inputs(alice, full, datasets=[data, DatasetInput(Dataset("bare", "d1", "delta", "s"))], models=["m-1"])
    svc.log_outputs(alice, full, [ModelOutput("m-2", 3)])
    svc.log_batch(alice, full, metrics=[Metric("inf", float("inf"), TS), Metric("ninf", float("-inf"), TS, 2)])
    svc.update_run(alice, full, status="FINISHED", end_time=TS)
    for kwargs in [
        {},
        {"filter_string": "metrics.rmse != 0.5", "order_by": ["metrics.rmse DESC"]},
        {"order_by": ["params.model", "run_name"], "max_results": 2},
        {"view": "all"},
    ]:
        page = svc.search_runs(alice, [exp_id], **kwargs)
        fast = svc.search_run_messages(alice, [exp_id], scheme="mlflow-artifacts", **kwargs)
        assert fast.items == [messages.run_message(r, scheme="mlflow-artifacts") for r in page.items]
        assert fast.next_page_token == page.next_page_token
    found = {m["info"]["run_name"]: m for m in svc.search_run_messages(alice, [exp_id], scheme="s").items}
    assert found["d"]["data"]["metrics"] == [
        {"key": "rmse", "value": "NaN", "timestamp": found["d"]["data"]["metrics"][0]["timestamp"], "step": 0}
    ]
    assert found["a"]["inputs"]["model_inputs"] == [{"model_id": "m-1"}]
    assert found["a"]["info"]["end_time"] == TS and "end_time" not in found["e"]["info"]
    assert "metrics" not in found["e"]["data"] and found["e"]["outputs"] == {}


def test_search_decides_once_per_experiment_and_never_reaches_past_a_denial(shop, runs, bob):
    exp_id = shop.experiments.get(EXP).experiment_id
    other = shop.experiments.create("main.shop.other").experiment_id
    shop.runs.start("main.shop.other", name="hidden")
    shop.grant("USE SCHEMA", on="main.shop", to="bob")
    shop.grant("EXECUTE", on=EXP, to="bob")

    def decisions():
        shop.flush()
        return shop.sql(
            "SELECT request_id, securable, decision FROM system.access.audit "
            "WHERE principal = 'bob' AND action = 'run.search' ORDER BY event_time"
        ).fetchall()

    page = services(bob).tracking.search_runs(bob.principal, [exp_id, exp_id, exp_id])
    assert sorted(r.name for r in page.items) == ["a", "b", "c", "d", "e"]
    assert [(s, d) for _, s, d in decisions()] == [(EXP, "allow")]
    with pytest.raises(PermissionDeniedError, match=r"EXECUTE on experiment main.shop.other"):
        services(bob).tracking.search_run_messages(bob.principal, [exp_id, other], scheme="mlflow-artifacts")
    seen = decisions()
    assert sorted((s, d) for request_id, s, d in seen if request_id == seen[-1][0]) == [
        ("main.shop.other", "deny"),
        (EXP, "allow"),
    ]
    for _ in range(2):  # a search built once is still checked every time
        with pytest.raises(InvalidArgumentError, match="Invalid clause"):
            services(bob).tracking.search_runs(
                bob.principal, [exp_id], filter_string="metrics.rmse > 0 OR metrics.rmse < 0"
            )


# -- governance ---------------------------------------------------------------------------------------


def test_reading_needs_execute_logging_needs_modify_and_denials_are_audited(shop, exp, bob):
    run = shop.runs.start(EXP)
    shop.grant("USE SCHEMA", on="main.shop", to="bob")
    with pytest.raises(PermissionDeniedError, match=r"bob lacks EXECUTE on experiment main.shop.reco_training"):
        bob.runs.get(run.run_id)
    with pytest.raises(PermissionDeniedError, match=r"GRANT MODIFY ON EXPERIMENT main.shop.reco_training TO bob"):
        bob.runs.log_metrics(run.run_id, {"m": 1.0})
    assert ("bob", "MODIFY", EXP) in denials(shop, "run.log")
    assert bob.experiments.search() == []
    shop.grant("EXECUTE", on=EXP, to="bob")
    assert bob.runs.get(run.run_id).run_id == run.run_id
    assert [e.name for e in bob.experiments.search()] == [EXP]
    with pytest.raises(PermissionDeniedError):
        bob.runs.start(EXP)
    shop.grant("MODIFY", on=EXP, to="bob")
    mine = bob.runs.start(EXP)
    bob.runs.log_metrics(mine.run_id, {"m": 1.0})
    assert mine.user_id == "bob"
    with pytest.raises(PermissionDeniedError, match="MANAGE"):
        bob.experiments.delete(EXP)


def test_creating_an_experiment_needs_create_model_on_the_schema(shop, bob):
    shop.grant("USE SCHEMA", on="main.shop", to="bob")
    with pytest.raises(PermissionDeniedError, match=r"GRANT CREATE MODEL ON SCHEMA main.shop TO bob"):
        bob.experiments.create("main.shop.bobs")
    assert ("bob", "CREATE MODEL", "main.shop") in denials(shop, "experiment.create")
    with pytest.raises(NotFoundError):
        shop.get("main.shop.bobs")  # nothing half-made
    shop.grant("CREATE MODEL", on="main.shop", to="bob")
    mine = bob.experiments.create("main.shop.bobs")
    assert mine.owner == "bob"
    run = bob.runs.start("main.shop.bobs")  # owners have every privilege on what they own
    bob.runs.log_metrics(run.run_id, {"m": 1.0})
    # free-form MLflow names live in main.default, where every user may create models and experiments
    assert bob.experiments.create("free-form").owner == "bob"
    shop.revoke("CREATE MODEL", on="main.default", from_="users")
    with pytest.raises(PermissionDeniedError, match=r"CREATE MODEL on schema main.default"):
        bob.experiments.create("another free-form")


def test_dropping_the_securable_drops_the_experiment_and_its_runs(shop, exp):
    run = shop.runs.start(EXP)
    shop.runs.log_metrics(run.run_id, {"m": 1.0})
    shop.drop(EXP)
    with pytest.raises(NotFoundError):
        shop.runs.get(run.run_id)
    with services(shop).metastore.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(tracking_rows.MetricRow)) == 0


def test_a_dropped_experiments_id_and_files_never_go_to_a_new_experiment(shop, bob):
    # Experiment ids name the folders (<root>/ml/experiments/<id>/), and a dropped experiment's files stay.
    mine = shop.experiments.create("alice-private")
    run = shop.runs.start("alice-private")
    shop.runs.log_artifact(run.run_id, "model/MLmodel", b"flavors: {}")
    shop.drop(mine.securable)
    theirs = bob.experiments.create("bob-new")
    assert int(theirs.experiment_id) > int(mine.experiment_id)
    leftover = f"{services(shop).layout.experiment_location(mine.experiment_id)}/{run.run_id}/artifacts/model"
    with pytest.raises(InvalidArgumentError, match="lies in no volume, registered model or experiment"):
        bob.models.register_files(leftover, "main.default.taken")


def test_experiments_cannot_be_created_in_the_system_catalog(shop):
    with pytest.raises(InvalidArgumentError, match="system catalog is written only by Glashaus"):
        shop.experiments.create("system.access.audit_copy")
    with pytest.raises(NotFoundError):
        shop.get("system.access.audit_copy")


# -- artifacts ------------------------------------------------------------------------------------------


def test_run_files_are_stored_listed_read_and_deleted(shop, exp, bob):
    run = shop.runs.start(EXP)
    shop.runs.log_artifact(run.run_id, "plots/roc.png", b"png")
    shop.runs.log_artifact(run.run_id, "model/MLmodel", b"flavors: {}")
    assert [(f.path, f.is_dir) for f in shop.runs.artifacts(run.run_id)] == [("model", True), ("plots", True)]
    assert [(f.path, f.size) for f in shop.runs.artifacts(run.run_id, "plots")] == [("roc.png", 3)]
    assert shop.runs.read_artifact(run.run_id, "plots/roc.png") == b"png"
    root = run.artifact_path
    services(shop).tracking.files.delete(shop.principal, f"{root}/plots")
    assert [f.path for f in shop.runs.artifacts(run.run_id)] == ["model"]
    with pytest.raises(NotFoundError, match="does not exist"):
        shop.runs.read_artifact(run.run_id, "plots/roc.png")
    shop.grant("USE SCHEMA", on="main.shop", to="bob")
    with pytest.raises(PermissionDeniedError, match="EXECUTE"):
        services(bob).tracking.files.read(bob.principal, f"{root}/model/MLmodel")
    assert ("bob", "EXECUTE", EXP) in denials(shop, "artifact.read")


@pytest.mark.parametrize("suffix", ["../other/x", "a/../../x", "/etc/passwd", "a\\b", "a\x00b", "./a", "a//b"])
def test_path_traversal_in_artifact_paths_is_refused(shop, exp, suffix):
    run = shop.runs.start(EXP)
    with pytest.raises(InvalidArgumentError, match="artifact path"):
        services(shop).tracking.files.write(shop.principal, f"{run.artifact_path}/{suffix}", b"x")
    with pytest.raises(InvalidArgumentError, match="artifact path"):
        services(shop).tracking.files.read(shop.principal, f"{run.artifact_path}/{suffix}")


def test_artifact_paths_must_name_a_run_of_that_experiment(shop, exp):
    run = shop.runs.start(EXP)
    other = shop.experiments.create("main.shop.other")
    with pytest.raises(NotFoundError, match="belongs to experiment"):
        services(shop).tracking.files.write(shop.principal, f"{other.experiment_id}/{run.run_id}/artifacts/x", b"x")
    with pytest.raises(NotFoundError, match="artifact path has the form"):
        services(shop).tracking.files.list(shop.principal, f"{exp.experiment_id}/{run.run_id}")
    with pytest.raises(NotFoundError, match="not an experiment id"):
        services(shop).tracking.files.list(shop.principal, f"x/{run.run_id}/artifacts")


# -- logged models (MLflow 3) ------------------------------------------------------------------------------


def test_logged_models_are_created_finalized_searched_and_deleted(shop, exp):
    svc, alice = services(shop).tracking, shop.principal
    run = shop.runs.start(EXP)
    model = svc.models.create(
        alice,
        exp.experiment_id,
        name="reco",
        source_run_id=run.run_id,
        params={"depth": "3"},
        tags={"flavor": "sklearn"},
    )
    assert (model.status, model.creator, model.params) == ("PENDING", "alice", {"depth": "3"})
    svc.files.write(alice, f"{model.artifact_path}/MLmodel", b"flavors: {}")
    assert [f.path for f in svc.files.list(alice, model.artifact_path)] == ["MLmodel"]
    svc.log_batch(alice, run.run_id, metrics=[Metric("acc", 0.9, TS, 0, model_id=model.model_id)])
    ready = svc.models.finalize(alice, model.model_id, "READY")
    assert ready.status == "READY" and [m.key for m in ready.metrics] == ["acc"]
    other = svc.models.create(alice, exp.experiment_id, name="other")
    found = svc.models.search(alice, [exp.experiment_id], filter_string="metrics.acc > 0.5")
    assert [m.model_id for m in found.items] == [model.model_id]
    ordered = svc.models.search(alice, [exp.experiment_id], order_by=[{"field_name": "name"}], max_results=1)
    assert [m.name for m in ordered.items] == ["other"] and ordered.next_page_token
    svc.models.set_tags(alice, model.model_id, {"stage": "dev"})
    svc.models.delete_tag(alice, model.model_id, "flavor")
    svc.models.log_params(alice, model.model_id, {"depth": "3", "lr": "0.1"})
    with pytest.raises(InvalidArgumentError, match="Changing param values"):
        svc.models.log_params(alice, model.model_id, {"depth": "4"})
    assert svc.models.get(alice, model.model_id).tags == {"stage": "dev"}
    svc.models.delete(alice, other.model_id)
    with pytest.raises(NotFoundError, match="not found"):
        svc.models.get(alice, other.model_id)
    assert svc.models.get(alice, other.model_id, allow_deleted=True).lifecycle_stage == "deleted"
    with pytest.raises(InvalidArgumentError, match="Invalid model name"):
        svc.models.create(alice, exp.experiment_id, name="a/b")
    with pytest.raises(InvalidArgumentError, match="Invalid logged model status"):
        svc.models.finalize(alice, model.model_id, "DONE")


def test_logged_models_are_governed_by_their_experiment(shop, exp, bob):
    model = services(shop).tracking.models.create(shop.principal, exp.experiment_id, name="reco")
    shop.grant("USE SCHEMA", on="main.shop", to="bob")
    with pytest.raises(PermissionDeniedError, match="EXECUTE"):
        services(bob).tracking.models.get(bob.principal, model.model_id)
    shop.grant("EXECUTE", on=EXP, to="bob")
    assert services(bob).tracking.models.get(bob.principal, model.model_id).name == "reco"
    with pytest.raises(PermissionDeniedError, match="MODIFY"):
        services(bob).tracking.models.finalize(bob.principal, model.model_id, "READY")
    with pytest.raises(PermissionDeniedError, match="MODIFY"):
        services(bob).tracking.files.write(bob.principal, f"{model.artifact_path}/MLmodel", b"x")
    assert ("bob", "MODIFY", EXP) in denials(shop, "logged_model.finalize")


# -- PostgreSQL ---------------------------------------------------------------------------------------------


@pytest.fixture
def pg_lakehouse(tmp_path, pg_database):
    lake = glashaus.connect(tmp_path / "lh", user="alice", metastore=pg_database)
    try:
        yield lake
    finally:
        lake.close()


def test_tracking_on_a_postgresql_metastore(pg_lakehouse):
    lh = pg_lakehouse
    lh.create_schema("main.shop")
    lh.experiments.create(EXP)
    made = {}
    for name, rmse, team in [("a", 0.5, "Reco"), ("b", 0.2, "reco"), ("c", float("nan"), None)]:
        run = lh.runs.start(EXP, name=name)
        lh.runs.log_params(run.run_id, {"model": "gbm"})
        for _ in range(2):  # the same value twice is one history entry
            lh.runs.log_metrics(run.run_id, {"rmse": rmse}, step=1, timestamp=TS)
        if team:
            lh.runs.set_tags(run.run_id, {"team": team})
        made[name] = run.run_id
    assert len(lh.runs.metric_history(made["a"], "rmse")) == 1
    assert names(lh.runs.search([EXP], "tags.team LIKE 'reco'")) == ["b"]
    assert sorted(names(lh.runs.search([EXP], "tags.team ILIKE 'RECO'"))) == ["a", "b"]
    assert names(lh.runs.search([EXP], order_by=["metrics.rmse"])) == ["b", "a", "c"]
    assert math.isnan(lh.runs.get(made["c"]).metrics["rmse"].value)
    exp_id = lh.experiments.get(EXP).experiment_id
    fast = services(lh).tracking.search_run_messages(lh.principal, [exp_id], scheme="s", order_by=["metrics.rmse"])
    assert fast.items == [
        messages.run_message(r, scheme="s")
        for r in services(lh).tracking.search_runs(lh.principal, [exp_id], order_by=["metrics.rmse"]).items
    ]
    assert fast.items[2]["data"]["metrics"][0]["value"] == "NaN"
    with pytest.raises(InvalidArgumentError, match="Changing param values"):
        lh.runs.log_params(made["a"], {"model": "lin"})
    model = services(lh).tracking.models.create(lh.principal, lh.experiments.get(EXP).experiment_id, name="reco")
    services(lh).tracking.log_batch(
        lh.principal, made["b"], metrics=[Metric("acc", 0.9, TS, 0, model_id=model.model_id)]
    )
    assert [m.key for m in services(lh).tracking.models.get(lh.principal, model.model_id).metrics] == ["acc"]

"""``glashaus demo`` and the plant-shop pipeline (src/glashaus/examples/plant_shop/pipeline.py).

The demo runs once per module (small data) through the real CLI; the tests then
check the tables it built against each other with SQL and the lineage it recorded.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

import glashaus
from glashaus.cli.main import app
from glashaus.examples.plant_shop.pipeline import (
    GOLD,
    LAYERS,
    PII_COLUMNS,
    SCHEMA,
    SILVER,
    denied_attempt,
    run_pipeline,
    seen_by,
)

EVENTS = 20_000
REQUESTS = 30
CUSTOMERS = 2_000
S = SCHEMA


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(lakehouse path, CLI result) of one demo run with 20k events."""
    root = str(tmp_path_factory.mktemp("demo") / "lh")
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--events",
            str(EVENTS),
            "--customers",
            str(CUSTOMERS),
            "--lakehouse",
            root,
            "--user",
            "alice",
            "--requests",
            str(REQUESTS),
        ],
        env={"GLASHAUS_LAKEHOUSE": None, "GLASHAUS_USER": None, "COLUMNS": None},
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return root, result


@pytest.fixture
def lh(demo):
    with glashaus.connect(demo[0], user="alice") as lake:
        yield lake


def one(lh, query):
    return lh.sql(query).fetchone()


def test_demo_builds_every_layer(lh):
    objects = {s.full_name.rsplit(".", 1)[1]: s.kind for s in lh.list(S)}
    ml_objects = {"recommender": "model", "recommender_training": "experiment", "recommender_inference": "table"}
    assert objects == {**{name: ("view" if name == "revenue_by_region" else "table") for name in LAYERS}, **ml_objects}
    assert set(LAYERS.values()) == {"bronze", "silver", "gold"}
    assert lh.describe(f"{S}.events_bronze").num_rows == EVENTS
    assert lh.describe(f"{S}.customers_bronze").num_rows == CUSTOMERS


def test_demo_prints_progress_summary_lineage_and_time(demo):
    _, result = demo
    out = result.stdout
    for step in [*(s.name for s in SILVER + GOLD), "events_bronze", "customers_bronze", "plants"]:
        assert step in result.stderr, f"no progress line for {step}"
    summary = [line for line in out.splitlines() if line.startswith("│")]
    events_bronze = next(line for line in summary if f"{S}.events_bronze " in line)
    assert "bronze" in events_bronze and f"{EVENTS:,}" in events_bronze
    assert "KiB" in events_bronze or "MiB" in events_bronze
    assert any(line.startswith("│ gold") and "daily_kpis" in line for line in summary)
    # lineage trees: every gold table, down to bronze with the versions read
    assert f"{S}.daily_kpis@v1 (table)" in out
    assert f"{S}.revenue_by_region (view)" in out
    assert f"{S}.events_bronze@v1" in out and f"{S}.customers_bronze@v1" in out
    assert "Done in" in out


def test_silver_events_are_deduplicated_and_clean(lh):
    total, distinct, null_customers, bad_quantity = one(
        lh,
        f"""
        SELECT count(*), count(DISTINCT event_id), count(*) FILTER (WHERE customer_id IS NULL),
               count(*) FILTER (WHERE quantity <= 0)
        FROM {S}.events_silver""",
    )
    assert total == distinct
    assert null_customers == 0 and bad_quantity == 0
    # exactly the valid distinct events of bronze survive
    expected = one(
        lh,
        f"""
        SELECT count(DISTINCT event_id) FROM {S}.events_bronze
        WHERE customer_id IS NOT NULL AND (quantity IS NULL OR quantity > 0)""",
    )[0]
    assert total == expected
    # and bronze really had the quirks silver removes
    dupes, nulls, negatives = one(
        lh,
        f"""
        SELECT count(*) - count(DISTINCT event_id), count(*) FILTER (WHERE customer_id IS NULL),
               count(*) FILTER (WHERE quantity < 0)
        FROM {S}.events_bronze""",
    )
    assert dupes > 0 and nulls > 0 and negatives > 0


def test_silver_keeps_the_earliest_delivery_and_drops_pii(lh):
    later = one(
        lh,
        f"""
        SELECT count(*) FROM {S}.events_silver s
        JOIN (SELECT event_id, min(ingested_at) AS first FROM {S}.events_bronze GROUP BY event_id) b
          USING (event_id)
        WHERE s.ingested_at <> b.first""",
    )[0]
    assert later == 0
    assert "email" not in lh.read(f"{S}.events_silver").column_names
    for table, column in PII_COLUMNS:
        tags = {c.name: c.tags for c in lh.describe(f"{S}.{table}").columns}
        assert tags[column] == {"pii": "email"}, table
    for name in (*(s.name for s in SILVER), *(s.name for s in GOLD)):
        assert lh.describe(f"{S}.{name}").comment, f"{name} has no comment"


def test_gold_kpis_add_up_to_silver(lh):
    kpi_rows, kpi_events, kpi_revenue = one(
        lh,
        f"""
        SELECT count(*), sum(views + carts + purchases), sum(revenue) FROM {S}.daily_kpis""",
    )
    silver_events, silver_revenue = one(
        lh,
        f"""
        SELECT count(*), sum(quantity * price_eur) FILTER (WHERE event_type = 'purchase')
        FROM {S}.events_silver""",
    )
    assert kpi_events == silver_events
    assert kpi_revenue == pytest.approx(silver_revenue, abs=0.01 * kpi_rows)
    # per day and region, to the cent
    mismatches = one(
        lh,
        f"""
        SELECT count(*) FROM {S}.daily_kpis k
        FULL JOIN (
            SELECT event_date AS day, region, round(sum(quantity * price_eur), 2) AS revenue
            FROM {S}.events_silver WHERE event_type = 'purchase' GROUP BY ALL
        ) s USING (day, region)
        WHERE coalesce(k.revenue, 0) <> coalesce(s.revenue, 0)""",
    )[0]
    assert mismatches == 0
    by_region = one(lh, f"SELECT round(sum(revenue), 2) FROM {S}.revenue_by_region")[0]
    assert by_region == pytest.approx(kpi_revenue, abs=0.01)


def test_gold_popularity_and_features_cover_every_plant_and_customer(lh):
    plants = lh.describe(f"{S}.plants").num_rows
    assert lh.describe(f"{S}.plant_popularity").num_rows == plants
    features = lh.read(f"{S}.customer_features")
    assert features.num_rows == CUSTOMERS
    assert (
        pc.sum(features["purchases"]).as_py()
        == one(lh, f"SELECT count(*) FROM {S}.events_silver WHERE event_type = 'purchase'")[0]
    )
    assert "email" not in features.column_names
    # a buyer's favourite category is one they bought from
    wrong = one(
        lh,
        f"""
        SELECT count(*) FROM {S}.customer_features f
        WHERE f.purchases > 0 AND f.favourite_category NOT IN (
            SELECT p.category FROM {S}.events_silver e JOIN {S}.plants p USING (plant_id)
            WHERE e.customer_id = f.customer_id AND e.event_type = 'purchase')""",
    )[0]
    assert wrong == 0


def test_lineage_reaches_bronze_with_the_versions_read(lh):
    for step in GOLD:
        edges = lh.lineage(f"{S}.{step.name}")
        sources = {e.source for e in edges}
        assert f"{S}.events_bronze" in sources, step.name
    edges = {(e.source, e.target): e for e in lh.lineage(f"{S}.customer_features")}
    bronze = edges[(f"{S}.events_bronze", f"{S}.events_silver")]
    assert bronze.source_version == lh.describe(f"{S}.events_bronze").version
    assert bronze.target_version == lh.describe(f"{S}.events_silver").version
    assert edges[(f"{S}.customers_bronze", f"{S}.customers_silver")].operation == "MERGE"
    assert edges[(f"{S}.events_silver", f"{S}.customer_features")].source_version == bronze.target_version


def test_lineage_command_draws_the_demo_tree(demo):
    root, _ = demo
    result = CliRunner().invoke(app, ["lineage", f"{S}.revenue_by_region", "--lakehouse", root, "--user", "alice"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and lines[0].startswith(f"{S}.revenue_by_region (view)")
    assert f"{S}.daily_kpis@v1" in lines[1]
    assert f"{S}.events_silver@v2" in lines[2]
    assert f"{S}.events_bronze@v1" in lines[3]


def test_rerunning_replaces_the_tables(tmp_path):
    """run_pipeline is importable; a second run gives the same tables, rows and versions,
    and leaves other tables of the schema alone."""
    calls = []
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.create_schema(S)
        lh.sql(f"CREATE TABLE {S}.mine AS SELECT 1 AS a")  # not the demo's: must survive
        first = run_pipeline(
            lh,
            events=3_000,
            customers=300,
            seed=3,
            progress=lambda phase, step, done: calls.append((phase, step, done)),
        )
        before = {n: (lh.describe(n).num_rows, lh.describe(n).version) for _, n in first.tables}
        kpis = lh.sql(f"SELECT * FROM {S}.daily_kpis ORDER BY day, region").to_arrow()
        second = run_pipeline(lh, events=3_000, customers=300, seed=3)
        after = {n: (lh.describe(n).num_rows, lh.describe(n).version) for _, n in second.tables}
        assert after == before
        assert lh.sql(f"SELECT * FROM {S}.daily_kpis ORDER BY day, region").to_arrow().equals(kpis)
        assert {s.full_name for s in lh.list(S)} == {f"{S}.{n}" for n in LAYERS} | {f"{S}.mine"}
        assert lh.sql(f"SELECT a FROM {S}.mine").scalar() == 1
    steps = [(p, s) for p, s, done in calls if not done]
    assert [(p, s) for p, s, done in calls if done] == steps  # every start is finished
    assert [p for p, _ in steps] == ["generate"] * 3 + ["load"] * 3 + ["silver"] * len(SILVER) + ["gold"] * len(
        GOLD
    ) + ["secure"]
    assert set(first.timings) == {f"{p}/{s}" for p, s in steps}


def test_demo_runs_as_a_real_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASHAUS_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "glashaus.cli.main",
            "demo",
            "--events",
            "2000",
            "--customers",
            "200",
            "--lakehouse",
            str(tmp_path / "lh"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"{S}.customer_features@v1 (table)" in done.stdout
    # The demo ran as the OS user, who became the new lakehouse's admin.
    with glashaus.connect(tmp_path / "lh", user=getpass.getuser()) as lh:
        assert lh.describe(f"{S}.events_bronze").num_rows == 2000


def test_demo_secures_the_shop_analysts_see_masked_emails_pii_readers_see_them(lh, demo):
    _, result = demo
    assert "who sees what" in result.stdout
    ana, pia, dani = (seen_by(lh, user) for user in ("ana", "pia", "dani"))
    # analysts: the region filter on daily_kpis, and masked e-mails
    assert ana["regions"] == ["north", "south"]
    assert ana["emails"] and all(e.startswith("***@example.") for e in ana["emails"])
    # a PII reader sees every region and the real addresses
    assert pia["regions"] == ["alpine", "east", "north", "south", "west"]
    assert all("@example." in e and not e.startswith("***") for e in pia["emails"])
    assert dani["emails"] == ana["emails"]
    # the denied attempt the demo makes is in the audit table, beside the allowed ones
    decisions = dict(lh.sql("SELECT decision, count(*) FROM system.access.audit GROUP BY decision").fetchall())
    assert decisions["allow"] > 0 and decisions["deny"] >= 1
    assert "ana lacks SELECT on table main.plant_shop.events_bronze" in denied_attempt(lh)


def test_the_recommender_is_tracked_registered_with_lineage_and_served(lh, demo):
    from glashaus.examples.plant_shop import ml

    output = demo[1].output
    assert f"{ml.MODEL} v1 @champion" in output
    version = lh.models.version(f"{ml.MODEL}@champion")
    assert version.version == 1 and version.run_id
    # the MLflow run the client logged: its params and metric are in the lakehouse
    run = lh.runs.get(version.run_id)
    assert run.params["features_table"] == ml.FEATURES_TABLE
    assert 0 <= run.metrics["accuracy"].value <= 1
    # lineage from the model to the exact feature-table version, and on to the raw tables
    edges = lh.lineage(ml.MODEL, direction="upstream", depth=5)
    assert (ml.FEATURES_TABLE, lh.describe(ml.FEATURES_TABLE).version) in {
        (e.source, e.source_version) for e in edges if e.target == ml.MODEL
    }
    assert any(e.source == f"{S}.events_bronze" for e in edges)
    # every request the demo sent is in the inference table, with the model version that answered
    rows = lh.sql(f"SELECT model_version, status_code, count(*) FROM {ml.INFERENCE_TABLE} GROUP BY ALL").fetchall()
    assert rows == [(1, 200, REQUESTS)]

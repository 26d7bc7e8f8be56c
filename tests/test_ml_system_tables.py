"""system.ml.runs and system.ml.metrics: runs and metrics as SQL tables, only those the reader may see."""

from __future__ import annotations

import math

import pytest

from glashaus.errors import SqlError

EXP = "main.shop.reco_training"


@pytest.fixture
def tracked(shop):
    shop.experiments.create(EXP)
    runs = []
    for i, accuracy in enumerate([0.7, 0.9]):
        run = shop.runs.start(EXP, name=f"r{i}")
        shop.runs.log_params(run.run_id, {"C": str(i)})
        for step in range(3):
            shop.runs.log_metrics(run.run_id, {"accuracy": accuracy + step / 100, "loss": math.nan}, step=step)
        runs.append(run.run_id)
    shop.create_user("bob")
    return shop, runs


def test_runs_are_a_table_with_params_latest_metrics_and_tags(tracked):
    lh, runs = tracked
    rows = lh.sql(
        "SELECT run_id, experiment, run_name, params['C'] AS c, metrics['accuracy'] AS acc, "
        "isnan(metrics['loss']) AS nan_loss FROM system.ml.runs ORDER BY acc DESC"
    ).to_pylist()
    assert [r["run_name"] for r in rows] == ["r1", "r0"]
    assert rows[0]["experiment"] == EXP and rows[0]["c"] == "1"
    assert rows[0]["acc"] == pytest.approx(0.92) and rows[0]["nan_loss"] is True
    assert {r["run_id"] for r in rows} == set(runs)


def test_metrics_hold_the_whole_history(tracked):
    lh, _runs = tracked
    rows = lh.sql(
        "SELECT run_id, step, value FROM system.ml.metrics WHERE key = 'accuracy' ORDER BY run_id, step"
    ).fetchall()
    assert len(rows) == 6
    best = lh.sql(
        "SELECT r.run_name, max(m.value) FROM system.ml.metrics m JOIN system.ml.runs r USING (run_id) "
        "WHERE m.key = 'accuracy' GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    assert best[0] == "r1" and best[1] == pytest.approx(0.92)


def test_a_reader_sees_only_runs_of_experiments_they_may_execute_and_reads_are_audited(tracked):
    lh, _ = tracked
    with lh.as_user("bob") as bob:
        assert bob.sql("SELECT count(*) FROM system.ml.runs").scalar() == 0
        assert bob.sql("SELECT count(*) FROM system.ml.metrics").scalar() == 0
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    lh.grant("EXECUTE", on=EXP, to="bob")
    with lh.as_user("bob") as bob:
        assert bob.sql("SELECT count(*) FROM system.ml.runs").scalar() == 2
    lh.flush()
    audited = lh.sql(
        "SELECT count(*) FROM system.access.audit WHERE principal = 'bob' "
        "AND action = 'sql.select.system_ml' AND decision = 'allow'"
    ).scalar()
    assert audited >= 1


def test_no_time_travel_on_computed_tables(tracked):
    lh, _ = tracked
    with pytest.raises(SqlError, match="computed when queried"):
        lh.sql("SELECT * FROM system.ml.runs VERSION AS OF 1")

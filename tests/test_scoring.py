"""Batch scoring: predictions for every row of a governed table, written as one Delta commit.

Real parts: a real lakehouse, a tiny scikit-learn model in the registry, the governed
batch read path (row filters included) and real Delta commits.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

from glashaus.errors import InvalidArgumentError, PermissionDeniedError, SchemaMismatchError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MODEL = "main.shop.reco"
CANDIDATES = "main.shop.candidates"
SCORES = "main.shop.scores"


def _candidates(n: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": np.arange(n),
            "region": np.where(np.arange(n) % 3 == 0, "alpine", "north"),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
        }
    )


@pytest.fixture
def scoring(shop):
    """main.shop.reco v1 (@champion, logistic regression on x1, x2) and main.shop.candidates (1,000 rows)."""
    train = _candidates(200, seed=0)
    x = train.select(["x1", "x2"]).to_pandas()
    model = LogisticRegression().fit(x, (x["x1"] - x["x2"] > 0).astype("int64"))
    shop.create_table(CANDIDATES, data=_candidates(1000))
    shop.models.register(model, MODEL, training_set=CANDIDATES, input_example=x.head(3))
    shop.models.set_alias(MODEL, "champion", 1)
    return shop, model


def _expected(model, table: pa.Table) -> np.ndarray:
    return model.predict(table.select(["x1", "x2"]).to_pandas())


def test_scores_equal_predict_on_the_same_rows_in_one_commit_with_lineage(scoring):
    lh, model = scoring
    seen = []
    result = lh.models.score(
        f"{MODEL}@champion",
        table=CANDIDATES,
        output=SCORES,
        batch_size=128,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (result.model, result.model_version, result.table, result.table_version, result.rows) == (
        MODEL,
        1,
        CANDIDATES,
        1,
        1000,
    )
    scores = lh.read(SCORES).sort_by("id")
    assert scores.column_names == ["id", "region", "x1", "x2", "prediction"]
    np.testing.assert_array_equal(scores["prediction"].to_numpy(), _expected(model, lh.read(CANDIDATES)))
    writes = [h for h in lh.history(SCORES) if h.operation == "model.score"]
    assert [(h.version, h.rows_added) for h in writes] == [(result.output_version, 1000)]
    assert seen[-1] == (1000, 1000) and len(seen) == 8  # one report per batch of at most 128 rows
    edges = {(e.source, e.source_version, e.target, e.target_version, e.operation) for e in lh.lineage(SCORES)}
    assert {
        (CANDIDATES, 1, SCORES, result.output_version, "model.score"),
        (MODEL, 1, SCORES, result.output_version, "model.score"),
        (CANDIDATES, 1, MODEL, 1, "model.register"),
    } == edges
    assert SCORES in {e.target for e in lh.lineage(MODEL, direction="downstream")}


def test_progress_true_shows_a_bar_on_stderr_that_ends_at_every_row(scoring, capsys):
    lh, _ = scoring
    result = lh.models.score(f"{MODEL}@champion", table=CANDIDATES, output=SCORES, batch_size=256, progress=True)
    assert result.rows == 1000
    err = capsys.readouterr().err
    assert f"scoring {CANDIDATES}" in err and "1000/1000" in err


def test_overwrite_append_keep_and_a_pinned_input_version(scoring):
    lh, model = scoring
    lh.models.score(MODEL, table=CANDIDATES, output=SCORES, keep=["id"])
    lh.write(CANDIDATES, _candidates(10, seed=5).set_column(0, "id", pa.array(np.arange(1000, 1010))))
    before = lh.describe(SCORES).version
    result = lh.models.score(MODEL, table=f"{CANDIDATES}@v1", output=SCORES, keep=["id"], mode="append")
    assert (result.table_version, result.output_version, result.rows) == (1, before + 1, 1000)
    assert lh.read(SCORES).num_rows == 2000 and lh.read(SCORES).column_names == ["id", "prediction"]
    result = lh.models.score(MODEL, table=CANDIDATES, output=SCORES, keep=["id"])  # overwrite: the latest rows
    assert (result.table_version, result.rows, lh.read(SCORES).num_rows) == (2, 1010, 1010)
    np.testing.assert_array_equal(
        lh.read(SCORES).sort_by("id")["prediction"].to_numpy(), _expected(model, lh.read(CANDIDATES).sort_by("id"))
    )


def test_a_failed_scoring_leaves_the_output_table_at_its_previous_version(scoring):
    lh, _model = scoring
    lh.create_table(
        "main.shop.ints",
        data=pa.table({"x1": pa.array([1, 2] * 300, pa.int64()), "x2": pa.array([0, 1] * 300, pa.int64())}),
    )
    # A model whose signature wants whole numbers (long, required): NULLs in late rows fail mid-way.
    x = pa.table({"x1": pa.array([0, 1, 2, 3], pa.int64()), "x2": pa.array([1, 0, 1, 0], pa.int64())}).to_pandas()
    lh.models.register(LogisticRegression().fit(x, [0, 1, 0, 1]), "main.shop.counts", input_example=x)
    lh.models.score("main.shop.counts", table="main.shop.ints", output=SCORES)
    version, rows = lh.describe(SCORES).version, lh.read(SCORES).sort_by("x1").to_pylist()
    lh.write("main.shop.ints", pa.table({"x1": pa.array([None], pa.int64()), "x2": pa.array([1], pa.int64())}))
    with pytest.raises(SchemaMismatchError, match=r"column x1 of main.shop.ints holds NULL values"):
        lh.models.score("main.shop.counts", table="main.shop.ints", output=SCORES, batch_size=100)
    assert lh.describe(SCORES).version == version
    assert lh.read(SCORES).sort_by("x1").to_pylist() == rows
    with pytest.raises(SchemaMismatchError):  # a new output table is not left behind either
        lh.models.score("main.shop.counts", table="main.shop.ints", output="main.shop.fresh", batch_size=100)
    assert [t.full_name for t in lh.list("main.shop", kind="table")] == [CANDIDATES, "main.shop.ints", SCORES]


def test_a_table_that_no_longer_matches_the_signature_is_named_before_any_row_is_read(scoring):
    lh, _model = scoring
    lh.create_table("main.shop.drifted", data=pa.table({"id": [1, 2], "x1": ["a", "b"], "z": [0.1, 0.2]}))
    with pytest.raises(SchemaMismatchError) as caught:
        lh.models.score(f"{MODEL}@champion", table="main.shop.drifted", output=SCORES)
    message = str(caught.value)
    assert "missing column(s): x2 (double (required))" in message
    assert "mistyped column(s): x1 is string, the signature wants double (required)" in message
    assert SCORES not in [t.full_name for t in lh.list("main.shop")]


def test_integer_columns_are_cast_to_the_double_the_signature_wants(scoring):
    lh, model = scoring
    lh.create_table(
        "main.shop.whole", data=pa.table({"x1": pa.array([3, -3], pa.int32()), "x2": pa.array([0, 0], pa.int64())})
    )
    lh.models.score(MODEL, table="main.shop.whole", output=SCORES)
    assert lh.read(SCORES).sort_by("x1")["prediction"].to_pylist() == list(
        model.predict(pa.table({"x1": [-3.0, 3.0], "x2": [0.0, 0.0]}).to_pandas())
    )


def test_a_model_without_signature_cannot_score_a_table(scoring):
    lh, model = scoring
    lh.models.register(model, "main.shop.bare")
    with pytest.raises(SchemaMismatchError, match="has no signature"):
        lh.models.score("main.shop.bare", table=CANDIDATES, output=SCORES)


def test_row_filters_of_the_caller_apply_to_what_is_scored(scoring):
    lh, model = scoring
    lh.set_row_filter(CANDIDATES, "region = 'north' OR is_member('admins')")
    lh.set_column_mask(CANDIDATES, "region", "CASE WHEN is_member('admins') THEN region ELSE 'hidden' END")
    lh.create_user("bob")
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    lh.grant("CREATE TABLE", on="main.shop", to="bob")
    lh.grant("SELECT", on=CANDIDATES, to="bob")
    lh.grant("EXECUTE", on=MODEL, to="bob")
    with lh.as_user("bob") as bob:
        result = bob.models.score(f"{MODEL}@champion", table=CANDIDATES, output="main.shop.bobs", batch_size=100)
        scores = bob.read("main.shop.bobs").sort_by("id")
    north = lh.read(CANDIDATES).filter(pa.compute.equal(lh.read(CANDIDATES)["region"], "north")).sort_by("id")
    assert result.rows == north.num_rows == scores.num_rows
    assert scores["id"].to_pylist() == north["id"].to_pylist()
    assert set(scores["region"].to_pylist()) == {"hidden"}
    np.testing.assert_array_equal(scores["prediction"].to_numpy(), _expected(model, north))


def test_scoring_needs_execute_select_and_write_rights_and_each_refusal_is_audited(scoring):
    lh, _model = scoring
    lh.create_table(SCORES, schema=pa.schema([("id", pa.int64()), ("prediction", pa.int64())]))
    lh.create_user("bob")
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    with lh.as_user("bob") as bob:

        def score():
            bob.models.score(MODEL, table=CANDIDATES, output=SCORES, keep=["id"])

        with pytest.raises(PermissionDeniedError, match=r"bob lacks EXECUTE on model main.shop.reco"):
            score()
        lh.grant("EXECUTE", on=MODEL, to="bob")
        with pytest.raises(PermissionDeniedError, match=f"bob lacks MODIFY on table {SCORES}"):
            score()
        lh.grant("MODIFY", on=SCORES, to="bob")
        with pytest.raises(PermissionDeniedError, match=f"bob lacks SELECT on table {CANDIDATES}"):
            score()
        lh.grant("SELECT", on=CANDIDATES, to="bob")
        assert bob.models.score(MODEL, table=CANDIDATES, output=SCORES, keep=["id"]).rows == 1000
    lh.flush()
    denied = lh.sql(
        "SELECT privilege, securable FROM system.access.audit WHERE principal = 'bob' "
        "AND decision = 'deny' ORDER BY event_time"
    ).fetchall()
    assert denied == [("EXECUTE", MODEL), ("MODIFY", SCORES), ("SELECT", CANDIDATES)]


def test_bad_scoring_arguments_get_clear_errors(scoring):
    lh, _model = scoring
    with pytest.raises(InvalidArgumentError, match="mode must be 'overwrite' or 'append'"):
        lh.models.score(MODEL, table=CANDIDATES, output=SCORES, mode="merge")
    with pytest.raises(InvalidArgumentError, match="is the table being scored"):
        lh.models.score(MODEL, table=CANDIDATES, output=CANDIDATES)
    with pytest.raises(InvalidArgumentError, match="keep= names \\['nope'\\]"):
        lh.models.score(MODEL, table=CANDIDATES, output=SCORES, keep=["nope"])
    with pytest.raises(InvalidArgumentError, match="has a column 'x1' already"):
        lh.models.score(MODEL, table=CANDIDATES, output=SCORES, prediction_column="x1")
    with pytest.raises(InvalidArgumentError, match="system catalog"):
        lh.models.score(MODEL, table=CANDIDATES, output="system.access.scores")
    assert SCORES not in [t.full_name for t in lh.list("main.shop")]

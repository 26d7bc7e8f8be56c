"""Lineage: which exact table versions each write read, table- and column-level, walked both ways."""

from __future__ import annotations

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import InvalidArgumentError, NotFoundError


def edges(lh, name, **kwargs):
    return {
        (e.source, e.source_version, e.target, e.target_version, e.operation, e.depth)
        for e in lh.lineage(name, **kwargs)
    }


def column_edges(lh, name, direction="upstream"):
    return {
        (r.source, r.source_column, r.target, r.target_column) for r in lh.column_lineage(name, direction=direction)
    }


@pytest.fixture
def medallion(shop):
    """bronze (v1) -> silver (CTAS, v1) -> gold (CTAS, v1); then one more bronze version."""
    lh = shop
    lh.create_table(
        "main.shop.bronze",
        data=pa.table(
            {"id": [1, 2, 3], "amount": [10.0, 20.0, 30.0], "region": ["N", "S", "N"], "email": ["a@x", "b@x", "c@x"]}
        ),
    )
    lh.sql(
        "CREATE TABLE main.shop.silver AS SELECT id, amount * 2 AS amount2, region FROM main.shop.bronze WHERE id > 1"
    )
    lh.sql(
        "CREATE TABLE main.shop.gold AS "
        "SELECT region, sum(amount2) AS total, count(*) AS n FROM main.shop.silver GROUP BY region"
    )
    lh.write("main.shop.bronze", {"id": [4], "amount": [40.0], "region": ["S"], "email": ["d@x"]})  # bronze v2
    return lh


def test_ctas_records_table_edges_with_exact_versions(medallion):
    assert edges(medallion, "main.shop.silver") == {
        ("main.shop.bronze", 1, "main.shop.silver", 1, "CREATE TABLE AS SELECT", 1)
    }


def test_ctas_records_column_edges(medallion):
    assert column_edges(medallion, "main.shop.silver") == {
        ("main.shop.bronze", "id", "main.shop.silver", "id"),
        ("main.shop.bronze", "amount", "main.shop.silver", "amount2"),
        ("main.shop.bronze", "region", "main.shop.silver", "region"),
    }
    # the PII column was never read into silver
    assert not any(src_col == "email" for _, src_col, _, _ in column_edges(medallion, "main.shop.silver"))
    downstream = column_edges(medallion, "main.shop.silver", direction="downstream")
    assert ("main.shop.silver", "amount2", "main.shop.gold", "total") in downstream


def test_lineage_walks_several_hops_with_depth(medallion):
    up = edges(medallion, "main.shop.gold")
    assert up == {
        ("main.shop.silver", 1, "main.shop.gold", 1, "CREATE TABLE AS SELECT", 1),
        ("main.shop.bronze", 1, "main.shop.silver", 1, "CREATE TABLE AS SELECT", 2),
    }
    assert edges(medallion, "main.shop.gold", depth=1) == {
        ("main.shop.silver", 1, "main.shop.gold", 1, "CREATE TABLE AS SELECT", 1)
    }
    down = edges(medallion, "main.shop.bronze", direction="downstream")
    assert {(e[0], e[2], e[5]) for e in down} == {
        ("main.shop.bronze", "main.shop.silver", 1),
        ("main.shop.silver", "main.shop.gold", 2),
    }
    assert edges(medallion, "main.shop.bronze") == set()  # nothing upstream of the landing table
    assert edges(medallion, "main.shop.gold", direction="downstream") == set()


def test_insert_select_records_the_version_read(medallion):
    v = medallion.describe("main.shop.silver").version
    medallion.sql("INSERT INTO main.shop.silver SELECT id, amount, region FROM main.shop.bronze WHERE id = 4")
    medallion.sql("INSERT INTO main.shop.silver SELECT id + 100, amount, region FROM main.shop.bronze@v1")
    up = medallion.lineage("main.shop.silver")
    assert [(e.source, e.source_version, e.target_version, e.operation) for e in up] == [
        ("main.shop.bronze", 1, v + 2, "INSERT")
    ]  # one edge per pair: the latest write
    rows = medallion.sql(
        "SELECT source_version, target_version, operation FROM system.lineage.table_lineage "
        "WHERE target = 'main.shop.silver' ORDER BY target_version"
    ).fetchall()
    assert rows == [(1, 1, "CREATE TABLE AS SELECT"), (2, v + 1, "INSERT"), (1, v + 2, "INSERT")]
    cols = medallion.sql(
        "SELECT DISTINCT source_column, target_column, source_version FROM "
        "system.lineage.column_lineage WHERE target = 'main.shop.silver' AND target_version = "
        f"{v + 1} ORDER BY 1"
    ).fetchall()
    assert cols == [("amount", "amount2", 2), ("id", "id", 2), ("region", "region", 2)]


def test_insert_with_column_list_maps_columns_by_name(medallion):
    medallion.create_table("main.shop.ids", schema=pa.schema([("key", pa.int64()), ("where_", pa.string())]))
    medallion.sql("INSERT INTO main.shop.ids (where_, key) SELECT region, id FROM main.shop.bronze")
    assert column_edges(medallion, "main.shop.ids") == {
        ("main.shop.bronze", "region", "main.shop.ids", "where_"),
        ("main.shop.bronze", "id", "main.shop.ids", "key"),
    }


def test_merge_records_table_and_column_edges(medallion):
    medallion.create_table(
        "main.shop.target", schema=pa.schema([("id", pa.int64()), ("amount", pa.float64()), ("region", pa.string())])
    )
    medallion.sql("""
        MERGE INTO main.shop.target t
        USING (SELECT id, amount / 2 AS half, region FROM main.shop.bronze) s ON t.id = s.id
        WHEN MATCHED THEN UPDATE SET amount = s.half
        WHEN NOT MATCHED THEN INSERT (id, amount, region) VALUES (s.id, s.half, s.region)
    """)
    v = medallion.describe("main.shop.target").version
    assert edges(medallion, "main.shop.target") == {("main.shop.bronze", 2, "main.shop.target", v, "MERGE", 1)}
    assert column_edges(medallion, "main.shop.target") == {
        ("main.shop.bronze", "id", "main.shop.target", "id"),
        ("main.shop.bronze", "amount", "main.shop.target", "amount"),
        ("main.shop.bronze", "region", "main.shop.target", "region"),
    }
    medallion.sql(
        "MERGE INTO main.shop.target t USING main.shop.silver s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET amount = s.amount2"
    )
    assert ("main.shop.silver", "amount2", "main.shop.target", "amount") in column_edges(medallion, "main.shop.target")


def test_python_writes_declare_upstream(medallion):
    lh = medallion
    lh.create_table("main.shop.features", schema=pa.schema([("id", pa.int64()), ("score", pa.float64())]))
    c = lh.write("main.shop.features", {"id": [1], "score": [0.5]}, upstream=["main.shop.gold", "main.shop.bronze@v1"])
    assert edges(lh, "main.shop.features", depth=1) == {
        ("main.shop.gold", 1, "main.shop.features", c.version, "APPEND", 1),
        ("main.shop.bronze", 1, "main.shop.features", c.version, "APPEND", 1),
    }
    # three hops up through gold, all the way to bronze
    assert ("main.shop.bronze", 1, "main.shop.silver", 1, "CREATE TABLE AS SELECT", 3) in edges(
        lh, "main.shop.features"
    )
    # create_table with data= declares upstream too
    lh.sql("CREATE VIEW main.shop.north AS SELECT * FROM main.shop.silver WHERE region = 'N'")
    c = lh.write(
        "main.shop.features", {"id": [2], "score": [0.7]}, mode="merge", on=["id"], upstream=["main.shop.north"]
    )
    assert ("main.shop.north", None, "main.shop.features", c.version, "MERGE", 1) in edges(lh, "main.shop.features")


def test_upstream_that_does_not_exist_is_refused_and_nothing_is_written(medallion):
    lh = medallion
    lh.create_table("main.shop.features", schema=pa.schema([("id", pa.int64())]))
    with pytest.raises(NotFoundError, match=r"'main.shop.bronz' does not exist. Did you mean 'main.shop.bronze'"):
        lh.write("main.shop.features", {"id": [1]}, upstream=["main.shop.bronz"])
    with pytest.raises(
        NotFoundError, match=r"upstream 'main.shop.bronze@v9': version 9 does not exist; versions run from 0 to 2"
    ):
        lh.write("main.shop.features", {"id": [1]}, upstream=["main.shop.bronze@v9"])
    assert lh.describe("main.shop.features").version == 0
    assert lh.lineage("main.shop.features") == []


def test_views_in_lineage(medallion):
    lh = medallion
    lh.sql("CREATE VIEW main.shop.north AS SELECT id, amount2 FROM main.shop.silver WHERE region = 'N'")
    lh.sql("CREATE VIEW main.shop.north_big AS SELECT * FROM main.shop.north WHERE amount2 > 10")
    lh.sql("CREATE TABLE main.shop.report AS SELECT count(*) AS n FROM main.shop.north_big")
    assert edges(lh, "main.shop.north") == {
        ("main.shop.silver", 1, "main.shop.north", None, "CREATE VIEW", 1),
        ("main.shop.bronze", 1, "main.shop.silver", 1, "CREATE TABLE AS SELECT", 2),
    }
    report = edges(lh, "main.shop.report", depth=1)
    # the view that was named, and the table version the view read
    assert ("main.shop.north_big", None, "main.shop.report", 1, "CREATE TABLE AS SELECT", 1) in report
    assert ("main.shop.silver", 1, "main.shop.report", 1, "CREATE TABLE AS SELECT", 1) in report
    down = edges(lh, "main.shop.silver", direction="downstream")
    assert {e[2] for e in down} >= {"main.shop.north", "main.shop.north_big", "main.shop.report", "main.shop.gold"}
    assert lh.lineage("main.shop.north_big")[0].source == "main.shop.north"


def test_cycles_end(shop):
    shop.create_table("main.shop.a", data=pa.table({"x": [1]}))
    shop.sql("CREATE TABLE main.shop.b AS SELECT x FROM main.shop.a")
    shop.sql("INSERT INTO main.shop.a SELECT x + 1 FROM main.shop.b")
    up = edges(shop, "main.shop.a", depth=50)
    assert {(e[0], e[2]) for e in up} == {("main.shop.b", "main.shop.a"), ("main.shop.a", "main.shop.b")}


def test_lineage_errors(medallion):
    with pytest.raises(InvalidArgumentError, match="direction must be 'upstream' or 'downstream', not 'sideways'"):
        medallion.lineage("main.shop.gold", direction="sideways")
    with pytest.raises(InvalidArgumentError, match="direction must be 'upstream' or 'downstream', not 'sideways'"):
        medallion.column_lineage("main.shop.gold", direction="sideways")  # once read as downstream
    medallion.create_volume("main.shop.files")
    with pytest.raises(
        InvalidArgumentError, match=r"lineage is kept for tables and views; main.shop.files is a volume"
    ):
        medallion.lineage("main.shop.files")
    with pytest.raises(NotFoundError, match=r"'main.shop.nope' does not exist"):
        medallion.lineage("main.shop.nope")


def test_lineage_rows_carry_principal_request_and_statement(medallion):
    row = medallion.sql(
        "SELECT principal, request_id, statement FROM system.lineage.table_lineage WHERE target = 'main.shop.gold'"
    ).to_pylist()[0]
    assert row["principal"] == "alice"
    assert len(row["request_id"]) == 32
    assert row["statement"].startswith("CREATE TABLE main.shop.gold AS SELECT")


def test_lineage_hides_the_names_of_tables_the_caller_cannot_read(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_table("main.shop.secret", data=pa.table({"id": [1, 2], "salary": [10, 20]}))
        lh.sql("CREATE TABLE main.shop.derived AS SELECT id, salary * 2 AS cost FROM main.shop.secret")
        lh.create_user("bob")
        lh.grant("USE SCHEMA", on="main.shop", to="bob")
        lh.grant("SELECT", on="main.shop.derived", to="bob")
        assert [e.source for e in lh.lineage("main.shop.derived")] == ["main.shop.secret"]
        with lh.as_user("bob") as bob:
            edges = bob.lineage("main.shop.derived")
            assert [(e.source, e.source_version, e.target) for e in edges] == [
                ("(restricted)", None, "main.shop.derived")
            ]
            columns = bob.column_lineage("main.shop.derived")
            assert columns and {c.source for c in columns} == {"(restricted)"}
            assert {c.source_column for c in columns} == {"(restricted)"}

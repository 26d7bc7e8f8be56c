"""No clause is dropped silently: a table reference's clauses reach DuckDB with its scan, and a
statement's clauses are either honoured or refused (issue 10, finding 5 and CREATE TEMP TABLE).

Before: the name rewrite replaced ``main.shop.t TABLESAMPLE 1 ROWS`` by a bare scan, so
``DELETE ... WHERE id IN (SELECT id FROM t TABLESAMPLE 1 ROWS)`` deleted every row; PIVOT,
``AS x(a, b)`` and the joins of ``FROM (a JOIN b ...)`` vanished the same way, and
``CREATE TEMP TABLE`` created a permanent table.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import SqlError, UngovernedAccessError

T = "main.shop.t"


@pytest.fixture
def t(shop):
    """main.shop.t: ids 1..6, kind a/b alternating, and main.shop.u: ids 1..3."""
    shop.create_table(
        T, data=pa.table({"id": pa.array(range(1, 7), pa.int64()), "kind": ["a", "b", "a", "b", "a", "b"]})
    )
    shop.create_table("main.shop.u", data=pa.table({"id": pa.array([1, 2, 3], pa.int64())}))
    return shop


def ids(lh, name=T):
    return sorted(r[0] for r in lh.sql(f"SELECT id FROM {name}").fetchall())


def version(lh, name=T):
    return lh.describe(name).version


# -- table references: each clause DuckDB takes is carried onto the scan -----------------------------


@pytest.mark.parametrize(
    "clause",
    [
        "TABLESAMPLE 1 ROWS",
        "TABLESAMPLE RESERVOIR(1 ROWS) REPEATABLE (7)",
        "AS x TABLESAMPLE 1 ROWS",
        "USING SAMPLE 1 ROWS",
    ],
)
def test_a_sample_on_a_table_samples(t, clause):
    assert t.sql(f"SELECT count(*) FROM {T} {clause}").scalar() == 1


def test_a_delete_through_a_sampled_subquery_deletes_one_row_not_all(t):
    result = t.sql(f"DELETE FROM {T} WHERE id IN (SELECT id FROM {T} TABLESAMPLE 1 ROWS)")
    assert len(ids(t)) == 5 and result.to_pylist()[0]["rows"] == 5


@pytest.mark.parametrize(
    ("statement", "rows"),
    [
        (f"UPDATE {T} SET kind = 'z' WHERE id IN (SELECT id FROM {T} TABLESAMPLE 2 ROWS)", None),
        ("CREATE TABLE main.shop.sample AS SELECT * FROM main.shop.t TABLESAMPLE 2 ROWS", "main.shop.sample"),
        ("INSERT INTO main.shop.u SELECT id + 100 FROM main.shop.t TABLESAMPLE 2 ROWS", "main.shop.u"),
        (
            (
                "MERGE INTO main.shop.u AS u USING (SELECT id + 100 AS id FROM main.shop.t TABLESAMPLE 2 ROWS) AS s "
                "ON u.id = s.id WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)"
            ),
            "main.shop.u",
        ),
        (
            (
                "MERGE INTO main.shop.u AS u USING main.shop.t AS s TABLESAMPLE 2 ROWS ON u.id = s.id + 100 "
                "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id + 100)"
            ),
            "main.shop.u",
        ),
    ],
)
def test_every_statement_that_reads_a_sampled_table_reads_the_sample(t, statement, rows):
    t.sql(statement)
    if rows is None:
        assert t.sql(f"SELECT count(*) FROM {T} WHERE kind = 'z'").scalar() == 2
    else:
        assert len([i for i in ids(t, rows) if i > 100 or rows == "main.shop.sample"]) == 2


def test_pivot_and_unpivot_on_a_table_are_applied(t):
    pivot = t.sql(f"SELECT * FROM {T} PIVOT (sum(id) FOR kind IN ('a', 'b'))").to_pylist()
    assert pivot == [{"a": 9, "b": 12}]
    named = t.sql(f"SELECT p.a FROM {T} PIVOT (sum(id) FOR kind IN ('a', 'b')) AS p").scalar()
    assert named == 9
    unpivot = t.sql(f"SELECT count(*), count(DISTINCT k) FROM {T} UNPIVOT (v FOR k IN (id))").fetchone()
    assert unpivot == (6, 1)
    # PIVOT as a statement groups by the other columns (here: id), as DuckDB does
    statement = t.sql(f"SELECT count(*), sum(a), sum(b) FROM (PIVOT {T} ON kind USING count(*))").fetchone()
    assert statement == (6, 3, 3)


def test_column_alias_lists_rename_the_columns(t):
    result = t.sql(f"SELECT * FROM {T} AS x(n, k) ORDER BY n LIMIT 1")
    assert result.columns == ["n", "k"] and result.fetchall() == [(1, "a")]
    assert t.sql(f"SELECT max(x.n) FROM {T} x(n)").scalar() == 6


def test_the_joins_of_a_parenthesized_join_are_kept(t):
    rows = t.sql(f"SELECT count(*) FROM ({T} JOIN main.shop.u ON t.id = u.id)").scalar()
    assert rows == 3
    rows = t.sql(
        f"SELECT count(*) FROM ({T} AS a JOIN main.shop.u AS b ON a.id = b.id "
        "JOIN main.shop.u AS c ON c.id = b.id) WHERE a.kind = 'a'"
    ).scalar()
    assert rows == 2


def test_views_and_computed_tables_carry_their_clauses_too(t):
    t.create_view("main.shop.v", f"SELECT * FROM {T}")
    assert t.sql("SELECT count(*) FROM main.shop.v TABLESAMPLE 1 ROWS").scalar() == 1
    assert t.sql("SELECT * FROM main.shop.v AS x(n, k) ORDER BY n LIMIT 1").columns == ["n", "k"]
    assert t.sql("SELECT count(*) FROM system.ml.runs TABLESAMPLE 1 ROWS").scalar() == 0
    # a view whose own query samples keeps sampling
    t.create_view("main.shop.one", f"SELECT * FROM {T} TABLESAMPLE 1 ROWS")
    assert t.sql("SELECT count(*) FROM main.shop.one").scalar() == 1


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        (f"SELECT * FROM {T} WITH (NOLOCK)", "table hints"),
        (f"SELECT * FROM ONLY {T}", "ONLY"),
        (f"SELECT * FROM {T} WITH ORDINALITY", "WITH ORDINALITY"),
        (f"SELECT * FROM {T} CHANGES (INFORMATION => DEFAULT) AT (VERSION => 1)", "CHANGES"),
        (f"SELECT * FROM {T} BEFORE (VERSION => 1)", "BEFORE"),
        (f"SELECT * FROM {T} FOR SYSTEM_TIME ALL", "reads several versions"),
        (f"SELECT * FROM {T} FOR SYSTEM_TIME BETWEEN '2020-01-01' AND '2030-01-01'", "reads several versions"),
        (f"DELETE FROM {T} WHERE id IN (SELECT id FROM ONLY {T})", "ONLY"),
    ],
)
def test_table_clauses_that_cannot_be_carried_are_refused(t, sql, words):
    before = version(t)
    with pytest.raises(SqlError) as err:
        t.sql(sql)
    assert words in str(err.value)
    assert version(t) == before and ids(t) == [1, 2, 3, 4, 5, 6]


# -- statements: every clause is honoured or refused ---------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        (f"DELETE FROM {T} TABLESAMPLE 1 ROWS WHERE id > 3", "TABLESAMPLE on main.shop.t"),
        (f"UPDATE {T} AT (VERSION => 0) SET kind = 'z'", "time travel on main.shop.t"),
        (
            (f"MERGE INTO {T} TABLESAMPLE 1 ROWS AS t USING main.shop.u AS s ON t.id = s.id WHEN MATCHED THEN DELETE"),
            "TABLESAMPLE on main.shop.t",
        ),
        (f"DELETE FROM {T} WHERE id > 0 LIMIT 1", "DELETE ... LIMIT"),
        (f"DELETE FROM {T} WHERE id > 0 ORDER BY id", "DELETE ... ORDER BY"),
        (f"DELETE FROM {T} WHERE id = 1 RETURNING *", "DELETE ... RETURNING"),
        (f"DELETE FROM {T} USING main.shop.u WHERE t.id = u.id", "DELETE ... USING"),
        (f"UPDATE {T} SET kind = 'z' WHERE id > 0 LIMIT 1", "UPDATE ... LIMIT"),
        (f"UPDATE {T} SET kind = 'z' RETURNING id", "UPDATE ... RETURNING"),
        (f"INSERT INTO {T} VALUES (1, 'x') ON CONFLICT DO NOTHING", "ON CONFLICT"),
        (f"INSERT OR REPLACE INTO {T} VALUES (1, 'x')", "OR REPLACE"),
        (f"INSERT OR IGNORE INTO {T} VALUES (1, 'x')", "OR IGNORE"),
        (f"INSERT INTO {T} VALUES (7, 'x') RETURNING id", "INSERT ... RETURNING"),
        (
            f"MERGE INTO {T} AS t USING main.shop.u AS s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING *",
            "MERGE ... RETURNING",
        ),
        (f"DROP TEMP TABLE {T}", "TEMP"),
        ("DROP MATERIALIZED VIEW main.shop.v", "MATERIALIZED"),
    ],
)
def test_statement_clauses_that_would_be_ignored_are_refused(t, sql, words):
    t.create_view("main.shop.v", f"SELECT * FROM {T}")
    before = version(t)
    with pytest.raises(SqlError) as err:
        t.sql(sql)
    assert words in str(err.value), str(err.value)
    assert version(t) == before and ids(t) == [1, 2, 3, 4, 5, 6]
    assert {s.name.object for s in t.list("main.shop")} == {"t", "u", "v"}


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("CREATE TEMP TABLE main.shop.x AS SELECT 1 AS a", "TEMPORARY"),
        ("CREATE TEMPORARY TABLE main.shop.x (a INT)", "TEMPORARY"),
        ("CREATE GLOBAL TEMPORARY TABLE main.shop.x (a INT)", "CREATE"),
        ("CREATE OR REPLACE TEMP VIEW main.shop.x AS SELECT 1 AS a", "TEMPORARY"),
        ("CREATE TEMP TABLE x (a INT)", "TEMPORARY"),
        ("CREATE UNLOGGED TABLE main.shop.x (a INT)", "UNLOGGED"),
        ("CREATE MATERIALIZED VIEW main.shop.x AS SELECT 1 AS a", "MATERIALIZED"),
        ("CREATE EXTERNAL TABLE main.shop.x (a INT)", "EXTERNAL"),
        ("CREATE TRANSIENT TABLE main.shop.x (a INT)", "TRANSIENT"),
        ("CREATE TABLE main.shop.x (a INT) LOCATION '/tmp/x'", "LOCATION"),
        ("CREATE TABLE main.shop.x (a INT) USING parquet", "USING"),
        ("CREATE TABLE main.shop.x (a INT) TBLPROPERTIES ('k' = 'v')", "TBLPROPERTIES"),
        ("CREATE TABLE main.shop.x (a INT) CLUSTER BY (a)", "CLUSTER"),
        ("CREATE TABLE main.shop.x AS SELECT 1 AS a WITH NO DATA", "NO DATA"),
        ("CREATE TABLE main.shop.x CLONE main.shop.t", "CLONE"),
        ("CREATE TABLE main.shop.x (a INT DEFAULT 5)", "DEFAULT"),
        ("CREATE TABLE main.shop.x (a INT UNIQUE)", "UNIQUE"),
        ("CREATE TABLE main.shop.x (a INT, b INT GENERATED ALWAYS AS (a + 1))", "GENERATED"),
        ("CREATE TABLE main.shop.x (a INT, CONSTRAINT one UNIQUE (a))", "UNIQUE"),
        ("CREATE VIEW main.shop.x (n) AS SELECT 1", "name the columns in the SELECT"),
    ],
)
def test_create_modifiers_that_would_be_ignored_are_refused(t, sql, words):
    with pytest.raises(SqlError) as err:
        t.sql(sql)
    assert words in str(err.value).upper() or words in str(err.value), str(err.value)
    assert "x" not in {s.name.object for s in t.list("main.shop")}  # before: CREATE TEMP made a permanent table


def test_create_temp_table_says_tables_are_permanent(t):
    with pytest.raises(SqlError, match="permanent"):
        t.sql("CREATE TEMP TABLE main.shop.x AS SELECT 1 AS a")


def test_if_not_exists_leaves_the_table_as_it_was(t):
    before = version(t)
    t.sql(f"CREATE TABLE IF NOT EXISTS {T} (id BIGINT)")
    t.sql(f"CREATE TABLE IF NOT EXISTS {T} AS SELECT 99 AS id")
    assert version(t) == before and ids(t) == [1, 2, 3, 4, 5, 6]


def test_insert_by_name_puts_each_value_in_its_column(t):
    t.sql(f"INSERT INTO {T} BY NAME SELECT 'q' AS kind, 7 AS id")  # before: by position, 'q' into id
    assert t.sql(f"SELECT kind FROM {T} WHERE id = 7").scalar() == "q"
    with pytest.raises(SqlError, match="does not have"):
        t.sql(f"INSERT INTO {T} BY NAME SELECT 8 AS id, 'q' AS nope")
    with pytest.raises(SqlError, match="drop the column list"):
        t.sql(f"INSERT INTO {T} (id) BY NAME SELECT 8 AS id")


def test_a_leading_with_is_honoured_by_every_write(t):
    t.sql(f"WITH n AS (SELECT 7 AS id, 'c' AS kind) INSERT INTO {T} SELECT * FROM n")
    t.sql(f"WITH gone AS (SELECT 1 AS id) DELETE FROM {T} WHERE id IN (SELECT id FROM gone)")
    t.sql(f"WITH hit AS (SELECT 2 AS id) UPDATE {T} SET kind = 'z' WHERE id IN (SELECT id FROM hit)")
    t.sql(
        "WITH s AS (SELECT 50 AS id) MERGE INTO main.shop.u AS u USING s ON u.id = s.id "
        "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)"
    )
    assert ids(t) == [2, 3, 4, 5, 6, 7]
    assert t.sql(f"SELECT kind FROM {T} WHERE id = 2").scalar() == "z"
    assert ids(t, "main.shop.u") == [1, 2, 3, 50]


def test_macros_and_other_objects_cannot_be_created(t):
    for sql in [
        "CREATE MACRO main.shop.m(a) AS a",
        "CREATE TEMP MACRO m(a) AS a",
        "CREATE OR REPLACE MACRO m() AS TABLE SELECT * FROM read_csv('/etc/passwd')",
        "CREATE FUNCTION m(a) AS a",
        "CREATE SEQUENCE main.shop.q",
        "CREATE TYPE main.shop.e AS ENUM ('a')",
        "CREATE SECRET s (TYPE s3, KEY_ID 'k')",
        "CREATE INDEX i ON main.shop.t (id)",
    ]:
        with pytest.raises(SqlError):
            t.sql(sql)
    with pytest.raises(SqlError):
        t.sql("SELECT m(1)")  # no macro exists in DuckDB either


def test_a_dml_target_must_be_named_alone(t):
    with pytest.raises(SqlError, match="column alias list"):
        t.sql(f"UPDATE {T} AS x(a, b) SET kind = 'z'")
    with pytest.raises((SqlError, UngovernedAccessError)):
        t.sql("DROP TABLE main.shop.t@v1")
    assert ids(t) == [1, 2, 3, 4, 5, 6]


def test_embedded_and_remote_report_the_same_refusal(tmp_path):
    from glashaus.server.app import ServerThread, create_app

    with glashaus.connect(tmp_path / "lh", user="alice") as lh, ServerThread(create_app(lh)) as server:
        remote = glashaus.connect(server.url, token=lh.create_token())
        with pytest.raises(SqlError, match="TEMPORARY"):
            remote.sql("CREATE TEMP TABLE main.default.x AS SELECT 1 AS a")
        remote.close()
        assert "x" not in {s.name.object for s in lh.list("main.default")}

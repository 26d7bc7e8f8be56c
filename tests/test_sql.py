"""Governed SQL: queries, time travel, views, DDL and DML over real Delta tables and DuckDB."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import (
    AlreadyExistsError,
    ConstraintViolationError,
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    SchemaMismatchError,
    SqlError,
)
from glashaus.lakehouse import services
from tests.conftest import rows_of, version_of

# -- a shared, read-only lakehouse for queries --------------------------------------------------


@pytest.fixture(scope="module")
def ro(tmp_path_factory):
    """main.shop.{customers, orders} with three versions of orders; queries only, never writes."""
    lh = glashaus.connect(tmp_path_factory.mktemp("sql") / "lh", user="alice")
    lh.create_schema("main.shop")
    lh.create_table(
        "main.shop.customers",
        data=pa.table({"customer_id": [1, 2, 3], "name": ["Ada", "Bo", "Cy"], "region": ["N", "S", "N"]}),
        primary_key=["customer_id"],
    )
    lh.create_table(
        "main.shop.orders",
        schema=pa.schema([("order_id", pa.int64()), ("customer_id", pa.int64()), ("amount", pa.float64())]),
    )
    lh.write("main.shop.orders", {"order_id": [10, 11], "customer_id": [1, 2], "amount": [5.0, 7.0]})  # v1
    time.sleep(0.02)
    lh.between = dt.datetime.now(dt.UTC)
    time.sleep(0.02)
    lh.write("main.shop.orders", {"order_id": [12, 13], "customer_id": [1, 3], "amount": [3.0, 9.0]})  # v2
    lh.sql("CREATE VIEW main.shop.big_orders AS SELECT * FROM main.shop.orders WHERE amount > 4")
    lh.sql(
        "CREATE VIEW main.shop.big_by_region AS SELECT c.region, sum(o.amount) AS total "
        "FROM main.shop.big_orders o JOIN main.shop.customers c USING (customer_id) GROUP BY 1"
    )
    yield lh
    lh.close()


def test_select_with_join_and_group_by(ro):
    got = ro.sql("""
        SELECT c.region, count(*) AS n, sum(o.amount) AS total
        FROM main.shop.orders o JOIN main.shop.customers c ON o.customer_id = c.customer_id
        GROUP BY c.region ORDER BY c.region
    """).fetchall()
    assert got == [("N", 3, 17.0), ("S", 1, 7.0)]


def test_cte_and_window_function(ro):
    got = ro.sql("""
        WITH ranked AS (
            SELECT customer_id, order_id,
                   row_number() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS rn
            FROM main.shop.orders
        )
        SELECT customer_id, order_id FROM ranked WHERE rn = 1 ORDER BY customer_id
    """).fetchall()
    assert got == [(1, 10), (2, 11), (3, 13)]


def test_subqueries_and_set_operations(ro):
    got = ro.sql("""
        SELECT name FROM main.shop.customers
        WHERE customer_id IN (SELECT customer_id FROM main.shop.orders WHERE amount > 6)
        UNION ALL SELECT 'none' ORDER BY 1
    """).fetchall()
    assert got == [("Bo",), ("Cy",), ("none",)]


def test_results_convert_to_arrow_pandas_polars_and_rows(ro):
    result = ro.sql("SELECT order_id, amount FROM main.shop.orders ORDER BY order_id")
    assert isinstance(result.to_arrow(), pa.Table)
    assert result.columns == ["order_id", "amount"] and result.num_rows == len(result) == 4
    assert result.fetchall() == [(10, 5.0), (11, 7.0), (12, 3.0), (13, 9.0)]
    assert result.fetchone() == (10, 5.0)
    assert result.to_pylist()[0] == {"order_id": 10, "amount": 5.0}
    df = result.to_pandas()
    assert isinstance(df, pd.DataFrame) and df["amount"].sum() == 24.0
    pdf = result.to_polars()
    assert isinstance(pdf, pl.DataFrame) and pdf["order_id"].to_list() == [10, 11, 12, 13]
    assert ro.sql("SELECT count(*) FROM main.shop.orders").scalar() == 4
    assert ro.sql("SELECT * FROM main.shop.orders WHERE false").fetchone() is None


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT count(*) FROM main.shop.orders@v1", 2),
        ("SELECT count(*) FROM main.shop.orders@V1", 2),
        ("SELECT count(*) FROM main.shop.orders@v0", 0),
        ("SELECT count(*) FROM main.shop.orders VERSION AS OF 1", 2),
        ("SELECT count(*) FROM main.shop.orders AT (VERSION => 1)", 2),
        ("SELECT count(*) FROM main.shop.orders", 4),
    ],
)
def test_time_travel_by_version(ro, sql, expected):
    assert ro.sql(sql).scalar() == expected


def test_time_travel_by_timestamp(ro):
    ts = ro.between.isoformat()
    assert ro.sql(f"SELECT count(*) FROM main.shop.orders TIMESTAMP AS OF '{ts}'").scalar() == 2
    plain = ro.between.strftime("%Y-%m-%d %H:%M:%S.%f")  # no zone: UTC
    assert ro.sql(f"SELECT count(*) FROM main.shop.orders TIMESTAMP AS OF '{plain}'").scalar() == 2


def test_two_versions_of_one_table_in_one_query(ro):
    got = ro.sql("""
        SELECT new.order_id FROM main.shop.orders@v2 AS new
        LEFT JOIN main.shop.orders@v1 old ON new.order_id = old.order_id
        WHERE old.order_id IS NULL ORDER BY 1
    """).fetchall()
    assert got == [(12,), (13,)]
    got = ro.sql("SELECT count(*) FROM main.shop.orders VERSION AS OF 1 AS o WHERE o.amount > 6").scalar()
    assert got == 1


@pytest.mark.parametrize(
    ("sql", "error", "fragments"),
    [
        ("SELECT * FROM main.shop.orders@v99", NotFoundError, ["version 99 does not exist", "0 to 2"]),
        ("SELECT * FROM main.shop.orders@latest", SqlError, ["'@latest'", "@v<N>"]),
        ("SELECT * FROM main.shop.orders VERSION AS OF 'x'", SqlError, ["VERSION AS OF needs a whole number"]),
        ("SELECT * FROM main.shop.orders TIMESTAMP AS OF 5", SqlError, ["TIMESTAMP AS OF needs a timestamp"]),
        ("SELECT * FROM main.shop.orders TIMESTAMP AS OF 'soon'", InvalidArgumentError, ["'soon'", "ISO 8601"]),
        (
            "SELECT * FROM main.shop.orders TIMESTAMP AS OF '1999-01-01'",
            NotFoundError,
            ["main.shop.orders did not exist at 1999-01-01"],
        ),
        (
            "SELECT * FROM main.shop.big_orders@v1",
            SqlError,
            ["main.shop.big_orders is a view", "time travel applies to tables"],
        ),
    ],
)
def test_time_travel_errors(ro, sql, error, fragments):
    with pytest.raises(error) as err:
        ro.sql(sql)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_a_view_can_pin_a_version(ro):
    assert ro.sql("SELECT count(*) FROM (SELECT o.order_id FROM main.shop.orders@v1 o)").scalar() == 2


def test_views_and_views_of_views(ro):
    assert ro.sql("SELECT order_id FROM main.shop.big_orders ORDER BY 1").fetchall() == [(10,), (11,), (13,)]
    assert ro.sql("SELECT * FROM main.shop.big_by_region ORDER BY region").fetchall() == [("N", 14.0), ("S", 7.0)]
    # a view is read at the time of the query, not frozen when it was created
    assert ro.sql("SELECT count(*) FROM main.shop.big_orders b JOIN main.shop.orders o USING (order_id)").scalar() == 3


def test_show_and_describe(ro):
    tables = ro.sql("SHOW TABLES IN main.shop")
    assert tables.columns == ["name", "kind", "owner", "comment"]
    assert [r[0] for r in tables.fetchall()] == ["main.shop.customers", "main.shop.orders"]
    assert [r[0] for r in ro.sql("SHOW VIEWS IN main.shop").fetchall()] == [
        "main.shop.big_by_region",
        "main.shop.big_orders",
    ]
    assert [r[0] for r in ro.sql("show schemas in main").fetchall()] == ["main.default", "main.shop"]
    assert [r[0] for r in ro.sql("SHOW CATALOGS").fetchall()] == ["main", "system"]
    assert ro.sql("DESCRIBE main.shop.customers").fetchall() == [
        ("customer_id", "int64", False, None),
        ("name", "string", True, None),
        ("region", "string", True, None),
    ]
    with pytest.raises(SqlError, match=r"SHOW TABLES needs IN <catalog.schema>"):
        ro.sql("SHOW TABLES")


@pytest.mark.parametrize(
    ("sql", "error", "fragments"),
    [
        ("SELEC * FROM main.shop.orders", SqlError, ["syntax error", "line 1, column"]),
        ("SELECT * FROM main.shop.orders WHERE (", SqlError, ["syntax error", "line 1, column 38"]),
        ("SELECT a FROM main.shop.orders\nWHERE a = = 1", SqlError, ["syntax error", "line 2"]),
        ("", SqlError, ["empty SQL statement"]),
        ("  ;  ", SqlError, ["empty SQL statement"]),
        ("SELECT nope FROM main.shop.orders", SqlError, ['"nope"', "not found"]),
        ("SELECT * FROM main.shop.nope", NotFoundError, ["'main.shop.nope' does not exist"]),
        ("SELECT * FROM main.shp.orders", NotFoundError, ["schema 'main.shp' does not exist"]),
        ("SELECT * FROM orders", SqlError, ["'orders' must be named with three parts", "main.shop.orders"]),
        ("SELECT * FROM shop.orders", SqlError, ["'shop.orders' must be named with three parts"]),
        ("SUMMARIZE main.shop.orders", SqlError, ["SUMMARIZE is not supported", "Supported: SELECT"]),
        ("CREATE SEQUENCE main.shop.s", SqlError, ["CREATE SEQUENCE is not supported"]),
    ],
)
def test_query_errors_say_what_and_where(ro, sql, error, fragments):
    with pytest.raises(error) as err:
        ro.sql(sql)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert "__glashaus_scan" not in str(err.value)


def test_a_failing_query_leaves_the_connection_usable(ro):
    with pytest.raises(SqlError):
        ro.sql("SELECT 1/0::INT, nope FROM main.shop.orders")
    assert ro.sql("SELECT count(*) FROM main.shop.orders").scalar() == 4


# -- DDL ------------------------------------------------------------------------------------


def test_create_catalog_schema_table_with_constraints(lh):
    lh.sql("CREATE CATALOG dev COMMENT 'sandbox'")
    lh.sql("CREATE SCHEMA dev.shop COMMENT 'the shop'")
    r = lh.sql("""
        CREATE TABLE dev.shop.orders (
            order_id BIGINT PRIMARY KEY,
            customer VARCHAR NOT NULL,
            qty INT CHECK (qty > 0),
            price DECIMAL(10, 2),
            day DATE,
            ts TIMESTAMP,
            paid_at TIMESTAMPTZ,
            rush BOOLEAN,
            CONSTRAINT cheap CHECK (CAST(price AS DOUBLE) < 1000)
        ) COMMENT 'orders'
    """)
    info = lh.describe("dev.shop.orders")
    assert r.fetchone()[2] == info.version  # the status row reports the version the table is at
    assert lh.get("dev").comment == "sandbox" and lh.get("dev.shop").comment == "the shop"
    assert info.comment == "orders"
    assert info.primary_key == ("order_id",)
    assert sorted(info.constraints) == ["cheap", "qty_check_1"]
    assert info.constraints["qty_check_1"] == "qty > 0"
    assert [(c.name, c.type, c.nullable) for c in info.columns] == [
        ("order_id", "int64", False),
        ("customer", "string", False),
        ("qty", "int32", True),
        ("price", "decimal128(10, 2)", True),
        ("day", "date32[day]", True),
        ("ts", "timestamp[us]", True),
        ("paid_at", "timestamp[us, tz=UTC]", True),
        ("rush", "bool", True),
    ]
    lh.sql("INSERT INTO dev.shop.orders (order_id, customer, qty, price) VALUES (1, 'a', 1, 999.99)")
    with pytest.raises(ConstraintViolationError, match="cheap"):
        lh.sql("INSERT INTO dev.shop.orders (order_id, customer, qty, price) VALUES (2, 'b', 1, 1500)")
    with pytest.raises(ConstraintViolationError, match="qty > 0"):
        lh.sql("INSERT INTO dev.shop.orders (order_id, customer, qty) VALUES (3, 'c', 0)")
    assert lh.read("dev.shop.orders").num_rows == 1


def test_create_table_partitioned_by(shop):
    shop.sql("CREATE TABLE main.shop.events (id BIGINT, day DATE, v DOUBLE) PARTITIONED BY (day)")
    assert shop.describe("main.shop.events").partition_by == ("day",)
    shop.sql("INSERT INTO main.shop.events VALUES (1, DATE '2026-01-01', 1.5), (2, DATE '2026-01-02', 2.5)")
    assert shop.sql("SELECT sum(v) FROM main.shop.events WHERE day = DATE '2026-01-02'").scalar() == 2.5


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("CREATE TABLE main.shop.z (x)", "unsupported table element 'x': list columns as name TYPE"),
        ("CREATE TABLE main.shop.z (x INT, UNIQUE (x))", "unsupported table element 'UNIQUE (x)'"),
        ("CREATE TABLE main.shop.z", "CREATE TABLE needs a column list or AS SELECT"),
        ("DROP FUNCTION main.shop.f", "DROP FUNCTION is not supported"),
        ("CREATE MACRO m(x) AS x + 1", "CREATE MACRO is not supported; use CATALOG, SCHEMA, TABLE, VIEW or VOLUME"),
        ("INSERT INTO main.shop.t DEFAULT VALUES", "INSERT needs VALUES (...) or SELECT"),
        (
            "MERGE INTO main.shop.t t USING main.shop.t s ON t.id = s.id WHEN NOT MATCHED THEN DELETE",
            "WHEN NOT MATCHED cannot DELETE",
        ),
        (
            (
                "MERGE INTO main.shop.t t USING main.shop.t s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, x) "
                "VALUES (s.id)"
            ),
            "names a different number of columns and values",
        ),
    ],
)
def test_unsupported_statements_say_what_is_supported(shop, sql, fragment):
    shop.sql("CREATE TABLE main.shop.t (id BIGINT, x VARCHAR)")
    with pytest.raises(SqlError) as err:
        shop.sql(sql)
    assert fragment in str(err.value)
    assert [s.full_name for s in shop.list("main.shop")] == ["main.shop.t"]
    assert version_of(shop, "main.shop.t") == 0


def test_show_in_a_missing_or_wrong_container(shop):
    with pytest.raises(NotFoundError, match=r"'main.nope' does not exist"):
        shop.sql("SHOW TABLES IN main.nope")
    with pytest.raises(InvalidNameError, match=r"expected catalog or catalog.schema"):
        shop.sql("SHOW TABLES IN main.shop.t")


def test_create_table_errors(shop):
    shop.sql("CREATE TABLE main.shop.t (id BIGINT)")
    with pytest.raises(AlreadyExistsError, match="IF NOT EXISTS"):
        shop.sql("CREATE TABLE main.shop.t (id BIGINT)")
    shop.sql("CREATE TABLE IF NOT EXISTS main.shop.t (other VARCHAR)")
    assert shop.read("main.shop.t").schema.names == ["id"]
    with pytest.raises(SqlError, match=r"column 'x' has type STRUCT\(a INT\), which Glashaus tables do not support"):
        shop.sql("CREATE TABLE main.shop.u (x STRUCT(a INT))")
    with pytest.raises(SqlError, match=r"CHECK .* is too complex; use comparisons of columns and literals"):
        shop.sql("CREATE TABLE main.shop.u (x VARCHAR CHECK (lower(x) = 'a'))")
    with pytest.raises(InvalidArgumentError, match="invalid CHECK constraint"):
        shop.sql("CREATE TABLE main.shop.u (x INT CHECK (y > 0))")
    with pytest.raises(InvalidArgumentError, match=r"compares a DECIMAL column .* CAST\(price AS DOUBLE\)"):
        shop.sql("CREATE TABLE main.shop.u (price DECIMAL(10, 2) CHECK (price < 1000))")
    with pytest.raises(NotFoundError, match=r"schema 'main.nope' does not exist"):
        shop.sql("CREATE TABLE main.nope.u (x INT)")
    assert [s.full_name for s in shop.list("main.shop")] == ["main.shop.t"]


def test_create_table_as_select(lh):
    lh.create_schema("main.shop")
    lh.create_table("main.shop.orders", data=pa.table({"id": [1, 2, 3], "amount": [1.0, 5.0, 9.0]}))
    r = lh.sql(
        "CREATE TABLE main.shop.big COMMENT 'big ones' AS "
        "SELECT id, amount * 2 AS doubled FROM main.shop.orders WHERE amount > 2"
    )
    assert r.to_pylist()[0]["rows"] == 2
    assert rows_of(lh, "main.shop.big", sort="id") == [{"id": 2, "doubled": 10.0}, {"id": 3, "doubled": 18.0}]
    assert lh.get("main.shop.big").comment == "big ones"
    assert lh.history("main.shop.big")[0].operation == "CREATE TABLE AS SELECT"
    r = lh.sql("CREATE TABLE IF NOT EXISTS main.shop.big AS SELECT 1 AS x")
    assert "exists already" in r.to_pylist()[0]["status"]
    assert lh.read("main.shop.big").num_rows == 2


@pytest.mark.parametrize(
    ("sql", "error", "fragment"),
    [
        (
            "CREATE OR REPLACE TABLE main.shop.t AS SELECT count(*) FROM main.shop.t",
            Exception,
            "'count_star()' is not a valid identifier",
        ),
        ("CREATE OR REPLACE TABLE main.shop.t AS SELECT 1 AS a, 2 AS a", InvalidArgumentError, "appears twice"),
        ("CREATE OR REPLACE TABLE main.shop.t AS SELECT NULL AS a", InvalidArgumentError, "has no type"),
        ("CREATE OR REPLACE TABLE main.shop.t (x INT CHECK (nope > 0))", InvalidArgumentError, "CHECK"),
        ("CREATE OR REPLACE TABLE main.shop.t (x INT, PRIMARY KEY (y))", InvalidArgumentError, "primary key"),
        ("CREATE OR REPLACE TABLE main.shop.t AS SELECT * FROM main.shop.nope", NotFoundError, "main.shop.nope"),
    ],
)
def test_failed_create_or_replace_keeps_the_old_table(shop, sql, error, fragment):
    shop.sql("CREATE TABLE main.shop.t AS SELECT 1 AS id")
    v = version_of(shop, "main.shop.t")
    with pytest.raises(error) as err:
        shop.sql(sql)
    assert fragment in str(err.value)
    assert shop.read("main.shop.t").to_pylist() == [{"id": 1}]
    assert version_of(shop, "main.shop.t") == v


def test_create_or_replace_table(shop):
    shop.sql("CREATE TABLE main.shop.t AS SELECT 1 AS id")
    shop.sql("CREATE OR REPLACE TABLE main.shop.t AS SELECT 'x' AS name")
    assert shop.read("main.shop.t").to_pylist() == [{"name": "x"}]
    shop.sql("CREATE OR REPLACE TABLE main.shop.t (id BIGINT NOT NULL)")
    assert shop.read("main.shop.t").num_rows == 0


def test_create_view_variants(shop):
    shop.sql("CREATE TABLE main.shop.t AS SELECT * FROM range(5) r(i)")
    shop.sql("CREATE VIEW main.shop.v COMMENT 'small' AS SELECT i FROM main.shop.t WHERE i < 2")
    assert shop.get("main.shop.v").comment == "small"
    with pytest.raises(AlreadyExistsError, match=r"'main.shop.v' already exists"):
        shop.sql("CREATE VIEW main.shop.v AS SELECT 1 AS x")
    shop.sql("CREATE VIEW IF NOT EXISTS main.shop.v AS SELECT 1 AS x")
    assert shop.sql("SELECT count(*) FROM main.shop.v").scalar() == 2
    with pytest.raises(AlreadyExistsError, match=r"table 'main.shop.t' already exists"):
        shop.sql("CREATE VIEW IF NOT EXISTS main.shop.t AS SELECT 1 AS x")
    shop.sql("CREATE OR REPLACE VIEW main.shop.v AS SELECT i FROM main.shop.t WHERE i >= 2")
    assert shop.sql("SELECT count(*) FROM main.shop.v").scalar() == 3
    with pytest.raises(SqlError, match="CREATE VIEW needs AS SELECT"):
        shop.sql("CREATE VIEW main.shop.w")
    with pytest.raises(NotFoundError, match=r"main.shop.nope"):
        shop.sql("CREATE VIEW main.shop.w AS SELECT * FROM main.shop.nope")
    assert [s.full_name for s in shop.list("main.shop", kind="view")] == ["main.shop.v"]


def test_a_view_cannot_read_itself(shop):
    shop.sql("CREATE TABLE main.shop.t AS SELECT 1 AS x")
    shop.sql("CREATE VIEW main.shop.a AS SELECT x FROM main.shop.t")
    shop.sql("CREATE VIEW main.shop.b AS SELECT x FROM main.shop.a")
    with pytest.raises(NotFoundError, match=r"'main.shop.c' does not exist"):
        shop.sql("CREATE VIEW main.shop.c AS SELECT * FROM main.shop.c")
    with pytest.raises(SqlError, match=r"view main.shop.a would read itself"):
        shop.sql("CREATE OR REPLACE VIEW main.shop.a AS SELECT * FROM main.shop.a")
    with pytest.raises(
        SqlError, match=r"view main.shop.a would read itself \(through \['main.shop.a', 'main.shop.b'\]\)"
    ):
        shop.sql("CREATE OR REPLACE VIEW main.shop.a AS SELECT * FROM main.shop.b")
    # both views still work as before
    assert shop.sql("SELECT x FROM main.shop.b").fetchall() == [(1,)]


def test_describe_a_view_lists_its_columns(shop):
    shop.sql("CREATE TABLE main.shop.t (id BIGINT NOT NULL, name VARCHAR)")
    shop.sql("CREATE VIEW main.shop.v AS SELECT id, upper(name) AS shout, 1.5::DOUBLE AS score FROM main.shop.t")
    shop.set_comment("main.shop.v", "the name, loud", column="shout")
    assert [(c, t, comment) for c, t, _, comment in shop.sql("DESCRIBE main.shop.v").fetchall()] == [
        ("id", "int64", None),
        ("shout", "string", "the name, loud"),
        ("score", "double", None),
    ]


def test_view_over_a_dropped_table_says_what_is_missing(shop):
    shop.sql("CREATE TABLE main.shop.t AS SELECT 1 AS x")
    shop.sql("CREATE VIEW main.shop.v AS SELECT x FROM main.shop.t")
    shop.sql("DROP TABLE main.shop.t")
    with pytest.raises(NotFoundError, match=r"'main.shop.t' does not exist"):
        shop.sql("SELECT * FROM main.shop.v")


def test_create_and_drop_volume_and_catalog(lh):
    lh.sql("CREATE VOLUME main.default.files COMMENT 'pictures'")
    assert lh.get("main.default.files").comment == "pictures"
    lh.sql("CREATE VOLUME IF NOT EXISTS main.default.files")
    with pytest.raises(AlreadyExistsError):
        lh.sql("CREATE VOLUME main.default.files")
    assert lh.sql("SHOW VOLUMES IN main.default").fetchall()[0][:2] == ("main.default.files", "volume")
    lh.sql("DROP VOLUME main.default.files")
    lh.sql("DROP VOLUME IF EXISTS main.default.files")
    with pytest.raises(NotFoundError):
        lh.sql("DROP VOLUME main.default.files")
    lh.sql("CREATE CATALOG IF NOT EXISTS dev")
    lh.sql("CREATE SCHEMA dev.s")
    with pytest.raises(InvalidArgumentError, match=r"not empty.*CASCADE"):
        lh.sql("DROP CATALOG dev")
    lh.sql("DROP CATALOG dev CASCADE")
    assert [s.full_name for s in lh.list()] == ["main", "system"]


def test_drop_statements(shop):
    shop.sql("CREATE TABLE main.shop.t AS SELECT 1 AS x")
    shop.sql("CREATE VIEW main.shop.v AS SELECT x FROM main.shop.t")
    with pytest.raises(NotFoundError, match=r"'main.shop.v' is a view, not a table"):
        shop.sql("DROP TABLE main.shop.v")
    with pytest.raises(InvalidArgumentError, match=r"'main.shop' is not empty.*CASCADE"):
        shop.sql("DROP SCHEMA main.shop")
    shop.sql("DROP VIEW main.shop.v")
    shop.sql("DROP TABLE main.shop.t")
    shop.sql("DROP TABLE IF EXISTS main.shop.t")
    with pytest.raises(NotFoundError):
        shop.sql("DROP TABLE main.shop.t")
    shop.sql("CREATE TABLE main.shop.t AS SELECT 1 AS x")
    shop.sql("DROP SCHEMA main.shop CASCADE")
    assert [s.full_name for s in shop.list("main")] == ["main.default"]


# -- DML --------------------------------------------------------------------------------------


@pytest.fixture
def t(shop):
    """main.shop.t (id PK, region, qty CHECK qty > 0, price DOUBLE) with 4 rows."""
    shop.sql("CREATE TABLE main.shop.t (id BIGINT PRIMARY KEY, region VARCHAR, qty INT CHECK (qty > 0), price DOUBLE)")
    shop.sql("INSERT INTO main.shop.t VALUES (1, 'N', 1, 1.5), (2, 'S', 2, 2.5), (3, 'n', 3, 3.5), (4, 'E', 4, 4.5)")
    return shop


def state(lh):
    return version_of(lh, "main.shop.t"), rows_of(lh, "main.shop.t", sort="id")


def assert_fails_and_leaves_unchanged(lh, sql, error, fragments):
    """The statement raises ``error`` naming each fragment; version and rows stay as they were."""
    before = state(lh)
    with pytest.raises(error) as err:
        lh.sql(sql)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert state(lh) == before


def assert_one_new_version(lh, before, result):
    v = version_of(lh, "main.shop.t")
    assert v == before + 1
    assert result.to_pylist()[0]["version"] == v


def test_insert_values_and_select_with_and_without_column_list(t):
    v, _ = state(t)
    r = t.sql("INSERT INTO main.shop.t VALUES (5, 'W', 5, 5.5)")
    assert_one_new_version(t, v, r)
    assert r.to_pylist()[0]["rows"] == 1
    r = t.sql("INSERT INTO main.shop.t (qty, id) VALUES (6, 6)")
    assert_one_new_version(t, v + 1, r)
    r = t.sql("INSERT INTO main.shop.t SELECT id + 10, region, qty, price FROM main.shop.t WHERE id <= 2")
    assert_one_new_version(t, v + 2, r)
    r = t.sql("INSERT INTO main.shop.t (id, qty) SELECT id + 20, qty FROM main.shop.t@v2 WHERE id = 1")
    assert_one_new_version(t, v + 3, r)
    rows = {row["id"]: row for row in rows_of(t, "main.shop.t")}
    assert sorted(rows) == [1, 2, 3, 4, 5, 6, 11, 12, 21]
    assert rows[6] == {"id": 6, "region": None, "qty": 6, "price": None}
    assert rows[12] == {"id": 12, "region": "S", "qty": 2, "price": 2.5}
    assert t.history("main.shop.t")[0].operation == "INSERT"


def test_insert_aggregates_into_integer_and_double_columns(t):
    # sum() of INT is a HUGEINT in DuckDB (DECIMAL(38, 0) in Arrow); avg() and literals are other types
    t.sql("CREATE TABLE main.shop.totals (region VARCHAR, total BIGINT, small INT, mean DOUBLE)")
    t.sql(
        "INSERT INTO main.shop.totals SELECT upper(region), sum(qty), sum(qty), avg(price) FROM main.shop.t GROUP BY 1"
    )
    assert sorted(t.read("main.shop.totals").to_pylist(), key=lambda r: r["region"]) == [
        {"region": "E", "total": 4, "small": 4, "mean": 4.5},
        {"region": "N", "total": 4, "small": 4, "mean": 2.5},
        {"region": "S", "total": 2, "small": 2, "mean": 2.5},
    ]
    v = version_of(t, "main.shop.totals")
    with pytest.raises(
        SchemaMismatchError, match=r"'small' of main.shop.totals is int32; the data's int64 values do not fit"
    ):
        t.sql("INSERT INTO main.shop.totals (region, small) SELECT 'x', sum(id) * 10000000000 FROM main.shop.t")
    assert version_of(t, "main.shop.totals") == v


def test_insert_overwrite(t):
    v, _ = state(t)
    r = t.sql("INSERT OVERWRITE main.shop.t SELECT * FROM main.shop.t WHERE id = 2")
    assert_one_new_version(t, v, r)
    assert [row["id"] for row in rows_of(t, "main.shop.t")] == [2]


@pytest.mark.parametrize(
    ("sql", "error", "fragments"),
    [
        ("INSERT INTO main.shop.t VALUES (9, 'x', 0, 1.0)", ConstraintViolationError, ["qty > 0"]),
        ("INSERT INTO main.shop.t VALUES (NULL, 'x', 1, 1.0)", ConstraintViolationError, ["'id'", "NOT NULL"]),
        ("INSERT INTO main.shop.t VALUES ('nine', 'x', 1, 1.0)", SchemaMismatchError, ["'id'", "int64", "string"]),
        ("INSERT INTO main.shop.t VALUES (9, 7, 1, 1.0)", SchemaMismatchError, ["'region'", "string"]),
        ("INSERT INTO main.shop.t VALUES (9, 'x', 1, 1.0, 5)", SqlError, ["5 values per row", "4 columns"]),
        ("INSERT INTO main.shop.t (id, region) VALUES (9, 'x', 1)", SqlError, ["names 2 columns but gives 3"]),
        ("INSERT INTO main.shop.t (id, nope) VALUES (9, 1)", SchemaMismatchError, ["['nope']"]),
        ("INSERT INTO main.shop.t (region, qty) VALUES ('x', 1)", SchemaMismatchError, ["lacks column 'id'"]),
        ("INSERT INTO main.shop.t SELECT * FROM main.shop.nope", NotFoundError, ["main.shop.nope"]),
        (
            "INSERT INTO main.shop.t VALUES (9, 'x', 1, 1.0); INSERT INTO main.shop.t VALUES (10, 'y', -1, 1.0)",
            ConstraintViolationError,
            ["qty > 0"],
        ),
    ],
)
def test_failing_insert_leaves_the_table_unchanged(t, sql, error, fragments):
    if sql.count(";"):
        # the first statement commits on its own; only the failing one is undone
        v, rows = version_of(t, "main.shop.t") + 1, None
    else:
        v, rows = state(t)
    with pytest.raises(error) as err:
        t.sql(sql)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert version_of(t, "main.shop.t") == v
    if rows is not None:
        assert rows_of(t, "main.shop.t", sort="id") == rows


def test_update_simple_predicate(t):
    v, _ = state(t)
    r = t.sql("UPDATE main.shop.t SET qty = qty + 10, price = 0 WHERE id IN (1, 2) AND region <> 'x'")
    assert_one_new_version(t, v, r)
    assert r.to_pylist()[0]["rows"] == 2
    assert [(x["id"], x["qty"], x["price"]) for x in rows_of(t, "main.shop.t", sort="id")] == [
        (1, 11, 0.0),
        (2, 12, 0.0),
        (3, 3, 3.5),
        (4, 4, 4.5),
    ]
    assert t.history("main.shop.t")[0].operation == "UPDATE"


def test_update_with_duckdb_functions_and_subqueries(t):
    v, _ = state(t)
    r = t.sql("UPDATE main.shop.t SET region = upper(region), qty = qty * 2 WHERE lower(region) = 'n'")
    assert_one_new_version(t, v, r)
    r = t.sql("UPDATE main.shop.t SET price = round(price) WHERE id IN (SELECT max(id) FROM main.shop.t)")
    assert_one_new_version(t, v + 1, r)
    assert [(x["id"], x["region"], x["qty"], x["price"]) for x in rows_of(t, "main.shop.t", sort="id")] == [
        (1, "N", 2, 1.5),
        (2, "S", 2, 2.5),
        (3, "N", 6, 3.5),
        (4, "E", 4, 5.0),
    ]  # DuckDB rounds half up


def test_update_without_where_touches_every_row(t):
    v, _ = state(t)
    r = t.sql("UPDATE main.shop.t SET price = 1")
    assert_one_new_version(t, v, r)
    assert {x["price"] for x in rows_of(t, "main.shop.t")} == {1.0}


@pytest.mark.parametrize(
    ("sql", "error", "fragments"),
    [
        ("UPDATE main.shop.t SET qty = 0 WHERE id = 1", ConstraintViolationError, ["qty > 0", "nothing was written"]),
        ("UPDATE main.shop.t SET qty = 0 WHERE lower(region) = 'n'", ConstraintViolationError, ["qty > 0"]),
        ("UPDATE main.shop.t SET id = NULL WHERE id = 1", ConstraintViolationError, ["NOT NULL: id"]),
        ("UPDATE main.shop.t SET id = NULL WHERE lower(region) = 's'", ConstraintViolationError, ["'id'"]),
        ("UPDATE main.shop.t SET qty = 'many' WHERE id = 1", SchemaMismatchError, ["'many'", "main.shop.t"]),
        ("UPDATE main.shop.t SET qty = 'many' WHERE lower(region) = 'n'", SqlError, ["'many'"]),
        ("UPDATE main.shop.t SET nope = 1 WHERE id = 1", SqlError, ["'nope'", "main.shop.t"]),
        ("UPDATE main.shop.t SET nope = 1 WHERE lower(region) = 'n'", SqlError, ["'nope'", "main.shop.t"]),
        ("UPDATE main.shop.t SET qty = 5 WHERE nope = 1", SqlError, ["nope", "main.shop.t"]),
        ("UPDATE main.shop.t SET qty = 5 FROM main.shop.t AS o WHERE o.id = 1", SqlError, ["MERGE INTO"]),
        ("UPDATE main.shop.nope SET qty = 5", NotFoundError, ["main.shop.nope"]),
    ],
)
def test_failing_update_leaves_the_table_unchanged(t, sql, error, fragments):
    assert_fails_and_leaves_unchanged(t, sql, error, fragments)


def test_delete_simple_and_complex_predicates(t):
    v, _ = state(t)
    r = t.sql("DELETE FROM main.shop.t WHERE id = 4")
    assert_one_new_version(t, v, r)
    assert r.to_pylist()[0]["rows"] == 1
    r = t.sql("DELETE FROM main.shop.t WHERE lower(region) = 'n' AND qty > 2")
    assert_one_new_version(t, v + 1, r)
    r = t.sql("DELETE FROM main.shop.t WHERE id IN (SELECT min(id) FROM main.shop.t)")
    assert_one_new_version(t, v + 2, r)
    assert [x["id"] for x in rows_of(t, "main.shop.t")] == [2]
    r = t.sql("DELETE FROM main.shop.t WHERE id = 99")  # nothing matches: still one honest answer
    assert r.to_pylist()[0]["rows"] == 0
    r = t.sql("DELETE FROM main.shop.t")
    assert rows_of(t, "main.shop.t") == []
    ops = [h.operation for h in t.history("main.shop.t")]
    assert ops[0] == "DELETE"


def test_delete_with_null_predicate_keeps_rows(t):
    t.sql("INSERT INTO main.shop.t (id, qty) VALUES (5, 5)")  # region NULL
    t.sql("DELETE FROM main.shop.t WHERE lower(region) = 'e'")  # NULL region: not deleted
    assert [x["id"] for x in rows_of(t, "main.shop.t", sort="id")] == [1, 2, 3, 5]
    t.sql("DELETE FROM main.shop.t WHERE region <> 'N'")  # NULL region: not deleted either
    assert [x["id"] for x in rows_of(t, "main.shop.t", sort="id")] == [1, 5]


@pytest.mark.parametrize(
    ("sql", "error", "fragments"),
    [
        ("DELETE FROM main.shop.t WHERE nope = 1", SqlError, ["nope", "main.shop.t"]),
        ("DELETE FROM main.shop.t WHERE upper(nope) = 'X'", SqlError, ['"nope"']),
        ("DELETE FROM main.shop.nope WHERE id = 1", NotFoundError, ["main.shop.nope"]),
    ],
)
def test_failing_delete_leaves_the_table_unchanged(t, sql, error, fragments):
    assert_fails_and_leaves_unchanged(t, sql, error, fragments)


def test_merge_update_insert_delete(t):
    t.sql(
        "CREATE TABLE main.shop.changes AS SELECT * FROM (VALUES "
        "(1, 'N', 10, 1.0, 'upd'), (2, 'S', 1, 1.0, 'del'), (7, 'W', 7, 7.0, 'ins')) v(id, region, qty, price, op)"
    )
    v, _ = state(t)
    r = t.sql("""
        MERGE INTO main.shop.t AS t USING main.shop.changes AS s ON t.id = s.id
        WHEN MATCHED AND s.op = 'del' THEN DELETE
        WHEN MATCHED THEN UPDATE SET qty = s.qty, price = t.price + s.price
        WHEN NOT MATCHED THEN INSERT (id, region, qty, price) VALUES (s.id, s.region, s.qty, s.price)
    """)
    assert_one_new_version(t, v, r)
    assert [(x["id"], x["qty"], x["price"]) for x in rows_of(t, "main.shop.t", sort="id")] == [
        (1, 10, 2.5),
        (3, 3, 3.5),
        (4, 4, 4.5),
        (7, 7, 7.0),
    ]
    assert t.history("main.shop.t")[0].operation == "MERGE"


def test_merge_star_clauses_and_subquery_source(t):
    v, _ = state(t)
    r = t.sql("""
        MERGE INTO main.shop.t t
        USING (SELECT id + 1 AS id, region, qty * 10 AS qty, price FROM main.shop.t WHERE id >= 3) s
        ON t.id = s.id
        WHEN MATCHED THEN UPDATE SET *
        WHEN NOT MATCHED THEN INSERT *
    """)
    assert_one_new_version(t, v, r)
    assert [(x["id"], x["qty"]) for x in rows_of(t, "main.shop.t", sort="id")] == [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 30),
        (5, 40),
    ]


def test_merge_not_matched_by_source(t):
    v, _ = state(t)
    r = t.sql("""
        MERGE INTO main.shop.t t USING (SELECT 1 AS id) s ON t.id = s.id
        WHEN NOT MATCHED BY SOURCE AND t.id >= 3 THEN DELETE
        WHEN NOT MATCHED BY SOURCE THEN UPDATE SET price = 0
    """)
    assert_one_new_version(t, v, r)
    assert [(x["id"], x["price"]) for x in rows_of(t, "main.shop.t", sort="id")] == [(1, 1.5), (2, 0.0)]


@pytest.mark.parametrize(
    ("sql", "error", "fragments"),
    [
        # the source has two rows for target id 1
        (
            (
                "MERGE INTO main.shop.t t USING (SELECT * FROM (VALUES (1, 5), (1, 6)) v(id, qty)) s ON t.id = s.id "
                "WHEN MATCHED THEN UPDATE SET qty = s.qty"
            ),
            InvalidArgumentError,
            ["more than one source row", "Deduplicate"],
        ),
        (
            "MERGE INTO main.shop.t t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET qty = 0",
            ConstraintViolationError,
            ["qty > 0"],
        ),
        (
            (
                "MERGE INTO main.shop.t t USING (SELECT 9 AS id) s ON t.id = s.id "
                "WHEN NOT MATCHED THEN INSERT (id, region, qty) VALUES (s.id, 'x', 0)"
            ),
            ConstraintViolationError,
            ["qty > 0"],
        ),
        (
            ("MERGE INTO main.shop.t t USING (SELECT 1 AS id) s ON t.id + 0 = abs(s.id) WHEN MATCHED THEN DELETE"),
            SqlError,
            ["MERGE ... ON must compare columns"],
        ),
        (
            (
                "MERGE INTO main.shop.t t USING (SELECT 1 AS id) s ON t.id = s.id "
                "WHEN MATCHED THEN UPDATE SET qty = abs(s.id)"
            ),
            SqlError,
            ["too complex", "USING"],
        ),
        (
            "MERGE INTO main.shop.t t USING main.shop.nope s ON t.id = s.id WHEN MATCHED THEN DELETE",
            NotFoundError,
            ["main.shop.nope"],
        ),
    ],
)
def test_failing_merge_leaves_the_table_unchanged(t, sql, error, fragments):
    assert_fails_and_leaves_unchanged(t, sql, error, fragments)


def test_dml_on_views_is_refused(t):
    t.sql("CREATE VIEW main.shop.v AS SELECT * FROM main.shop.t")
    for sql in (
        "INSERT INTO main.shop.v VALUES (9, 'x', 1, 1.0)",
        "DELETE FROM main.shop.v WHERE id = 1",
        "UPDATE main.shop.v SET qty = 2 WHERE id = 1",
    ):
        with pytest.raises(NotFoundError, match=r"'main.shop.v' is a view, not a table"):
            t.sql(sql)
    assert version_of(t, "main.shop.t") == state(t)[0]


def test_sql_identifiers_are_case_insensitive(t):
    t.sql("INSERT INTO MAIN.Shop.T (ID, QTY) VALUES (9, 9)")
    t.sql("UPDATE main.shop.t SET Price = 1 WHERE ID = 9")
    assert t.sql('SELECT "PRICE" FROM main.shop.t WHERE id = 9').scalar() == 1.0


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM main.shop.t WHERE lower(region) = 'n'",
        "UPDATE main.shop.t SET qty = qty + 100 WHERE lower(region) = 'n'",
    ],
)
def test_rewritten_delete_and_update_never_lose_a_concurrent_append(t, statement):
    # Another writer appends while the statement computes its result in DuckDB (the
    # rewrite path reads version N, then overwrites): the appended row must survive.
    other = glashaus.connect(t.root, user="alice")  # a second connection, as another process would be
    engine = services(t).engine
    run = engine._run
    calls = []

    def run_then_append(resolved):
        out = run(resolved)
        if not calls:
            calls.append(1)
            other.write("main.shop.t", {"id": [99], "region": ["n"], "qty": [9], "price": [9.0]})
        return out

    engine._run = run_then_append
    try:
        t.sql(statement)
    finally:
        engine._run = run
        other.close()
    rows = {r["id"]: r for r in rows_of(t, "main.shop.t")}
    assert (
        99 in rows and rows[99]["qty"] == 9
    )  # the other writer's row is there, untouched by a statement that never saw it
    assert 2 in rows and 4 in rows
    if statement.startswith("DELETE"):
        assert 1 not in rows and 3 not in rows
    else:
        assert rows[1]["qty"] == 101 and rows[3]["qty"] == 103


def test_integer_sums_come_back_as_bigint_not_decimal(shop):
    assert shop.sql("SELECT sum(x) AS s FROM range(4) r(x)").to_arrow().schema.field("s").type == pa.int64()
    shop.sql("CREATE TABLE main.shop.sums AS SELECT sum(x) AS total FROM range(4) r(x)")
    assert shop.describe("main.shop.sums").columns[0].type == "int64"
    assert shop.read("main.shop.sums").to_pylist() == [{"total": 6}]


def test_timestamps_with_time_zones_are_stored_as_utc_instants(shop):
    shop.sql("CREATE TABLE main.shop.ts AS SELECT TIMESTAMPTZ '2026-01-01 12:00:00+02' AS t")
    assert shop.describe("main.shop.ts").columns[0].type == "timestamp[us, tz=UTC]"
    assert shop.sql("SELECT hour(t) FROM main.shop.ts").scalar() == 10
    berlin = pa.table({"t": pa.array([0], pa.timestamp("ns", tz="Europe/Berlin"))})
    shop.create_table("main.shop.berlin", data=berlin)
    assert shop.read("main.shop.berlin").column("t").type == pa.timestamp("us", tz="UTC")


def test_constraint_errors_are_one_line_naming_the_rows(shop):
    shop.sql("CREATE TABLE main.shop.c (q INT CHECK (q > 0))")
    with pytest.raises(ConstraintViolationError) as info:
        shop.sql("INSERT INTO main.shop.c VALUES (1), (-1), (-5)")
    message = str(info.value)
    assert "\n" not in message
    assert "q > 0" in message and "q=-1; q=-5" in message


def test_describe_a_view_lists_the_columns_of_its_query(shop):
    shop.create_table("main.shop.o", data=pa.table({"id": [1], "qty": [2]}))
    shop.create_view("main.shop.v", "SELECT id, qty * 2.5::DOUBLE AS weighted FROM main.shop.o")
    columns = shop.describe("main.shop.v").columns
    assert [(c.name, c.type) for c in columns] == [("id", "int64"), ("weighted", "double")]
    assert shop.sql("DESCRIBE main.shop.v").to_pylist()[1]["column"] == "weighted"


def test_create_view_takes_any_valid_name_and_keeps_its_comment_as_written(shop):
    """lh.create_view builds its CREATE VIEW: the name is quoted (SQL reserves ``select``), the comment a literal."""
    shop.create_table("main.shop.o2", data=pa.table({"id": [1, 2]}))
    comment = "it's \\ -- not SQL; DROP TABLE main.shop.o2"
    view = shop.create_view("main.shop.select", "SELECT id FROM main.shop.o2", comment=comment)
    assert (view.full_name, view.comment) == ("main.shop.select", comment)
    assert shop.sql('SELECT count(*) FROM main.shop."select"').scalar() == 2
    assert shop.exists("main.shop.o2")


def test_a_comment_after_the_last_semicolon_is_ignored(shop):
    assert shop.sql("SELECT 41 + 1; -- the answer").scalar() == 42

"""Managed Delta tables through the Python API: create, write, read, time travel, maintenance."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sqlglot import exp

from glashaus.catalog import parse_name
from glashaus.errors import (
    ConstraintViolationError,
    GlashausError,
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
    SchemaMismatchError,
    SqlError,
)
from glashaus.lakehouse import services
from tests.conftest import ORDERS_SCHEMA, rows_of, version_of

T = "main.shop.orders"


def orders_rows(*rows):
    """Arrow rows for main.shop.orders: (order_id, region, qty, price)."""
    return pa.table(
        {
            "order_id": pa.array([r[0] for r in rows], pa.int64()),
            "region": pa.array([r[1] for r in rows], pa.string()),
            "qty": pa.array([r[2] for r in rows], pa.int32()),
            "price": pa.array([r[3] for r in rows], pa.float64()),
        }
    )


def assert_unchanged(lh, name, version, rows):
    assert version_of(lh, name) == version
    assert rows_of(lh, name, sort="order_id") == rows


# -- create -----------------------------------------------------------------------------------


def test_create_from_arrow_schema(shop):
    s = shop.create_table(T, schema=ORDERS_SCHEMA, comment="orders", partition_by=["region"], primary_key=["order_id"])
    assert (s.kind, s.comment) == ("table", "orders")
    info = shop.describe(T)
    assert info.version == 0 and info.num_rows == 0
    assert info.primary_key == ("order_id",)
    assert info.partition_by == ("region",)
    assert [(c.name, c.type, c.nullable) for c in info.columns] == [
        ("order_id", "int64", False),
        ("region", "string", True),
        ("qty", "int32", True),
        ("price", "double", True),
    ]
    assert shop.read(T).schema.names == ["order_id", "region", "qty", "price"]


def test_create_from_pandas(shop):
    df = pd.DataFrame(
        {"Order_ID": [1, 2], "region": ["N", "S"], "ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 11:00"])}
    )
    shop.create_table(T, data=df, primary_key=["order_id"])
    table = shop.read(T).sort_by("order_id")
    assert table.schema.names == ["order_id", "region", "ts"]
    assert table.schema.field("ts").type == pa.timestamp("us")
    assert table.column("order_id").to_pylist() == [1, 2]
    assert table.column("ts").to_pylist()[1] == dt.datetime(2026, 1, 2, 11, 0)  # noqa: DTZ001 -- the column is naive
    assert version_of(shop, T) == 1
    assert [h.operation for h in shop.history(T)][:1] == ["CREATE TABLE"]


def test_create_from_polars_with_categorical_and_large_strings(shop):
    df = pl.DataFrame({"id": [1, 2], "name": ["a", "b"], "kind": pl.Series(["x", "y"], dtype=pl.Categorical)})
    shop.create_table(T, data=df)
    table = shop.read(T).sort_by("id")
    assert table.schema == pa.schema([("id", pa.int64()), ("name", pa.string()), ("kind", pa.string())])
    assert table.to_pylist() == [{"id": 1, "name": "a", "kind": "x"}, {"id": 2, "name": "b", "kind": "y"}]
    shop.write(T, pl.DataFrame({"id": [3], "name": ["c"], "kind": pl.Series(["x"], dtype=pl.Categorical)}))
    assert shop.read(T).num_rows == 3


def test_create_needs_schema_or_data(shop):
    with pytest.raises(InvalidArgumentError, match=r"create_table\('main.shop.orders'\) needs schema= or data="):
        shop.create_table(T)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"schema": pa.schema([("id", pa.int64()), ("ID", pa.int64())])}, InvalidArgumentError, "'id' appears twice"),
        ({"schema": pa.schema([("a b", pa.int64())])}, Exception, "'a b' is not a valid identifier"),
        (
            {"schema": pa.schema([("id", pa.int64())]), "primary_key": ["nope"]},
            InvalidArgumentError,
            "primary key column(s) ['nope'] are not in",
        ),
        (
            {"schema": pa.schema([("id", pa.int64())]), "partition_by": ["day"]},
            InvalidArgumentError,
            "partition column(s) ['day'] are not in",
        ),
        ({"data": pa.table({"x": pa.nulls(2)})}, InvalidArgumentError, "has no type (all values are NULL); cast it"),
        (
            {"schema": pa.schema([("id", pa.int64())]), "constraints": {"pos": "nope > 0"}},
            InvalidArgumentError,
            "invalid CHECK constraint",
        ),
        (
            {"schema": pa.schema([("id", pa.int64())]), "constraints": {"pos": "id >>> 0"}},
            InvalidArgumentError,
            "invalid CHECK constraint",
        ),
        # delta-rs would store this as price < 100000.00 and let 1500 through
        (
            {"schema": pa.schema([("price", pa.decimal128(10, 2))]), "constraints": {"cheap": "price < 1000"}},
            InvalidArgumentError,
            "CAST(price AS DOUBLE) < 1000",
        ),
    ],
)
def test_bad_definitions_are_refused_and_leave_no_table(shop, kwargs, error, fragment):
    with pytest.raises(error) as err:
        shop.create_table(T, **kwargs)
    assert fragment in str(err.value)
    with pytest.raises(NotFoundError):
        shop.get(T)
    # the name is free again
    shop.create_table(T, schema=pa.schema([("id", pa.int64())]))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"data": pa.table({"id": pa.array([None, 1], pa.int64())}), "primary_key": ["id"]}, ConstraintViolationError),
        ({"data": pa.table({"id": [0, 1]}), "constraints": {"pos": "id > 0"}}, ConstraintViolationError),
        ({"schema": pa.schema([("id", pa.int64())]), "data": pa.table({"id": ["x"]})}, SchemaMismatchError),
    ],
)
def test_create_with_data_that_does_not_fit_leaves_no_table(shop, kwargs, error):
    with pytest.raises(error):
        shop.create_table(T, **kwargs)
    with pytest.raises(NotFoundError):
        shop.get(T)
    assert [s.full_name for s in shop.list("main.shop")] == []


def test_partitioned_table_round_trip(shop):
    shop.create_table(T, schema=ORDERS_SCHEMA, partition_by=["region"])
    shop.write(T, orders_rows((1, "N", 1, 1.0), (2, "S", 2, 2.0), (3, "N", 3, 3.0)))
    assert rows_of(shop, T, sort="order_id") == [
        {"order_id": 1, "region": "N", "qty": 1, "price": 1.0},
        {"order_id": 2, "region": "S", "qty": 2, "price": 2.0},
        {"order_id": 3, "region": "N", "qty": 3, "price": 3.0},
    ]
    assert shop.sql(f"SELECT region, sum(qty) AS q FROM {T} GROUP BY 1 ORDER BY 1").fetchall() == [("N", 4), ("S", 2)]


# -- constraints -----------------------------------------------------------------------------


def test_check_constraint_refuses_bad_rows_and_leaves_table_unchanged(orders):
    before = rows_of(orders, T, sort="order_id")
    v = version_of(orders, T)
    with pytest.raises(ConstraintViolationError) as err:
        orders.write(T, orders_rows((4, "N", 5, 1.0), (5, "S", 0, 1.0)))
    message = str(err.value)
    assert "main.shop.orders" in message and "qty_pos" in message and "qty > 0" in message
    assert "nothing was written" in message
    assert_unchanged(orders, T, v, before)


def test_not_null_primary_key_refuses_nulls(orders):
    before = rows_of(orders, T, sort="order_id")
    v = version_of(orders, T)
    bad = orders_rows((4, "N", 1, 1.0), (None, "S", 1, 1.0))
    with pytest.raises(ConstraintViolationError) as err:
        orders.write(T, bad)
    assert "'order_id'" in str(err.value) and "NOT NULL" in str(err.value) and "Fill or drop" in str(err.value)
    assert_unchanged(orders, T, v, before)
    with pytest.raises(ConstraintViolationError, match="'order_id'"):
        orders.write(T, bad, mode="overwrite")
    assert_unchanged(orders, T, v, before)


def test_explicit_not_null_column(shop):
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string(), nullable=False)])
    shop.create_table(T, schema=schema)
    with pytest.raises(ConstraintViolationError, match="'name'"):
        shop.write(T, {"id": [1], "name": [None]})
    assert version_of(shop, T) == 0


# -- schema enforcement ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"order_id": [9], "qty": [1], "coupon": ["x"]}, ["['coupon']", "schema_mode='merge'"]),
        ({"region": ["N"], "qty": [1]}, ["lacks column 'order_id'", "NOT NULL"]),
        ({"order_id": [9], "region": [7]}, ["'region'", "string", "int64", "Cast the column"]),
        ({"order_id": ["9"]}, ["'order_id'", "int64", "string"]),
        ({"order_id": [9], "qty": [2**40]}, ["'qty'", "int32", "do not fit without loss"]),
        ({"order_id": [9], "price": ["1.5"]}, ["'price'", "double"]),
        ({"order_id": [9], "Order_ID": [10]}, ["duplicate column names"]),
    ],
)
def test_data_that_does_not_fit_is_refused(orders, data, fragments):
    before = rows_of(orders, T, sort="order_id")
    v = version_of(orders, T)
    with pytest.raises(SchemaMismatchError) as err:
        orders.write(T, data)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert "main.shop.orders" in str(err.value)
    assert_unchanged(orders, T, v, before)


def test_lossless_casts_are_allowed(orders):
    # int64 values that fit into the int32 column; int into double; columns in any order and case
    c = orders.write(
        T,
        pa.table(
            {
                "PRICE": pa.array([7], pa.int64()),
                "qty": pa.array([5], pa.int64()),
                "order_id": pa.array([9], pa.int32()),
            }
        ),
    )
    assert c.version == version_of(orders, T)
    row = orders.read(T).filter(pa.compute.field("order_id") == 9).to_pylist()
    assert row == [{"order_id": 9, "region": None, "qty": 5, "price": 7.0}]
    assert orders.read(T).schema == ORDERS_SCHEMA.set(0, ORDERS_SCHEMA.field(0).with_nullable(False))


def test_schema_merge_adds_columns_only_when_asked(orders):
    v = version_of(orders, T)
    data = {"order_id": [10], "qty": [1], "coupon": ["SPRING"]}
    with pytest.raises(SchemaMismatchError):
        orders.write(T, data)
    assert version_of(orders, T) == v
    orders.write(T, data, schema_mode="merge")
    table = orders.read(T).sort_by("order_id")
    assert table.schema.names == ["order_id", "region", "qty", "price", "coupon"]
    assert table.column("coupon").to_pylist() == [None, None, None, "SPRING"]
    assert version_of(orders, T) == v + 1


#: Names SQL cannot write as plain identifiers: after '' every SQL read of the table used to fail.
BAD_NAMES = ["", 'x y";--', "é\u202e"]


def _struct(name: str) -> pa.Array:
    return pa.array([{name: 1}], pa.struct([(name, pa.int64())]))


def _sql_name(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


#: Every path that can bring a column or a struct field into a table or view.
NEW_NAME_PATHS = {
    "write schema merge": lambda lh, n: lh.write(T, {"order_id": [7], n: [1]}, schema_mode="merge"),
    "write schema merge, nested": lambda lh, n: lh.write(
        T, pa.table({"order_id": [7], "s": _struct(n)}), schema_mode="merge"
    ),
    "write schema overwrite": lambda lh, n: lh.write(
        T, {"order_id": [7], "qty": [1], n: [1]}, mode="overwrite", schema_mode="overwrite"
    ),
    "merge with schema merge": lambda lh, n: lh.write(T, {"order_id": [1], n: [1]}, mode="merge", schema_mode="merge"),
    "merge with schema merge, nested": lambda lh, n: lh.write(
        T,
        pa.table(
            {
                "order_id": [1],
                "s": pa.array([{"in": [{n: 1}]}], pa.struct([("in", pa.list_(pa.struct([(n, pa.int64())])))])),
            }
        ),
        mode="merge",
        schema_mode="merge",
    ),
    "create_table": lambda lh, n: lh.create_table("main.shop.new", schema=pa.schema([(n, pa.int64())])),
    "create_table, nested": lambda lh, n: lh.create_table("main.shop.new", data=pa.table({"s": _struct(n)})),
    "create_table, map of structs": lambda lh, n: lh.create_table(
        "main.shop.new", schema=pa.schema([("m", pa.map_(pa.string(), pa.struct([(n, pa.int64())])))])
    ),
    "CTAS": lambda lh, n: lh.sql(f"CREATE TABLE main.shop.new AS SELECT 1 AS {_sql_name(n)}"),
    "CTAS, nested": lambda lh, n: lh.sql(
        f"CREATE TABLE main.shop.new AS SELECT {{{exp.Literal.string(n).sql()}: 1}} AS s"
    ),
    "CREATE OR REPLACE TABLE AS": lambda lh, n: lh.sql(
        f"CREATE OR REPLACE TABLE {T} AS SELECT 1 AS order_id, [{{{exp.Literal.string(n).sql()}: 1}}] AS s"
    ),
    "view": lambda lh, n: lh.sql(f"CREATE VIEW main.shop.new AS SELECT order_id AS {_sql_name(n)} FROM {T}"),
}


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("path", sorted(NEW_NAME_PATHS))
def test_every_path_that_brings_a_column_checks_its_name(orders, path, name):
    before, v = rows_of(orders, T, sort="order_id"), version_of(orders, T)
    with pytest.raises(GlashausError) as err:
        NEW_NAME_PATHS[path](orders, name)
    if not isinstance(err.value, SqlError):  # DuckDB itself refuses to parse "" as a name in a view
        assert isinstance(err.value, InvalidNameError) and repr(name)[1:-1] in str(err.value), err.value
    assert_unchanged(orders, T, v, before)
    assert not services(orders).tables.catalog.exists(parse_name("main.shop.new"))
    assert orders.sql(f"SELECT count(*) FROM {T}").scalar() == 3  # SQL reads still work for everyone


def test_names_alike_but_for_case_are_refused_in_nested_fields(orders):
    data = pa.table(
        {"order_id": [1], "s": pa.array([{"a": 1, "A": 2}], pa.struct([("a", pa.int64()), ("A", pa.int64())]))}
    )
    with pytest.raises(InvalidNameError, match="'a' and 'A' differ only in case"):
        orders.write(T, data, schema_mode="merge")


def test_good_nested_names_are_kept(orders):
    orders.write(
        T, pa.table({"order_id": [7], "qty": pa.array([1], pa.int32()), "s": _struct("Inner_1")}), schema_mode="merge"
    )
    assert orders.sql(f"SELECT s.inner_1 AS x FROM {T} WHERE order_id = 7").scalar() == 1


def test_a_write_without_columns_is_refused_and_commits_nothing(orders):
    before, v = rows_of(orders, T, sort="order_id"), version_of(orders, T)
    for data in (pa.table({}), pd.DataFrame(), {}):
        with pytest.raises(InvalidArgumentError, match=r"main.shop.orders has no columns; nothing was written"):
            orders.write(T, data)
    assert_unchanged(orders, T, v, before)


def test_an_unknown_kind_is_refused_not_answered_with_nothing(orders):
    # list(kind=...) and principals(kind=...) used to return [] for a misspelt kind.
    with pytest.raises(InvalidArgumentError, match="kind='tabel' is not a kind of securable"):
        orders.list("main.shop", kind="tabel")
    with pytest.raises(InvalidArgumentError, match="kind must be user, group or service_principal, not 'usr'"):
        orders.principals(kind="usr")
    assert [s.full_name for s in orders.list("main.shop", kind="table")] == [T]
    assert [p.name for p in orders.principals(kind="user")] == ["alice"]


def test_schema_overwrite_needs_overwrite_mode(shop):
    shop.create_table(T, schema=ORDERS_SCHEMA)
    shop.write(T, orders_rows((1, "N", 1, 1.0)))
    with pytest.raises(InvalidArgumentError, match="needs mode='overwrite'"):
        shop.write(T, {"x": [1]}, schema_mode="overwrite")
    shop.write(T, {"order_id": [1], "note": ["new"]}, mode="overwrite", schema_mode="overwrite")
    assert shop.read(T).to_pylist() == [{"order_id": 1, "note": "new"}]


def test_schema_overwrite_cannot_drop_a_column_a_constraint_uses(orders):
    before, v = rows_of(orders, T, sort="order_id"), version_of(orders, T)
    with pytest.raises(SchemaMismatchError) as err:
        orders.write(T, {"order_id": [1], "note": ["new"]}, mode="overwrite", schema_mode="overwrite")
    assert "qty" in str(err.value) and "main.shop.orders" in str(err.value)
    assert_unchanged(orders, T, v, before)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"mode": "upsert"}, "mode must be 'append', 'overwrite' or 'merge'"),
        ({"schema_mode": "loose"}, "schema_mode must be"),
    ],
)
def test_bad_write_arguments(orders, kwargs, fragment):
    with pytest.raises(InvalidArgumentError, match=fragment):
        orders.write(T, {"order_id": [1]}, **kwargs)


def test_unsupported_data_type_is_refused(orders):
    with pytest.raises(InvalidArgumentError, match=r"pandas or polars DataFrame.*got int"):
        orders.write(T, 42)


def test_write_to_missing_table_or_view(shop):
    shop.create_table("main.shop.t", schema=pa.schema([("id", pa.int64())]))
    shop.create_view("main.shop.v", "SELECT id FROM main.shop.t")
    with pytest.raises(NotFoundError, match=r"'main.shop.nope' does not exist"):
        shop.write("main.shop.nope", {"id": [1]})
    with pytest.raises(NotFoundError, match=r"'main.shop.v' is a view, not a table"):
        shop.write("main.shop.v", {"id": [1]})


# -- append / overwrite / merge --------------------------------------------------------------


def test_append_and_overwrite_each_make_one_version(orders):
    v = version_of(orders, T)
    c = orders.write(T, orders_rows((4, "S", 4, 40.0)))
    assert (c.table, c.version, c.operation, c.rows) == (T, v + 1, "APPEND", 1)
    assert orders.read(T).num_rows == 4
    c = orders.write(T, orders_rows((9, "N", 9, 90.0)), mode="overwrite")
    assert (c.version, c.operation) == (v + 2, "OVERWRITE")
    assert rows_of(orders, T) == [{"order_id": 9, "region": "N", "qty": 9, "price": 90.0}]


def test_write_accepts_list_of_dicts_and_dict_of_columns(orders):
    orders.write(T, [{"order_id": 4, "region": "E", "qty": 1, "price": 1.0}])
    orders.write(T, {"order_id": [5], "region": ["W"], "qty": [1]})
    assert [r["order_id"] for r in rows_of(orders, T, sort="order_id")] == [1, 2, 3, 4, 5]


def test_merge_upserts_on_the_primary_key(orders):
    v = version_of(orders, T)
    c = orders.write(T, orders_rows((2, "S", 20, 200.0), (4, "E", 4, 40.0)), mode="merge")
    assert (c.version, c.operation) == (v + 1, "MERGE")
    assert rows_of(orders, T, sort="order_id") == [
        {"order_id": 1, "region": "N", "qty": 1, "price": 10.0},
        {"order_id": 2, "region": "S", "qty": 20, "price": 200.0},
        {"order_id": 3, "region": "N", "qty": 3, "price": 30.0},
        {"order_id": 4, "region": "E", "qty": 4, "price": 40.0},
    ]


def test_merge_on_explicit_keys(shop):
    shop.create_table(
        "main.shop.stock", schema=pa.schema([("shop", pa.string()), ("sku", pa.string()), ("n", pa.int64())])
    )
    shop.write("main.shop.stock", {"shop": ["a", "a", "b"], "sku": ["x", "y", "x"], "n": [1, 2, 3]})
    shop.write(
        "main.shop.stock", {"shop": ["a", "b"], "sku": ["x", "y"], "n": [10, 30]}, mode="merge", on=["shop", "SKU"]
    )
    got = sorted((r["shop"], r["sku"], r["n"]) for r in shop.read("main.shop.stock").to_pylist())
    assert got == [("a", "x", 10), ("a", "y", 2), ("b", "x", 3), ("b", "y", 30)]


def test_merge_refuses_duplicate_keys_in_the_data(orders):
    before, v = rows_of(orders, T, sort="order_id"), version_of(orders, T)
    with pytest.raises(InvalidArgumentError) as err:
        orders.write(T, orders_rows((2, "S", 1, 1.0), (2, "N", 2, 2.0)), mode="merge")
    assert "appear more than once" in str(err.value) and "'order_id': 2" in str(err.value)
    assert "deduplicate" in str(err.value)
    assert_unchanged(orders, T, v, before)


def test_merge_needs_keys(shop):
    shop.create_table("main.shop.t", schema=pa.schema([("id", pa.int64())]))
    with pytest.raises(InvalidArgumentError, match=r"needs on=\[key columns\] \(the table has no primary key\)"):
        shop.write("main.shop.t", {"id": [1]}, mode="merge")
    with pytest.raises(SchemaMismatchError, match=r"merge key column\(s\) \['nope'\] are not in the data"):
        shop.write("main.shop.t", {"id": [1]}, mode="merge", on=["nope"])
    assert version_of(shop, "main.shop.t") == 0


def test_merge_that_breaks_a_constraint_changes_nothing(orders):
    before, v = rows_of(orders, T, sort="order_id"), version_of(orders, T)
    with pytest.raises(ConstraintViolationError, match="qty_pos"):
        orders.write(T, orders_rows((1, "N", -1, 1.0), (7, "N", 1, 1.0)), mode="merge")
    with pytest.raises(SchemaMismatchError):
        orders.write(T, {"order_id": [1], "qty": ["lots"]}, mode="merge")
    assert_unchanged(orders, T, v, before)


def test_merge_with_schema_evolution(orders):
    orders.write(T, {"order_id": [1, 8], "qty": [5, 8], "gift": [True, False]}, mode="merge", schema_mode="merge")
    rows = {r["order_id"]: r for r in rows_of(orders, T)}
    assert rows[1]["gift"] is True and rows[1]["qty"] == 5
    assert rows[8]["gift"] is False and rows[2]["gift"] is None


# -- reading and time travel -------------------------------------------------------------------


def test_read_columns_and_versions(orders):
    v = version_of(orders, T)
    orders.write(T, orders_rows((4, "S", 4, 4.0)))
    assert orders.read(T, columns=["order_id"]).schema.names == ["order_id"]
    assert orders.read(T, version=v).num_rows == 3
    assert orders.read(f"{T}@v{v}").num_rows == 3
    assert orders.read(T, version=v + 1).num_rows == 4
    assert orders.read(T, version=0).num_rows == 0


def test_read_errors(orders):
    v = version_of(orders, T)
    with pytest.raises(NotFoundError, match=rf"version 99 does not exist; versions run from 0 to {v}"):
        orders.read(T, version=99)
    with pytest.raises(NotFoundError, match="version -1 does not exist"):
        orders.read(T, version=-1)
    with pytest.raises(InvalidArgumentError, match="names version 1 but version=2 was passed"):
        orders.read(f"{T}@v1", version=2)
    with pytest.raises(InvalidArgumentError, match="either version= or as_of="):
        orders.read(T, version=1, as_of="2026-01-01")
    with pytest.raises(InvalidArgumentError) as err:
        orders.read(T, columns=["order_id", "nope"])
    assert "['nope']" in str(err.value) and "order_id" in str(err.value)
    assert "__fragment_index" not in str(err.value)


def test_read_as_of_a_timestamp(orders):
    v = version_of(orders, T)
    time.sleep(0.02)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.02)
    orders.write(T, orders_rows((4, "S", 4, 4.0)))
    assert orders.read(T, as_of=between).num_rows == 3
    assert orders.read(T, as_of=between.isoformat()).num_rows == 3
    naive_utc = between.replace(tzinfo=None).isoformat()  # naive means UTC
    assert orders.read(T, as_of=naive_utc).num_rows == 3
    assert orders.read(T, as_of=dt.datetime.now(dt.UTC)).num_rows == 4
    assert version_of(orders, T) == v + 1


def test_as_of_before_the_table_existed_is_not_found(orders):
    with pytest.raises(NotFoundError) as err:
        orders.read(T, as_of="2000-01-01T00:00:00Z")
    assert "main.shop.orders" in str(err.value) and "2000-01-01" in str(err.value)


def test_as_of_that_is_no_timestamp(orders):
    with pytest.raises(InvalidArgumentError, match=r"as_of='yesterday' is not a timestamp; use ISO 8601"):
        orders.read(T, as_of="yesterday")


# -- history, restore, changes ---------------------------------------------------------------


def test_history_lists_operations_and_principal(orders):
    orders.write(T, orders_rows((2, "S", 5, 5.0)), mode="merge")
    orders.write(T, orders_rows((9, "S", 5, 5.0)), mode="overwrite")
    history = orders.history(T)
    assert [h.version for h in history] == list(range(version_of(orders, T), -1, -1))
    ops = [h.operation for h in history]
    assert ops == ["WRITE overwrite", "WRITE merge", "WRITE append", "ADD CONSTRAINT", "CREATE TABLE"]
    assert {h.principal for h in history} == {"alice"}
    assert all(isinstance(h.timestamp, dt.datetime) for h in history)
    assert history[2].rows_added == 3
    assert len(orders.history(T, limit=2)) == 2


def test_restore_makes_an_old_version_current(orders):
    v = version_of(orders, T)
    orders.write(T, orders_rows((9, "S", 5, 5.0)), mode="overwrite")
    c = orders.restore(T, version=v)
    assert c.version == v + 2
    assert [r["order_id"] for r in rows_of(orders, T, sort="order_id")] == [1, 2, 3]
    assert orders.read(T, version=v + 1).num_rows == 1  # history is kept


def test_restore_errors(orders):
    v = version_of(orders, T)
    with pytest.raises(
        NotFoundError, match=rf"cannot restore main.shop.orders to version 99: versions run from 0 to {v}"
    ):
        orders.restore(T, version=99)
    with pytest.raises(InvalidArgumentError) as err:
        orders.restore(T, version=v)
    assert f"version {v}" in str(err.value) and "main.shop.orders" in str(err.value)
    assert version_of(orders, T) == v


def test_changes_has_inserts_updates_and_deletes(orders):
    v = version_of(orders, T)
    orders.write(T, orders_rows((2, "S", 5, 5.0)), mode="merge")
    orders.sql(f"DELETE FROM {T} WHERE order_id = 3")
    feed = orders.changes(T, starting_version=v)
    got = sorted((r["_commit_version"], r["_change_type"], r["order_id"], r["qty"]) for r in feed.to_pylist())
    assert got == [
        (v, "insert", 1, 1),
        (v, "insert", 2, 2),
        (v, "insert", 3, 3),
        (v + 1, "update_postimage", 2, 5),
        (v + 1, "update_preimage", 2, 2),
        (v + 2, "delete", 3, 3),
    ]
    only_last = orders.changes(T, starting_version=v + 2, ending_version=v + 2)
    assert only_last.column("_change_type").to_pylist() == ["delete"]


def test_changes_out_of_range(orders):
    v = version_of(orders, T)
    with pytest.raises(NotFoundError) as err:
        orders.changes(T, starting_version=v + 5)
    assert f"versions run from 0 to {v}" in str(err.value)
    with pytest.raises(InvalidArgumentError, match="ending_version"):
        orders.changes(T, starting_version=2, ending_version=1)


# -- optimize and vacuum -----------------------------------------------------------------------


def test_optimize_compacts_files_and_keeps_rows(shop):
    shop.create_table("main.shop.t", schema=pa.schema([("id", pa.int64())]))
    for i in range(4):
        shop.write("main.shop.t", {"id": [i]})
    assert shop.describe("main.shop.t").num_files == 4
    metrics = shop.optimize("main.shop.t")
    assert metrics.files_removed == 4 and metrics.files_added == 1
    assert shop.describe("main.shop.t").num_files == 1
    assert sorted(shop.read("main.shop.t").column("id").to_pylist()) == [0, 1, 2, 3]
    assert shop.read("main.shop.t", version=2).num_rows == 2


def test_optimize_z_order(shop):
    shop.create_table("main.shop.t", schema=pa.schema([("id", pa.int64()), ("v", pa.string())]))
    shop.write("main.shop.t", {"id": [2, 1], "v": ["b", "a"]})
    shop.write("main.shop.t", {"id": [3], "v": ["c"]})
    v = version_of(shop, "main.shop.t")
    with pytest.raises(
        InvalidArgumentError, match=r"cannot z-order by \['nope'\]: the table's columns are \['id', 'v'\]"
    ):
        shop.optimize("main.shop.t", zorder_by=["nope"])
    assert version_of(shop, "main.shop.t") == v
    shop.optimize("main.shop.t", zorder_by=["id"])
    assert shop.describe("main.shop.t").num_files == 1
    assert sorted(shop.read("main.shop.t").column("id").to_pylist()) == [1, 2, 3]


def test_vacuum_never_goes_under_seven_days(shop):
    shop.create_table("main.shop.t", schema=pa.schema([("id", pa.int64())]))
    shop.write("main.shop.t", {"id": [1]})
    shop.write("main.shop.t", {"id": [2]}, mode="overwrite")
    shop.optimize("main.shop.t")
    assert shop.vacuum("main.shop.t", retention_hours=0, dry_run=True) == []
    assert shop.vacuum("main.shop.t", retention_hours=0, dry_run=False) == []
    assert shop.read("main.shop.t", version=1).to_pylist() == [{"id": 1}]
    assert shop.read("main.shop.t").to_pylist() == [{"id": 2}]


def test_vacuum_keeps_versions_that_lineage_points_at(shop, monkeypatch):
    # Lower the floor so that retention alone would remove everything old, and see that
    # the versions a recorded write read survive anyway.
    monkeypatch.setattr("glashaus.tables.maintenance.MIN_RETENTION_HOURS", 0)
    shop.create_table("main.shop.src", schema=pa.schema([("id", pa.int64())]))
    shop.create_table("main.shop.scratch", schema=pa.schema([("id", pa.int64())]))
    for name in ("main.shop.src", "main.shop.scratch"):
        shop.write(name, {"id": [1]})
        shop.write(name, {"id": [2]}, mode="overwrite")
    shop.sql("CREATE TABLE main.shop.derived AS SELECT * FROM main.shop.src@v1")

    assert shop.vacuum("main.shop.src", retention_hours=0, dry_run=False) == []
    assert shop.read("main.shop.src", version=1).to_pylist() == [{"id": 1}]

    removed = shop.vacuum("main.shop.scratch", retention_hours=0, dry_run=False)
    assert len(removed) == 1
    with pytest.raises(NotFoundError, match="vacuumed"):
        shop.read("main.shop.scratch", version=1)
    assert shop.read("main.shop.scratch").to_pylist() == [{"id": 2}]


def test_exists_says_whether_a_name_is_taken_and_refuses_what_the_caller_may_not_use(orders):
    assert orders.exists("main.shop.orders") and orders.exists("main.shop") and orders.exists("main")
    assert not orders.exists("main.shop.nope") and not orders.exists("nope")
    orders.create_user("bob")
    with orders.as_user("bob") as bob:
        # As get(): an object bob may not use is refused (and audited), not reported missing.
        with pytest.raises(PermissionDeniedError, match=r"bob lacks USE SCHEMA on schema main\.shop"):
            bob.exists("main.shop.orders")
        assert bob.exists("main")  # every user may USE CATALOG main
    with pytest.raises(InvalidNameError, match=r"has 4 part\(s\)"):
        orders.exists("main.shop.orders.extra")

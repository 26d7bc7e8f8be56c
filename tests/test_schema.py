"""Bringing user data into a table's schema (storage/schema.py), without a lakehouse."""

from __future__ import annotations

import datetime as dt
import decimal

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from glashaus.errors import InvalidArgumentError, SchemaMismatchError
from glashaus.frames import to_arrow
from glashaus.storage.schema import conform

TARGET = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("qty", pa.int32()),
        pa.field("price", pa.float64()),
        pa.field("name", pa.string()),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("day", pa.date32()),
        pa.field("ok", pa.bool_()),
        pa.field("amount", pa.decimal128(10, 2)),
    ]
)


def one_row(**overrides):
    row = {
        "id": pa.array([1], pa.int64()),
        "qty": pa.array([2], pa.int32()),
        "price": pa.array([1.5], pa.float64()),
        "name": pa.array(["x"], pa.string()),
        "ts": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC")),
        "day": pa.array([dt.date(2026, 1, 1)], pa.date32()),
        "ok": pa.array([True], pa.bool_()),
        "amount": pa.array([decimal.Decimal("1.25")], pa.decimal128(10, 2)),
    }
    row.update(overrides)
    return pa.table({k: v for k, v in row.items() if v is not None})


# -- to_arrow -----------------------------------------------------------------------------------


def test_to_arrow_accepts_the_documented_inputs():
    expected = pa.table({"a": [1, 2]})
    assert to_arrow(expected) is expected
    assert to_arrow(expected.to_batches()[0]).equals(expected)
    assert to_arrow(pa.RecordBatchReader.from_batches(expected.schema, expected.to_batches())).equals(expected)
    assert to_arrow({"a": [1, 2]}).equals(expected)
    assert to_arrow([{"a": 1}, {"a": 2}]).equals(expected)
    assert to_arrow(pd.DataFrame({"a": [1, 2]}, index=[10, 11])).equals(expected)  # index dropped
    assert to_arrow(pl.DataFrame({"a": [1, 2]})).equals(expected)


@pytest.mark.parametrize("bad", [42, "a,b", [1, 2], None, {1, 2}])
def test_to_arrow_refuses_other_things_naming_the_type(bad):
    with pytest.raises(InvalidArgumentError) as err:
        to_arrow(bad)
    assert type(bad).__name__ in str(err.value)
    assert "pandas or polars DataFrame" in str(err.value)


# -- conform: what fits -----------------------------------------------------------------------


def test_exact_data_passes_unchanged():
    data = one_row()
    out = conform(data, TARGET, table_name="t")
    assert out.schema == TARGET
    assert out.to_pylist() == data.to_pylist()


def test_columns_are_reordered_and_matched_case_insensitively():
    data = one_row()
    shuffled = data.select(list(reversed(data.column_names))).rename_columns(
        [c.upper() for c in reversed(data.column_names)]
    )
    out = conform(shuffled, TARGET)
    assert out.schema == TARGET
    assert out.to_pylist() == data.to_pylist()


def test_missing_nullable_columns_become_nulls():
    out = conform(pa.table({"id": [7]}), TARGET)
    assert out.schema == TARGET
    assert out.to_pylist() == [
        {"id": 7, "qty": None, "price": None, "name": None, "ts": None, "day": None, "ok": None, "amount": None}
    ]


@pytest.mark.parametrize(
    ("column", "array", "expected"),
    [
        ("qty", pa.array([5], pa.int64()), 5),  # int64 -> int32 when it fits
        ("qty", pa.array([5], pa.int8()), 5),  # int8 -> int32
        ("id", pa.array([5], pa.uint16()), 5),  # unsigned -> int64
        ("price", pa.array([3], pa.int64()), 3.0),  # int -> double
        ("price", pa.array([1.5], pa.float32()), 1.5),  # float32 -> float64
        ("name", pa.array(["y"], pa.large_string()), "y"),  # large_string -> string
        ("name", pa.array(["y"], pa.string_view()), "y"),  # string_view -> string
        ("name", pa.array(["y"]).dictionary_encode(), "y"),  # categorical -> string
        (
            "ts",
            pa.array([dt.datetime(2026, 1, 2, tzinfo=dt.UTC)], pa.timestamp("ns", tz="UTC")),
            dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        ),  # ns -> us
        ("amount", pa.array([decimal.Decimal("2.5")], pa.decimal128(5, 1)), decimal.Decimal("2.50")),
        ("ok", pa.nulls(1), None),  # all-null column of no type
    ],
)
def test_lossless_widening_is_allowed(column, array, expected):
    out = conform(one_row(**{column: array}), TARGET)
    assert out.schema == TARGET
    assert out.column(column).to_pylist() == [expected]


# -- conform: what does not fit ---------------------------------------------------------------


def test_extra_columns_are_refused_with_the_fix():
    with pytest.raises(SchemaMismatchError) as err:
        conform(one_row(coupon=pa.array(["x"])), TARGET, table_name="main.shop.orders")
    assert "main.shop.orders" in str(err.value) and "['coupon']" in str(err.value)
    assert "schema_mode='merge'" in str(err.value)


def test_missing_not_null_column_is_refused():
    with pytest.raises(SchemaMismatchError, match=r"lacks column 'id', which is NOT NULL"):
        conform(one_row(id=None), TARGET, table_name="t")


def test_duplicate_columns_are_refused():
    data = pa.table([pa.array([1]), pa.array([2])], names=["id", "ID"])
    with pytest.raises(SchemaMismatchError, match="duplicate column names"):
        conform(data, TARGET)


@pytest.mark.parametrize(
    ("column", "array", "target_type"),
    [
        ("name", pa.array([1], pa.int64()), "string"),  # int -> string: another kind
        ("id", pa.array(["1"], pa.string()), "int64"),  # string -> int
        ("price", pa.array(["1.5"]), "double"),
        ("ok", pa.array([1], pa.int8()), "bool"),
        ("qty", pa.array([1.5], pa.float64()), "int32"),  # float -> int loses the fraction
        ("day", pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("us")), "date32"),  # noqa: DTZ001 -- a naive timestamp column
        ("price", pa.array([decimal.Decimal("1.5")], pa.decimal128(5, 1)), "double"),  # decimal -> float
        ("amount", pa.array([0.125], pa.float64()), "decimal128(10, 2)"),  # would round to 0.12
    ],
)
def test_conversions_between_kinds_are_refused(column, array, target_type):
    with pytest.raises(SchemaMismatchError) as err:
        conform(one_row(**{column: array}), TARGET, table_name="main.shop.t")
    message = str(err.value)
    assert f"column {column!r} of main.shop.t is {target_type}" in message
    assert str(array.type) in message
    assert "Cast the column" in message


@pytest.mark.parametrize(
    ("column", "array"),
    [
        ("qty", pa.array([2**31], pa.int64())),  # overflow
        ("qty", pa.array([-(2**31) - 1], pa.int64())),
        ("id", pa.array([2**63], pa.uint64())),
        ("amount", pa.array([decimal.Decimal("1.234")], pa.decimal128(10, 3))),  # loses a digit
    ],
)
def test_narrowing_that_loses_values_is_refused(column, array):
    with pytest.raises(SchemaMismatchError) as err:
        conform(one_row(**{column: array}), TARGET, table_name="t")
    assert f"column {column!r} of t" in str(err.value)
    assert "do not fit without loss" in str(err.value)

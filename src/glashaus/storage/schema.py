"""Bringing user data (Arrow, pandas, polars) into a table's schema, or saying why not.

delta-rs casts silently (it will write integers into a string column), so the check
lives here: a column may only be converted without loss within its kind (int64
values that fit into an int32 column, float32 -> float64, int -> float, string <->
large_string, timestamp precision), never between kinds (int -> string).

>>> conform(pa.table({"id": pa.array([1], pa.int32())}), pa.schema([("id", pa.int64())])).schema
id: int64
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.types as pt

from glashaus.catalog.names import validate_part
from glashaus.errors import (
    ConstraintViolationError,
    InvalidArgumentError,
    InvalidNameError,
    SchemaMismatchError,
)

if TYPE_CHECKING:
    from deltalake import DeltaTable


def arrow_schema(handle: DeltaTable) -> pa.Schema:
    """The table's schema as a pyarrow Schema (delta-rs hands out arro3 objects)."""
    return pa.schema(handle.schema().to_arrow())


def constraints_of(handle: DeltaTable) -> dict[str, str]:
    """CHECK constraints of a table, by name."""
    prefix = "delta.constraints."
    return {
        key[len(prefix) :]: value for key, value in handle.metadata().configuration.items() if key.startswith(prefix)
    }


def check_not_null(data: pa.Table, target: pa.Schema, *, table_name: str = "the table") -> None:
    """Raise :class:`ConstraintViolationError` if ``data`` has NULLs in a column ``target`` declares NOT NULL.

    >>> check_not_null(pa.table({"id": [1, None]}), pa.schema([pa.field("id", pa.int64(), nullable=False)]))
    Traceback (most recent call last):
    glashaus.errors.ConstraintViolationError: 1 row(s) have NULL in column 'id', which is NOT NULL in the table; nothing was written. Fill or drop those rows.
    """
    for field in target:
        if field.nullable or field.name not in data.column_names:
            continue
        nulls = data.column(field.name).null_count
        if nulls:
            raise ConstraintViolationError(
                f"{nulls} row(s) have NULL in column {field.name!r}, which is NOT NULL "
                f"in {table_name}; nothing was written. Fill or drop those rows."
            )


def check_names(schema: pa.Schema, *, table_name: str = "the table") -> None:
    """Raise :class:`InvalidNameError` unless every column and nested field has a proper name.

    The one rule for names (:func:`~glashaus.catalog.names.validate_part`: letters, digits and
    underscores, not starting with a digit), applied to columns and to struct fields at any
    depth (inside lists, maps and structs), and no two siblings alike but for case. Every path
    that brings a column into a table passes here (creating, schema changes, merges), because a
    name SQL cannot write (``''``, quotes, control characters) would break every later read.

    >>> check_names(pa.schema([("s", pa.struct([("x y", pa.int64())]))]), table_name="main.shop.t")
    Traceback (most recent call last):
    glashaus.errors.InvalidNameError: in column 's' of main.shop.t, field name 'x y' is not a valid identifier: use letters, digits and underscores, not starting with a digit, at most 128 characters.
    """
    _check_fields(list(schema), path="", table_name=table_name)


def _check_fields(fields: list[pa.Field], *, path: str, table_name: str) -> None:
    seen: dict[str, str] = {}
    for field in fields:
        what = f"column name in {table_name}" if not path else f"in column {path!r} of {table_name}, field name"
        if not isinstance(field.name, str) or not field.name:
            place = f"a column of {table_name}" if not path else f"a field in column {path!r} of {table_name}"
            raise InvalidNameError(f"{place} has an empty name; every column and struct field needs one.")
        key = validate_part(field.name, what=what)
        if key in seen:
            place = f"columns of {table_name}" if not path else f"fields in column {path!r} of {table_name}"
            raise InvalidNameError(f"{place} {seen[key]!r} and {field.name!r} differ only in case; rename one.")
        seen[key] = field.name
        _check_nested(field.type, path=f"{path}.{field.name}" if path else field.name, table_name=table_name)


def _check_nested(t: pa.DataType, *, path: str, table_name: str) -> None:
    # Only struct fields carry user names; list items and map entries are named by the format.
    if pt.is_struct(t):
        _check_fields([t.field(i) for i in range(t.num_fields)], path=path, table_name=table_name)
    elif pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t) or pt.is_list_view(t):
        _check_nested(t.value_type, path=path, table_name=table_name)
    elif pt.is_map(t):
        _check_nested(t.key_type, path=path, table_name=table_name)
        _check_nested(t.item_type, path=path, table_name=table_name)
    elif pt.is_dictionary(t):
        _check_nested(t.value_type, path=path, table_name=table_name)


def check_storable(schema: pa.Schema, *, table_name: str = "the table") -> None:
    """Raise :class:`InvalidArgumentError` unless a Delta table can hold columns of ``schema``.

    Names are checked first (:func:`check_names`); then delta-rs itself is asked, column by
    column, so the message can name the column; Parquet's own limit (no struct without
    fields) is checked too.

    >>> check_storable(pa.schema([("t", pa.time64("us"))]))
    Traceback (most recent call last):
    glashaus.errors.InvalidArgumentError: column 't' of the table has type time64[us], which a Delta table cannot store; cast it (e.g. to string, int64 or timestamp[us, tz=UTC]) first.
    """
    from deltalake import Schema as DeltaSchema  # only storage/ imports deltalake

    if len(schema) == 0:
        raise InvalidArgumentError(f"{table_name} needs at least one column.")
    check_names(schema, table_name=table_name)
    for field in schema:
        try:
            DeltaSchema.from_arrow(pa.schema([field]))
            storable = not _has_empty_struct(field.type)
        except Exception:  # noqa: BLE001 - delta-rs raises a bare Exception for types it cannot map
            storable = False
        if not storable:
            raise InvalidArgumentError(
                f"column {field.name!r} of {table_name} has type {field.type}, which a Delta table cannot "
                "store; cast it (e.g. to string, int64 or timestamp[us, tz=UTC]) first."
            )


def _has_empty_struct(t: pa.DataType) -> bool:
    if pt.is_struct(t):
        return t.num_fields == 0 or any(_has_empty_struct(t.field(i).type) for i in range(t.num_fields))
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t) or pt.is_list_view(t):
        return _has_empty_struct(t.value_type)
    if pt.is_map(t):
        return _has_empty_struct(t.key_type) or _has_empty_struct(t.item_type)
    if pt.is_dictionary(t):
        return _has_empty_struct(t.value_type)
    return False


def _kind(t: pa.DataType) -> str:
    if pt.is_integer(t):
        return "int"
    if pt.is_floating(t) or pt.is_decimal(t):
        return "float"
    if pt.is_string(t) or pt.is_large_string(t) or pt.is_string_view(t):
        return "string"
    if pt.is_binary(t) or pt.is_large_binary(t) or pt.is_binary_view(t):
        return "binary"
    if pt.is_timestamp(t):
        return "timestamp"
    if pt.is_date(t):
        return "date"
    if pt.is_boolean(t):
        return "bool"
    if pt.is_null(t):
        return "null"
    return str(t)


def _widens(source: pa.DataType, target: pa.DataType) -> bool:
    if source.equals(target):
        return True
    s, t = _kind(source), _kind(target)
    if s == "null":
        return True
    if s == t and s in ("string", "binary", "timestamp", "date"):
        return True
    if s == "int" and t == "int":
        return True  # the cast below is checked value by value
    if s == "int" and t == "float":
        return True
    if s == "float" and t == "float":
        return pt.is_decimal(source) == pt.is_decimal(target)  # float <-> decimal would round
    if pt.is_dictionary(source):
        return _widens(source.value_type, target)
    if (pt.is_list(source) and pt.is_list(target)) or (pt.is_large_list(source) and pt.is_large_list(target)):
        return _widens(source.value_type, target.value_type)
    return False


def conform(data: pa.Table, target: pa.Schema, *, table_name: str = "the table") -> pa.Table:
    """Reorder and widen ``data`` to ``target``; raise :class:`SchemaMismatchError` otherwise."""
    incoming = {name.lower(): name for name in data.column_names}
    if len(incoming) != len(data.column_names):
        raise SchemaMismatchError(f"data for {table_name} has duplicate column names: {data.column_names}.")
    wanted = {field.name.lower() for field in target}
    extra = [incoming[c] for c in incoming if c not in wanted]
    if extra:
        raise SchemaMismatchError(
            f"data for {table_name} has column(s) {extra} that the table does not have. "
            "Drop them, or evolve the table with schema_mode='merge'."
        )
    columns = []
    for field in target:
        source_name = incoming.get(field.name.lower())
        if source_name is None:
            if not field.nullable:
                raise SchemaMismatchError(f"data for {table_name} lacks column {field.name!r}, which is NOT NULL.")
            columns.append(pa.nulls(data.num_rows, field.type))
            continue
        column = data.column(source_name)
        if not _widens(column.type, field.type):
            raise SchemaMismatchError(
                f"column {field.name!r} of {table_name} is {field.type}, but the data has "
                f"{column.type}. Cast the column, or replace the table's schema with "
                "mode='overwrite', schema_mode='overwrite'."
            )
        if not column.type.equals(field.type):
            try:
                if pt.is_integer(column.type) and pt.is_decimal(field.type):
                    # Arrow wants room for every int64 digit; the values are checked below.
                    column = column.cast(pa.decimal128(38, field.type.scale), safe=True)
                column = column.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SchemaMismatchError(
                    f"column {field.name!r} of {table_name} is {field.type}; the data's "
                    f"{column.type} values do not fit without loss ({exc})."
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=target)

"""Data users bring (Arrow, pandas, polars, rows, columns) as one thing: a pyarrow Table.

>>> to_arrow([{"id": 1}]).num_rows
1
"""

from __future__ import annotations

import functools
from typing import Any

import pyarrow as pa

from glashaus.errors import InvalidArgumentError


def to_arrow(data: Any, *, what: str = "data") -> pa.Table:
    """Accept a pyarrow Table/RecordBatch, a pandas or polars DataFrame, or a list of dicts.

    >>> to_arrow([{"id": 1}]).num_rows
    1
    """
    if isinstance(data, pa.Table):
        return data
    try:
        if isinstance(data, pa.RecordBatch):
            return pa.Table.from_batches([data])
        if isinstance(data, pa.RecordBatchReader):
            return data.read_all()
        module = type(data).__module__.split(".")[0]
        if module == "pandas":
            return pa.Table.from_pandas(data, preserve_index=False)
        if module == "polars":
            return data.to_arrow()
        if isinstance(data, list) and all(isinstance(row, dict) for row in data):
            return pa.Table.from_pylist(data)
        if isinstance(data, dict):
            return pa.table(data)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        # Mixed types in a column, columns of different lengths, integers beyond 64 bits, ...
        raise InvalidArgumentError(
            f"{what} cannot be turned into columns ({_first_line(exc)}): give every column values of one "
            "type (integers within 64 bits), and every column the same number of values."
        ) from None
    raise InvalidArgumentError(
        f"{what} must be a pyarrow Table, a pandas or polars DataFrame, a dict of columns "
        f"or a list of row dicts; got {type(data).__name__}."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


@functools.lru_cache(maxsize=256)
def duck_type(t: pa.DataType) -> str:
    """DuckDB's name for an Arrow type, as DuckDB itself maps it (e.g. ``int32`` -> ``INTEGER``).

    >>> duck_type(pa.int64())
    'BIGINT'
    """
    import duckdb

    con = duckdb.connect()
    try:
        return str(con.from_arrow(pa.table({"x": pa.array([], t)})).types[0])
    finally:
        con.close()

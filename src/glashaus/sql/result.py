"""The result of ``lh.sql(...)``: rows as Arrow, convertible to pandas or polars.

>>> r = Result(pa.table({"n": [1, 2]}))
>>> r.fetchall()
[(1,), (2,)]
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


class Result:
    """Rows of a query, or one status row for DDL and DML (``status``, ``version``, ``rows``)."""

    def __init__(self, table: pa.Table, *, statement: str = "SELECT") -> None:
        self._table = table
        self.statement = statement

    @classmethod
    def status(cls, statement: str, message: str, *, table: str | None = None,
               version: int | None = None, rows: int | None = None) -> Result:
        return cls(
            pa.table(
                {
                    "status": pa.array([message], pa.string()),
                    "table": pa.array([table], pa.string()),
                    "version": pa.array([version], pa.int64()),
                    "rows": pa.array([rows], pa.int64()),
                }
            ),
            statement=statement,
        )

    @property
    def columns(self) -> list[str]:
        return self._table.column_names

    @property
    def num_rows(self) -> int:
        return self._table.num_rows

    def __len__(self) -> int:
        return self._table.num_rows

    def to_arrow(self) -> pa.Table:
        return self._table

    def to_pandas(self) -> Any:
        return self._table.to_pandas()

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self._table)

    def to_pylist(self) -> list[dict[str, Any]]:
        return self._table.to_pylist()

    def fetchall(self) -> list[tuple]:
        columns = [c.to_pylist() for c in self._table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def fetchone(self) -> tuple | None:
        rows = self._table.slice(0, 1)
        return self.__class__(rows).fetchall()[0] if rows.num_rows else None

    def scalar(self) -> Any:
        row = self.fetchone()
        return None if row is None else row[0]

    def __repr__(self) -> str:
        return f"<Result {self.statement}: {self.num_rows} row(s), columns {self.columns}>"

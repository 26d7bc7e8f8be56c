"""The result of ``lh.sql(...)``: rows as Arrow, convertible to pandas or polars.

A query's rows may still be on their way: :meth:`Result.batches` hands them out one
record batch at a time as the engine produces them (what the server streams to a
client), while ``to_arrow``/``to_pandas``/``fetchall``/... read them all, once, on
first use. Either way each row is read from the engine once.

>>> r = Result(pa.table({"n": [1, 2]}))
>>> r.fetchall()
[(1,), (2,)]
>>> [b.num_rows for b in Result.lazy(pa.schema([("n", pa.int64())]), iter([pa.record_batch({"n": [1, 2]})])).batches()]
[2]
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from glashaus.errors import GlashausError, InvalidArgumentError


class Result:
    """Rows of a query, or one status row for DDL and DML (``status``, ``version``, ``rows``)."""

    def __init__(self, table: pa.Table, *, statement: str = "SELECT") -> None:
        self._table: pa.Table | None = table
        self._schema = table.schema
        self._stream: Iterator[pa.RecordBatch] | None = None
        self._lock = threading.Lock()
        self._release: Callable[[], None] | None = None
        self._failure: Exception | None = None
        self.statement = statement

    @classmethod
    def lazy(
        cls,
        schema: pa.Schema,
        batches: Iterator[pa.RecordBatch],
        *,
        statement: str = "SELECT",
        close: Callable[[], None] | None = None,
    ) -> Result:
        """A result whose rows are read from ``batches`` when first needed.

        ``close`` frees what produces them (a DuckDB cursor): called once the batches are
        all read, on :meth:`close`, or when the result is garbage collected unread.

        >>> r = Result.lazy(pa.schema([("n", pa.int64())]), iter([pa.record_batch({"n": [7]})]))
        >>> r.scalar()
        7
        """
        result = cls.__new__(cls)
        result._table = None
        result._schema = schema
        result._stream = batches
        result._lock = threading.Lock()
        result._release = weakref.finalize(result, close) if close is not None else None
        result._failure = None
        result.statement = statement
        return result

    @classmethod
    def status(
        cls,
        statement: str,
        message: str,
        *,
        table: str | None = None,
        version: int | None = None,
        rows: int | None = None,
    ) -> Result:
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

    # -- rows, batch by batch ---------------------------------------------------------

    @property
    def schema(self) -> pa.Schema:
        """The columns and their types (known before any row is read)."""
        return self._schema

    @property
    def columns(self) -> list[str]:
        return self._schema.names

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows as record batches, read from the engine as they are asked for.

        Without an earlier ``to_arrow()`` (or anything else that reads every row) the rows
        are not kept: they can be handed out this way once.

        >>> list(Result(pa.table({"n": [1]})).batches())[0].num_rows
        1
        """
        with self._lock:
            if self._table is not None:
                return iter(self._table.to_batches())
            stream, self._stream = self._stream, None
        if stream is None:
            raise self._consumed()
        return self._drain(stream)

    def _drain(self, stream: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        try:
            yield from stream
        except Exception as exc:
            self._failure = exc
            raise
        finally:
            self.close()

    def close(self) -> None:
        """Free what still produces unread rows (nothing to do for a read result)."""
        if self._release is not None:
            self._release()

    # -- rows, all at once -------------------------------------------------------------

    def to_arrow(self) -> pa.Table:
        with self._lock:
            if self._table is None:
                if self._stream is None:
                    raise self._consumed()
                stream, self._stream = self._stream, None
                try:
                    self._table = pa.Table.from_batches(list(stream), schema=self._schema)
                except Exception as exc:
                    self._failure = exc
                    raise
                finally:
                    self.close()
            return self._table

    @property
    def num_rows(self) -> int:
        return self.to_arrow().num_rows

    def __len__(self) -> int:
        return self.to_arrow().num_rows

    def to_pandas(self) -> Any:
        return self.to_arrow().to_pandas()

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def to_pylist(self) -> list[dict[str, Any]]:
        return self.to_arrow().to_pylist()

    def fetchall(self) -> list[tuple]:
        columns = [c.to_pylist() for c in self.to_arrow().columns]
        return list(zip(*columns, strict=True)) if columns else []

    def fetchone(self) -> tuple | None:
        rows = self.to_arrow().slice(0, 1)
        return self.__class__(rows).fetchall()[0] if rows.num_rows else None

    def scalar(self) -> Any:
        row = self.fetchone()
        return None if row is None else row[0]

    def __repr__(self) -> str:
        rows = f"{self._table.num_rows} row(s)" if self._table is not None else "rows not read yet"
        return f"<Result {self.statement}: {rows}, columns {self.columns}>"

    def _consumed(self) -> Exception:
        if self._failure is not None:
            cls = type(self._failure) if isinstance(self._failure, GlashausError) else GlashausError
            return cls(f"reading the rows of this result failed earlier: {self._failure}")
        return InvalidArgumentError(
            "the rows of this result were handed out by batches() already and were not kept: "
            "keep the batches as you read them, or call to_arrow() before batches()."
        )

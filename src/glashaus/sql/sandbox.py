"""The DuckDB side of governed SQL: sandboxed, limited connections, and what their errors say.

One DuckDB connection per thread, made with ``allowed_directories=[<root>/]``, no
external access, no replacement scans, the query limits of
:class:`~glashaus.sql.limits.QueryLimits`, then ``lock_configuration``: SQL cannot
loosen any of it. Every statement runs on a cursor of its own, watched by the active
:class:`~glashaus.sql.limits.Cancellation` (if any) until its last row is read.

DuckDB's errors become :class:`~glashaus.errors.SqlError` (or
:class:`~glashaus.errors.QueryLimitError` naming the limit) without the lakehouse's
root path: messages about a table's files say ``<lakehouse>/tables/...``.

>>> import duckdb
>>> sandbox = Sandbox(root="/data/lh", local=True, limits=QueryLimits(timeout_s=60))
>>> str(sandbox.error(duckdb.IOException('IO Error: No files found that match "/data/lh/tables/x"')))
'SQL error: IO Error: No files found that match "<lakehouse>/tables/x"'
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
from collections.abc import Callable, Iterator

import duckdb
import pyarrow as pa

from glashaus.access.sqltext import too_deep
from glashaus.errors import (
    GlashausError,
    QueryLimitError,
    SqlError,
    UngovernedAccessError,
)
from glashaus.sql import bounds
from glashaus.sql.limits import Cancellation, QueryLimits, current_cancellation
from glashaus.sql.resolve import DIALECT, Resolved
from glashaus.sql.result import Result

#: Rows per record batch of a streamed query result (DuckDB produces them in this size).
RESULT_BATCH_ROWS = 128 * 1024


class Sandbox:
    """DuckDB connections for one lakehouse (one per thread) and the statements run on them."""

    def __init__(self, *, root: str, local: bool, limits: QueryLimits) -> None:
        self.root = root.rstrip("/")
        self.local = local
        self.limits = limits
        self._local = threading.local()
        self._connections: list[duckdb.DuckDBPyConnection] = []
        self._open: dict[int, duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()

    def connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's sandboxed connection (made on first use)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = duckdb.connect()
            if self.local:
                con.execute("SET allowed_directories = [?]", [self.root + "/"])
            # DuckDB also allows its spill folder, by default '.tmp' under the working
            # directory: keep it inside the root (or a private folder) instead.
            spill = self.root + "/.duckdb_tmp" if self.local else tempfile.mkdtemp(prefix="glashaus-duckdb-")
            con.execute("SET temp_directory = ?", [spill])
            # GLOBAL: every cursor of this connection (one per statement) runs under them.
            for name, value in self.limits.settings():
                con.execute(f"SET GLOBAL {name} = ?", [value])
            # From here on DuckDB cannot touch files outside the root, nor run COPY,
            # ATTACH or INSTALL; the setting cannot be switched back on this connection.
            # No replacement scans: a bare name must never resolve to a Python variable.
            con.execute("SET python_enable_replacements = false")
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            self._local.con = con
            with self._lock:
                self._connections.append(con)
        return con

    @property
    def open_queries(self) -> int:
        """Statements whose cursor is still open (running, or rows not yet all read)."""
        with self._lock:
            return len(self._open)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for con in connections:
            with contextlib.suppress(duckdb.Error):
                con.close()
        self._local = threading.local()

    # -- running ------------------------------------------------------------------------

    def sql_of(self, resolved: Resolved) -> str:
        """The text DuckDB runs: the rewritten statement with the value bounds in place."""
        if not resolved.bounded:
            resolved.expression = bounds.bound_values(resolved.expression, max_bytes=self.limits.value_bytes)
            resolved.bounded = True
        return resolved.expression.sql(dialect=DIALECT)

    def _cursor(self, resolved: Resolved) -> tuple[duckdb.DuckDBPyConnection, Callable[[], None], Cancellation | None]:
        """A cursor with the statement's scans registered, watched (and counted) until ``release``."""
        cancellation = current_cancellation()
        cursor = self.connection().cursor()
        with self._lock:
            self._open[id(cursor)] = cursor
        done = threading.Event()

        def release() -> None:
            if done.is_set():
                return
            done.set()
            if cancellation is not None:
                cancellation.forget(cursor)
            with self._lock:
                self._open.pop(id(cursor), None)
            with contextlib.suppress(duckdb.Error):
                cursor.close()

        try:
            if cancellation is not None:
                cancellation.watch(cursor)
            for name, obj in resolved.registrations.items():
                cursor.register(name, obj)
        except BaseException:
            release()
            raise
        return cursor, release, cancellation

    def run(self, resolved: Resolved) -> pa.Table:
        """All rows of a statement at once (the input of a write, a view's columns)."""
        cursor, release, cancellation = self._cursor(resolved)
        try:
            return _tidy(cursor.sql(self.sql_of(resolved)).to_arrow_table())
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise self.error(exc, cancelled=_cancelled(cancellation)) from None
        finally:
            release()

    def query(self, resolved: Resolved) -> Result:
        """A query's rows as a Result that reads them from DuckDB batch by batch, when asked.

        The query runs on a cursor of its own (the thread's connection stays free for the
        next statement, from any thread, while the rows are still being read); the cursor
        and the scans registered on it go when the last batch is read or the Result is
        closed or dropped. The first batch is read here, so that most errors surface from
        ``lh.sql`` itself; a later one fails as :class:`SqlError` from whatever reads it.
        """
        cursor, release, cancellation = self._cursor(resolved)
        try:
            reader = cursor.sql(self.sql_of(resolved)).to_arrow_reader(RESULT_BATCH_ROWS)
            if _untidy(reader.schema):  # HUGEINT sums: a few aggregate rows, made BIGINT when they fit
                table = _tidy(reader.read_all())
                release()
                return Result(table)
            first = _next_batch(reader)
        except (duckdb.Error, pa.ArrowException, OSError) as exc:  # DuckDB's Arrow stream reports as OSError
            release()
            raise self.error(exc, cancelled=_cancelled(cancellation)) from None
        except BaseException:
            release()
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                batch = first
                while batch is not None:
                    yield batch
                    try:
                        batch = _next_batch(reader)
                    except (duckdb.Error, pa.ArrowException, OSError) as exc:
                        raise self.error(exc, cancelled=_cancelled(cancellation)) from None
            finally:
                release()

        return Result.lazy(reader.schema, batches(), close=release)

    # -- errors ---------------------------------------------------------------------------

    def error(self, exc: BaseException, *, cancelled: bool = False) -> GlashausError:
        """The error a user sees for a DuckDB failure: the limit it hit, or DuckDB's first line, root hidden."""
        text = self._hide_root(str(exc).strip())
        if isinstance(exc, duckdb.PermissionException):
            return UngovernedAccessError(f"refused: {_first_line(text)}")
        if bounds.MARK in text:
            return QueryLimitError(text[text.index(bounds.MARK) + len(bounds.MARK) :].splitlines()[0])
        if isinstance(exc, duckdb.InterruptException) or "INTERRUPT Error" in text:
            if "maximum execution time" in text and self.limits.timeout_s is not None:
                return QueryLimitError(self.limits.timeout_message())
            if cancelled:
                return SqlError("the query was cancelled: its client went away.")
            return SqlError("the query was interrupted.")
        if "Max expression depth" in text:  # DuckDB's advice (SET max_expression_depth) is not for users
            return too_deep()
        if isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory Error" in text:
            return QueryLimitError(
                self.limits.spill_message() if "max_temp_directory_size" in text else self.limits.memory_message()
            )
        return SqlError(_clean(text))

    def _hide_root(self, text: str) -> str:
        """The lakehouse's root path, which only the server's operator needs, as ``<lakehouse>``."""
        return text.replace(self.root, "<lakehouse>") if self.root else text


def _cancelled(cancellation: Cancellation | None) -> bool:
    return cancellation is not None and cancellation.cancelled


def _next_batch(reader: pa.RecordBatchReader) -> pa.RecordBatch | None:
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _untidy(schema: pa.Schema) -> bool:
    return any(pa.types.is_decimal(f.type) and f.type.scale == 0 and f.type.precision == 38 for f in schema)


def _tidy(table: pa.Table) -> pa.Table:
    """DuckDB's HUGEINT sums arrive as DECIMAL(38,0): make them BIGINT when the values fit."""
    for i, field in enumerate(table.schema):
        t = field.type
        if pa.types.is_decimal(t) and t.scale == 0 and t.precision == 38:
            with contextlib.suppress(pa.ArrowInvalid):
                table = table.set_column(i, pa.field(field.name, pa.int64()), table.column(i).cast(pa.int64()))
    return table


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "DuckDB refused the statement"


def _clean(text: str) -> str:
    text = re.sub(r"__glashaus_scan_\d+", "<table>", text)
    text = re.sub(r"read_parquet\(\[.*?\]\s*,\s*union_by_name\s*=\s*TRUE\)", "<table>", text, flags=re.DOTALL)
    return f"SQL error: {text.splitlines()[0] if text else 'DuckDB failed'}"

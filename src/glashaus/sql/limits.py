"""Per-query limits (time, memory, spill space) and the cancellation of running queries.

Limits are fixed when a lakehouse is opened (``connect(query_timeout_s=...,
query_memory_mib=..., query_spill_mib=...)``; ``glashaus serve`` passes the server
defaults of :data:`SERVER_LIMITS`) and set on each of the engine's DuckDB connections
before its configuration is locked, so SQL cannot change them:

- ``timeout_s``: DuckDB's ``max_execution_time``: a query stops that long after it
  started, including the time its rows take to reach the client (as PostgreSQL's
  ``statement_timeout``). Embedded default: none.
- ``memory_mib``: DuckDB's ``memory_limit``, for the intermediates of one query (hash
  tables, sorts, aggregates); each thread running SQL has its own DuckDB. Embedded
  default: DuckDB's own (80% of the machine's memory). It also sets how large one value
  built by ``repeat``, ``range``, ... may be (:mod:`glashaus.sql.bounds`).
- ``spill_mib``: DuckDB's ``max_temp_directory_size``: what a query may spill to disk
  beyond its memory. Embedded default: DuckDB's own (90% of the free disk space).

A query past a limit stops with :class:`~glashaus.errors.QueryLimitError` naming the
limit and how to raise it. A :class:`Cancellation` interrupts the queries started under
it (the server cancels when the client goes away).

>>> QueryLimits(timeout_s=2.5).settings()
[('max_execution_time', 2500)]
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from glashaus.errors import InvalidArgumentError, SqlError

_MIB = 1024 * 1024
#: Rows DuckDB computes at once (its vector size): one value may hold at most memory / this.
_VECTOR_ROWS = 2048
#: What the value bound assumes when no memory limit is set (DuckDB's default depends on the machine).
_ASSUMED_MEMORY_MIB = 8192


@dataclass(frozen=True)
class QueryLimits:
    """Limits for each query of one lakehouse; ``None`` leaves DuckDB's default (no time limit)."""

    timeout_s: float | None = None
    memory_mib: int | None = None
    spill_mib: int | None = None

    def __post_init__(self) -> None:
        for name in ("timeout_s", "memory_mib", "spill_mib"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                raise InvalidArgumentError(f"query_{name} must be a positive number or None (no limit), not {value!r}.")
        if self.memory_mib is not None and self.memory_mib < 16:
            raise InvalidArgumentError(f"query_memory_mib must be at least 16 (MiB), not {self.memory_mib}.")

    def settings(self) -> list[tuple[str, Any]]:
        """The DuckDB settings that hold these limits (``SET GLOBAL name = value``)."""
        out: list[tuple[str, Any]] = []
        if self.timeout_s is not None:
            out.append(("max_execution_time", max(1, round(self.timeout_s * 1000))))
        if self.memory_mib is not None:
            out.append(("memory_limit", f"{int(self.memory_mib)}MiB"))
        if self.spill_mib is not None:
            out.append(("max_temp_directory_size", f"{int(self.spill_mib)}MiB"))
        return out

    @property
    def value_bytes(self) -> int:
        """The most one value built by ``repeat``, ``range``, ... may hold (see :mod:`glashaus.sql.bounds`)."""
        return (self.memory_mib or _ASSUMED_MEMORY_MIB) * _MIB // _VECTOR_ROWS

    # -- what a stopped query is told --------------------------------------------------------

    def timeout_message(self) -> str:
        return (
            f"the query was stopped after {self.timeout_s:g} s, this lakehouse's query time limit (it counts "
            "until the last row is read). Narrow the query (filters, LIMIT, fewer joins), or raise the limit: "
            "glashaus serve --query-timeout-s, or connect(..., query_timeout_s=...) embedded."
        )

    def memory_message(self) -> str:
        limit = f"{self.memory_mib} MiB" if self.memory_mib else "DuckDB's default (80% of the machine's memory)"
        return (
            f"the query needs more memory than this lakehouse's query memory limit of {limit}. Narrow the "
            "query (filters, fewer or smaller GROUP BY keys, LIMIT), or raise the limit: glashaus serve "
            "--query-memory-mib, or connect(..., query_memory_mib=...) embedded."
        )

    def spill_message(self) -> str:
        limit = f"{self.spill_mib} MiB" if self.spill_mib else "DuckDB's default (90% of the free disk space)"
        return (
            f"the query needs more temporary disk space than this lakehouse's query spill limit of {limit}. "
            "Narrow the query, or raise the limit: glashaus serve --query-spill-mib, or connect(..., "
            "query_spill_mib=...) embedded."
        )


#: What ``glashaus serve`` uses unless told otherwise: any token holder reaches this code.
SERVER_LIMITS = QueryLimits(timeout_s=300.0, memory_mib=2048, spill_mib=8192)
#: Embedded: your machine, your queries; DuckDB's own memory and spill defaults, no time limit.
EMBEDDED_LIMITS = QueryLimits()


class Cancellation:
    """Interrupts the queries started while it is active (in any thread they are later read from).

    >>> cancel = Cancellation()
    >>> with cancel.active():
    ...     pass                      # lh.sql(...) here registers its DuckDB cursor
    >>> cancel.cancel()               # from any thread: interrupts them
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[int, Any] = {}
        self.cancelled = False

    @contextlib.contextmanager
    def active(self) -> Iterator[Cancellation]:
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    def watch(self, connection: Any) -> None:
        """Interrupt ``connection`` (a DuckDB cursor) on :meth:`cancel`; refused once cancelled."""
        with self._lock:
            if self.cancelled:
                raise SqlError("the query was cancelled (its client went away) before it started.")
            self._connections[id(connection)] = connection

    def forget(self, connection: Any) -> None:
        with self._lock:
            self._connections.pop(id(connection), None)

    def cancel(self) -> None:
        """Interrupt every query watched now, and refuse new ones (safe from any thread, even the event loop)."""
        with self._lock:
            self.cancelled = True
            connections = list(self._connections.values())
        for connection in connections:
            with contextlib.suppress(Exception):  # a cursor closed meanwhile needs no interrupt
                connection.interrupt()


_CURRENT: contextvars.ContextVar[Cancellation | None] = contextvars.ContextVar("glashaus_cancellation", default=None)


def current_cancellation() -> Cancellation | None:
    """The :class:`Cancellation` active in this context, if any."""
    return _CURRENT.get()

"""Inference tables: every request and response of an endpoint, appended to a Delta table.

The request path only *offers* a row to a bounded in-memory buffer (a lock and a list
append: it never waits for storage). One background thread per endpoint moves the
buffer to the inference table in batches (every ``flush_rows`` rows or
``flush_interval`` seconds), one Delta commit per batch. A batch whose write fails
stays in the buffer and is retried with backoff. ``close()`` drains the buffer, so
accepted rows survive a clean shutdown.

When the buffer is full, :meth:`InferenceLog.offer` returns False and the endpoint
answers 503 instead of accepting a request it could not log (a row is "accepted" only
once the buffer holds it).

>>> log = InferenceLog(write=lambda t: None, max_rows=10)     # doctest: +SKIP
>>> log.offer({"request_id": "r1", ...})                      # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

log = logging.getLogger("glashaus.serving")

#: The columns of an inference table (Databricks' inference tables keep request and response as JSON text too).
SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("event_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("endpoint", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("model_version", pa.int64()),
        pa.field("variant", pa.string()),
        pa.field("shadow", pa.bool_()),
        pa.field("principal", pa.string()),
        pa.field("status_code", pa.int32()),
        pa.field("latency_ms", pa.float64()),
        pa.field("request", pa.string()),
        pa.field("response", pa.string()),
        pa.field("error", pa.string()),
    ]
)


class InferenceLog:
    """A bounded buffer of inference rows, written to a table by one background thread."""

    def __init__(
        self,
        write: Callable[[pa.Table], Any],
        *,
        max_rows: int = 100_000,
        flush_rows: int = 2_000,
        flush_interval: float = 1.0,
        name: str = "inference",
    ) -> None:
        self._write = write
        self.max_rows = max_rows
        self.flush_rows = flush_rows
        self.flush_interval = flush_interval
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.written = 0
        self.failed_writes = 0
        self.refused = 0
        self._thread = threading.Thread(target=self._run, name=f"glashaus-{name}", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._rows)

    def offer(self, row: dict[str, Any]) -> bool:
        """Add one row; False (nothing added) when the buffer is full or closed. Never blocks on storage."""
        with self._lock:
            if self._closed or len(self._rows) >= self.max_rows:
                self.refused += 1
                return False
            self._rows.append(row)
            if len(self._rows) >= self.flush_rows:
                self._wake.set()
            return True

    def flush(self) -> int:
        """Write what is buffered now (from any thread); the number of rows written."""
        with self._lock:
            batch, self._rows = self._rows, []
        if not batch:
            return 0
        try:
            self._write(to_table(batch))
        except Exception:
            with self._lock:  # keep the rows, oldest first, for the next attempt
                self._rows[:0] = batch
            raise
        self.written += len(batch)
        return len(batch)

    def close(self, *, timeout: float = 30.0) -> None:
        """Stop accepting rows and write everything accepted (retrying until ``timeout``)."""
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - logged; retried until the deadline
                log.exception("writing the inference table failed; retrying")
                time.sleep(0.5)
        if self.pending:
            log.error("%d inference rows could not be written before shutdown", self.pending)

    def _run(self) -> None:
        backoff = self.flush_interval
        while True:
            self._wake.wait(backoff)
            self._wake.clear()
            with self._lock:
                closed = self._closed
            if closed:
                return  # close() drains what is left
            try:
                self.flush()
                backoff = self.flush_interval
            except Exception:  # noqa: BLE001 - the rows stay buffered; try again later
                self.failed_writes += 1
                log.exception("writing the inference table failed; the rows stay buffered")
                backoff = min(30.0, backoff * 2)


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts with the SCHEMA's keys; missing keys are null) as an Arrow table.

    Arrow's own conversion (no Python loop per value: it runs beside the request threads).
    """
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

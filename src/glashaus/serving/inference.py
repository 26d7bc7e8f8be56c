"""Inference tables: every request and response of an endpoint, appended to a Delta table.

The request path *offers* each row (:meth:`InferenceLog.offer`): it is journaled in the
metastore with the request's audit event, in one transaction, before the answer leaves
(``journal.py``), so a crash after the answer loses neither. The journal is the buffer:
what it holds is bounded in bytes per inference table (``buffer_bytes``); when a table's
rows cannot be moved as fast as they come (storage down, say), ``offer`` returns False and
the endpoint answers 503 instead of accepting a request it could not log. One background
thread per process moves journaled rows to their tables (every ``flush_interval`` seconds,
or after ``flush_rows`` new rows), one Delta commit per batch, exactly once; it starts
with the rows a crashed process left. ``close()`` moves what is left.

>>> from glashaus.serving.journal import InferenceJournal
>>> endpoint = lh.serving.create_endpoint("reco", model="main.shop.reco@champion")
>>> table = lh.get(endpoint.inference_table)
>>> target = Target(table.full_name, table.id, "alice")
>>> log = InferenceLog(InferenceJournal(metastore, tables), buffer_bytes=64 * 2**20)
>>> log.offer(target, {"request_id": "r1", "endpoint": "reco", "status_code": 200,
...                    "request": b'{"inputs": [1]}', "response": b'{"predictions": [0]}'})
True
>>> log.close()   # moves what is journaled
>>> lh.read(table.full_name).column("request_id").to_pylist()
['r1']
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
import weakref
from typing import Any

import pyarrow as pa

log = logging.getLogger("glashaus.serving")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

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


@dataclasses.dataclass(frozen=True)
class Target:
    """Where an endpoint's rows go: its inference table (name and securable id) and who writes them."""

    table: str
    table_id: str
    writer: str


def entry(target: Target, row: dict[str, Any]) -> dict[str, Any]:
    """The journal parameters of one inference row: ``request`` and ``response`` as the bytes received and
    sent (decoded when moved to the table), ``error`` as text.

    >>> e = entry(Target("main.shop.reco_inference", "ab12", "alice"), {"request_id": "r1", "request": b"{}"})
    >>> e["size"], e["request"]
    (2, b'{}')
    """
    request, response = row.get("request"), row.get("response")
    error = row.get("error")
    error_bytes = error.encode("utf-8", "replace") if error is not None else None
    event_time = row.get("event_time") or dt.datetime.now(dt.UTC)
    return {
        "table_id": target.table_id,
        "writer": target.writer,
        "batch": None,
        "size": len(request or b"") + len(response or b"") + len(error_bytes or b""),
        "request_id": (row.get("request_id") or "")[:64],
        "event_time": micros(event_time),
        "endpoint": row.get("endpoint") or "",
        "model": row.get("model") or "",
        "model_version": row.get("model_version"),
        "variant": row.get("variant"),
        "shadow": bool(row.get("shadow")),
        "principal": row.get("principal"),
        "status_code": row.get("status_code"),
        "latency_ms": row.get("latency_ms"),
        "request": request,
        "response": response,
        "error": error_bytes,
    }


class InferenceLog:
    """This process's side of the inference journal: rows offered, bytes waiting per table, the mover thread."""

    def __init__(
        self,
        journal: Any,
        *,
        buffer_bytes: int = 256 * 1024 * 1024,
        flush_rows: int = 2_000,
        flush_interval: float = 5.0,
        name: str = "inference",
    ) -> None:
        # ``journal``: a ``journal.InferenceJournal`` (not imported: it imports this module).
        self.journal = journal
        self.buffer_bytes = buffer_bytes
        self.flush_rows = flush_rows
        self.flush_interval = flush_interval
        self._waiting: dict[str, int] = {}  # table id -> bytes journaled, not in the table yet (an upper estimate)
        self._offered: dict[str, int] = {}  # table id -> bytes ever offered here (to reconcile after a move)
        self._new_rows = 0
        self._lock = threading.Lock()
        self._moving = threading.Lock()  # one move at a time in this process
        self._wake = threading.Event()
        self._closed = False
        self.written = 0
        self.failed_writes = 0
        self.refused = 0
        # The thread holds the log weakly: a runtime dropped without close() (a test's app) stops it.
        self._thread = threading.Thread(
            target=_move_in_background, args=(weakref.ref(self), self._wake), name=f"glashaus-{name}", daemon=True
        )
        self._thread.start()

    def pending(self, table_id: str | None = None) -> int:
        """Bytes journaled and not yet in their table (one table's, or all)."""
        with self._lock:
            return self._waiting.get(table_id, 0) if table_id is not None else sum(self._waiting.values())

    def offer(self, target: Any, row: dict[str, Any]) -> bool:
        """Journal one row for ``target`` (a ``journal.Target``); False (nothing journaled) when its table's
        backlog would exceed ``buffer_bytes`` or the log is closed. Never waits for storage; inside the
        audit log's ``durable_at_exit`` the row is committed with the request's events when the block ends.
        """
        parameters = entry(target, row)
        size, table_id = parameters["size"], target.table_id
        with self._lock:
            if self._closed or self._waiting.get(table_id, 0) + size > self.buffer_bytes:
                self.refused += 1
                return False
            self._waiting[table_id] = self._waiting.get(table_id, 0) + size
            self._offered[table_id] = self._offered.get(table_id, 0) + size
            self._new_rows += 1
            if self._new_rows >= self.flush_rows:
                self._wake.set()
        self.journal.record(parameters)
        return True

    def flush(self) -> int:
        """Move every journaled row to its table now (from any thread); the rows moved."""
        with self._moving:
            with self._lock:
                offered_before, self._new_rows = dict(self._offered), 0
            try:
                moved = sum(self.journal.move().values())
            finally:
                waiting = self.journal.waiting()
                with self._lock:  # what the journal holds, plus what was offered meanwhile (maybe counted twice)
                    for table_id in set(self._waiting) | set(waiting):
                        since = self._offered.get(table_id, 0) - offered_before.get(table_id, 0)
                        self._waiting[table_id] = waiting.get(table_id, 0) + since
        self.written += moved
        return moved

    def close(self, *, timeout: float = 30.0) -> None:
        """Stop accepting rows and move everything journaled (retrying until ``timeout``)."""
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.flush()
            except Exception:
                log.exception("writing an inference table failed; retrying")
            if not self.pending() or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if self.pending():
            log.error(
                "%d bytes of inference rows stay in the metastore's journal; the next process to move "
                "them writes them (glashaus serve, or any Lakehouse.close())",
                self.pending(),
            )

    def _move_once(self, wait: float) -> float:
        """One pass of the background thread; how long to wait before the next."""
        try:
            self.flush()
            return self.flush_interval
        except Exception:
            self.failed_writes += 1
            log.exception("writing an inference table failed; its rows stay journaled")
            return min(30.0, max(wait, self.flush_interval / 4) * 2)


def _move_in_background(ref: weakref.ref, wake: threading.Event) -> None:
    """Move journaled rows every ``flush_interval`` (at once first: the rows a crashed process left)."""
    wait = 0.0
    while True:
        wake.wait(wait)
        wake.clear()
        inference = ref()
        if inference is None or inference._closed:
            return  # close() moves what is left
        wait = inference._move_once(wait)
        del inference


def micros(when: dt.datetime | None = None) -> int:
    """Microseconds since the epoch of ``when`` (now by default), as the journal stores times."""
    when = when or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

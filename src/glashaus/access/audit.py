"""The audit log: every authorization decision becomes a row of ``system.access.audit``.

Events that change something (writes, DDL, grants) are written before the change
happens (``durable=True``): no change without its audit row. Read events are
buffered and written in batches (one Delta commit per batch rather than per read
keeps a point lookup cheap); the buffer is flushed when it is full, when it is older
than ``max_delay`` seconds, before anyone reads a system table, on
``Lakehouse.close()`` and at interpreter exit. A process killed with SIGKILL loses
at most its last ``max_delay`` seconds of read events.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import datetime as dt
import json
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

from glashaus.access.system_tables import AUDIT, SystemTables

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("glashaus_request_id", default=None)


@contextlib.contextmanager
def request(request_id: str | None = None) -> Iterator[str]:
    """Group the audit events of one user operation under one request id.

    Nested calls keep the outer id, so one SQL statement is one request.
    """
    current = _request_id.get()
    if current is not None:
        yield current
        return
    token = _request_id.set(request_id or uuid.uuid4().hex)
    try:
        yield _request_id.get()  # type: ignore[misc]
    finally:
        _request_id.reset(token)


def current_request_id() -> str:
    return _request_id.get() or uuid.uuid4().hex


class AuditLog:
    def __init__(
        self, system: SystemTables, *, client: str = "embedded", max_events: int = 500, max_delay: float = 2.0
    ) -> None:
        self.system = system
        self.client = client
        self.max_events = max_events
        self.max_delay = max_delay
        self._buffer: list[dict[str, Any]] = []
        self._first_at = 0.0
        self._lock = threading.Lock()
        ref = weakref.ref(self)
        atexit.register(lambda: (log := ref()) is not None and log.flush())

    def record(
        self,
        *,
        principal: str,
        action: str,
        decision: str,
        privilege: str | None = None,
        securable: str | None = None,
        securable_kind: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        durable: bool = False,
    ) -> None:
        event = {
            "event_id": uuid.uuid4().hex,
            "event_time": dt.datetime.now(dt.UTC),
            "request_id": current_request_id(),
            "principal": principal,
            "action": action,
            "privilege": privilege,
            "securable": securable,
            "securable_kind": securable_kind,
            "decision": decision,
            "reason": reason,
            "client": self.client,
            "details": json.dumps(details, default=str, sort_keys=True) if details else None,
        }
        with self._lock:
            if not self._buffer:
                self._first_at = time.monotonic()
            self._buffer.append(event)
            due = (
                durable
                or len(self._buffer) >= self.max_events
                or time.monotonic() - self._first_at > self.max_delay
            )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write buffered events now (one Delta commit)."""
        with self._lock:
            events, self._buffer = self._buffer, []
        if events:
            try:
                self.system.append(AUDIT, events)
            except BaseException:
                with self._lock:  # keep them for the next flush rather than lose them
                    self._buffer[:0] = events
                raise

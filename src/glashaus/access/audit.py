"""The audit log: every authorization decision becomes a row of ``system.access.audit``.

Every event is first written ahead to the metastore's ``audit_journal`` (one small
insert, committed before the decision returns), so a crash loses none. Journal rows
move to the Delta table in batches (one commit per batch keeps a point lookup
cheap): when ``max_events`` are waiting, when the oldest is ``max_delay`` seconds
old, before anyone reads a system table, on ``Lakehouse.close()`` and at exit. Any
process's flush also moves rows a crashed process left behind. Delivery is at least
once: a flush that dies between its Delta commit and its journal delete leaves rows
that a later flush writes again, with the same ``event_id``.

One relaxation, for online serving only (:meth:`AuditLog.durable_at_exit`): inside that
block ``record`` hands the event to a journal writer thread, which commits every event
waiting at that moment in one transaction, and returns at once; leaving the block waits
until each of its events is committed. The serving runtime wraps a whole request in it,
so the rule there is "durable before the answer is sent" rather than "before the
decision returns": the model may run while its audit event is being committed, but no
prediction leaves the server before that event is durable, and a request whose event
could not be journaled fails. Everywhere else the rule is unchanged.
"""

from __future__ import annotations

import atexit
# Imported now, not on first use: the exit-time flush (atexit) runs after Python stopped its
# threading machinery, and a first import of this module then fails ("can't register atexit after
# shutdown": pyarrow's pandas check imports it while the flush builds the batch).
import concurrent.futures.thread  # noqa: F401
import contextlib
import contextvars
import datetime as dt
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from glashaus.access.system_tables import AUDIT, SystemTables
from glashaus.access.tables import AuditJournalRow
from glashaus.errors import ServiceUnavailableError
from glashaus.metastore import Metastore

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


_JOURNAL = sa.insert(AuditJournalRow)

#: The journal groups that the events recorded inside :meth:`AuditLog.durable_at_exit` joined.
_deferred: contextvars.ContextVar[tuple[AuditLog, list[_Group]] | None] = contextvars.ContextVar(
    "glashaus_audit_deferred", default=None)

#: How long leaving ``durable_at_exit`` waits for the journal writer before failing the request.
_COMMIT_WAIT = 60.0


class _Group:
    """Events the journal writer commits in one transaction."""

    __slots__ = ("done", "error", "events")

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []
        self.done = threading.Event()
        self.error: BaseException | None = None


_client: contextvars.ContextVar[str | None] = contextvars.ContextVar("glashaus_client", default=None)


@contextlib.contextmanager
def client_address(address: str) -> Iterator[None]:
    """Record the audit events of the code inside as coming from ``address`` (the server sets it per request)."""
    token = _client.set(address)
    try:
        yield
    finally:
        _client.reset(token)


def _flush_at_exit(ref: weakref.ref) -> None:
    """Best effort: during interpreter shutdown some imports fail; the events stay in
    the journal (already durable) and the next flush of any process moves them."""
    log = ref()
    if log is None:
        return
    try:
        log.flush()
    except Exception:  # noqa: BLE001 - nothing is lost, see above
        pass


#: One flush at a time in this process (over every open lakehouse), so the flush before a read of
#: a system table also waits for a batch that a background flush is moving.
_FLUSHING = threading.Lock()


def _flush_in_background(ref: weakref.ref, due: threading.Event) -> None:
    """Flush whenever a batch is due, for as long as the audit log lives (a crash loses nothing: see above)."""
    while True:
        due.wait(5.0)
        due.clear()
        log = ref()
        if log is None or not threading.main_thread().is_alive():  # exiting: the atexit flush moves the rest
            return
        try:
            if log._pending:
                log.flush()
        except Exception:  # noqa: BLE001 - the events stay journaled; the next flush moves them
            logging.getLogger("glashaus.audit").exception("moving audit events to the Delta table failed")
        del log


def _reason(exc: BaseException) -> str:
    """What went wrong, without the statement's parameters (other requests' events) that
    SQLAlchemy's messages carry: it reaches callers and the log."""
    orig = getattr(exc, "orig", None)
    return f"{type(orig).__name__}: {orig}" if orig is not None else type(exc).__name__


def _journal_in_background(ref: weakref.ref, wake: threading.Event) -> None:
    """Commit the events handed over inside ``durable_at_exit``, all waiting ones in one transaction."""
    while True:
        wake.wait(5.0)
        wake.clear()
        log = ref()
        if log is None:
            return
        log._write_group()
        del log


class AuditLog:
    def __init__(
        self,
        system: SystemTables,
        metastore: Metastore,
        *,
        client: str = "embedded",
        max_events: int = 500,
        max_delay: float = 2.0,
        stale_claim: float = 60.0,
    ) -> None:
        self.system = system
        self.metastore = metastore
        self.client = client
        self.max_events = max_events
        self.max_delay = max_delay
        self.stale_claim = stale_claim
        self._pending = 0
        self._first_at = 0.0
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._flusher: threading.Thread | None = None
        self._group: _Group | None = None  # events waiting for the journal writer
        self._wake_writer = threading.Event()
        self._writer: threading.Thread | None = None
        ref = weakref.ref(self)
        atexit.register(_flush_at_exit, ref)

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
    ) -> None:
        """Journal one event: durable once this returns (inside :meth:`durable_at_exit`: once that
        block is left); it reaches the Delta table with its batch."""
        event = {
            "event_id": uuid.uuid4().hex,
            "event_time": dt.datetime.now(dt.UTC).isoformat(),
            "request_id": current_request_id(),
            "principal": principal,
            "action": action,
            "privilege": privilege,
            "securable": securable,
            "securable_kind": securable_kind,
            "decision": decision,
            "reason": reason,
            "client": _client.get() or self.client,
            "details": json.dumps(details, default=str, sort_keys=True) if details else None,
        }
        deferred = _deferred.get()
        if deferred is not None and deferred[0] is self:
            deferred[1].append(self._hand_over({"event": json.dumps(event)}))
            return
        # A plain insert, committed before returning (no ORM unit of work: this runs for every decision).
        with self.metastore.engine.begin() as conn:
            conn.execute(_JOURNAL, {"event": json.dumps(event)})
        self._journaled(1)

    @contextlib.contextmanager
    def durable_at_exit(self) -> Iterator[None]:
        """Events recorded inside are committed by the journal writer; leaving waits until they are.

        For online serving (see the module's docstring): many concurrent requests share one
        journal transaction instead of queueing for the database's write lock one by one,
        and a request's journal write overlaps its work. Leaving the block raises
        :class:`ServiceUnavailableError` if an event could not be journaled, so the caller
        never answers a request whose audit event is not durable.

        >>> with lh.audit.durable_at_exit():                        # doctest: +SKIP
        ...     access.authorize(who, "EXECUTE", model, action="serving.invoke")
        ...     answer = score(...)
        >>> send(answer)   # its audit event is durable now         # doctest: +SKIP
        """
        if _deferred.get() is not None:  # nested: the outer block waits
            yield
            return
        groups: list[_Group] = []
        token = _deferred.set((self, groups))
        try:
            yield
        finally:
            _deferred.reset(token)
            self._wait_for(groups)

    def _wait_for(self, groups: list[_Group]) -> None:
        for group in dict.fromkeys(groups):  # distinct, in order
            if not group.done.wait(_COMMIT_WAIT):
                raise ServiceUnavailableError(
                    f"the audit journal did not confirm this request's events within {_COMMIT_WAIT:.0f} s "
                    "(is the metastore locked or unreachable?): nothing was answered; retry.")
            if group.error is not None:
                raise ServiceUnavailableError(
                    f"the audit journal could not record this request ({_reason(group.error)}): nothing was "
                    "answered; retry, and check the metastore.") from None

    def _hand_over(self, row: dict[str, str]) -> _Group:
        with self._lock:
            group = self._group
            if group is None:
                group = self._group = _Group()
            group.events.append(row)
            if self._writer is None:
                self._writer = threading.Thread(target=_journal_in_background,
                                                 args=(weakref.ref(self), self._wake_writer),
                                                 name="glashaus-audit-journal", daemon=True)
                self._writer.start()
        self._wake_writer.set()
        return group

    def _write_group(self) -> None:
        """Commit the events handed over so far in one transaction (the writer thread; flush)."""
        with self._lock:
            group, self._group = self._group, None
        if group is None:
            return
        try:
            with self.metastore.engine.begin() as conn:
                conn.execute(_JOURNAL, group.events)
        except BaseException as exc:  # handed to every waiting request, which fails
            group.error = exc
            logging.getLogger("glashaus.audit").error("journaling %d audit events failed: %s", len(group.events),
                                                      _reason(exc))
            if not isinstance(exc, Exception):
                raise
        else:
            self._journaled(len(group.events))
        finally:
            group.done.set()

    def _journaled(self, count: int) -> None:
        """``count`` events are in the journal: move a batch to the Delta table when one is due."""
        with self._lock:
            if not self._pending:
                self._first_at = time.monotonic()
            self._pending += count
            due = self._pending >= self.max_events or time.monotonic() - self._first_at > self.max_delay
            if due and self._flusher is None:
                self._flusher = threading.Thread(target=_flush_in_background, args=(weakref.ref(self), self._due),
                                                 name="glashaus-audit-flush", daemon=True)
                self._flusher.start()
        if due:  # the event is durable already: move the batch on a background thread, never on this request
            self._due.set()

    def flush(self) -> None:
        """Move every journaled event (this process's and any crashed one's) to the Delta table."""
        with _FLUSHING:
            self._flush()

    def _flush(self) -> None:
        self._write_group()  # events still with the journal writer go first
        with self._lock:
            self._pending = 0
        while True:
            claim = uuid.uuid4().hex
            now = dt.datetime.now(dt.UTC)
            stale = now - dt.timedelta(seconds=self.stale_claim)
            with self.metastore.session() as s:
                ids = s.scalars(
                    sa.select(AuditJournalRow.id)
                    .where(sa.or_(AuditJournalRow.claim.is_(None), AuditJournalRow.claimed_at < stale))
                    .order_by(AuditJournalRow.id)
                    .limit(5000)
                ).all()
                if not ids:
                    return
                # Claim only rows still free: a concurrent flush takes the others.
                s.execute(
                    sa.update(AuditJournalRow)
                    .where(AuditJournalRow.id.in_(ids))
                    .where(sa.or_(AuditJournalRow.claim.is_(None), AuditJournalRow.claimed_at < stale))
                    .values(claim=claim, claimed_at=now)
                )
            with self.metastore.session() as s:
                rows = s.execute(
                    sa.select(AuditJournalRow.id, AuditJournalRow.event).where(AuditJournalRow.claim == claim)
                ).all()
            if rows:
                events = [json.loads(r.event) for r in rows]
                for event in events:
                    event["event_time"] = dt.datetime.fromisoformat(event["event_time"])
                self.system.append(AUDIT, events)
                with self.metastore.session() as s:
                    s.execute(sa.delete(AuditJournalRow).where(AuditJournalRow.claim == claim))
            if len(ids) < 5000:
                return

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
block ``record`` keeps the event, and leaving the block commits the block's events (and
the rows given to :meth:`AuditLog.commit_with_events`, such as the request's inference
row) with everything other requests left waiting at that moment, in one transaction
(group commit: the leaving thread commits when no commit is running; otherwise the
running one, or the journal writer thread, takes the group next), and waits until that
is committed. The serving runtime wraps a whole request in it, so the rule there is
"durable before the answer is sent" rather than "before the decision returns": no
prediction leaves the server before its audit event and its inference row are durable,
together, and a request whose event could not be journaled fails. Everywhere else the
rule is unchanged.
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

from glashaus.access.rows import AuditJournalRow
from glashaus.access.system_tables import AUDIT, SystemTables
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
    new_id = request_id or uuid.uuid4().hex
    token = _request_id.set(new_id)
    try:
        yield new_id
    finally:
        _request_id.reset(token)


def current_request_id() -> str:
    return _request_id.get() or uuid.uuid4().hex


_JOURNAL = sa.insert(AuditJournalRow)

#: What is recorded inside :meth:`AuditLog.durable_at_exit`: (statement, parameters) pairs, committed at its end.
_deferred: contextvars.ContextVar[tuple[AuditLog, list[tuple[Any, dict[str, Any]]]] | None] = contextvars.ContextVar(
    "glashaus_audit_deferred", default=None
)

#: How long leaving ``durable_at_exit`` waits for the journal writer before failing the request.
_COMMIT_WAIT = 60.0


class _Group:
    """Events (and rows committed with them) the journal writer commits in one transaction."""

    __slots__ = ("done", "error", "events")

    def __init__(self) -> None:
        self.events: list[tuple[Any, dict[str, Any]]] = []  # (insert statement, parameters)
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
    with contextlib.suppress(Exception):  # nothing is lost, see above
        log.flush()


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
        except Exception:
            logging.getLogger("glashaus.audit").exception("moving audit events to the Delta table failed")
        del log


def _reason(exc: BaseException) -> str:
    """What went wrong, without the statement's parameters (other requests' events) that
    SQLAlchemy's messages carry: it reaches callers and the log."""
    orig = getattr(exc, "orig", None)
    return f"{type(orig).__name__}: {orig}" if orig is not None else type(exc).__name__


def _journal_in_background(ref: weakref.ref, wake: threading.Event) -> None:
    """Commit the events handed over inside ``durable_at_exit`` that no leaving request committed itself."""
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
        self._committing = threading.Lock()  # one journal commit at a time
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
            deferred[1].append((_JOURNAL, {"event": json.dumps(event)}))
            return
        # A plain insert, committed before returning (no ORM unit of work: this runs for every decision).
        with self.metastore.engine.begin() as conn:
            conn.execute(_JOURNAL, {"event": json.dumps(event)})
        self._journaled(1)

    @contextlib.contextmanager
    def durable_at_exit(self) -> Iterator[None]:
        """Events recorded inside are committed together on leaving, which waits until they are.

        For online serving (see the module's docstring): many concurrent requests share one
        journal transaction instead of queueing for the database's write lock one by one,
        and a request's events and the rows it gave :meth:`commit_with_events` are committed
        together. Leaving the block raises :class:`ServiceUnavailableError` if they could
        not be journaled, so the caller never answers a request whose audit event is not durable.

        >>> with audit.durable_at_exit():
        ...     access.authorize(alice, "SELECT", table, action="table.read")
        >>> # its audit event is durable now: answer the request
        """
        if _deferred.get() is not None:  # nested: the outer block commits
            yield
            return
        rows: list[tuple[Any, dict[str, Any]]] = []
        token = _deferred.set((self, rows))
        try:
            yield
        finally:
            _deferred.reset(token)
            if rows:
                group = self._hand_over(rows)
                # Commit here when no commit is running: no hand-off to the writer thread, which under
                # load waits for the GIL; a commit running now takes this group next, or the writer does.
                for _ in range(4):
                    if not self._write_group(wait=False):
                        break
                if self._group is not None:
                    self._wake_writer.set()
                self._wait_for([group])

    def commit_with_events(self, statement: Any, parameters: dict[str, Any]) -> None:
        """Execute ``statement`` (an insert) in the transaction that journals this block's audit events.

        Inside :meth:`durable_at_exit` the row is committed with the events recorded in the
        block, all or none, before the block is left; outside, in a transaction of its own.
        Serving's inference journal uses it: an answered request's inference row is exactly
        as durable as its audit event.

        >>> import sqlalchemy as sa
        >>> with audit.durable_at_exit():   # serving inserts its inference rows this way
        ...     access.authorize(alice, "MANAGE", table, action="table.tag")
        ...     audit.commit_with_events(sa.text("SELECT :n"), {"n": 1})
        """
        deferred = _deferred.get()
        if deferred is not None and deferred[0] is self:
            deferred[1].append((statement, parameters))
            return
        with self.metastore.engine.begin() as conn:
            conn.execute(statement, parameters)

    def _wait_for(self, groups: list[_Group]) -> None:
        for group in dict.fromkeys(groups):  # distinct, in order
            if not group.done.wait(_COMMIT_WAIT):
                raise ServiceUnavailableError(
                    f"the audit journal did not confirm this request's events within {_COMMIT_WAIT:.0f} s "
                    "(is the metastore locked or unreachable?): nothing was answered; retry."
                )
            if group.error is not None:
                raise ServiceUnavailableError(
                    f"the audit journal could not record this request ({_reason(group.error)}): nothing was "
                    "answered; retry, and check the metastore."
                ) from None

    def _hand_over(self, rows: list[tuple[Any, dict[str, Any]]]) -> _Group:
        with self._lock:
            group = self._group
            if group is None:
                group = self._group = _Group()
            group.events.extend(rows)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=_journal_in_background,
                    args=(weakref.ref(self), self._wake_writer),
                    name="glashaus-audit-journal",
                    daemon=True,
                )
                self._writer.start()
        return group

    def _write_group(self, *, wait: bool = True) -> bool:
        """Commit the events handed over so far in one transaction; False if there were none (or, without
        ``wait``, another commit was running)."""
        if not self._committing.acquire(blocking=wait):
            return False
        try:
            return self._commit_group()
        finally:
            self._committing.release()

    def _commit_group(self) -> bool:
        with self._lock:
            group, self._group = self._group, None
        if group is None:
            return False
        by_statement: dict[Any, list[dict[str, Any]]] = {}
        for statement, parameters in group.events:  # one executemany per statement
            by_statement.setdefault(statement, []).append(parameters)
        try:
            with self.metastore.engine.begin() as conn:
                for statement, rows in by_statement.items():
                    conn.execute(statement, rows)
        except BaseException as exc:  # handed to every waiting request, which fails
            group.error = exc
            logging.getLogger("glashaus.audit").error(
                "journaling %d audit events failed: %s", len(group.events), _reason(exc)
            )
            if not isinstance(exc, Exception):
                raise
        else:
            self._journaled(len(by_statement.get(_JOURNAL, ())))
        finally:
            group.done.set()
        return True

    def _journaled(self, count: int) -> None:
        """``count`` events are in the journal: move a batch to the Delta table when one is due."""
        with self._lock:
            if not self._pending:
                self._first_at = time.monotonic()
            self._pending += count
            due = self._pending >= self.max_events or time.monotonic() - self._first_at > self.max_delay
            if due and self._flusher is None:
                self._flusher = threading.Thread(
                    target=_flush_in_background,
                    args=(weakref.ref(self), self._due),
                    name="glashaus-audit-flush",
                    daemon=True,
                )
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

"""Inference rows written ahead to the metastore, appended to their inference tables exactly once.

An answered request's inference row is inserted into the metastore's
``inference_journal`` in the same transaction as the request's audit event
(:meth:`glashaus.access.AuditLog.commit_with_events`, inside the audit log's
``durable_at_exit`` block), before the answer leaves: a crash after the answer loses
neither. :class:`InferenceJournal` then moves the rows to their Delta tables, one table
at a time, in batches bounded in bytes:

1. take the table's lease (``inference_movers``; one mover per table at a time, in any
   process; a lease not renewed for ``lease`` seconds is taken over);
2. claim a batch: number it ``n`` (one more than the table's last) and mark its rows;
3. append the rows with the Delta application transaction ``(APP_ID, n)`` in the same
   commit; an append whose ``n`` the table already records writes nothing;
4. delete the batch's rows from the journal.

A mover that dies after step 2 leaves a claimed batch; the next mover (any process)
appends it first, under the same number: if step 3 had committed, that append is a
no-op, so a row is neither lost nor written twice. Rows whose table was dropped are
discarded (logged). Any process moves every table's rows: the serving runtime every few
seconds and when it starts (a crashed server's rows), ``Lakehouse.flush()`` and ``close()``.

>>> journal = InferenceJournal(metastore, tables)
>>> journal.move()   # nothing journaled yet: nothing moved
{}
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from glashaus.access import Principal
from glashaus.catalog.rows import SecurableRow
from glashaus.metastore import Metastore, affected
from glashaus.serving.inference import SCHEMA, Target, entry, micros
from glashaus.serving.rows import InferenceJournalRow, InferenceMoverRow
from glashaus.tables import TablesService

log = logging.getLogger("glashaus.serving")

#: The Delta application id of the journal's appends (one per table, so one name serves all).
APP_ID = "glashaus.inference_journal"
#: The journal insert (one statement object: the audit writer runs one executemany per statement).
INSERT = sa.insert(InferenceJournalRow)

_J = InferenceJournalRow
_M = InferenceMoverRow
#: The journal's columns in the inference table's order; those holding bytes as received and sent.
_ROW = [getattr(_J, f.name) for f in SCHEMA]
_BYTES = ("request", "response", "error")


class InferenceJournal:
    """Moves journaled inference rows to their Delta tables (see the module's docstring)."""

    def __init__(
        self,
        metastore: Metastore,
        tables: TablesService,
        *,
        commit: Callable[[Any, dict[str, Any]], None] | None = None,
        batch_bytes: int = 32 * 1024 * 1024,
        batch_rows: int = 20_000,
        lease: float = 60.0,
    ) -> None:
        self.metastore = metastore
        self.tables = tables
        #: How ``record`` commits a row: the audit log's ``commit_with_events`` (with the request's events).
        self._commit = commit or self._commit_alone
        self.batch_bytes = batch_bytes
        self.batch_rows = batch_rows
        self.lease = lease
        self.id = uuid.uuid4().hex  # this mover, as a lease holder
        self._synced: set[str] = set()  # tables whose batch counter this mover checked against the table

    def record(self, parameters: dict[str, Any]) -> None:
        """Journal one row (:func:`entry`); inside the audit log's ``durable_at_exit``, with the request's events."""
        self._commit(INSERT, parameters)

    def append(self, rows: list[tuple[Target, dict[str, Any]]]) -> None:
        """Journal rows in one transaction of their own."""
        if rows:
            with self.metastore.engine.begin() as conn:
                conn.execute(INSERT, [entry(target, row) for target, row in rows])

    def _commit_alone(self, statement: Any, parameters: dict[str, Any]) -> None:
        with self.metastore.engine.begin() as conn:
            conn.execute(statement, parameters)

    def waiting(self) -> dict[str, int]:
        """Bytes waiting in the journal, per inference table id."""
        with self.metastore.session() as s:
            found = s.execute(sa.select(_J.table_id, sa.func.sum(_J.size)).group_by(_J.table_id)).all()
        return {table_id: int(size or 0) for table_id, size in found}

    def move(self) -> dict[str, int]:
        """Move every table's journaled rows (this process's and any other's); rows moved per table id.

        Tables whose lease another mover holds are left to it. A table whose rows cannot be
        written (storage down, the writer lost MODIFY) keeps them journaled; the others still
        move, then the first error is raised.
        """
        with self.metastore.session() as s:
            table_ids = s.scalars(sa.select(_J.table_id).distinct()).all()
        moved, failed = {}, None
        for table_id in table_ids:
            try:
                moved[table_id] = self.move_table(table_id)
            except Exception as exc:  # noqa: BLE001 - the rows stay journaled; the other tables still move
                log.warning("moving inference rows to table id %s failed: %s", table_id, exc)
                failed = failed or exc
        if failed is not None:
            raise failed
        return moved

    def move_table(self, table_id: str) -> int:
        """Move one table's rows, batch after batch, if this mover gets its lease; the rows moved."""
        name = self._table_name(table_id)
        if name is None:
            with self.metastore.session() as s:
                dropped = affected(s.execute(sa.delete(_J).where(_J.table_id == table_id)))
            log.warning("discarded %d inference rows: their inference table (id %s) was dropped", dropped, table_id)
            return 0
        if not self.take_lease(table_id, name):
            return 0
        moved = 0
        try:
            # The rows journaled by now, not those arriving meanwhile: under steady traffic a mover
            # chasing them would append a tiny batch after each (one Delta commit apiece).
            with self.metastore.session() as s:
                upto = s.scalar(sa.select(sa.func.max(_J.id)).where(_J.table_id == table_id))
            while upto is not None and (batch := self.claim(table_id, upto=upto)) is not None:
                moved += self.commit(table_id, name, batch)
                self.release(table_id, batch)
                self._renew(table_id)
        finally:
            self._give_back(table_id)
        return moved

    # -- the steps (public so that a test can stop between them, as a crash would) -------------------

    def claim(self, table_id: str, *, upto: int | None = None) -> int | None:
        """The batch to append next: one left claimed by a mover that died, else a new one of rows up to
        id ``upto``; None: no rows."""
        with self.metastore.session() as s:
            left = s.scalar(sa.select(_J.batch).where(_J.table_id == table_id, _J.batch.is_not(None)).limit(1))
            if left is not None:
                return int(left)
            query = sa.select(_J.id, _J.size, _J.writer).where(_J.table_id == table_id, _J.batch.is_(None))
            if upto is not None:
                query = query.where(_J.id <= upto)
            waiting = s.execute(query.order_by(_J.id).limit(self.batch_rows)).all()
            if not waiting:
                return None
            writer, size, last = waiting[0].writer, 0, waiting[0].id
            for row in waiting:  # a prefix: one writer, at most batch_bytes (at least one row)
                if row.writer != writer or (size and size + row.size > self.batch_bytes):
                    break
                size, last = size + row.size, row.id
            mover = s.get(_M, table_id)
            assert mover is not None, "claim() runs under the lease, whose take() created the mover row"
            mover.batch += 1
            s.execute(
                sa.update(_J)
                .where(_J.table_id == table_id, _J.batch.is_(None), _J.writer == writer, _J.id <= last)
                .values(batch=mover.batch)
            )
            return int(mover.batch)

    def commit(self, table_id: str, name: str, batch: int) -> int:
        """Append batch ``batch`` to table ``name`` (nothing if the table records it already); its rows."""
        with self.metastore.engine.connect() as conn:  # plain tuples: this thread shares the GIL with requests
            rows = conn.execute(
                sa.select(_J.writer, *_ROW).where(_J.table_id == table_id, _J.batch == batch).order_by(_J.id)
            ).all()
        if not rows:
            return 0
        writer, data = rows[0][0], _to_arrow([row[1:] for row in rows])
        self.tables.write(
            Principal.user(writer),
            name,
            data,
            mode="append",
            operation="INFERENCE LOG",
            app_transaction=(APP_ID, batch),
        )
        return data.num_rows

    def release(self, table_id: str, batch: int) -> None:
        """Delete an appended batch from the journal."""
        with self.metastore.session() as s:
            s.execute(sa.delete(_J).where(_J.table_id == table_id, _J.batch == batch))

    # -- leases -------------------------------------------------------------------------------------

    def _table_name(self, table_id: str) -> str | None:
        with self.metastore.session() as s:
            row = s.get(SecurableRow, table_id)
            return row.full_name if row is not None and row.kind == "table" else None

    def take_lease(self, table_id: str, name: str) -> bool:
        """Become the one mover of table ``name`` (id ``table_id``) for ``lease`` seconds; False if another is."""
        now = micros()
        until = now + int(self.lease * 1_000_000)
        with self.metastore.engine.begin() as conn:
            taken = conn.execute(
                sa.update(_M)
                .where(
                    _M.table_id == table_id,
                    sa.or_(_M.holder.is_(None), _M.holder == self.id, _M.until_us < now),
                )
                .values(holder=self.id, until_us=until)
            ).rowcount
            known = taken or conn.execute(sa.select(_M.table_id).where(_M.table_id == table_id)).first()
        if not known:
            try:
                with self.metastore.engine.begin() as conn:
                    conn.execute(sa.insert(_M).values(table_id=table_id, holder=self.id, until_us=until, batch=0))
            except sa.exc.IntegrityError:
                return False  # another mover came first
        elif not taken:
            return False
        if table_id not in self._synced:
            # Batch numbers only grow: never below what the table records (say, a metastore restored
            # from an older backup), or a new batch would look appended already and be dropped.
            recorded = self.tables.app_transaction_version(name, APP_ID) or 0
            with self.metastore.engine.begin() as conn:
                conn.execute(sa.update(_M).where(_M.table_id == table_id, _M.batch < recorded).values(batch=recorded))
            self._synced.add(table_id)
        return True

    def _renew(self, table_id: str) -> None:
        with self.metastore.engine.begin() as conn:
            conn.execute(
                sa.update(_M)
                .where(_M.table_id == table_id, _M.holder == self.id)
                .values(until_us=micros() + int(self.lease * 1_000_000))
            )

    def _give_back(self, table_id: str) -> None:
        with self.metastore.engine.begin() as conn:
            conn.execute(
                sa.update(_M).where(_M.table_id == table_id, _M.holder == self.id).values(holder=None, until_us=None)
            )


def _to_arrow(rows: list[Any]) -> pa.Table:
    """Journal rows (tuples in SCHEMA's order) as an inference table's rows; request, response and error
    decoded as UTF-8 (invalid bytes replaced, as the old in-memory log did)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(SCHEMA)
    arrays = []
    for field, values in zip(SCHEMA, columns, strict=True):
        if field.name == "event_time":
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        elif field.name in _BYTES:
            raw = pa.array(values, pa.binary())
            try:
                arrays.append(raw.cast(pa.string()))
            except pa.ArrowInvalid:  # not UTF-8: decode value by value
                arrays.append(
                    pa.array([None if v is None else bytes(v).decode("utf-8", "replace") for v in values], pa.string())
                )
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)

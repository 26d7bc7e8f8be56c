"""The inference journal and log: rows written ahead to the metastore (with their audit events),
moved to a real Delta table exactly once, across crashes between any two steps; the backlog bounded in bytes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from glashaus.access import request
from glashaus.errors import PermissionDeniedError, ServiceUnavailableError
from glashaus.lakehouse import services
from glashaus.metastore import Base
from glashaus.serving.inference import SCHEMA, InferenceLog, Target, entry, utcnow
from glashaus.serving.journal import InferenceJournal
from glashaus.serving.rows import InferenceJournalRow, InferenceMoverRow

TABLE = "main.shop.reco_inference"


def row(i: int, *, size: int = 0) -> dict:
    return {
        "request_id": f"r{i}",
        "event_time": utcnow(),
        "endpoint": "reco",
        "model": "main.shop.reco",
        "model_version": 1,
        "variant": "champion",
        "shadow": False,
        "principal": "alice",
        "status_code": 200,
        "latency_ms": 1.5,
        "request": b'{"inputs": [[1]]}' + b" " * size,
        "response": b'{"predictions": [0.5]}',
    }


@pytest.fixture
def table(shop):
    shop.create_table(TABLE, schema=SCHEMA)
    return shop


@pytest.fixture
def target(table):
    return Target(TABLE, table.get(TABLE).id, "alice")


def journal_of(lh, **options) -> InferenceJournal:
    """A journal as another process would have one (its own lease holder id)."""
    return InferenceJournal(services(lh).metastore, services(lh).tables, **options)


def journaled(lh) -> int:
    with services(lh).metastore.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(InferenceJournalRow))


def ids(lh) -> list[str]:
    return sorted(lh.read(TABLE)["request_id"].to_pylist())


def test_the_migration_creates_exactly_the_declared_tables(lh):
    with services(lh).metastore.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "inference_" in repr(d) or "ml_sequences" in repr(d)] == []


def test_journaled_rows_reach_the_table_in_few_commits_as_sent(table, target):
    journal = journal_of(table, batch_rows=50)
    journal.append([(target, row(i)) for i in range(120)])
    assert journal.move() == {target.table_id: 120}
    data = table.read(TABLE)
    assert ids(table) == sorted(f"r{i}" for i in range(120))
    assert data.schema.field("event_time").type == SCHEMA.field("event_time").type
    assert data.to_pylist()[0]["request"] == '{"inputs": [[1]]}'  # bytes as received, decoded once moved
    assert len(table.history(TABLE)) == 1 + 3  # create + one commit per batch of 50, not one per row
    assert journaled(table) == 0


@pytest.mark.parametrize("crash_after", ["claim", "commit"])
def test_a_mover_that_dies_between_steps_neither_loses_nor_duplicates_rows(table, target, crash_after):
    journal_of(table).append([(target, row(i)) for i in range(10)])
    dying = journal_of(table)
    assert dying.take_lease(target.table_id, TABLE)
    batch = dying.claim(target.table_id)
    if crash_after == "commit":
        dying.commit(target.table_id, TABLE, batch)  # in the Delta table; the journal delete never happens
    journal_of(table).append([(target, row(i)) for i in range(10, 15)])  # more requests meanwhile

    other = journal_of(table)  # the next process
    assert other.move() == {target.table_id: 0}  # the dead mover's lease still runs: left to it
    with services(table).metastore.engine.begin() as conn:  # its lease runs out (60 s later)
        conn.execute(sa.update(InferenceMoverRow).values(until_us=0))
    other.move()
    assert ids(table) == sorted(f"r{i}" for i in range(15))  # every row once: none lost, none twice
    assert journaled(table) == 0


def test_rows_of_a_dropped_table_are_discarded_not_written_to_its_successor(table, target):
    journal_of(table).append([(target, row(1))])
    table.drop(TABLE)
    table.create_table(TABLE, schema=SCHEMA)  # the same name, another table
    journal_of(table).move()
    assert ids(table) == []
    assert journaled(table) == 0


def test_rows_and_the_audit_event_of_a_request_commit_together_or_not_at_all(table, target):
    lh = table
    journal, securable = services(lh).serving.journal, lh.get(TABLE)

    def invoke(request_id: str) -> None:
        with request(request_id), services(lh).audit.durable_at_exit():
            services(lh).access.authorize(lh.principal, "MODIFY", securable, action="test.invoke")
            journal.record(entry(target, {**row(0), "request_id": request_id}))

    invoke("together")
    with services(lh).metastore.engine.begin() as conn:  # the journal table is gone: the transaction fails
        conn.execute(sa.text("ALTER TABLE inference_journal RENAME TO inference_journal_away"))
    try:
        with pytest.raises(ServiceUnavailableError, match="audit journal could not record"):
            invoke("neither")
    finally:
        with services(lh).metastore.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE inference_journal_away RENAME TO inference_journal"))
    lh.flush()
    events = lh.sql("SELECT request_id FROM system.access.audit WHERE action = 'test.invoke'").fetchall()
    assert sorted(r[0] for r in events) == ["together"]
    assert ids(lh) == ["together"]


def test_the_backlog_is_bounded_in_bytes_not_rows(table, target):
    log = InferenceLog(journal_of(table), buffer_bytes=2_000, flush_rows=10**6, flush_interval=3600)
    try:
        assert log.offer(target, row(1, size=1_500))
        assert not log.offer(target, row(2, size=1_500))  # one row waits, but 3,000 bytes would
        assert log.offer(target, row(3))  # a small row still fits
        assert log.refused == 1
        log.flush()
        assert log.pending() == 0
        assert log.offer(target, row(4, size=1_500))  # room again once moved
    finally:
        log.close()
    assert ids(table) == ["r1", "r3", "r4"]


def test_rows_that_cannot_be_written_stay_journaled_until_they_can(table, target):
    table.create_user("bob")
    bobs = Target(TABLE, target.table_id, "bob")  # bob has no MODIFY on the table
    log = InferenceLog(journal_of(table), flush_rows=10**6, flush_interval=3600)
    try:
        assert log.offer(bobs, row(1))
        with pytest.raises(PermissionDeniedError, match="bob lacks"):
            log.flush()
        assert journaled(table) == 1 and log.pending() > 0
        table.grant("USE SCHEMA", on="main.shop", to="bob")
        table.grant("MODIFY", on=TABLE, to="bob")
        log.flush()
    finally:
        log.close()
    assert ids(table) == ["r1"] and journaled(table) == 0


def test_close_moves_everything_and_then_refuses(table, target):
    log = InferenceLog(journal_of(table), flush_rows=10**6, flush_interval=3600)
    for i in range(30):
        assert log.offer(target, row(i))
    log.close()
    assert table.read(TABLE).num_rows == 30
    assert log.offer(target, row(99)) is False


def test_any_process_moves_rows_a_crashed_one_left(table, target):
    journal_of(table).append([(target, row(i)) for i in range(5)])  # journaled, then the process died
    table.flush()  # another process: Lakehouse.flush (and close) move them
    assert ids(table) == [f"r{i}" for i in range(5)]


def test_request_bytes_that_are_not_utf8_are_kept_with_replacement_characters(table, target):
    journal_of(table).append([(target, {**row(1), "request": b'\xff{"inputs": 1}', "error": "bad\x00input"})])
    journal_of(table).move()
    (logged,) = table.read(TABLE).to_pylist()
    assert logged["request"] == '\ufffd{"inputs": 1}' and logged["error"] == "bad\x00input"


def test_the_journal_on_a_postgresql_metastore(tmp_path, pg_database):
    import glashaus

    with glashaus.connect(tmp_path / "lh", user="alice", metastore=pg_database) as lh:
        lh.create_schema("main.shop")
        lh.create_table(TABLE, schema=SCHEMA)
        target = Target(TABLE, lh.get(TABLE).id, "alice")
        with request("pg"), services(lh).audit.durable_at_exit():  # committed with an audit event, as serving does
            services(lh).access.authorize(lh.principal, "MODIFY", lh.get(TABLE), action="test.invoke")
            services(lh).serving.journal.record(entry(target, {**row(0), "request": b"\xff\x00{}", "error": "x\x00"}))
        journal_of(lh).append([(target, row(i)) for i in range(1, 5)])
        dying = journal_of(lh)
        assert dying.take_lease(target.table_id, TABLE)
        dying.commit(target.table_id, TABLE, dying.claim(target.table_id))  # then it dies
        with services(lh).metastore.engine.begin() as conn:
            conn.execute(sa.update(InferenceMoverRow).values(until_us=0))
        journal_of(lh).move()
        assert ids(lh) == ["r0", "r1", "r2", "r3", "r4"] and journaled(lh) == 0
        (first,) = [r for r in lh.read(TABLE).to_pylist() if r["request_id"] == "r0"]
        assert first["request"] == "\ufffd\x00{}" and first["error"] == "x\x00"

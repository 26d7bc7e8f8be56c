"""The audit log: every read, write and DDL leaves a row in system.access.audit, queryable with SQL."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import sqlite3
import subprocess
import sys
import threading

import pyarrow as pa
import pytest
import sqlalchemy as sa

import glashaus
import glashaus.access
from glashaus.errors import InvalidArgumentError, ServiceUnavailableError, UngovernedAccessError
from glashaus.lakehouse import services


def audit(lh, where="true"):
    return lh.sql(
        "SELECT event_time, request_id, principal, action, privilege, securable, securable_kind, decision, "
        f"client, details FROM system.access.audit WHERE {where} ORDER BY event_time"
    ).to_pylist()


def actions(rows):
    return [(r["action"], r["securable"]) for r in rows]


def test_ddl_reads_and_writes_are_audited_with_who_what_and_decision(lh):
    start = dt.datetime.now(dt.UTC)
    lh.create_schema("main.shop")
    lh.create_table("main.shop.orders", schema=pa.schema([("id", pa.int64())]))
    lh.write("main.shop.orders", {"id": [1, 2]})
    lh.read("main.shop.orders")
    lh.history("main.shop.orders")
    rows = audit(lh, f"event_time >= '{start.isoformat()}' AND action <> 'sql.select'")
    assert actions(rows) == [
        ("schema.create", "main"),  # CREATE SCHEMA is a privilege on the catalog
        ("table.create", "main.shop"),  # CREATE TABLE is a privilege on the schema
        ("table.write", "main.shop.orders"),
        ("table.read", "main.shop.orders"),
        ("table.history", "main.shop.orders"),
    ]
    assert '"name": "main.shop.orders"' in rows[1]["details"]
    by_action = {r["action"]: r for r in rows}
    write = by_action["table.write"]
    assert (write["principal"], write["privilege"], write["securable_kind"], write["decision"], write["client"]) == (
        "alice",
        "MODIFY",
        "table",
        "allow",
        "embedded",
    )
    assert '"rows": 2' in write["details"] and '"mode": "append"' in write["details"]
    read = by_action["table.read"]
    assert (read["privilege"], read["decision"]) == ("SELECT", "allow")
    assert all(r["event_time"] >= start - dt.timedelta(seconds=1) for r in rows)
    assert all(len(r["request_id"]) == 32 for r in rows)
    assert len({r["request_id"] for r in rows}) == len(rows)  # one operation, one request


def test_catalog_schema_and_drop_events(lh):
    lh.create_catalog("dev")
    lh.create_schema("dev.s")
    lh.create_volume("dev.s.files")
    lh.set_comment("dev.s", "scratch")
    lh.set_tags("dev.s", {"env": "test"})
    lh.drop("dev", cascade=True)
    got = {r["action"] for r in audit(lh, "principal = 'alice'")}
    assert {"catalog.create", "schema.create", "volume.create", "schema.comment", "schema.tag", "catalog.drop"} <= got
    drop = audit(lh, "action = 'catalog.drop'")[0]
    assert (drop["securable"], drop["privilege"], drop["securable_kind"]) == ("dev", "MANAGE", "catalog")


def test_one_request_id_per_sql_statement(shop):
    lh = shop
    lh.create_table("main.shop.a", data=pa.table({"id": [1, 2]}))
    lh.create_table("main.shop.b", data=pa.table({"id": [2, 3]}))
    lh.sql("SELECT * FROM main.shop.a JOIN main.shop.b USING (id)")
    join = audit(lh, "action = 'sql.select' AND securable IN ('main.shop.a', 'main.shop.b')")
    assert sorted(r["securable"] for r in join) == ["main.shop.a", "main.shop.b"]
    assert len({r["request_id"] for r in join}) == 1

    lh.sql("CREATE TABLE main.shop.c AS SELECT a.id FROM main.shop.a JOIN main.shop.b USING (id)")
    (write,) = audit(lh, "action = 'table.write' AND securable = 'main.shop.c'")
    in_request = actions(audit(lh, f"request_id = '{write['request_id']}'"))
    # the statement read two tables, created one and wrote it: all under one request id
    assert sorted(in_request) == sorted(
        [
            ("sql.select", "main.shop.a"),
            ("sql.select", "main.shop.b"),
            ("table.create", "main.shop"),
            ("table.write", "main.shop.c"),
            ("table.version", "main.shop.c"),
        ]
    )


def test_two_statements_are_two_requests(shop):
    shop.create_table("main.shop.a", data=pa.table({"id": [1]}))
    shop.sql("SELECT * FROM main.shop.a; SELECT count(*) FROM main.shop.a")
    rows = audit(shop, "action = 'sql.select' AND securable = 'main.shop.a'")
    assert len(rows) == 2 and rows[0]["request_id"] != rows[1]["request_id"]


def test_sql_dml_is_audited(shop):
    shop.sql("CREATE TABLE main.shop.t (id BIGINT, v INT)")
    shop.sql("INSERT INTO main.shop.t VALUES (1, 1), (2, 2)")
    shop.sql("UPDATE main.shop.t SET v = 3 WHERE id = 1")
    shop.sql("DELETE FROM main.shop.t WHERE id = 2")
    shop.sql(
        "MERGE INTO main.shop.t t USING (SELECT 1 AS id, 9 AS v) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v"
    )
    got = [r["action"] for r in audit(shop, "securable = 'main.shop.t' AND privilege = 'MODIFY'")]
    assert got == ["table.write", "table.update", "table.delete", "table.merge"]


def test_the_audit_table_is_queryable_like_any_table(shop):
    shop.create_table("main.shop.t", data=pa.table({"id": [1]}))
    for _ in range(3):
        shop.read("main.shop.t")
    got = shop.sql("""
        SELECT principal, action, count(*) AS n FROM system.access.audit
        WHERE securable = 'main.shop.t' AND action = 'table.read' GROUP BY ALL
    """).fetchall()
    assert got == [("alice", "table.read", 3)]
    assert shop.describe("system.access.audit").columns[0].name == "event_id"
    assert shop.read("system.access.audit").num_rows > 0


def test_reading_the_audit_table_is_audited_too(shop):
    shop.sql("SELECT count(*) FROM system.access.audit")
    assert audit(shop, "action = 'sql.select' AND securable = 'system.access.audit'")


def test_buffered_read_events_are_written_on_close(tmp_path):
    root = tmp_path / "lh"
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_table("main.shop.t", data=pa.table({"id": [1]}))
        lh.read("main.shop.t")  # a read: buffered, not yet a commit
        lh.create_user("bob")
        lh.add_member("admins", "bob")  # the audit log is for admins
    with glashaus.connect(root, user="bob") as lh:
        rows = audit(lh, "securable = 'main.shop.t' AND action = 'table.read'")
        assert [(r["principal"], r["decision"]) for r in rows] == [("alice", "allow")]
        assert {r["principal"] for r in audit(lh)} == {"alice", "bob"}


def test_every_event_is_durable_before_the_call_returns(shop, tmp_path):
    # Written ahead to the metastore's journal: not yet in the Delta table, but a
    # crash now would lose nothing, and the next flush of any process moves it.
    shop.create_table("main.shop.t", schema=pa.schema([("id", pa.int64())]))
    shop.write("main.shop.t", {"id": [1]})
    shop.read("main.shop.t")
    location = shop.get("system.access.audit").storage_location
    in_delta = services(shop).store.read(location).column("action").to_pylist()
    with services(shop).metastore.engine.connect() as conn:
        journal = [json.loads(e)["action"] for e in conn.execute(sa.text("SELECT event FROM audit_journal")).scalars()]
    assert "table.read" in journal and "table.read" not in in_delta
    other = glashaus.connect(shop.root, user="alice")  # as another process would
    try:
        actions = [r[0] for r in other.sql("SELECT action FROM system.access.audit").fetchall()]
    finally:
        other.close()
    assert "table.write" in actions and "table.read" in actions
    with services(shop).metastore.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_journal")).scalar() <= 1  # the read just made


def test_a_crashed_process_loses_no_audit_event(tmp_path):
    root = tmp_path / "lh"
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_table("main.shop.t", data=pa.table({"id": [1]}))
    code = (
        "import os, glashaus\n"
        f"lh = glashaus.connect({str(root)!r}, user='alice')\n"
        "lh.read('main.shop.t')\n"
        "lh.sql('SELECT count(*) FROM main.shop.t')\n"
        "os._exit(9)  # no flush, no atexit: as if killed\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 9, done.stderr.decode()[-2000:]
    with glashaus.connect(root, user="alice") as lh:
        rows = lh.sql(
            "SELECT action FROM system.access.audit WHERE securable = 'main.shop.t' "
            "AND action IN ('table.read', 'sql.select')"
        ).fetchall()
    assert sorted(r[0] for r in rows) == ["sql.select", "table.read"]


@pytest.mark.parametrize("background", [False, True], ids=["at-exit", "flusher-running-at-exit"])
def test_the_exit_time_flush_moves_the_events_without_a_traceback(tmp_path, background):
    # A process that never imported Python's thread pools before exiting: the flush at exit
    # (and a background flush still running then) used to fail with "can't register atexit
    # after shutdown", printing a traceback and leaving the batch in the journal.
    root = tmp_path / "lh"
    code = f"import time, glashaus\nlh = glashaus.connect({str(root)!r}, user='alice')\nlh.create_user('bob')\n" + (
        "time.sleep(2.2)\nlh.create_user('carol')  # a batch is due: the flusher starts as we exit\n"
        if background
        else ""
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode()[-3000:]
    engine = sa.create_engine(f"sqlite:///{root / '_metastore.db'}")
    with engine.connect() as conn:  # before any other flush: the exiting process moved everything
        assert conn.execute(sa.text("SELECT count(*) FROM audit_journal")).scalar() == 0
    engine.dispose()
    with glashaus.connect(root, user="alice") as lh:
        created = [json.loads(r["details"])["name"] for r in audit(lh, "action = 'user.create'")]
    assert sorted(created) == (["bob", "carol"] if background else ["bob"])


def test_volume_file_access_is_audited(shop):
    shop.create_volume("main.shop.files")
    shop.put_file("main.shop.files", "a.txt", b"x")
    shop.get_file("main.shop.files", "a.txt")
    shop.list_files("main.shop.files")
    shop.delete_file("main.shop.files", "a.txt")
    rows = audit(shop, "securable = 'main.shop.files' AND action LIKE 'volume.%'")
    assert [(r["action"], r["privilege"]) for r in rows if r["action"] != "volume.create"] == [
        ("volume.put", "WRITE VOLUME"),
        ("volume.get", "READ VOLUME"),
        ("volume.list", "READ VOLUME"),
        ("volume.delete", "WRITE VOLUME"),
    ]


def test_users_cannot_write_the_audit_log(shop):
    before = shop.read("system.access.audit").num_rows
    with pytest.raises(InvalidArgumentError, match="system catalog is written only by Glashaus"):
        shop.sql("DELETE FROM system.access.audit")
    with pytest.raises(InvalidArgumentError, match="system catalog is written only by Glashaus"):
        shop.sql("INSERT INTO system.access.audit SELECT * FROM system.access.audit")
    assert shop.read("system.access.audit").num_rows >= before


def test_sql_refused_for_reaching_outside_the_catalog_is_audited_as_denied(shop):
    with pytest.raises(UngovernedAccessError):
        shop.sql("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(UngovernedAccessError):
        shop.sql("COPY (SELECT 1) TO '/tmp/out.csv'")
    denied = shop.sql(
        "SELECT principal, action, decision, details FROM system.access.audit "
        "WHERE decision = 'deny' ORDER BY event_time"
    ).to_pylist()
    assert [(d["principal"], d["action"]) for d in denied] == [("alice", "sql.refused")] * 2
    assert "read_csv('/etc/passwd')" in denied[0]["details"]


def journal_actions(lh):
    with services(lh).metastore.engine.connect() as conn:
        return [json.loads(e)["action"] for e in conn.execute(sa.text("SELECT event FROM audit_journal")).scalars()]


def test_inside_durable_at_exit_leaving_waits_until_the_events_are_journaled(shop):
    # Serving's rule: the event may be committed while the request works, but the block (and
    # so the answer) is left only once it is durable. Hold the metastore's write lock so the
    # journal writer must wait, and let it go a moment later.
    shop.create_table("main.shop.t", data=pa.table({"id": [1]}))
    shop.flush()
    path = services(shop).metastore.engine.url.database
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, blocker.rollback)
    release.start()
    try:
        with services(shop).audit.durable_at_exit():
            shop.read("main.shop.t")
        assert "table.read" in journal_actions(shop)
    finally:
        release.join()
        blocker.close()
    assert [r["principal"] for r in audit(shop, "action = 'table.read'")] == ["alice"]


def test_concurrent_blocks_each_get_their_own_events_durable(shop):
    shop.create_table("main.shop.t", data=pa.table({"id": [1]}))
    shop.flush()

    def one(i):
        with glashaus.access.request(f"req{i:02d}"), services(shop).audit.durable_at_exit():
            shop.read("main.shop.t")
        with services(shop).metastore.engine.connect() as conn:
            return [
                json.loads(e)["request_id"] for e in conn.execute(sa.text("SELECT event FROM audit_journal")).scalars()
            ]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(one, range(16)))
    assert all(f"req{i:02d}" in journaled for i, journaled in enumerate(seen))
    assert sorted(r["request_id"] for r in audit(shop, "action = 'table.read'")) == [f"req{i:02d}" for i in range(16)]


def test_an_event_that_cannot_be_journaled_fails_the_block(shop):
    shop.create_table("main.shop.t", data=pa.table({"id": [1]}))
    shop.flush()
    with services(shop).metastore.engine.begin() as conn:  # the metastore is broken (a lost table, say)
        conn.execute(sa.text("ALTER TABLE audit_journal RENAME TO audit_journal_away"))
    try:
        with pytest.raises(ServiceUnavailableError, match="audit journal could not record this request") as info:
            with services(shop).audit.durable_at_exit():
                shop.read("main.shop.t")
        assert "nothing was answered" in str(info.value) and "no such table" in str(info.value)
        assert "event_id" not in str(info.value)  # no journal rows (other requests' events) reach a caller
    finally:
        with services(shop).metastore.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE audit_journal_away RENAME TO audit_journal"))

"""Two writers at once, and a writer killed mid-commit: no lost or half-written commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa

import glashaus

APPENDER = textwrap.dedent(
    """
    import sys, pyarrow as pa, glashaus
    root, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lh = glashaus.connect(root, user=f"writer{worker}")
    for i in range(n):
        lh.write("main.shop.events", pa.table({"worker": [worker], "seq": [i]}))
    lh.close()
    """
)


def _make_table(root):
    lh = glashaus.connect(root, user="alice")
    lh.create_schema("main.shop")
    lh.create_table(
        "main.shop.events",
        schema=pa.schema([("worker", pa.int64()), ("seq", pa.int64())]),
    )
    lh.create_group("writers")
    for user in ("writer1", "writer2", "bob"):
        lh.create_user(user)
        lh.add_member("writers", user)
    lh.grant("USE SCHEMA", on="main.shop", to="writers")
    lh.grant("SELECT", on="main.shop.events", to="writers")
    lh.grant("MODIFY", on="main.shop.events", to="writers")
    version = lh.describe("main.shop.events").version
    lh.close()
    return version


def test_two_processes_appending_lose_no_commit(tmp_path):
    root = tmp_path / "lh"
    start = _make_table(root)
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(root), str(w), "100"], stderr=subprocess.PIPE)
        for w in (1, 2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()[-2000:]
    lh = glashaus.connect(root, user="alice")
    info = lh.describe("main.shop.events")
    assert info.version - start == 200
    rows = lh.read("main.shop.events")
    assert rows.num_rows == 200
    for worker in (1, 2):
        seqs = sorted(r["seq"] for r in rows.to_pylist() if r["worker"] == worker)
        assert seqs == list(range(100))
    # Every write was audited by its own writer, none lost in the concurrent flushes.
    writes = lh.sql(
        "SELECT principal, count(*) FROM system.access.audit WHERE action = 'table.write' "
        "GROUP BY principal ORDER BY principal"
    ).fetchall()
    assert writes == [("writer1", 100), ("writer2", 100)]
    lh.close()


KILLED_WRITER = textwrap.dedent(
    """
    import sys, numpy as np, pyarrow as pa, glashaus
    root = sys.argv[1]
    lh = glashaus.connect(root, user="bob")
    n = 3_000_000
    big = pa.table({"worker": np.full(n, 9, dtype=np.int64), "seq": np.arange(n, dtype=np.int64)})
    print("writing", flush=True)
    while True:
        lh.write("main.shop.events", big)
    """
)


def test_killed_writer_leaves_table_readable_at_previous_version(tmp_path):
    root = tmp_path / "lh"
    _make_table(root)
    lh = glashaus.connect(root, user="alice")
    lh.write("main.shop.events", pa.table({"worker": [1, 1], "seq": [0, 1]}))
    lh.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline().strip() == b"writing"
    time.sleep(1.5)  # inside a write of 3M rows: Parquet files half written, no commit yet
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    lh = glashaus.connect(root, user="alice")
    info = lh.describe("main.shop.events")
    rows = lh.read("main.shop.events")
    # Whatever the writer committed before it died is whole; nothing partial is visible.
    assert (rows.num_rows - 2) % 3_000_000 == 0
    history = lh.history("main.shop.events")
    assert history[0].version == info.version
    # Changes are audited before they happen, so even the killed writer left its rows.
    bob = lh.sql("SELECT count(*) FROM system.access.audit WHERE principal = 'bob' AND action = 'table.write'").scalar()
    assert bob >= 1
    # The table keeps working after the crash.
    commit = lh.write("main.shop.events", pa.table({"worker": [2], "seq": [0]}))
    assert commit.version == info.version + 1
    assert lh.read("main.shop.events").num_rows == rows.num_rows + 1
    lh.close()


def test_a_second_connection_sees_each_new_commit_at_once(tmp_path):
    root = tmp_path / "lh"
    _make_table(root)
    writer = glashaus.connect(root, user="alice")
    reader = glashaus.connect(root, user="bob")
    for i in range(3):
        writer.write("main.shop.events", pa.table({"worker": [1], "seq": [i]}))
        # The reader's cached table handle must notice the other connection's commit.
        assert reader.sql("SELECT count(*) FROM main.shop.events").scalar() == i + 1
        assert reader.read("main.shop.events").num_rows == i + 1
    writer.close()
    reader.close()


def test_system_tables_are_compacted_as_batches_pile_up(tmp_path, monkeypatch):
    import glashaus.access.system_tables as system_tables

    monkeypatch.setattr(system_tables, "COMPACT_EVERY", 4)
    _make_table(tmp_path / "lh")
    lh = glashaus.connect(tmp_path / "lh", user="alice")
    for _ in range(12):
        lh.sql("SELECT count(*) FROM main.shop.events")
        lh.flush()
    info = lh.describe("system.access.audit")
    assert info.version >= 12
    assert info.num_files < info.version / 2
    assert lh.sql("SELECT count(*) FROM system.access.audit WHERE action = 'catalog.create'").scalar() >= 1
    lh.close()

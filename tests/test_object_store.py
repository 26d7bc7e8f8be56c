"""A lakehouse on an S3-compatible object store (a local moto server), metastore apart."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import MetastoreError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    port = _free_port()
    # A separate process: delta-rs holds the GIL during requests, so an in-process
    # threaded server would never answer.
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="lake")
    yield env
    mp.undo()
    server.terminate()
    server.wait(timeout=10)


def test_tables_sql_lineage_and_volumes_on_s3(s3, tmp_path):
    meta = f"sqlite:///{tmp_path / 'meta.db'}"
    lh = glashaus.connect("s3://lake/lh1", user="alice", metastore=meta)
    lh.create_schema("main.shop")
    lh.create_table("main.shop.orders", data=pa.table({"id": [1, 2, 3], "qty": [2, 4, 6]}))
    assert lh.describe("main.shop.orders").location.startswith("s3://lake/lh1/tables/main/shop/orders-")
    lh.sql("CREATE TABLE main.shop.doubled AS SELECT id, qty * 2 AS qty2 FROM main.shop.orders")
    assert lh.sql("SELECT sum(qty2) FROM main.shop.doubled").scalar() == 24
    lh.write("main.shop.orders", {"id": [4], "qty": [8]})
    assert lh.read("main.shop.orders", version=1).num_rows == 3
    assert lh.read("main.shop.orders").num_rows == 4
    assert [(e.source, e.source_version) for e in lh.lineage("main.shop.doubled")] == [("main.shop.orders", 1)]
    lh.create_volume("main.shop.images")
    lh.put_file("main.shop.images", "plants/monstera.txt", b"leafy")
    assert lh.get_file("main.shop.images", "plants/monstera.txt") == b"leafy"
    assert [f.path for f in lh.list_files("main.shop.images")] == ["plants/monstera.txt"]
    lh.close()
    # The audit trail landed on the object store too.
    lh = glashaus.connect("s3://lake/lh1", user="alice", metastore=meta)
    actions = {r[0] for r in lh.sql("SELECT DISTINCT action FROM system.access.audit").fetchall()}
    assert {"table.create", "table.write", "sql.select", "volume.put"} <= actions
    lh.close()


def test_object_store_lakehouse_needs_an_explicit_metastore(s3):
    with pytest.raises(MetastoreError, match="metastore"):
        glashaus.connect("s3://lake/lh2", user="alice")

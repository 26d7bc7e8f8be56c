"""The inference log: a bounded buffer in front of a real Delta table, never blocking, never losing accepted rows."""

from __future__ import annotations

import threading
import time

import pytest

from glashaus.serving.inference import SCHEMA, InferenceLog, utcnow

TABLE = "main.shop.reco_inference"


def row(i: int) -> dict:
    return {"request_id": f"r{i}", "event_time": utcnow(), "endpoint": "reco", "model": "main.shop.reco",
            "model_version": 1, "variant": "champion", "shadow": False, "principal": "alice",
            "status_code": 200, "latency_ms": 1.5, "request": '{"inputs": [[1]]}', "response": "[0.5]"}


@pytest.fixture
def table(shop):
    shop.create_table(TABLE, schema=SCHEMA)
    return shop


def test_accepted_rows_reach_the_table_in_few_commits(table):
    log = InferenceLog(lambda t: table.write(TABLE, t), flush_rows=50, flush_interval=0.05)
    assert all(log.offer(row(i)) for i in range(120))
    log.close()
    data = table.read(TABLE)
    assert sorted(data["request_id"].to_pylist()) == sorted(f"r{i}" for i in range(120))
    assert data.schema.field("event_time").type == SCHEMA.field("event_time").type
    assert len(table.history(TABLE)) <= 1 + 120 // 50 + 2  # create + a few batches, not one commit per row


def test_a_full_buffer_refuses_instead_of_blocking_or_dropping(table):
    gate = threading.Event()

    def slow_write(t):
        gate.wait(10)
        table.write(TABLE, t)

    log = InferenceLog(slow_write, max_rows=5, flush_rows=1000, flush_interval=60)
    accepted = [log.offer(row(i)) for i in range(8)]
    assert accepted == [True] * 5 + [False] * 3
    assert log.refused == 3
    gate.set()
    log.close()
    assert sorted(table.read(TABLE)["request_id"].to_pylist()) == [f"r{i}" for i in range(5)]


def test_a_failing_write_keeps_the_rows_and_retries(table):
    failures = {"left": 2}

    def flaky(t):
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("object store unavailable")
        table.write(TABLE, t)

    log = InferenceLog(flaky, flush_rows=1, flush_interval=0.01)
    for i in range(3):
        assert log.offer(row(i))
    deadline = time.monotonic() + 20
    while log.written < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    log.close()
    assert log.failed_writes >= 1
    assert sorted(table.read(TABLE)["request_id"].to_pylist()) == ["r0", "r1", "r2"]


def test_close_drains_and_then_refuses(table):
    log = InferenceLog(lambda t: table.write(TABLE, t), flush_rows=10_000, flush_interval=60)
    for i in range(30):
        log.offer(row(i))
    log.close()
    assert table.read(TABLE).num_rows == 30
    assert log.offer(row(99)) is False

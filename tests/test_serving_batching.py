"""Adaptive batching: concurrent payloads are merged, scored once, and each caller gets its own slice or error.

The Batcher collects (in the server); score_together merges, scores and splits (in the model's process):
here both run in the test's process, as the model process runs them."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import numpy as np
import pandas as pd
import pytest

from glashaus.errors import InvalidArgumentError
from glashaus.serving.batching import Batcher, batch_key, merge, score_together


def split(rows, columns=("a", "b")):
    return {"dataframe_split": {"columns": list(columns), "data": rows}}


class Model:
    """Doubles column a; refuses strings; the first call waits at a gate so later calls queue up."""

    def __init__(self):
        self.calls = []
        self.gate = threading.Event()

    def score(self, payload):
        first = not self.calls
        self.calls.append(payload)
        if first:
            self.gate.wait(10)
        key = "dataframe_split" if "dataframe_split" in payload else "dataframe_records"
        frame = (
            pd.DataFrame(payload[key]["data"], columns=payload[key]["columns"])
            if key == "dataframe_split"
            else pd.DataFrame(payload[key])
        )
        if frame["a"].map(lambda v: isinstance(v, str)).any():
            raise InvalidArgumentError("column a must be a number")
        return np.asarray(frame["a"] * 2)


def together(score):
    return lambda payloads: score_together(score, payloads)


def test_waiting_requests_are_scored_in_one_call_and_split_back():
    model = Model()
    batcher = Batcher(together(model.score))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        first = pool.submit(batcher.predict, split([[1, 0]]))
        while not model.calls:
            time.sleep(0.001)
        rest = [pool.submit(batcher.predict, split([[i, 0], [i + 100, 0]])) for i in range(2, 8)]
        while batcher._queue.qsize() < 6:
            time.sleep(0.001)
        model.gate.set()
        assert first.result().tolist() == [2]
        assert [f.result().tolist() for f in rest] == [[2 * i, 2 * (i + 100)] for i in range(2, 8)]
    assert len(model.calls) == 2  # the first alone, the six waiting ones together
    assert len(model.calls[1]["dataframe_split"]["data"]) == 12
    batcher.close()


def test_one_bad_request_in_a_batch_gets_its_own_error_and_the_others_their_answers():
    model = Model()
    batcher = Batcher(together(model.score))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.predict, split([[1, 0]]))
        while not model.calls:
            time.sleep(0.001)
        good = pool.submit(batcher.predict, split([[5, 0]]))
        bad = pool.submit(batcher.predict, split([["x", 0]]))
        while batcher._queue.qsize() < 2:
            time.sleep(0.001)
        model.gate.set()
        assert first.result().tolist() == [2]
        assert good.result().tolist() == [10]
        with pytest.raises(InvalidArgumentError, match="must be a number"):
            bad.result()
    batcher.close()


def test_payloads_of_other_shapes_are_not_merged():
    assert batch_key(split([[1, 2]])) == ("split", ("a", "b"))
    assert batch_key(split([[1, 2]], columns=("b", "a"))) != batch_key(split([[1, 2]]))
    assert batch_key({"dataframe_records": [{"a": 1}]}) == ("records",)
    assert batch_key({"inputs": [[1]]}) is None
    assert batch_key({**split([[1, 2]]), "params": {"k": 1}}) is None
    assert merge([split([[1, 2]]), split([[3, 4]])]) == split([[1, 2], [3, 4]])


def test_a_model_whose_output_is_not_per_row_is_scored_request_by_request():
    calls = []
    gate = threading.Event()

    def score(payload):
        calls.append(payload)
        if len(calls) == 1:
            gate.wait(10)
        return {"summary": len(payload["dataframe_records"])}

    batcher = Batcher(together(score))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.predict, {"dataframe_records": [{"a": 1}]})
        while not calls:
            time.sleep(0.001)
        others = [pool.submit(batcher.predict, {"dataframe_records": [{"a": i}] * i}) for i in (2, 3)]
        while batcher._queue.qsize() < 2:
            time.sleep(0.001)
        gate.set()
        assert first.result() == {"summary": 1}
        assert [f.result() for f in others] == [{"summary": 2}, {"summary": 3}]
    batcher.close()


def doubling(calls):
    def score(payload):
        calls.append(payload)
        return np.asarray([row[0] * 2 for row in payload["dataframe_split"]["data"]])

    return score


def test_the_worker_waits_for_requests_on_their_way_and_scores_them_together():
    calls, asked, on_the_way = [], threading.Event(), [1]

    def arriving():
        asked.set()
        return on_the_way[0]

    batcher = Batcher(together(doubling(calls)), arriving=arriving, max_wait=60)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.predict, split([[1, 0]]))
        assert asked.wait(30)  # the worker holds the first request: one more is on its way
        on_the_way[0] = 0
        second = pool.submit(batcher.predict, split([[2, 0]]))
        assert first.result(timeout=30).tolist() == [2]
        assert second.result(timeout=30).tolist() == [4]
    assert [len(c["dataframe_split"]["data"]) for c in calls] == [2]  # one predict for both
    batcher.close()


def test_a_lone_request_is_scored_at_once_when_none_is_on_its_way():
    calls = []
    batcher = Batcher(together(doubling(calls)), arriving=lambda: 0, max_wait=60)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(batcher.predict, split([[3, 0]])).result(timeout=30).tolist() == [6]  # no 60 s wait
    batcher.close()

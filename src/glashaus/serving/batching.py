"""Adaptive batching: requests that arrive while a model is busy are parsed and scored together.

One worker thread per loaded model version takes the oldest waiting request and every
other request waiting at that moment (up to ``max_rows`` rows) whose payload can be
merged with it (``dataframe_split`` with the same columns, or ``dataframe_records``),
parses the merged payload against the signature once, calls ``predict`` once and hands
each caller its own slice of the predictions. Nothing waits for a batch to fill: a lone
request is scored at once, so latency at concurrency 1 is that of a direct call, while
under load the fixed costs of parsing and of the model (a tree ensemble costs a few
milliseconds whatever the row count) are paid once per batch instead of once per request.

If a merged batch fails (one request with a wrong type, say), each request is scored
alone, so every caller gets its own answer or its own error. A model whose output is
not one prediction per input row is never batched.

>>> batcher = Batcher(lambda payload: model.predict(parse(payload)))     # doctest: +SKIP
>>> batcher.predict({"dataframe_split": {"columns": [...], "data": [[...]]}})   # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

Payload = dict[str, Any]


def batch_key(payload: Payload) -> tuple[Any, ...] | None:
    """What a payload must share with others to be merged (None: score it alone)."""
    if len(payload) != 1:
        return None  # params, or more than one format
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if isinstance(split, dict) and set(split) <= {"columns", "data"} and isinstance(split.get("data"), list) \
                and isinstance(split.get("columns"), list) and all(isinstance(c, str) for c in split["columns"]):
            return ("split", tuple(split["columns"]))
        return None
    if "dataframe_records" in payload and isinstance(payload["dataframe_records"], list):
        return ("records",)
    return None


def rows_of(payload: Payload) -> int:
    if "dataframe_split" in payload:
        return len(payload["dataframe_split"]["data"])
    return len(payload["dataframe_records"])


def merge(payloads: list[Payload]) -> Payload:
    if "dataframe_split" in payloads[0]:
        columns = payloads[0]["dataframe_split"]["columns"]
        return {"dataframe_split": {"columns": columns,
                                    "data": [row for p in payloads for row in p["dataframe_split"]["data"]]}}
    return {"dataframe_records": [row for p in payloads for row in p["dataframe_records"]]}


class Batcher:
    """Scores payloads through ``score(payload) -> predictions``, merging concurrent ones."""

    def __init__(self, score: Callable[[Payload], Any], *, max_rows: int = 1024, name: str = "model") -> None:
        self._score = score
        self.max_rows = max_rows
        self._queue: queue.SimpleQueue[tuple[Payload, tuple, int, concurrent.futures.Future] | None] = \
            queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"glashaus-batch-{name}", daemon=True)
        self._thread.start()
        self.batches = 0
        self.requests = 0

    def predict(self, payload: Payload) -> Any:
        """The predictions for ``payload``, scored together with concurrent payloads when possible."""
        key = batch_key(payload)
        if key is None:
            return self._score(payload)
        rows = rows_of(payload)
        if rows == 0 or rows > self.max_rows:
            return self._score(payload)
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((payload, key, rows, future))
        return future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        held: list[tuple[Payload, tuple, int, concurrent.futures.Future]] = []
        while True:
            item = held.pop(0) if held else self._queue.get()
            if item is None:
                return
            batch, rows, stop = [item], item[2], False
            while rows < self.max_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if nxt[1] == item[1] and rows + nxt[2] <= self.max_rows:
                    batch.append(nxt)
                    rows += nxt[2]
                else:
                    held.append(nxt)  # another shape: the next batch starts with it
            self._run_batch(batch)
            if stop:
                for payload, _, _, future in held:
                    _settle(future, self._score, payload)
                return

    def _run_batch(self, batch: list[tuple[Payload, tuple, int, concurrent.futures.Future]]) -> None:
        self.batches += 1
        self.requests += len(batch)
        if len(batch) == 1:
            _settle(batch[0][3], self._score, batch[0][0])
            return
        try:
            out = self._score(merge([p for p, _, _, _ in batch]))
            parts = _split(out, [n for _, _, n, _ in batch])
        except Exception:  # noqa: BLE001 - one bad request must not fail the others
            parts = None
        if parts is None:  # a failure, or not one prediction per row: score each alone
            for payload, _, _, future in batch:
                _settle(future, self._score, payload)
            return
        for (_, _, _, future), part in zip(batch, parts, strict=True):
            future.set_result(part)


def _settle(future: concurrent.futures.Future, fn: Callable[[Any], Any], arg: Any) -> None:
    try:
        future.set_result(fn(arg))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
        future.set_exception(exc)


def _split(out: Any, sizes: list[int]) -> list[Any] | None:
    """``out`` cut into consecutive pieces of ``sizes`` rows, or None if it is not row-aligned."""
    total = sum(sizes)
    bounds = np.cumsum([0, *sizes])
    pairs = list(zip(bounds[:-1], bounds[1:], strict=True))
    if isinstance(out, pd.DataFrame | pd.Series) and len(out) == total:
        return [out.iloc[a:b].reset_index(drop=True) for a, b in pairs]
    if isinstance(out, np.ndarray) and out.ndim >= 1 and out.shape[0] == total:
        return [out[a:b] for a, b in pairs]
    if isinstance(out, list) and len(out) == total:
        return [out[a:b] for a, b in pairs]
    return None

"""Adaptive batching: requests that arrive while a model is busy are parsed and scored together.

Two halves. :class:`Batcher` (in the server) has one thread per loaded model version; it
takes the oldest waiting request and every other request waiting at that moment (up to
``max_rows`` rows) whose payload can be merged with it (``dataframe_split`` with the same
columns, or ``dataframe_records``) and hands them to ``run`` in one call.
:func:`score_together` (in the model's process, ``worker.py``) parses the merged payload
against the signature once, calls ``predict`` once and cuts the predictions into each
caller's slice. Nothing waits for a batch to fill: a lone request is scored at once, so
latency at concurrency 1 is that of a direct call, while under load the fixed costs of
parsing and of the model (a tree ensemble costs a few milliseconds whatever the row
count) are paid once per batch instead of once per request.

The batch thread also knows how many requests are on their way to it (``arriving``: the
runtime counts those the server accepted that have not reached a batcher yet). While some
are, it waits for them up to ``max_wait`` (2 ms) before scoring: a request that would have
missed the batch by a fraction of a millisecond would otherwise wait a whole predict for
the next one. With none on the way (one client, say) nothing waits.

If a merged batch fails (one request with a wrong type, say), each request is scored
alone, so every caller gets its own answer or its own error. A model whose output is
not one prediction per input row is never batched.

>>> def score(payload):   # a model that doubles its input
...     return [2 * row[0] for row in payload["dataframe_split"]["data"]]
>>> batcher = Batcher(lambda payloads: score_together(score, payloads))
>>> batcher.predict({"dataframe_split": {"columns": ["light"], "data": [[0.5], [2]]}})
[1.0, 4]
>>> batcher.close()
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Payload = dict[str, Any]
#: One request's outcome from ``run``: its answer, or the exception its caller raises.
Result = Any


def batch_key(payload: Payload) -> tuple[Any, ...] | None:
    """What a payload must share with others to be merged (None: score it alone)."""
    if len(payload) != 1:
        return None  # params, or more than one format
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if (
            isinstance(split, dict)
            and set(split) <= {"columns", "data"}
            and isinstance(split.get("data"), list)
            and isinstance(split.get("columns"), list)
            and all(isinstance(c, str) for c in split["columns"])
        ):
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
        return {
            "dataframe_split": {
                "columns": columns,
                "data": [row for p in payloads for row in p["dataframe_split"]["data"]],
            }
        }
    return {"dataframe_records": [row for p in payloads for row in p["dataframe_records"]]}


def score_together(score: Callable[[Payload], Any], payloads: list[Payload]) -> list[Result]:
    """Each payload's predictions (or the exception scoring it raised), with one ``score`` call
    for all of them when they can be merged (see :func:`batch_key`) and the output is row-aligned."""
    if len(payloads) > 1 and len({batch_key(p) for p in payloads}) == 1 and batch_key(payloads[0]) is not None:
        try:
            parts = _split(score(merge(payloads)), [rows_of(p) for p in payloads])
        except Exception:  # noqa: BLE001 - one bad request must not fail the others
            parts = None
        if parts is not None:
            return parts
    return [_outcome(score, p) for p in payloads]  # alone; or a failure, or not one prediction per row


class Batcher:
    """Hands concurrent payloads to ``run(payloads) -> [result or exception, ...]`` together."""

    def __init__(
        self,
        run: Callable[[list[Payload]], list[Result]],
        *,
        max_rows: int = 1024,
        name: str = "model",
        arriving: Callable[[], int] | None = None,
        max_wait: float = 0.002,
    ) -> None:
        self._run_batch_fn = run
        self.max_rows = max_rows
        self._arriving = arriving
        self.max_wait = max_wait
        self._queue: queue.SimpleQueue[tuple[Payload, tuple | None, int, concurrent.futures.Future] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name=f"glashaus-batch-{name}", daemon=True)
        self._thread.start()
        self.batches = 0
        self.requests = 0

    def predict(self, payload: Payload) -> Result:
        """The result for ``payload``, scored together with concurrent payloads when possible."""
        key = batch_key(payload)
        rows = rows_of(payload) if key is not None else 0
        if rows == 0 or rows > self.max_rows:
            key = None  # alone
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((payload, key, rows, future))
        return future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        held: list[tuple[Payload, tuple | None, int, concurrent.futures.Future]] = []
        while True:
            item = held.pop(0) if held else self._queue.get()
            if item is None:
                return
            batch, rows, stop = [item], item[2], False
            deadline = None
            while item[1] is not None and rows < self.max_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    if self._arriving is None or self._arriving() <= 0:
                        break
                    # Requests are on their way: wait a little for them rather than a whole predict.
                    deadline = deadline if deadline is not None else time.monotonic() + self.max_wait
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        nxt = self._queue.get(timeout=left)
                    except queue.Empty:
                        break
                if nxt is None:
                    stop = True
                    break
                if nxt[1] == item[1] and rows + nxt[2] <= self.max_rows:
                    batch.append(nxt)
                    rows += nxt[2]
                else:
                    held.append(nxt)  # another shape: a later batch starts with it
            self._run_batch(batch)
            if stop:
                for entry in held:
                    self._run_batch([entry])
                return

    def _run_batch(self, batch: list[tuple[Payload, tuple | None, int, concurrent.futures.Future]]) -> None:
        self.batches += 1
        self.requests += len(batch)
        try:
            results = self._run_batch_fn([payload for payload, _, _, _ in batch])
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch raises it
            results = [exc] * len(batch)
        for (_, _, _, future), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


def _outcome(score: Callable[[Payload], Any], payload: Payload) -> Result:
    try:
        return score(payload)
    except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
        return exc


def _split(out: Any, sizes: list[int]) -> list[Any] | None:
    """``out`` cut into consecutive pieces of ``sizes`` rows, or None if it is not row-aligned."""
    import pandas as pd

    total = sum(sizes)
    bounds = np.cumsum([0, *sizes])
    pairs = list(itertools.pairwise(bounds))
    if isinstance(out, pd.DataFrame | pd.Series) and len(out) == total:
        return [out.iloc[a:b].reset_index(drop=True) for a, b in pairs]
    if isinstance(out, np.ndarray) and out.ndim >= 1 and out.shape[0] == total:
        return [out[a:b] for a, b in pairs]
    if isinstance(out, list) and len(out) == total:
        return [out[a:b] for a, b in pairs]
    return None

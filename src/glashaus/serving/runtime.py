"""What a serving process keeps: model processes, one inference log per endpoint, metrics.

:meth:`ServingRuntime.invoke` is the whole request path of ``POST
/serving/<name>/invocations``: pick a variant by the traffic split, resolve it to a
model version (aliases and the endpoint's configuration are read again after at most
``_CONFIG_TTL``, one second, so a moved alias is picked up without a restart; EXECUTE is
checked and audited on every request), then hand the body, in one of MLflow's scoring
formats (``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``), to the
version's model process (``worker.py``), which parses it against the signature, predicts
(batched with concurrent requests: ``batching.py``) and writes MLflow's answer
(``{"predictions": ...}``); offer one row to the endpoint's inference log. A shadow
variant, if any, scores a copy of the request on a background thread; its answer is
only logged.

The EXECUTE check's audit event and the request's inference row are journaled together
when the request is scored (``AuditLog.durable_at_exit``, ``inference.py``): one metastore
transaction for the concurrent requests (group commit) instead of eight threads queueing
for SQLite's write lock, and the answer leaves only once both are durable. Each version gets one model process (concurrent first requests wait for its
start; one that stopped is started again on the next request), known by the model's
securable id, so a model dropped and re-created under its name is never served by the
old one's process; after a start this process's heap is frozen (:func:`_settle_for_serving`).

Bad input (not JSON, an unknown format, a missing column, a wrong type, an oversized
payload) is an :class:`~glashaus.errors.InvalidArgumentError` (400) that says what is
wrong; nothing the caller sends can cause a 500.
"""

from __future__ import annotations

import concurrent.futures
import gc
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from glashaus.access import Principal
from glashaus.errors import (
    AuthenticationError,
    GlashausError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from glashaus.serving.batching import Batcher
from glashaus.serving.endpoints import Endpoint
from glashaus.serving.inference import InferenceLog, Target, utcnow
from glashaus.serving.service import INVOKE, ServingService
from glashaus.serving.worker import ModelProcess

log = logging.getLogger("glashaus.serving")

DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
_CONFIG_TTL = 1.0  # seconds an endpoint's configuration is reused before it is read again
#: MLflow's scoring formats (``mlflow.pyfunc.scoring_server.SUPPORTED_FORMATS``), for messages.
_FORMATS = ["dataframe_records", "dataframe_split", "inputs", "instances"]


@dataclass
class Answer:
    body: bytes
    variant: str
    version: int | None


class ServingRuntime:
    """Per-process serving state over a :class:`ServingService`."""

    def __init__(
        self,
        service: ServingService,
        *,
        metrics: Any = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD,
        buffer_bytes: int = 256 * 1024 * 1024,
        flush_rows: int = 2_000,
        # Each flush is a Delta commit costing ~30 ms of CPU whatever its size, and it slows the
        # requests in flight meanwhile: every 5 s (or every flush_rows rows) keeps that rare.
        flush_interval: float = 5.0,
        seed: int | None = None,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.max_payload_bytes = max_payload_bytes
        # Started now: its first move takes the rows a crashed server left in the journal.
        self.inference = InferenceLog(
            service.journal, buffer_bytes=buffer_bytes, flush_rows=flush_rows, flush_interval=flush_interval
        )
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._configs: dict[str, tuple[float, Endpoint]] = {}
        self._models: dict[tuple[str, int], ModelProcess] = {}
        self._loading: dict[tuple[str, int], threading.Lock] = {}
        self._batchers: dict[int, Batcher] = {}
        self._targets: dict[tuple[str, str], tuple[float, tuple[Any, int]]] = {}
        self._sinks: dict[tuple[str, str | None, str], tuple[float, Target | None]] = {}
        self._shadow = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="glashaus-shadow")
        self._shadow_busy = threading.Semaphore(16)
        self._closed = False
        self._arriving = 0  # requests accepted by the server, not at a batcher yet (batching.py waits for them)

    # -- the request path -------------------------------------------------------------------------

    def arrival(self) -> Arrival:
        """Count a request as on its way to a batcher from now (the server calls this when it accepts one).

        >>> _ = lh.serving.create_endpoint("reco", model="main.shop.reco@champion", inference_table=None)
        >>> runtime = ServingRuntime(serving_service)
        >>> body = b'{"dataframe_split": {"columns": ["light", "water"], "data": [[0.9, 0.1]]}}'
        >>> with runtime.arrival() as arrival:
        ...     answer = runtime.invoke(bob, "reco", body, request_id="r1", arrival=arrival)
        >>> answer.variant, answer.version, answer.body
        ('champion', 1, b'{"predictions": [1]}')
        >>> runtime.close()
        """
        return Arrival(self)

    def invoke(
        self, who: Principal, name: str, payload: bytes, *, request_id: str, arrival: Arrival | None = None
    ) -> Answer:
        """Score ``payload`` (MLflow's JSON scoring formats) on endpoint ``name`` as ``who``."""
        with arrival if arrival is not None else Arrival(self) as arrival:
            return self._invoke(who, name, payload, request_id, arrival)

    def _invoke(self, who: Principal, name: str, payload: bytes, request_id: str, arrival: Arrival) -> Answer:
        started = time.perf_counter()
        endpoint = self._endpoint(name)
        variant = self._choose(endpoint)
        status, version, body, error = 200, None, b"", None
        try:
            # The EXECUTE check's audit event and the inference row are committed together when the
            # block is left (one journal transaction for all concurrent requests); the answer leaves
            # only once both are durable.
            with self.service.access.audit.durable_at_exit():
                try:
                    if len(payload) > self.max_payload_bytes:
                        raise InvalidArgumentError(
                            f"the request is {len(payload)} bytes; endpoint {name!r} accepts at most "
                            f"{self.max_payload_bytes} bytes: send fewer rows per request."
                        )
                    version, model = self._model(who, endpoint, variant)
                    arrival.reached()
                    body = self._predict(model, payload)
                except GlashausError as exc:
                    status, error = _status(exc), str(exc)
                    raise
                except Exception as exc:
                    status, error = 500, f"{type(exc).__name__}: {exc}"
                    raise
                finally:
                    if status != 403:  # a refused caller's payload is not logged (they may not use the model)
                        self._log(
                            endpoint,
                            who,
                            request_id,
                            variant,
                            version,
                            False,
                            status,
                            time.perf_counter() - started,
                            payload,
                            body,
                            error,
                        )
            return Answer(body, variant, version)
        except GlashausError as exc:  # also: the log is full, the journal failed (503)
            status = _status(exc)
            raise
        finally:
            if self.metrics is not None:
                self.metrics.observe(name, variant=variant, status=status, seconds=time.perf_counter() - started)
            if endpoint.shadow and status == 200:
                self._start_shadow(endpoint, who, request_id, payload)

    def _predict(self, model: ModelProcess, payload: bytes) -> bytes:
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgumentError(
                f"the request body is not valid JSON: {exc}. Send e.g. "
                '{"dataframe_split": {"columns": [...], "data": [[...]]}}.'
            ) from None
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"the request body must be a JSON object with one of the keys {_FORMATS}.")
        return self._batcher(model).predict(data)

    # -- pieces -----------------------------------------------------------------------------------

    def _batcher(self, model: ModelProcess) -> Batcher:
        batcher = self._batchers.get(id(model))
        if batcher is None:
            with self._lock:
                batcher = self._batchers.get(id(model))
                if batcher is None:
                    if not model.alive:  # retired while this request held it: no new batch thread for it
                        raise ServiceUnavailableError(
                            f"the process serving model {model.ref} was just replaced: retry."
                        )
                    batcher = self._batchers[id(model)] = Batcher(
                        model.score, arriving=lambda: self.arriving, name=model.ref
                    )
        return batcher

    @property
    def arriving(self) -> int:
        """Requests accepted by the server that have not reached a batcher yet."""
        return self._arriving

    def _arrive(self, change: int) -> None:
        with self._lock:
            self._arriving += change

    def _target(self, model: str, variant: str) -> tuple[Any, int]:
        """(model securable, version) of a variant, looked up again after ``_CONFIG_TTL`` seconds."""
        now = time.monotonic()
        cached = self._targets.get((model, variant))
        if cached is not None and now - cached[0] < _CONFIG_TTL:
            return cached[1]
        target = self.service.target(model, variant)
        self._targets[(model, variant)] = (now, target)
        return target

    def _endpoint(self, name: str) -> Endpoint:
        now = time.monotonic()
        cached = self._configs.get(name)
        if cached is not None and now - cached[0] < _CONFIG_TTL:
            return cached[1]
        endpoint = self.service.endpoint(name)
        self._configs[name] = (now, endpoint)
        return endpoint

    def _choose(self, endpoint: Endpoint) -> str:
        if len(endpoint.routes) == 1:
            return endpoint.routes[0].variant
        pick = self._random.uniform(0, 100)
        for route in endpoint.routes:
            pick -= route.traffic
            if pick < 0:
                return route.variant
        return endpoint.routes[-1].variant

    def _model(self, who: Principal, endpoint: Endpoint, variant: str) -> tuple[int, ModelProcess]:
        securable, version = self._target(endpoint.model, variant)
        self.service.guard.allow(
            who, INVOKE, securable, details={"endpoint": endpoint.name, "variant": variant, "version": version}
        )
        # By the model's id, not its name: a model dropped and re-created under the same name (by
        # anyone) is a new model, never served by the old one's process.
        key = (securable.id, version)
        model = self._models.get(key)
        if model is None or not model.alive:
            # One process per version: requests arriving meanwhile wait for its start instead of
            # loading the model again each (seconds and memory apiece).
            with self._lock:
                loading = self._loading.setdefault(key, threading.Lock())
            with loading:
                model = self._models.get(key)
                if model is None or not model.alive:
                    if model is not None:  # its process stopped: retire it, start another
                        self._retire(model)
                    ref = f"{endpoint.model}/{version}"
                    _, folder = self.service.registry.local_path(who, ref)  # checked as load checks it; audited
                    model = self._models[key] = ModelProcess.start(folder, ref=ref)
                    _settle_for_serving()
        return version, model

    def _retire(self, model: ModelProcess) -> None:
        with self._lock:
            batcher = self._batchers.pop(id(model), None)
        if batcher is not None:
            batcher.close()
        model.close()

    def _log(
        self,
        endpoint: Endpoint,
        who: Principal,
        request_id: str,
        variant: str,
        version: int | None,
        shadow: bool,
        status: int,
        seconds: float,
        payload: bytes,
        body: bytes,
        error: str | None,
    ) -> None:
        """Journal the request's inference row with its audit event (inside ``durable_at_exit``), or 503."""
        target = self._sink(endpoint)
        if target is None:
            return
        row = {
            "request_id": request_id,
            "event_time": utcnow(),
            "endpoint": endpoint.name,
            "model": endpoint.model,
            "model_version": version,
            "variant": variant,
            "shadow": shadow,
            "principal": who.name,
            "status_code": status,
            "latency_ms": seconds * 1000,
            "request": payload,
            "response": body or None,
            "error": error,
        }
        if not self.inference.offer(target, row):
            if shadow:
                return
            raise ServiceUnavailableError(
                f"endpoint {endpoint.name!r} cannot log more requests right now (its inference log is full: "
                f"{self.inference.buffer_bytes} bytes wait for {target.table}): retry in a few seconds."
            )
        if self.metrics is not None:
            self.metrics.logged.labels(endpoint.name).inc()
            self.metrics.pending.labels(endpoint.name).set(self.inference.pending(target.table_id))

    def _sink(self, endpoint: Endpoint) -> Target | None:
        """The endpoint's inference table, checked again after ``_CONFIG_TTL`` (503 if it was replaced)."""
        key = (endpoint.name, endpoint.inference_table_id, endpoint.owner)
        now = time.monotonic()
        cached = self._sinks.get(key)
        if cached is not None and now - cached[0] < _CONFIG_TTL:
            return cached[1]
        target = self.service.inference_target(endpoint)
        self._sinks[key] = (now, target)
        return target

    def _start_shadow(self, endpoint: Endpoint, who: Principal, request_id: str, payload: bytes) -> None:
        shadow = endpoint.shadow
        if shadow is None or self._closed or not self._shadow_busy.acquire(blocking=False):
            return  # shadow scoring is best effort: it never slows or blocks the live path

        def run() -> None:
            started, status, version, body, error = time.perf_counter(), 200, None, b"", None
            try:
                with self.service.access.audit.durable_at_exit():  # its audit event and row together
                    try:
                        version, model = self._model(who, endpoint, shadow)
                        body = self._predict(model, payload)
                    except GlashausError as exc:
                        status, error = _status(exc), str(exc)
                    except Exception as exc:  # noqa: BLE001 - a shadow failure is logged, never raised
                        status, error = 500, f"{type(exc).__name__}: {exc}"
                    self._log(
                        endpoint,
                        who,
                        request_id,
                        shadow,
                        version,
                        True,
                        status,
                        time.perf_counter() - started,
                        payload,
                        body,
                        error,
                    )
            except GlashausError as exc:  # the journal failed, or the inference table is gone
                log.warning("shadow request %s of endpoint %r was not logged: %s", request_id, endpoint.name, exc)
            finally:
                self._shadow_busy.release()

        self._shadow.submit(run)

    # -- lifecycle --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Forget cached endpoint configurations, alias targets and inference tables (re-read on the next request)."""
        self._configs.clear()
        self._targets.clear()
        self._sinks.clear()

    def wait_for_shadows(self) -> None:
        """Block until the shadow requests queued so far are scored and logged."""
        if not self._closed:
            self._shadow.submit(lambda: None).result()

    def flush(self) -> None:
        """Move every journaled inference row to its table now."""
        self.inference.flush()

    def close(self) -> None:
        """Finish shadow work and write every accepted inference row (clean shutdown; idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._shadow.shutdown(wait=True)
        for batcher in list(self._batchers.values()):
            batcher.close()
        for model in list(self._models.values()):
            model.close()
        self.inference.close()


def _settle_for_serving() -> None:
    """After a model process starts: ``gc.freeze()`` everything alive in this process now.

    Serving imports mlflow, pandas, scikit-learn and skops (the registry's checks): hundreds
    of thousands of long-lived objects, which every full collection walked again, stopping
    every request thread for ~200 ms about once every few thousand requests under load.
    Frozen objects are still freed by reference counting; only cycles among them stay
    until exit. Process-wide, and meant so: a serving runtime lives in a server process.
    """
    gc.collect()
    gc.freeze()


class Arrival:
    """A request on its way to a batcher, counted until it reaches one (or fails before)."""

    def __init__(self, runtime: ServingRuntime) -> None:
        self._runtime: ServingRuntime | None = runtime
        runtime._arrive(1)

    def reached(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime._arrive(-1)

    def __enter__(self) -> Arrival:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reached()


def _status(exc: GlashausError) -> int:
    """The HTTP status the server answers ``exc`` with (as ``server.wire.status_of``), for metrics and the log."""
    for cls, status in (
        (ServiceUnavailableError, 503),
        (PermissionDeniedError, 403),
        (AuthenticationError, 401),
        (NotFoundError, 404),
    ):
        if isinstance(exc, cls):
            return status
    return 400

"""What a serving process keeps: loaded models, one inference log per endpoint, metrics.

:meth:`ServingRuntime.invoke` is the whole request path of ``POST
/serving/<name>/invocations``: pick a variant by the traffic split, resolve it to a
model version (aliases and the endpoint's configuration are read again after at most
``_CONFIG_TTL``, one second, so a moved alias is picked up without a restart; EXECUTE is
checked and audited on every request), parse the body in one of MLflow's scoring
formats (``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``) against
the model's signature, predict (batched with concurrent requests: ``batching.py``), answer in MLflow's shape (``{"predictions": ...}``)
and offer one row to the endpoint's inference log. A shadow variant, if any, scores a
copy of the request on a background thread; its answer is only logged.

Bad input (not JSON, an unknown format, a missing column, a wrong type, an oversized
payload) is an :class:`~glashaus.errors.InvalidArgumentError` (400) that says what is
wrong; nothing the caller sends can cause a 500.
"""

from __future__ import annotations

import concurrent.futures
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
from glashaus.serving.inference import InferenceLog, utcnow
from glashaus.serving.service import ServingService

log = logging.getLogger("glashaus.serving")

DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
_CONFIG_TTL = 1.0  # seconds an endpoint's configuration is reused before it is read again


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
        buffer_rows: int = 100_000,
        flush_rows: int = 2_000,
        flush_interval: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.max_payload_bytes = max_payload_bytes
        self._log_options = {"max_rows": buffer_rows, "flush_rows": flush_rows, "flush_interval": flush_interval}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._configs: dict[str, tuple[float, Endpoint]] = {}
        self._models: dict[tuple[str, int], Any] = {}
        self._batchers: dict[int, Batcher] = {}
        self._targets: dict[tuple[str, str], tuple[float, tuple[Any, int]]] = {}
        self._logs: dict[str, InferenceLog] = {}
        self._shadow = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="glashaus-shadow")
        self._shadow_busy = threading.Semaphore(16)
        self._closed = False

    # -- the request path -------------------------------------------------------------------------

    def invoke(self, who: Principal, name: str, payload: bytes, *, request_id: str) -> Answer:
        """Score ``payload`` (MLflow's JSON scoring formats) on endpoint ``name`` as ``who``."""
        started = time.perf_counter()
        endpoint = self._endpoint(name)
        variant = self._choose(endpoint)
        status, version, body, error = 200, None, b"", None
        try:
            if len(payload) > self.max_payload_bytes:
                raise InvalidArgumentError(
                    f"the request is {len(payload)} bytes; endpoint {name!r} accepts at most "
                    f"{self.max_payload_bytes} bytes: send fewer rows per request.")
            version, model = self._model(who, endpoint, variant)
            body = self._predict(model, payload)
            return Answer(body, variant, version)
        except GlashausError as exc:
            status, error = _status(exc), str(exc)
            raise
        finally:
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe(name, variant=variant, status=status, seconds=seconds)
            if status != 403:  # a refused caller's payload is not logged (they may not use the model)
                self._log(endpoint, who, request_id, variant, version, False, status, seconds, payload, body, error)
            if endpoint.shadow and status == 200:
                self._start_shadow(endpoint, who, request_id, payload)

    def _predict(self, model: Any, payload: bytes) -> bytes:
        from mlflow.pyfunc import scoring_server

        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgumentError(f"the request body is not valid JSON: {exc}. Send e.g. "
                                       '{"dataframe_split": {"columns": [...], "data": [[...]]}}.') from None
        if not isinstance(data, dict):
            raise InvalidArgumentError("the request body must be a JSON object with one of the keys "
                                       f"{sorted(scoring_server.SUPPORTED_FORMATS)}.")
        raw = self._batcher(model).predict(data)
        out = _Collect()
        scoring_server.predictions_to_json(raw, out)
        return out.getvalue().encode()

    @staticmethod
    def _score(model: Any, data: dict[str, Any]) -> Any:
        """Parse one payload against the model's signature and predict (what the batcher calls)."""
        from mlflow.exceptions import MlflowException
        from mlflow.pyfunc import scoring_server

        params = data.get("params")
        if params is not None and not isinstance(params, dict):
            raise InvalidArgumentError("'params' must be a JSON object.")
        try:
            parsed = scoring_server.infer_and_parse_data({k: v for k, v in data.items() if k != "params"},
                                                         model.metadata.get_input_schema())
            return model.predict(parsed, params=params) if params else model.predict(parsed)
        except MlflowException as exc:
            raise InvalidArgumentError(f"the input does not match the model's signature: {exc.message}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidArgumentError(f"the model could not score this input: {exc}") from None

    # -- pieces -----------------------------------------------------------------------------------

    def _batcher(self, model: Any) -> Batcher:
        batcher = self._batchers.get(id(model))
        if batcher is None:
            with self._lock:
                batcher = self._batchers.get(id(model))
                if batcher is None:
                    batcher = self._batchers[id(model)] = Batcher(lambda data: self._score(model, data))
        return batcher

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

    def _model(self, who: Principal, endpoint: Endpoint, variant: str) -> tuple[int, Any]:
        securable, version = self._target(endpoint.model, variant)
        self.service.access.authorize(who, "EXECUTE", securable, action="serving.invoke",
                                      details={"endpoint": endpoint.name, "variant": variant, "version": version})
        key = (endpoint.model, version)
        model = self._models.get(key)
        if model is None:
            model = self.service.registry.load(who, f"{endpoint.model}/{version}")
            with self._lock:
                self._models.setdefault(key, model)
        return version, model

    def _log(self, endpoint: Endpoint, who: Principal, request_id: str, variant: str, version: int | None,
             shadow: bool, status: int, seconds: float, payload: bytes, body: bytes, error: str | None) -> None:
        if endpoint.inference_table is None:
            return
        inference = self._inference_log(endpoint)
        row = {"request_id": request_id, "event_time": utcnow(), "endpoint": endpoint.name,
               "model": endpoint.model, "model_version": version, "variant": variant, "shadow": shadow,
               "principal": who.name, "status_code": status, "latency_ms": seconds * 1000,
               "request": payload.decode("utf-8", "replace"), "response": body.decode() if body else None,
               "error": error}
        if not inference.offer(row):
            if shadow:
                return
            raise ServiceUnavailableError(
                f"endpoint {endpoint.name!r} cannot log more requests right now (its inference log is full): "
                "retry in a few seconds.")
        if self.metrics is not None:
            self.metrics.logged.labels(endpoint.name).inc()
            self.metrics.pending.labels(endpoint.name).set(inference.pending)

    def _inference_log(self, endpoint: Endpoint) -> InferenceLog:
        inference = self._logs.get(endpoint.name)
        if inference is None:
            with self._lock:
                inference = self._logs.get(endpoint.name)
                if inference is None:
                    owner = Principal.user(endpoint.owner)
                    table = endpoint.inference_table
                    tables = self.service.tables
                    inference = InferenceLog(lambda rows: tables.write(owner, table, rows),
                                             name=f"inference-{endpoint.name}", **self._log_options)
                    self._logs[endpoint.name] = inference
        return inference

    def _start_shadow(self, endpoint: Endpoint, who: Principal, request_id: str, payload: bytes) -> None:
        if self._closed or not self._shadow_busy.acquire(blocking=False):
            return  # shadow scoring is best effort: it never slows or blocks the live path

        def run() -> None:
            started, status, version, body, error = time.perf_counter(), 200, None, b"", None
            try:
                version, model = self._model(who, endpoint, endpoint.shadow)
                body = self._predict(model, payload)
            except GlashausError as exc:
                status, error = _status(exc), str(exc)
            except Exception as exc:  # noqa: BLE001 - a shadow failure is logged, never raised
                status, error = 500, f"{type(exc).__name__}: {exc}"
            finally:
                self._shadow_busy.release()
            self._log(endpoint, who, request_id, endpoint.shadow, version, True, status,
                      time.perf_counter() - started, payload, body, error)

        self._shadow.submit(run)

    # -- lifecycle --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Forget cached endpoint configurations and alias targets (they are re-read on the next request)."""
        self._configs.clear()
        self._targets.clear()

    def wait_for_shadows(self) -> None:
        """Block until the shadow requests queued so far are scored and logged."""
        if not self._closed:
            self._shadow.submit(lambda: None).result()

    def flush(self) -> None:
        """Write every endpoint's buffered inference rows now."""
        for inference in list(self._logs.values()):
            inference.flush()

    def close(self) -> None:
        """Finish shadow work and write every accepted inference row (clean shutdown; idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._shadow.shutdown(wait=True)
        for batcher in list(self._batchers.values()):
            batcher.close()
        for inference in list(self._logs.values()):
            inference.close()


class _Collect:
    """A tiny text sink for ``predictions_to_json``."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def getvalue(self) -> str:
        return "".join(self.parts)


def _status(exc: GlashausError) -> int:
    """The HTTP status the server answers ``exc`` with (as ``server.wire.status_of``), for metrics and the log."""
    for cls, status in ((ServiceUnavailableError, 503), (PermissionDeniedError, 403), (AuthenticationError, 401),
                        (NotFoundError, 404)):
        if isinstance(exc, cls):
            return status
    return 400

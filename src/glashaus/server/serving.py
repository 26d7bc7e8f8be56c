"""Online serving on ``glashaus serve``: ``POST /serving/<endpoint>/invocations`` and ``GET /metrics``.

A thin face over :class:`glashaus.serving.runtime.ServingRuntime`: sign-in with the
bearer token (as every route), then the runtime scores the request as the caller.
Answers are MLflow's (``{"predictions": [...]}``); errors are
``{"error_code", "message"}`` with 400 for bad input (including JSON nested deeper than
``wire.MAX_JSON_DEPTH``, refused here before anything parses it), 401, 403 (no EXECUTE on
the model; audited), 404 (no such endpoint), 503 (inference log full; retry), and 500
``INTERNAL_ERROR`` (JSON, never a trace) for a bug.

``/metrics`` is Prometheus' text format and needs a token like everything else
(Prometheus sends one with ``authorization: {credentials: ...}``). It shows the series of
the endpoints the caller may call (``lh.serving.list_endpoints``: EXECUTE on the model);
admins see every series. Give Prometheus a service principal with EXECUTE on the models
it should watch.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from starlette.concurrency import run_in_threadpool

from glashaus.access import request as audit_request
from glashaus.access.audit import client_address
from glashaus.errors import GlashausError, InvalidArgumentError
from glashaus.serving.metrics import CONTENT_TYPE, ServingMetrics
from glashaus.serving.runtime import ServingRuntime
from glashaus.server import wire

log = logging.getLogger("glashaus.server.serving")


#: The request body in the OpenAPI: one of MLflow's scoring formats (``docs/architecture.md``, serving).
_SCORING: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "One of MLflow's scoring formats.",
    "properties": {
        "dataframe_split": {"type": "object", "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "data": {"type": "array", "items": {"type": "array", "items": {}}}}},
        "dataframe_records": {"type": "array", "items": {"type": "object"}},
        "instances": {"type": "array", "items": {}},
        "inputs": {},
        "params": {"type": "object"},
    },
}}}}}


def mount(app: FastAPI, server: Any, **options: Any) -> ServingRuntime:
    """Add the serving routes; returns the runtime (closed by the server on shutdown)."""
    metrics = ServingMetrics()
    runtime = ServingRuntime(server.lakehouse.serving_service, metrics=metrics, **options)

    @app.post("/serving/{name}/invocations", tags=["serving"], operation_id="invoke_endpoint",
              summary="Score rows on a serving endpoint (MLflow's scoring formats).", openapi_extra=_SCORING)
    async def invocations(name: str, request: Request) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request_id = request_id[:64]
        address = request.client.host if request.client else "unknown"
        try:
            with runtime.arrival() as arrival:  # from here the batcher may wait a moment for this request
                server._check_length(request)
                # A token verified in the last few seconds is known without I/O: no thread hop for it.
                principal = server._authenticate(request, address, request_id, cached_only=True) \
                    or await run_in_threadpool(server._authenticate, request, address, request_id)
                body = await server._body(request)
                try:  # the runtime parses the body: nothing deeper than any scoring format nests may reach it
                    wire.check_json_depth(body)
                except wire.WireError as exc:
                    raise InvalidArgumentError(f"the request body cannot be scored: {exc}.") from None

                def work() -> Any:
                    with client_address(address), audit_request(request_id):
                        return runtime.invoke(principal, name, body, request_id=request_id, arrival=arrival)

                answer = await run_in_threadpool(work)
            response = Response(answer.body, media_type="application/json",
                                headers={"X-Model-Version": str(answer.version), "X-Variant": answer.variant})
        except GlashausError as exc:
            response = server.error(exc)
        except Exception:  # a bug: log it, answer JSON without a trace
            log.exception("serving request %s %s failed", request_id, request.url.path)
            response = JSONResponse(wire.error_body("INTERNAL_ERROR", f"internal error in request {request_id}; "
                                                    "the server log has the details."), status_code=500)
        response.headers["X-Request-Id"] = request_id
        return response

    @app.get("/metrics", tags=["serving"], operation_id="metrics",
             summary="Prometheus metrics of the serving endpoints the caller may call.")
    async def metrics_route(request: Request) -> Response:
        address = request.client.host if request.client else "unknown"
        request_id = uuid.uuid4().hex
        try:
            principal = await run_in_threadpool(server._authenticate, request, address, request_id)

            def visible() -> set[str] | None:
                with client_address(address), audit_request(request_id):
                    view = server.lakehouse.as_user(principal)
                    if view.access.is_admin(view.principal):
                        return None
                    return {e.name for e in view.serving.list_endpoints()}

            endpoints = await run_in_threadpool(visible)
        except GlashausError as exc:
            return server.error(exc)
        return Response(generate_latest(_Visible(metrics, endpoints)), media_type=CONTENT_TYPE)

    # Starlette tries routes in order and the API has a few hundred: the scoring route, the
    # hot path, goes first (no other route matches its paths, so nothing else changes).
    hot = [r for r in app.router.routes if getattr(r, "endpoint", None) in (invocations, metrics_route)]
    app.router.routes[:] = hot + [r for r in app.router.routes if r not in hot]
    return runtime


class _Visible:
    """The serving metrics of some endpoints only (``None``: all), as a Prometheus collector."""

    def __init__(self, metrics: ServingMetrics, endpoints: set[str] | None) -> None:
        self.metrics = metrics
        self.endpoints = endpoints

    def collect(self) -> Iterator[Metric]:
        for family in self.metrics.registry.collect():
            if self.endpoints is None:
                yield family
                continue
            kept = Metric(family.name, family.documentation, family.type, family.unit)
            kept.samples = [s for s in family.samples if s.labels.get("endpoint") in self.endpoints]
            yield kept

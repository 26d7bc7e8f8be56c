"""Online serving on ``glashaus serve``: ``POST /serving/<endpoint>/invocations`` and ``GET /metrics``.

A thin face over :class:`glashaus.serving.runtime.ServingRuntime`: sign-in with the
bearer token (as every route), then the runtime scores the request as the caller.
Answers are MLflow's (``{"predictions": [...]}``); errors are
``{"error_code", "message"}`` with 400 for bad input, 401, 403 (no EXECUTE on the
model; audited), 404 (no such endpoint), 503 (inference log full; retry).

``/metrics`` is Prometheus' text format and needs a token like everything else
(Prometheus sends one with ``authorization: {credentials: ...}``).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from glashaus.access import request as audit_request
from glashaus.access.audit import client_address
from glashaus.errors import GlashausError
from glashaus.serving.metrics import CONTENT_TYPE, ServingMetrics
from glashaus.serving.runtime import ServingRuntime
from glashaus.server import wire


def mount(app: FastAPI, server: Any, **options: Any) -> ServingRuntime:
    """Add the serving routes; returns the runtime (closed by the server on shutdown)."""
    metrics = ServingMetrics()
    runtime = ServingRuntime(server.lakehouse.serving_service, metrics=metrics, **options)

    @app.post("/serving/{name}/invocations", tags=["serving"], operation_id="invoke_endpoint",
              summary="Score rows on a serving endpoint (MLflow's scoring formats).")
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

                def work() -> Any:
                    with client_address(address), audit_request(request_id):
                        return runtime.invoke(principal, name, body, request_id=request_id, arrival=arrival)

                answer = await run_in_threadpool(work)
            response = Response(answer.body, media_type="application/json",
                                headers={"X-Model-Version": str(answer.version), "X-Variant": answer.variant})
        except GlashausError as exc:
            response = JSONResponse(wire.error_body(exc.code, str(exc)), status_code=wire.status_of(exc))
        response.headers["X-Request-Id"] = request_id
        return response

    @app.get("/metrics", tags=["serving"], operation_id="metrics", summary="Prometheus metrics of serving.")
    async def metrics_route(request: Request) -> Response:
        address = request.client.host if request.client else "unknown"
        try:
            await run_in_threadpool(server._authenticate, request, address, uuid.uuid4().hex)
        except GlashausError as exc:
            return JSONResponse(wire.error_body(exc.code, str(exc)), status_code=wire.status_of(exc))
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    # Starlette tries routes in order and the API has a few hundred: the scoring route, the
    # hot path, goes first (no other route matches its paths, so nothing else changes).
    hot = [r for r in app.router.routes if getattr(r, "endpoint", None) in (invocations, metrics_route)]
    app.router.routes[:] = hot + [r for r in app.router.routes if r not in hot]
    return runtime

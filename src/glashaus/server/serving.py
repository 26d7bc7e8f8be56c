"""Online serving on ``glashaus serve``: ``POST /serving/<endpoint>/invocations`` and ``GET /metrics``.

A thin face over :class:`glashaus.serving.runtime.ServingRuntime`, behind the request
layer like every face (``glashaus.http.layer``: a server-generated request id, the body
limit, the bearer token, JSON errors): the runtime scores the request as the caller.
Answers are MLflow's (``{"predictions": [...]}``); errors are ``{"error_code", "message"}``
with 400 for bad input (including JSON nested deeper than ``jsonio.MAX_JSON_DEPTH``,
refused here before anything parses it), 401, 403 (no EXECUTE on the model; audited), 404
(no such endpoint), 503 (inference log full; retry), and 500 ``INTERNAL_ERROR`` (JSON,
never a trace) for a bug. The inference table's ``request_id`` is the server's request id
(``X-Request-Id``); a client's own ``X-Request-Id`` is echoed as ``X-Correlation-Id`` and
kept in the audit log (``request.correlation``), committed with the request's other events.

``/metrics`` is Prometheus' text format and needs a token like everything else
(Prometheus sends one with ``authorization: {credentials: ...}``). It shows the series of
the endpoints the caller may call (``lh.serving.list_endpoints``: EXECUTE on the model);
admins see every series. Give Prometheus a service principal with EXECUTE on the models
it should watch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from starlette.responses import Response
from starlette.routing import BaseRoute

from glashaus.errors import InvalidArgumentError
from glashaus.http import jsonio
from glashaus.http.call import Call, Policy
from glashaus.http.formats import JSON_ERRORS
from glashaus.http.layer import RequestLayer
from glashaus.lakehouse import services
from glashaus.serving.metrics import CONTENT_TYPE, ServingMetrics
from glashaus.serving.runtime import ServingRuntime

POLICY = Policy(errors=JSON_ERRORS)


#: The route in the OpenAPI: the endpoint's name, and one of MLflow's scoring formats as the body
#: (``docs/architecture.md``, serving).
_SCORING: dict[str, Any] = {
    "parameters": [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "description": "the serving endpoint's name"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "One of MLflow's scoring formats.",
                    "properties": {
                        "dataframe_split": {
                            "type": "object",
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "data": {"type": "array", "items": {"type": "array", "items": {}}},
                            },
                        },
                        "dataframe_records": {"type": "array", "items": {"type": "object"}},
                        "instances": {"type": "array", "items": {}},
                        "inputs": {},
                        "params": {"type": "object"},
                    },
                }
            }
        },
    },
}


class ServingFace:
    """The serving routes, over one :class:`ServingRuntime` (closed when the server stops)."""

    def __init__(self, layer: RequestLayer, **options: Any) -> None:
        """``options`` go to the runtime (``max_payload_bytes``, ``buffer_bytes``, ``flush_rows``, ...)."""
        self.layer = layer
        self.metrics = ServingMetrics()
        self.runtime = ServingRuntime(services(layer.lakehouse).serving, metrics=self.metrics, **options)

    def routes(self) -> list[BaseRoute]:
        # Starlette tries routes in order and the API has a few hundred: these come first (the app
        # mounts this face first; no other route matches their paths, so nothing else changes).
        return [
            self.layer.api_route(
                "/serving/{name}/invocations",
                self.invocations,
                methods=["POST"],
                policy=POLICY,
                tags=["serving"],
                operation_id="invoke_endpoint",
                openapi_extra=_SCORING,
                summary="Score rows on a serving endpoint (MLflow's scoring formats).",
            ),
            self.layer.api_route(
                "/metrics",
                self.metrics_route,
                methods=["GET"],
                policy=POLICY,
                tags=["serving"],
                operation_id="metrics",
                summary="Prometheus metrics of the serving endpoints the caller may call.",
            ),
        ]

    def close(self) -> None:
        """Finish shadow requests and write the accepted inference rows."""
        self.runtime.close()

    async def invocations(self, call: Call) -> Response:
        runtime, principal = self.runtime, call.principal
        assert principal is not None, "POLICY signs every caller in"
        name = call.request.path_params["name"]
        with runtime.arrival() as arrival:  # from here the batcher may wait a moment for this request
            body = await call.body()
            try:  # the runtime parses the body: nothing deeper than any scoring format nests may reach it
                jsonio.check_json_depth(body)
            except jsonio.JsonError as exc:
                raise InvalidArgumentError(f"the request body cannot be scored: {exc}.") from None
            audit = services(self.layer.lakehouse).audit

            def work() -> Any:
                # A client's correlation id is committed with the request's audit event and inference
                # row (one journal transaction), not on its own.
                with audit.durable_at_exit() if call.correlation else contextlib.nullcontext():
                    call.correlate()
                    return runtime.invoke(principal, name, body, request_id=call.id, arrival=arrival)

            answer = await call.run(work, correlate=False)
        return Response(
            answer.body,
            media_type="application/json",
            headers={"X-Model-Version": str(answer.version), "X-Variant": answer.variant},
        )

    async def metrics_route(self, call: Call) -> Response:
        def visible() -> set[str] | None:
            view = call.lakehouse
            if services(view).access.is_admin(view.principal):
                return None
            return {e.name for e in view.serving.list_endpoints()}

        endpoints = await call.run(visible)
        return Response(generate_latest(_Visible(self.metrics, endpoints)), media_type=CONTENT_TYPE)


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

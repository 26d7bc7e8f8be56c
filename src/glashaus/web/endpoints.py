"""The web shell's serving pages: the endpoints list and one endpoint with its newest inferences.

Faces over ``lh.serving.list_endpoints`` and ``get_endpoint`` (an endpoint shows only to
callers who may EXECUTE its model), ``lh.models.version`` for the version each route
serves now, and ``lh.sql`` for the newest rows of the inference table, read as the
caller: without SELECT on that table the page shows the refusal in place of the rows.

>>> inference_query("main.shop.reco_inference", limit=5)  # doctest: +ELLIPSIS
'SELECT event_time, request_id, ... FROM "main"."shop"."reco_inference" ORDER BY event_time DESC LIMIT 5'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp
from starlette.responses import Response

from glashaus.catalog.names import parse_name
from glashaus.errors import GlashausError
from glashaus.web.render import table_rows

if TYPE_CHECKING:
    from glashaus.web.pages import Caller

#: Inference rows shown on an endpoint's page.
INFERENCE_ROWS = 20
INFERENCE_COLUMNS = (
    "event_time",
    "request_id",
    "variant",
    "model_version",
    "shadow",
    "principal",
    "status_code",
    "latency_ms",
    "request",
    "response",
    "error",
)


def endpoints_page(caller: Caller) -> Response:
    """``/endpoints``: the endpoints whose model the caller may execute."""
    return caller.render(
        "endpoints.html", title="Endpoints", active="endpoints", endpoints=caller.view.serving.list_endpoints()
    )


def endpoint_page(caller: Caller) -> Response:
    """``/endpoints/<name>``: model, traffic split, shadow, owner, URL path and the newest inference rows."""
    lh = caller.view
    endpoint = lh.serving.get_endpoint(caller.request.path_params["name"])
    routes = [
        {"variant": r.variant, "traffic": r.traffic, **_serves(caller, endpoint.model, r.variant)}
        for r in endpoint.routes
    ]
    shadow = (
        {"variant": endpoint.shadow, **_serves(caller, endpoint.model, endpoint.shadow)} if endpoint.shadow else None
    )
    rows, rows_error = None, None
    if endpoint.inference_table:
        try:  # the caller's own read: the table's grants, row filters and masks apply
            rows = table_rows(
                lh.sql(inference_query(endpoint.inference_table, limit=INFERENCE_ROWS)).to_arrow(), limit=INFERENCE_ROWS
            )
        except GlashausError as exc:
            rows_error = caller.message(exc)
    return caller.render(
        "endpoint.html",
        title=f"Endpoint {endpoint.name}",
        active="endpoints",
        endpoint=endpoint,
        routes=routes,
        shadow=shadow,
        rows=rows,
        rows_error=rows_error,
        limit=INFERENCE_ROWS,
    )


def inference_query(table: str, *, limit: int) -> str:
    """The newest rows of an inference table (the name is validated and quoted, never pasted)."""
    name = parse_name(table, allow_version=False)
    return (
        exp.select(*INFERENCE_COLUMNS)
        .from_(exp.table_(name.object, db=name.schema, catalog=name.catalog, quoted=True))
        .order_by(exp.Ordered(this=exp.column("event_time"), desc=True))
        .limit(limit)
        .sql(dialect="duckdb")
    )


def _serves(caller: Caller, model: str, variant: str) -> dict[str, Any]:
    """The version an alias (or version number) of the model names now, or why it names none."""
    try:
        return {"version": caller.view.models.version(f"{model}@{variant}").version, "problem": None}
    except GlashausError as exc:
        return {"version": None, "problem": caller.message(exc)}

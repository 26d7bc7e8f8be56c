"""The web shell's trace pages: an experiment's traces, and one trace as its span tree.

Faces over ``lh.traces.search`` and ``lh.traces.get``, as the signed-in caller: a trace of
an experiment the caller may not EXECUTE is refused (403, audited), as everywhere.
An experiment's catalog page links here.

>>> rows = span_tree([Span("tr-1", "a", "root", 1, 9), Span("tr-1", "b", "child", 2, 5, parent_span_id="a")])
>>> [(r["depth"], r["span"].name, r["duration_ms"]) for r in rows]
[(0, 'root', 8e-06), (1, 'child', 3e-06)]
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from glashaus.errors import NotFoundError
from glashaus.tracing.entities import Span

if TYPE_CHECKING:
    from glashaus.web.pages import Caller

#: Traces listed on an experiment's trace page.
TRACE_ROWS = 100
INPUTS, OUTPUTS = "mlflow.spanInputs", "mlflow.spanOutputs"
#: Attributes MLflow sets on every span that the page shows elsewhere, or that say nothing to a reader.
_SHOWN_APART = {INPUTS, OUTPUTS, "mlflow.spanType", "mlflow.traceRequestId", "mlflow.spanFunctionName"}


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pretty(text: str | None) -> str:
    """JSON text indented for reading (text that is no JSON as it is)."""
    if text is None:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def span_tree(spans: list[Span]) -> list[dict[str, Any]]:
    """Rows for spans in tree order (as ``lh.traces.get`` gives them: each parent before its children),
    each with its depth below its root and its duration."""
    depths: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for span in spans:
        depth = depths[span.parent_span_id] + 1 if span.parent_span_id in depths else 0
        depths[span.span_id] = depth
        duration = None if span.end_time_ns is None else (span.end_time_ns - span.start_time_ns) / 1e6
        rows.append(
            {
                "span": span,
                "depth": depth,
                "duration_ms": duration,
                "inputs": _pretty(span.attributes.get(INPUTS)),
                "outputs": _pretty(span.attributes.get(OUTPUTS)),
                "attributes": {k: v for k, v in sorted(span.attributes.items()) if k not in _SHOWN_APART},
            }
        )
    return rows


def traces_page(caller: Caller) -> Response:
    """``/traces?experiment=<name or id>``: the experiment's newest traces."""
    experiment = caller.request.query_params.get("experiment", "")
    lh = caller.view
    try:
        found = lh.experiments.get(experiment)
    except NotFoundError:  # named by its securable (the catalog page's link), e.g. main.default.default_0
        named = [e for e in lh.experiments.search(view="all") if e.securable == experiment]
        if not named:
            raise
        found = named[0]
    traces = lh.traces.search([found.experiment_id], max_results=TRACE_ROWS)
    return caller.render(
        "traces.html",
        title=f"Traces of {found.name}",
        active="catalog",
        experiment=found,
        traces=[{"info": t, "when": _when(t.request_time)} for t in traces],
        limit=TRACE_ROWS,
    )


def trace_page(caller: Caller) -> Response:
    """``/traces/<trace_id>``: the trace's facts, tags and its spans as a tree."""
    lh = caller.view
    trace = lh.traces.get(caller.request.path_params["trace_id"])
    experiment = lh.experiments.get(trace.info.experiment_id)
    return caller.render(
        "trace.html",
        title=f"Trace {trace.info.trace_id}",
        active="catalog",
        trace=trace,
        experiment=experiment,
        when=_when(trace.info.request_time),
        rows=span_tree(trace.spans),
    )

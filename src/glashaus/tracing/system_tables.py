"""``system.ml.traces`` and ``system.ml.spans``: traces and their spans as tables in SQL.

Computed when a query names them and holding only what the reader may see: the traces and
spans of experiments on which the reader has EXECUTE, each contributing experiment
authorized and audited (``sql.select.system_ml``), as ``system.ml.runs``. Spans come from the
Delta span log (``system.ml.span_log``), one row per span, attributes as a map of JSON text,
so they join with ``system.ml.runs`` and inference tables.

>>> lh.sql("SELECT count(*) FROM system.ml.spans").scalar() >= 0
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from glashaus.access import Principal
from glashaus.tracing.rows import TraceRow
from glashaus.tracing.spans import SPAN_LOG
from glashaus.tracking.system_tables import readable_experiments

_TS = pa.timestamp("ms", tz="UTC")
TRACES = pa.schema(
    [
        ("trace_id", pa.string()),
        ("experiment_id", pa.string()),
        ("experiment", pa.string()),
        ("request_time", _TS),
        ("execution_duration_ms", pa.int64()),
        ("state", pa.string()),
        ("request_preview", pa.string()),
        ("response_preview", pa.string()),
        ("client_request_id", pa.string()),
        ("tags", pa.map_(pa.string(), pa.string())),
        ("metadata", pa.map_(pa.string(), pa.string())),
        ("run_ids", pa.list_(pa.string())),
    ]
)
SPANS = pa.schema([pa.field("experiment", pa.string()), *SPAN_LOG.arrow_schema])


def traces_table(service: Any, who: Principal) -> pa.Table:
    """Every trace the reader may see, one row each."""
    experiments = readable_experiments(service.tracking, who)
    with service.metastore.session() as s:
        ids = list(
            s.scalars(
                sa.select(TraceRow.trace_id)
                .where(TraceRow.experiment_id.in_(list(experiments)))
                .order_by(TraceRow.request_time, TraceRow.trace_id)
            )
        )
    infos = service.infos(ids)
    return pa.table(
        {
            "trace_id": [i.trace_id for i in infos],
            "experiment_id": [i.experiment_id for i in infos],
            "experiment": [experiments[int(i.experiment_id)] for i in infos],
            "request_time": [i.request_time for i in infos],
            "execution_duration_ms": [i.execution_duration for i in infos],
            "state": [i.state for i in infos],
            "request_preview": [i.request_preview for i in infos],
            "response_preview": [i.response_preview for i in infos],
            "client_request_id": [i.client_request_id for i in infos],
            "tags": [sorted(i.tags.items()) for i in infos],
            "metadata": [sorted(i.metadata.items()) for i in infos],
            "run_ids": [i.run_ids for i in infos],
        },
        schema=TRACES,
    )


def spans_table(service: Any, who: Principal) -> pa.Table:
    """Every span of the traces the reader may see (the experiments' rows of the span log)."""
    experiments = readable_experiments(service.tracking, who)
    rows = service.spans.read([str(e) for e in experiments])
    names = pa.array([experiments[int(e)] for e in rows.column("experiment_id").to_pylist()], pa.string())
    return rows.add_column(0, SPANS.field("experiment"), names).cast(SPANS)


def providers(service: Any) -> dict[str, Callable[[Principal], pa.Table]]:
    """The virtual system tables this capability offers to SQL, by full name."""
    return {
        "system.ml.traces": lambda who: traces_table(service, who),
        "system.ml.spans": lambda who: spans_table(service, who),
    }

"""Spans as rows of a Delta table: ``system.ml.span_log``, one row per span, written only by Glashaus.

The table is append-only for logging: a batch of spans is one commit, so a batch is in the
table whole or not at all. Deleting traces deletes their rows in one commit (a failed delete
leaves the table at its previous version). Users read spans through ``system.ml.spans``
(:mod:`glashaus.tracing.system_tables`), which holds only the rows of the experiments the
reader may read; the table itself is the system catalog's, readable only by admins and by
whom they grant ``SELECT`` on it.

A span sent twice (a client retrying) is two rows; readers keep the last one.

>>> SPAN_LOG.name.full
'system.ml.span_log'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from glashaus.access.principal import SYSTEM
from glashaus.access.system_tables import SystemTable, SystemTables
from glashaus.errors import InvalidArgumentError
from glashaus.tracing.entities import Span

_TS = pa.timestamp("us", tz="UTC")

SPAN_LOG = SystemTable(
    "ml",
    "span_log",
    pa.schema(
        [
            pa.field("trace_id", pa.string(), nullable=False),
            pa.field("experiment_id", pa.string(), nullable=False),
            pa.field("span_id", pa.string(), nullable=False),
            pa.field("parent_span_id", pa.string()),
            pa.field("name", pa.string()),
            pa.field("span_type", pa.string()),
            pa.field("kind", pa.int32()),
            pa.field("start_time", _TS),
            pa.field("end_time", _TS),
            pa.field("start_time_ns", pa.int64()),
            pa.field("end_time_ns", pa.int64()),
            pa.field("status_code", pa.string()),
            pa.field("status_message", pa.string()),
            pa.field("attributes", pa.map_(pa.string(), pa.string())),
            pa.field("events", pa.string()),
            pa.field("logged_by", pa.string()),
        ]
    ),
    "MLflow trace spans, one row per span (read them in system.ml.spans: only your experiments' rows).",
)

#: MLflow trace ids: ``tr-<hex>`` (or an OpenTelemetry-style id); never quotes or spaces.
_TRACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,49}")


def check_trace_id(trace_id: object) -> str:
    """A trace id as given, or :class:`InvalidArgumentError` naming it.

    >>> check_trace_id("tr-0af7651916cd43dd8448eb211c80319c")
    'tr-0af7651916cd43dd8448eb211c80319c'
    >>> check_trace_id("x' OR 1=1")
    Traceback (most recent call last):
    glashaus.errors.InvalidArgumentError: invalid trace id "x' OR 1=1": a trace id is 1-50 letters, digits and ._:/- (e.g. tr-0af7...).
    """
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        raise InvalidArgumentError(
            f"invalid trace id {trace_id!r:.80}: a trace id is 1-50 letters, digits and ._:/- (e.g. tr-0af7...)."
        )
    return trace_id


def _micros(ns: int | None) -> int | None:
    return None if ns is None else ns // 1000


def span_rows(spans: Iterable[Span], *, experiment_id: str, logged_by: str) -> pa.Table:
    """The rows of ``spans`` for the span log."""
    rows = [
        {
            "trace_id": s.trace_id,
            "experiment_id": experiment_id,
            "span_id": s.span_id,
            "parent_span_id": s.parent_span_id,
            "name": s.name,
            "span_type": s.span_type,
            "kind": s.kind,
            "start_time": _micros(s.start_time_ns),
            "end_time": _micros(s.end_time_ns),
            "start_time_ns": s.start_time_ns,
            "end_time_ns": s.end_time_ns,
            "status_code": s.status_code,
            "status_message": s.status_message,
            "attributes": sorted(s.attributes.items()),
            "events": json.dumps(s.events),
            "logged_by": logged_by,
        }
        for s in spans
    ]
    return pa.Table.from_pylist(rows, schema=SPAN_LOG.arrow_schema)


class SpanLog:
    """The span log's reads and writes (as ``system``: callers have authorized the experiments first)."""

    def __init__(self, system: SystemTables) -> None:
        self.system = system
        self.store = system.store
        self.location = system.layout.system_location(SPAN_LOG.name)

    def append(self, rows: pa.Table) -> None:
        """One commit of all ``rows`` (nothing is written when it fails)."""
        if rows.num_rows:
            self.system.append(SPAN_LOG, rows.to_pylist())

    def read(self, experiment_ids: Iterable[str], trace_ids: Iterable[str] | None = None) -> pa.Table:
        """The rows of these experiments (and traces), the last copy of each span, ordered by start time."""
        experiments = sorted(set(experiment_ids))
        if not experiments or not self.store.exists(self.location):
            return SPAN_LOG.arrow_schema.empty_table()
        where = pc.field("experiment_id").isin(experiments)
        if trace_ids is not None:
            where = where & pc.field("trace_id").isin(sorted(set(trace_ids)))
        table = self.store.table(self.location).to_pyarrow_dataset().to_table(filter=where)
        if table.num_rows == 0:
            return table
        # A span logged twice: keep its last copy (rows keep their commit order in the dataset).
        keys = zip(
            table.column("experiment_id").to_pylist(),
            table.column("trace_id").to_pylist(),
            table.column("span_id").to_pylist(),
            strict=True,
        )
        last = {key: i for i, key in enumerate(keys)}  # a later copy overwrites an earlier one
        table = table.take(sorted(last.values()))
        return table.sort_by([("trace_id", "ascending"), ("start_time_ns", "ascending"), ("span_id", "ascending")])

    def delete(self, experiment_id: str, trace_ids: list[str]) -> None:
        """Remove the rows of these traces of this experiment in one commit (ids checked: no quoting needed)."""
        if not trace_ids or not self.store.exists(self.location):
            return
        ids = ", ".join(f"'{check_trace_id(t)}'" for t in trace_ids)
        if not experiment_id.isdigit():
            raise InvalidArgumentError(f"invalid experiment id {experiment_id!r:.40}.")
        securable = self.system.catalog.get(SPAN_LOG.name)
        grant = self.store.rewrites.admit(SYSTEM, securable, kind="delete", operation="DELETE")
        self.store.delete(
            self.location,
            grant=grant,
            predicate=f"experiment_id = '{experiment_id}' AND trace_id IN ({ids})",
            table_name=SPAN_LOG.name.full,
        )


def spans_of(table: pa.Table) -> list[Span]:
    """The rows of the span log as :class:`Span` values."""
    out = []
    for row in table.to_pylist():
        out.append(
            Span(
                trace_id=row["trace_id"],
                span_id=row["span_id"],
                name=row["name"] or "",
                start_time_ns=row["start_time_ns"] or 0,
                end_time_ns=row["end_time_ns"],
                parent_span_id=row["parent_span_id"],
                span_type=row["span_type"],
                kind=row["kind"] if row["kind"] is not None else 1,
                status_code=row["status_code"] or "UNSET",
                status_message=row["status_message"] or "",
                attributes=dict(row["attributes"] or []),
                events=json.loads(row["events"]) if row["events"] else [],
            )
        )
    return out

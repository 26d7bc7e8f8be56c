"""MLflow 3 tracing, governed: traces (info in the metastore) and their spans (rows of a Delta table).

A trace lives in one experiment, and the experiment's grants decide (each decision through
the guard, audited):

==================================================  ===============================
reading a trace, its spans, searching traces        ``EXECUTE`` on the experiment
logging a trace or spans, tagging, deleting,        ``MODIFY`` on the experiment
linking traces to a run                             (and on the run's experiment)
==================================================  ===============================

Spans are logged before their trace's info (MLflow's client sends each span as it ends,
and the trace when its root span ends); both name the experiment, and a trace id taken
by another experiment is refused. Spans for an experiment the caller may not ``MODIFY``
are refused whole: nothing is written.

>>> svc.log_spans(alice, exp_id, [Span("tr-1", "a1", "plan", start_time_ns=10**18), Span("tr-1", "b2", "act",
...     start_time_ns=10**18 + 1, parent_span_id="a1")])
2
>>> svc.start_trace(alice, TraceInfo("tr-1", exp_id, request_time=10**9, execution_duration=5)).end_time
1000000005
>>> [s.name for s in lh.traces.get("tr-1").spans]
['plan', 'act']
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from glashaus.access import Principal
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.metastore import affected
from glashaus.tracing.entities import TRACE_STATES, Span, Trace, TraceInfo
from glashaus.tracing.rows import TraceRow, TraceRunRow, TraceTagRow
from glashaus.tracing.spans import SpanLog, check_trace_id, span_rows, spans_of
from glashaus.tracking.entities import Page
from glashaus.tracking.rules import check_max_results, mlflow_rules, page_offset, search_utils
from glashaus.tracking.rules import page_token as token_at  # search_traces' parameter is named page_token
from glashaus.tracking.service import TrackingService

#: MLflow's limits: tag keys, traces per link or batch request.
MAX_TAG_KEY = 250
MAX_LINKED = 100
#: The trace tag that tells MLflow's client its spans are in the tracking store (no traces.json upload).
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
SOURCE_RUN = "mlflow.sourceRun"


class TracingService:
    def __init__(self, *, tracking: TrackingService, spans: SpanLog) -> None:
        self.tracking = tracking
        self.metastore = tracking.metastore
        self.spans = spans

    # -- governance ----------------------------------------------------------------------

    def _experiment(self, who: Principal, experiment_id: Any, privilege: str, action: str) -> str:
        row, _ = self.tracking.experiment_for(
            who, experiment_id, privilege, action=action, active=privilege == "MODIFY"
        )
        return str(row.id)

    def _trace(self, who: Principal, trace_id: Any, privilege: str, action: str) -> TraceRow:
        check_trace_id(trace_id)
        with self.metastore.session() as s:
            row = s.get(TraceRow, trace_id)
        if row is None:
            raise NotFoundError(f"Trace with ID {trace_id} is not found.")
        self.tracking.experiment_for(who, row.experiment_id, privilege, action=action)
        return row

    # -- writing -------------------------------------------------------------------------

    def start_trace(self, who: Principal, info: TraceInfo) -> TraceInfo:
        """Record a trace's info in its experiment (``MODIFY``); sent again, the newer info replaces it.

        MLflow's client calls it (``StartTraceV3``) when the trace's root span ends.
        """
        check_trace_id(info.trace_id)
        if info.state not in TRACE_STATES:
            raise InvalidArgumentError(f"invalid trace state {info.state!r}: one of {', '.join(TRACE_STATES)}.")
        for key in info.tags:
            _check_key(key)
        experiment_id = self._experiment(who, info.experiment_id, "MODIFY", "trace.log")
        with self.metastore.session() as s:
            row = s.get(TraceRow, info.trace_id)
            if row is not None and str(row.experiment_id) != experiment_id:
                raise InvalidArgumentError(
                    f"trace {info.trace_id} belongs to another experiment; a trace id names one trace."
                )
            if row is None:
                row = TraceRow(trace_id=info.trace_id, experiment_id=int(experiment_id), created_by=who.name)
                s.add(row)
            row.client_request_id = info.client_request_id
            row.request_time = int(info.request_time)
            row.execution_duration = info.execution_duration
            row.state = info.state
            row.request_preview = info.request_preview
            row.response_preview = info.response_preview
            row.trace_metadata = dict(info.metadata)
            s.flush()
            for key, value in info.tags.items():
                s.merge(TraceTagRow(trace_id=info.trace_id, key=key, value=str(value)))
            s.commit()
        return self.get_trace_info(who, info.trace_id)

    def log_spans(self, who: Principal, experiment_id: str, spans: list[Span]) -> int:
        """Append spans to the span log (``MODIFY`` on the experiment): all of them in one commit, or none.

        A span of a trace that another experiment holds is refused (nothing is written).
        """
        experiment = self._experiment(who, experiment_id, "MODIFY", "trace.log_spans")
        trace_ids = sorted({check_trace_id(s.trace_id) for s in spans})
        with self.metastore.session() as s:
            taken = s.execute(
                sa.select(TraceRow.trace_id).where(
                    TraceRow.trace_id.in_(trace_ids), TraceRow.experiment_id != int(experiment)
                )
            ).first()
        if taken is not None:
            raise InvalidArgumentError(
                f"trace {taken[0]} belongs to another experiment: log its spans there (nothing was written)."
            )
        self.spans.append(span_rows(spans, experiment_id=experiment, logged_by=who.name))
        return len(spans)

    def set_trace_tag(self, who: Principal, trace_id: str, key: str, value: str) -> None:
        """Set a tag on a trace (``MODIFY`` on its experiment).

        >>> lh.traces.set_tag(trace_id, "reviewed", "yes")
        >>> lh.traces.get(trace_id).info.tags["reviewed"]
        'yes'
        """
        _check_key(key)
        self._trace(who, trace_id, "MODIFY", "trace.set_tag")
        with self.metastore.session() as s:
            s.merge(TraceTagRow(trace_id=trace_id, key=key, value=str(value)))
            s.commit()

    def delete_trace_tag(self, who: Principal, trace_id: str, key: str) -> None:
        """Remove a tag from a trace (``MODIFY`` on its experiment); a tag it does not have is a ``NotFoundError``.

        >>> lh.traces.set_tag(trace_id, "reviewed", "yes")
        >>> lh.traces.delete_tag(trace_id, "reviewed")
        >>> "reviewed" in lh.traces.get(trace_id).info.tags
        False
        """
        self._trace(who, trace_id, "MODIFY", "trace.delete_tag")
        with self.metastore.session() as s:
            gone = affected(
                s.execute(sa.delete(TraceTagRow).where(TraceTagRow.trace_id == trace_id, TraceTagRow.key == key))
            )
            s.commit()
        if not gone:
            raise NotFoundError(f"No trace tag with key '{key}' for trace with ID '{trace_id}'")

    def delete_traces(
        self,
        who: Principal,
        experiment_id: str,
        *,
        trace_ids: list[str] | None = None,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
    ) -> int:
        """Delete traces of an experiment (``MODIFY``) and their spans; returns how many were deleted.

        Either ``trace_ids``, or ``max_timestamp_millis`` (traces that started before it; at most
        ``max_traces`` of the oldest). The span rows go in one Delta commit with the trace rows: if
        that commit fails, nothing is deleted.

        >>> lh.traces.delete(exp_id, trace_ids=[trace_id])
        1
        """
        if (trace_ids is None) == (max_timestamp_millis is None):
            raise InvalidArgumentError(
                "Exactly one of 'max_timestamp_millis' and 'request_ids' (trace_ids) must be specified."
            )
        if trace_ids is not None and max_traces is not None:
            raise InvalidArgumentError("'max_traces' can't be specified if 'request_ids' is specified.")
        if max_traces is not None and max_traces <= 0:
            raise InvalidArgumentError(f"'max_traces' must be a positive integer, got {max_traces}.")
        experiment = self._experiment(who, experiment_id, "MODIFY", "trace.delete")
        query = sa.select(TraceRow.trace_id).where(TraceRow.experiment_id == int(experiment))
        if trace_ids is not None:
            query = query.where(TraceRow.trace_id.in_([check_trace_id(t) for t in trace_ids]))
        else:
            query = query.where(TraceRow.request_time <= int(max_timestamp_millis or 0))
            query = query.order_by(TraceRow.request_time, TraceRow.trace_id)
            if max_traces is not None:
                query = query.limit(max_traces)
        with self.metastore.session() as s:
            doomed = list(s.scalars(query))
            if not doomed:
                return 0
            s.execute(sa.delete(TraceRow).where(TraceRow.trace_id.in_(doomed)))
            s.flush()
            # The spans' commit first: if it fails, the session rolls back and the traces stay whole.
            self.spans.delete(experiment, doomed)
            s.commit()
        return len(doomed)

    def link_traces_to_run(self, who: Principal, trace_ids: list[str], run_id: str) -> None:
        """Link traces to a run (``MODIFY`` on the run's experiment and on each trace's), as MLflow's
        ``link_traces_to_run``; at most 100 traces per call."""
        if len(trace_ids) > MAX_LINKED:
            raise InvalidArgumentError(f"Cannot link more than {MAX_LINKED} traces to a run in a single request.")
        self.tracking.run_for(who, run_id, "MODIFY", action="trace.link_to_run")
        for trace_id in trace_ids:
            self._trace(who, trace_id, "MODIFY", "trace.link_to_run")
        with self.metastore.session() as s:
            for trace_id in trace_ids:
                s.merge(TraceRunRow(trace_id=trace_id, run_id=run_id))
            s.commit()

    # -- reading -------------------------------------------------------------------------

    def get_trace_info(self, who: Principal, trace_id: str) -> TraceInfo:
        """A trace's info, without its spans (``EXECUTE`` on its experiment)."""
        self._trace(who, trace_id, "EXECUTE", "trace.get")
        return self.infos([trace_id])[0]

    def get_trace(self, who: Principal, trace_id: str) -> Trace:
        """A trace with its spans (``EXECUTE`` on its experiment).

        >>> trace = lh.traces.get(trace_id)
        >>> trace.info.state, [s.name for s in trace.spans]
        ('OK', ['answer'])
        """
        return self.batch_get_traces(who, [trace_id], missing="raise")[0]

    def batch_get_traces(self, who: Principal, trace_ids: list[str], *, missing: str = "skip") -> list[Trace]:
        """Traces with their spans (``EXECUTE`` on each one's experiment); unknown ids are left out."""
        found: list[TraceRow] = []
        for trace_id in trace_ids:
            try:
                found.append(self._trace(who, trace_id, "EXECUTE", "trace.get"))
            except NotFoundError:
                if missing == "raise":
                    raise
        infos = self.infos([r.trace_id for r in found])
        by_experiment: dict[str, list[str]] = {}
        for info in infos:
            by_experiment.setdefault(info.experiment_id, []).append(info.trace_id)
        spans: dict[str, list[Span]] = {}
        for experiment, ids in by_experiment.items():
            for span in spans_of(self.spans.read([experiment], ids)):
                spans.setdefault(span.trace_id, []).append(span)
        return [Trace(info, _tree_order(spans.get(info.trace_id, []))) for info in infos]

    def search_traces(
        self,
        who: Principal,
        experiment_ids: list[str],
        *,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[TraceInfo]:
        """Trace infos of these experiments (``EXECUTE`` on each), filtered and ordered as MLflow does
        (``tag.k = 'v'``, ``attribute.status = 'OK'``, ``timestamp_ms > 0``, ``run_id = '...'``,
        ``request_metadata.`mlflow.modelId` = '...'``); newest first by default."""
        if not experiment_ids:
            raise InvalidArgumentError("search_traces needs at least one experiment id (locations).")
        check_max_results(max_results)
        offset = page_offset(page_token) if page_token else 0
        experiments = [self._experiment(who, e, "EXECUTE", "trace.search") for e in experiment_ids]
        with self.metastore.session() as s:
            ids = list(
                s.scalars(sa.select(TraceRow.trace_id).where(TraceRow.experiment_id.in_([int(e) for e in experiments])))
            )
        infos = self.infos(ids)
        keep = _matcher(filter_string, texts=functools.cache(lambda: self._texts(experiments, ids)))
        infos = sorted((i for i in infos if keep(i)), key=_ordering(order_by))
        page = infos[offset : offset + max_results]
        more = offset + max_results < len(infos)
        return Page(page, token_at(offset + max_results) if more else None)

    def _texts(self, experiments: list[str], trace_ids: list[str]) -> dict[str, str]:
        """Each trace's searchable text (``trace.text LIKE '%...%'``): its spans' names, attributes
        (inputs and outputs among them) and events, as MLflow's full-text trace search reads them."""
        texts: dict[str, list[str]] = {}
        for span in spans_of(self.spans.read(experiments, trace_ids)):
            texts.setdefault(span.trace_id, []).append(
                json.dumps([span.name, span.attributes, span.events], ensure_ascii=False, default=str)
            )
        return {trace_id: "\n".join(parts) for trace_id, parts in texts.items()}

    def infos(self, trace_ids: list[str]) -> list[TraceInfo]:
        """The infos of these traces, in the order given (no check: callers authorized them)."""
        if not trace_ids:
            return []
        with self.metastore.session() as s:
            rows = {r.trace_id: r for r in s.scalars(sa.select(TraceRow).where(TraceRow.trace_id.in_(trace_ids)))}
            tags: dict[str, dict[str, str]] = {}
            for t in s.scalars(sa.select(TraceTagRow).where(TraceTagRow.trace_id.in_(trace_ids))):
                tags.setdefault(t.trace_id, {})[t.key] = t.value
            runs: dict[str, list[str]] = {}
            for link in s.scalars(sa.select(TraceRunRow).where(TraceRunRow.trace_id.in_(trace_ids))):
                runs.setdefault(link.trace_id, []).append(link.run_id)
        return [
            TraceInfo(
                trace_id=r.trace_id,
                experiment_id=str(r.experiment_id),
                request_time=r.request_time,
                execution_duration=r.execution_duration,
                state=r.state,
                request_preview=r.request_preview,
                response_preview=r.response_preview,
                client_request_id=r.client_request_id,
                tags=tags.get(r.trace_id, {}),
                metadata=dict(r.trace_metadata or {}),
                run_ids=sorted(runs.get(r.trace_id, [])),
            )
            for t in trace_ids
            if (r := rows.get(t)) is not None
        ]


def _check_key(key: object) -> None:
    if not isinstance(key, str) or not key or len(key) > MAX_TAG_KEY:
        raise InvalidArgumentError(f"invalid trace tag key {key!r:.80}: use 1 to {MAX_TAG_KEY} characters.")


def _tree_order(spans: list[Span]) -> list[Span]:
    """Spans with each parent before its children (siblings by start time); orphans keep their place."""
    children: dict[str | None, list[Span]] = {}
    ids = {s.span_id for s in spans}
    for span in sorted(spans, key=lambda s: (s.start_time_ns, s.span_id)):
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    out: list[Span] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        span = stack.pop()
        out.append(span)
        stack.extend(reversed(children.get(span.span_id, [])))
    return out


# -- search ------------------------------------------------------------------------------------

_ATTRIBUTES: dict[str, Callable[[TraceInfo], Any]] = {
    "timestamp_ms": lambda i: i.request_time,
    "timestamp": lambda i: i.request_time,
    "request_time": lambda i: i.request_time,
    "execution_time_ms": lambda i: i.execution_duration,
    "execution_duration": lambda i: i.execution_duration,
    "status": lambda i: i.state,
    "state": lambda i: i.state,
    "trace_id": lambda i: i.trace_id,
    "request_id": lambda i: i.trace_id,
    "client_request_id": lambda i: i.client_request_id,
    "name": lambda i: i.tags.get("mlflow.traceName"),
    "end_time_ms": lambda i: i.end_time,
}


def _like(pattern: str, value: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _compare(actual: Any, comparator: str, wanted: Any) -> bool:
    if comparator in ("IN", "NOT IN"):
        inside = actual is not None and str(actual) in {str(w) for w in wanted}
        return inside if comparator == "IN" else not inside
    if actual is None:
        return comparator == "!="
    if comparator in ("LIKE", "ILIKE"):
        return _like(str(wanted), str(actual), ignore_case=comparator == "ILIKE")
    if isinstance(actual, int) and not isinstance(wanted, int):
        try:
            wanted = int(wanted)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{wanted!r} is not a number to compare with.") from None
    if not isinstance(actual, int):
        actual, wanted = str(actual), str(wanted)
    ops = {
        "=": actual == wanted,
        "!=": actual != wanted,
        ">": actual > wanted,
        ">=": actual >= wanted,
        "<": actual < wanted,
        "<=": actual <= wanted,
    }
    if comparator not in ops:
        raise InvalidArgumentError(f"unsupported comparator {comparator!r} in the trace filter.")
    return ops[comparator]


def _value(info: TraceInfo, clause: dict[str, Any]) -> Any:
    kind, key = clause["type"], clause["key"]
    if kind == "tag":
        return info.tags.get(key)
    if kind == "request_metadata":
        return info.metadata.get(key)
    if kind == "attribute" and key == "run_id":
        return None  # matched apart: a trace's source run or any run linked to it
    if kind == "attribute" and key in _ATTRIBUTES:
        return _ATTRIBUTES[key](info)
    raise InvalidArgumentError(
        f"filtering traces on {kind} {key!r} is not supported; filter on tags, request_metadata, or "
        f"the attributes {', '.join(sorted(['run_id', 'text', *_ATTRIBUTES]))}."
    )


def _matcher(filter_string: str | None, *, texts: Callable[[], dict[str, str]]) -> Callable[[TraceInfo], bool]:
    if not filter_string:
        return lambda info: True
    with mlflow_rules():
        clauses = search_utils().SearchTraceUtils.parse_search_filter(filter_string)

    def keep(info: TraceInfo) -> bool:
        for clause in clauses:
            if clause["type"] == "attribute" and clause["key"] == "run_id":
                runs = set(info.run_ids) | ({info.metadata[SOURCE_RUN]} if SOURCE_RUN in info.metadata else set())
                hit = any(_compare(r, clause["comparator"], clause["value"]) for r in runs)
                if not hit:
                    return False
            elif clause["type"] == "attribute" and clause["key"] == "text":
                if clause["comparator"] not in ("LIKE", "ILIKE"):
                    raise InvalidArgumentError("trace.text takes LIKE or ILIKE, e.g. \"trace.text LIKE '%refund%'\".")
                if not _compare(texts().get(info.trace_id, ""), clause["comparator"], clause["value"]):
                    return False
            elif not _compare(_value(info, clause), clause["comparator"], clause["value"]):
                return False
        return True

    return keep


def _ordering(order_by: Iterable[str] | None) -> Callable[[TraceInfo], Any]:
    keys: list[tuple[Callable[[TraceInfo], Any], bool]] = []
    for text in order_by or []:
        parts = text.strip().split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")):
            raise InvalidArgumentError(f"invalid order_by clause {text!r}: use '<attribute> [ASC|DESC]'.")
        name = parts[0].split(".", 1)[1] if parts[0].startswith(("attribute.", "trace.")) else parts[0]
        if name not in _ATTRIBUTES:
            raise InvalidArgumentError(
                f"cannot order traces by {parts[0]!r}: use one of {', '.join(sorted(_ATTRIBUTES))}."
            )
        keys.append((_ATTRIBUTES[name], len(parts) == 2 and parts[1].upper() == "DESC"))
    keys.append((_ATTRIBUTES["timestamp_ms"], True))
    keys.append((_ATTRIBUTES["trace_id"], False))

    def key(info: TraceInfo) -> tuple:
        out: list[Any] = []
        for get, descending in keys:
            value = get(info)
            missing = value is None
            if isinstance(value, int):
                value = -value if descending else value
                out += [missing, value, ""]
            else:
                text = "" if value is None else str(value)
                out += [missing, 0, _Reverse(text) if descending else text]
        return tuple(out)

    return key


class _Reverse(str):
    """A string that sorts backwards (descending text keys in one sort)."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)

    def __gt__(self, other: str) -> bool:
        return str.__lt__(self, other)

"""Tracing's operations on ``lh.traces`` (see :mod:`glashaus.declare`): MLflow 3 traces, read and curated.

Traces are logged by MLflow's client (``@mlflow.trace``, ``mlflow.start_span``) through
``glashaus serve``; ``lh.traces`` reads, searches, tags and deletes them. Experiments are named
as MLflow names them or by id; each call runs a
:class:`~glashaus.tracing.service.TracingService` method (whose guard checks decide and audit).

>>> [t.trace_id for t in lh.traces.search([exp_id])] == [trace_id]
True
"""

from __future__ import annotations

import functools

from glashaus.access.principal import Principal
from glashaus.declare import Operation
from glashaus.tracing.entities import TraceInfo
from glashaus.tracing.service import TracingService


def _experiment_id(service: TracingService, experiment: str) -> str:
    """The id of an experiment given by id or MLflow name (learning an id needs no privilege)."""
    return str(experiment) if str(experiment).isdigit() else service.tracking.experiment_id_of(experiment)


def search_traces(
    service: TracingService,
    who: Principal,
    experiments: list[str],
    filter_string: str | None = None,
    *,
    order_by: list[str] | None = None,
    max_results: int = 100,
) -> list[TraceInfo]:
    """Traces of the experiments (by MLflow name or id; ``EXECUTE`` on each), newest first, matching an
    MLflow trace filter, e.g. ``"tag.reviewed = 'yes'"`` or ``"attribute.status = 'OK'"``; their infos
    (``lh.traces.get`` gives a trace's spans).

    >>> [t.state for t in lh.traces.search([exp_id], "attribute.status = 'OK'")]
    ['OK']
    """
    ids = [_experiment_id(service, e) for e in experiments]
    return service.search_traces(
        who, ids, filter_string=filter_string, order_by=order_by, max_results=max_results
    ).items


def delete_traces(
    service: TracingService,
    who: Principal,
    experiment: str,
    *,
    trace_ids: list[str] | None = None,
    max_timestamp_millis: int | None = None,
    max_traces: int | None = None,
) -> int:
    """Delete traces of an experiment (by MLflow name or id; ``MODIFY``) with their spans: those listed,
    or those that started before ``max_timestamp_millis`` (at most ``max_traces``, oldest first).
    Returns how many were deleted.

    >>> lh.traces.delete(exp_id, trace_ids=[trace_id])
    1
    """
    return service.delete_traces(
        who,
        _experiment_id(service, experiment),
        trace_ids=trace_ids,
        max_timestamp_millis=max_timestamp_millis,
        max_traces=max_traces,
    )


_op = functools.partial(Operation, "traces", tag="traces")

OPERATIONS = [
    _op("search", "POST", "/traces/search", calls=search_traces, privilege="EXECUTE", audit="trace.search"),
    _op("get", "GET", "/traces/{trace_id}", calls=TracingService.get_trace, privilege="EXECUTE", audit="trace.get"),
    _op(
        "set_tag",
        "PUT",
        "/traces/{trace_id}/tags/{key}",
        calls=TracingService.set_trace_tag,
        privilege="MODIFY",
        audit="trace.set_tag",
    ),
    _op(
        "delete_tag",
        "DELETE",
        "/traces/{trace_id}/tags/{key}",
        calls=TracingService.delete_trace_tag,
        privilege="MODIFY",
        audit="trace.delete_tag",
    ),
    _op(
        "delete",
        "POST",
        "/experiments/{experiment}/traces/delete",
        calls=delete_traces,
        privilege="MODIFY",
        audit="trace.delete",
    ),
]

"""Experiment tracking's operations on ``lh.experiments`` and ``lh.runs`` (see :mod:`glashaus.declare`).

Each names an :class:`~glashaus.tracking.api.Experiments` or :class:`~glashaus.tracking.api.Runs`
method, which calls :class:`~glashaus.tracking.service.TrackingService` and its guard checks.
An experiment is named in a path by its id or its three-part name (a free-form MLflow
name with a ``/`` in it is reached by its id there).
"""

from __future__ import annotations

from glashaus.declare import Operation


def _exp(name: str, http: str, path: str, **kw: object) -> Operation:
    return Operation("experiments", name, http, path, tag="experiments", **kw)  # type: ignore[arg-type]


def _run(name: str, http: str, path: str, **kw: object) -> Operation:
    return Operation("runs", name, http, path, tag="runs", **kw)  # type: ignore[arg-type]


OPERATIONS = [
    _exp("create", "POST", "/experiments"),
    _exp("search", "GET", "/experiments"),
    _exp("get", "GET", "/experiments/{experiment}"),
    _exp("set_tag", "PUT", "/experiments/{experiment}/tags/{key}"),
    _exp("delete", "DELETE", "/experiments/{experiment}"),
    _exp("restore", "POST", "/experiments/{experiment}/restore"),
    _run("start", "POST", "/runs"),
    _run("search", "POST", "/runs/search"),
    _run("get", "GET", "/runs/{run_id}"),
    _run("log_params", "POST", "/runs/{run_id}/params"),
    _run("log_metrics", "POST", "/runs/{run_id}/metrics"),
    _run("metric_history", "GET", "/runs/{run_id}/metrics/{key}"),
    _run("set_tags", "PUT", "/runs/{run_id}/tags"),
    _run("end", "POST", "/runs/{run_id}/end"),
    _run("delete", "DELETE", "/runs/{run_id}"),
    _run("restore", "POST", "/runs/{run_id}/restore"),
    _run("artifacts", "GET", "/runs/{run_id}/artifacts"),
    _run("log_artifact", "PUT", "/runs/{run_id}/artifacts/{path:path}", body="data"),
    _run("read_artifact", "GET", "/runs/{run_id}/artifacts/{path:path}"),
]

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
    _exp("create", "POST", "/experiments", privilege="CREATE MODEL", audit="experiment.create"),
    _exp("search", "GET", "/experiments"),
    _exp("get", "GET", "/experiments/{experiment}", privilege="EXECUTE", audit="experiment.get"),
    _exp("set_tag", "PUT", "/experiments/{experiment}/tags/{key}", privilege="MODIFY", audit="experiment.tag"),
    _exp("delete", "DELETE", "/experiments/{experiment}", privilege="MANAGE", audit="experiment.delete"),
    _exp("restore", "POST", "/experiments/{experiment}/restore", privilege="MANAGE", audit="experiment.restore"),
    _run("start", "POST", "/runs", privilege="MODIFY", audit="run.create"),
    _run("search", "POST", "/runs/search", privilege="EXECUTE", audit="run.search"),
    _run("get", "GET", "/runs/{run_id}", privilege="EXECUTE", audit="run.get"),
    _run("log_params", "POST", "/runs/{run_id}/params", privilege="MODIFY", audit="run.log"),
    _run("log_metrics", "POST", "/runs/{run_id}/metrics", privilege="MODIFY", audit="run.log"),
    _run("metric_history", "GET", "/runs/{run_id}/metrics/{key}", privilege="EXECUTE", audit="run.read"),
    _run("set_tags", "PUT", "/runs/{run_id}/tags", privilege="MODIFY", audit="run.log"),
    _run("end", "POST", "/runs/{run_id}/end", privilege="MODIFY", audit="run.update"),
    _run("delete", "DELETE", "/runs/{run_id}", privilege="MODIFY", audit="run.delete"),
    _run("restore", "POST", "/runs/{run_id}/restore", privilege="MODIFY", audit="run.restore"),
    _run("artifacts", "GET", "/runs/{run_id}/artifacts", privilege="EXECUTE", audit="artifact.list"),
    _run(
        "log_artifact",
        "PUT",
        "/runs/{run_id}/artifacts/{path:path}",
        body="data",
        privilege="MODIFY",
        audit="artifact.write",
    ),
    _run("read_artifact", "GET", "/runs/{run_id}/artifacts/{path:path}", privilege="EXECUTE", audit="artifact.read"),
]

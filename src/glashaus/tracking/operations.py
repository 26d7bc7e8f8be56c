"""Experiment tracking's operations on ``lh.experiments`` and ``lh.runs`` (see :mod:`glashaus.declare`).

Each runs a :class:`~glashaus.tracking.service.TrackingService` method (whose guard checks decide
and audit), or one of the functions below, which take what ``lh`` offers (an experiment by MLflow
name or id, metrics as a dict, a file's path inside its run) to the service's terms; the namespaces
(generated, ``glashaus/facades.py``) call them as the caller. Experiments are named as MLflow names
them (``main.shop.reco_training``, or a free-form name placed in ``main.default``) or by id; runs by
their id. An experiment is named in a REST path by its id or its three-part name (a free-form MLflow
name with a ``/`` in it is reached by its id there).

>>> exp = lh.experiments.create("main.shop.churn_training")
>>> run = lh.runs.start("main.shop.churn_training", name="baseline")
>>> lh.runs.log_params(run.run_id, {"lr": 0.1})
>>> lh.runs.log_metrics(run.run_id, {"rmse": 0.31}, step=1)
>>> lh.runs.end(run.run_id).status
'FINISHED'
>>> [r.name for r in lh.runs.search(["main.shop.churn_training"], "metrics.rmse < 0.4")]
['baseline']
"""

from __future__ import annotations

import functools
from typing import Any

from glashaus.access.principal import Principal
from glashaus.declare import Operation
from glashaus.tracking.entities import ArtifactFile, Experiment, Metric, Run, RunStatus, ViewType
from glashaus.tracking.records import now_ms
from glashaus.tracking.service import TrackingService

# -- experiments ------------------------------------------------------------------------------------


def _experiment_id(service: TrackingService, experiment: str) -> str:
    """The id of an experiment given by id or MLflow name (learning an id needs no privilege)."""
    return str(experiment) if str(experiment).isdigit() else service.experiment_id_of(experiment)


def get_experiment(service: TrackingService, who: Principal, experiment: str) -> Experiment:
    """An experiment by MLflow name or id (``EXECUTE`` on it).

    >>> lh.experiments.get("main.shop.reco_training").experiment_id == lh.experiments.get(exp_id).experiment_id
    True
    """
    if str(experiment).isdigit():
        return service.get_experiment(who, str(experiment))
    return service.get_experiment_by_name(who, experiment)


def search_experiments(
    service: TrackingService,
    who: Principal,
    filter_string: str | None = None,
    *,
    view: ViewType = "active",
    order_by: list[str] | None = None,
    max_results: int = 1000,
) -> list[Experiment]:
    """Experiments you may read (``EXECUTE``), filtered and ordered as MLflow does, e.g.
    ``search("name LIKE 'main.shop.%'")``.

    >>> [e.name for e in lh.experiments.search("name LIKE 'main.shop.%'")]
    ['main.shop.reco_training']
    """
    return service.search_experiments(
        who, view=view, filter_string=filter_string, order_by=order_by, max_results=max_results
    ).items


def set_experiment_tag(service: TrackingService, who: Principal, experiment: str, key: str, value: str) -> None:
    """Set a tag on an active experiment (by MLflow name or id; ``MODIFY``).

    >>> lh.experiments.set_tag("main.shop.reco_training", "team", "reco")
    >>> lh.experiments.get("main.shop.reco_training").tags["team"]
    'reco'
    """
    service.set_experiment_tag(who, _experiment_id(service, experiment), key, value)


def delete_experiment_tag(service: TrackingService, who: Principal, experiment: str, key: str) -> None:
    """Remove a tag from an active experiment (by MLflow name or id; ``MODIFY``), as MLflow's
    ``delete_experiment_tag``; a tag it does not have is a ``NotFoundError``.

    >>> lh.experiments.set_tag("main.shop.reco_training", "team", "reco")
    >>> lh.experiments.delete_tag("main.shop.reco_training", "team")
    >>> "team" in lh.experiments.get("main.shop.reco_training").tags
    False
    """
    service.delete_experiment_tag(who, _experiment_id(service, experiment), key)


def delete_experiment(service: TrackingService, who: Principal, experiment: str) -> None:
    """Mark it (and its runs) deleted, by MLflow name or id (``MANAGE``); ``restore`` brings both back.
    The securable and its files stay.

    >>> lh.experiments.delete("main.shop.reco_training")
    >>> lh.experiments.get("main.shop.reco_training").lifecycle_stage
    'deleted'
    """
    service.delete_experiment(who, _experiment_id(service, experiment))


def restore_experiment(service: TrackingService, who: Principal, experiment: str) -> None:
    """Bring a deleted experiment back, with the runs deleted along with it (by MLflow name or id; ``MANAGE``).

    >>> lh.experiments.delete("main.shop.reco_training")
    >>> lh.experiments.restore("main.shop.reco_training")
    >>> lh.runs.get(run_id).lifecycle_stage
    'active'
    """
    service.restore_experiment(who, _experiment_id(service, experiment))


# -- runs -------------------------------------------------------------------------------------------


def start_run(
    service: TrackingService,
    who: Principal,
    experiment: str,
    *,
    name: str | None = None,
    tags: dict[str, str] | None = None,
) -> Run:
    """A new RUNNING run in an experiment (by MLflow name or id; ``MODIFY``). Its user is the caller;
    without a ``name`` it gets one such as ``hardy-fern-482``.

    >>> run = lh.runs.start("main.shop.reco_training", name="tuned", tags={"stage": "dev"})
    >>> run.status, run.name, run.tags["stage"]
    ('RUNNING', 'tuned', 'dev')
    """
    return service.create_run(who, _experiment_id(service, experiment), run_name=name, tags=tags)


# get_run, delete_run and restore_run only forward: TrackingService takes these from its runs part
# (RunTracking) per instance, so no class attribute names them, and a namespace runs on one service.
def get_run(service: TrackingService, who: Principal, run_id: str) -> Run:
    """A run with its params, latest metrics and tags (``EXECUTE`` on its experiment).

    >>> lh.runs.get(run_id).name
    'baseline'
    """
    return service.get_run(who, run_id)


def log_params(service: TrackingService, who: Principal, run_id: str, params: dict[str, Any]) -> None:
    """Log params (each value stored as its text). Params are immutable: a key logged again must keep its value.

    >>> lh.runs.log_params(run_id, {"lr": 0.1, "depth": 4})
    >>> lh.runs.get(run_id).params
    {'depth': '4', 'lr': '0.1'}
    """
    service.log_batch(who, run_id, params={k: str(v) for k, v in params.items()})


def log_metrics(
    service: TrackingService,
    who: Principal,
    run_id: str,
    metrics: dict[str, float],
    *,
    step: int = 0,
    timestamp: int | None = None,
) -> None:
    """Log metric values at ``step``, all at ``timestamp`` (milliseconds since the epoch; default: now).

    >>> lh.runs.log_metrics(run_id, {"rmse": 0.31, "mae": 0.2}, step=1)
    >>> lh.runs.get(run_id).metrics["rmse"].value
    0.31
    """
    ts = now_ms() if timestamp is None else timestamp
    service.log_batch(who, run_id, metrics=[Metric(k, float(v), ts, step) for k, v in metrics.items()])


def set_run_tags(service: TrackingService, who: Principal, run_id: str, tags: dict[str, str]) -> None:
    """Set tags on a run (a key set again takes the new value).

    >>> lh.runs.set_tags(run_id, {"stage": "review"})
    >>> lh.runs.get(run_id).tags["stage"]
    'review'
    """
    service.log_batch(who, run_id, tags=tags)


def end_run(service: TrackingService, who: Principal, run_id: str, *, status: RunStatus = "FINISHED") -> Run:
    """End a run now with ``status`` (``FINISHED``, ``FAILED`` or ``KILLED``).

    >>> lh.runs.end(run_id, status="FAILED").status
    'FAILED'
    """
    return service.update_run(who, run_id, status=status, end_time=now_ms())


def search_runs(
    service: TrackingService,
    who: Principal,
    experiments: list[str],
    filter_string: str | None = None,
    *,
    order_by: list[str] | None = None,
    max_results: int = 1000,
    view: ViewType = "active",
) -> list[Run]:
    """Runs of the experiments (by MLflow name or id; ``EXECUTE`` on each) matching an MLflow filter,
    e.g. ``"metrics.rmse < 0.3 and params.model = 'gbm'"``.

    >>> lh.runs.log_metrics(run_id, {"rmse": 0.25})
    >>> [r.name for r in lh.runs.search(["main.shop.reco_training"], "metrics.rmse < 0.3")]
    ['baseline']
    """
    ids = [_experiment_id(service, e) for e in experiments]
    return service.search_runs(
        who, ids, filter_string=filter_string, order_by=order_by, max_results=max_results, view=view
    ).items


def metric_history(service: TrackingService, who: Principal, run_id: str, key: str) -> list[Metric]:
    """Every value logged for ``key`` in the run, by step then time.

    >>> for step, rmse in enumerate([0.5, 0.4]):
    ...     lh.runs.log_metrics(run_id, {"rmse": rmse}, step=step)
    >>> [(m.step, m.value) for m in lh.runs.metric_history(run_id, "rmse")]
    [(0, 0.5), (1, 0.4)]
    """
    return service.get_metric_history(who, run_id, key).items


def delete_run(service: TrackingService, who: Principal, run_id: str) -> None:
    """Mark a run deleted (``MODIFY``; restorable, nothing is erased).

    >>> lh.runs.delete(run_id)
    >>> lh.runs.get(run_id).lifecycle_stage
    'deleted'
    """
    service.delete_run(who, run_id)


def restore_run(service: TrackingService, who: Principal, run_id: str) -> None:
    """Bring a deleted run back (``MODIFY``).

    >>> lh.runs.delete(run_id)
    >>> lh.runs.restore(run_id)
    >>> lh.runs.get(run_id).lifecycle_stage
    'active'
    """
    service.restore_run(who, run_id)


# -- a run's files ------------------------------------------------------------------------------------


def _run_path(service: TrackingService, run_id: str, path: str = "") -> str:
    """``path`` among the run's files, as an artifact path (``<experiment_id>/<run_id>/artifacts/<path>``)."""
    root = service.run_artifact_path(run_id)
    return f"{root}/{path}" if path else root


def log_artifact(service: TrackingService, who: Principal, run_id: str, path: str, data: bytes) -> ArtifactFile:
    """Store ``data`` as ``path`` among the run's files (``MODIFY``); the file as stored (its name within
    its folder, its size).

    >>> stored = lh.runs.log_artifact(run_id, "plots/loss.txt", b"0.5 0.4")
    >>> stored.path, stored.size
    ('loss.txt', 7)
    """
    return service.files.write(who, _run_path(service, run_id, path), data)


def read_artifact(service: TrackingService, who: Principal, run_id: str, path: str) -> bytes:
    """The bytes of the run's file ``path`` (``EXECUTE``).

    >>> _ = lh.runs.log_artifact(run_id, "notes.txt", b"first try")
    >>> lh.runs.read_artifact(run_id, "notes.txt")
    b'first try'
    """
    return service.files.read(who, _run_path(service, run_id, path))


def list_artifacts(service: TrackingService, who: Principal, run_id: str, path: str = "") -> list[ArtifactFile]:
    """Files and folders directly inside ``path`` of the run's files (``EXECUTE``).

    >>> _ = lh.runs.log_artifact(run_id, "plots/loss.txt", b"0.5 0.4")
    >>> [(f.path, f.is_dir) for f in lh.runs.artifacts(run_id)]
    [('plots', True)]
    """
    return service.files.list(who, _run_path(service, run_id, path))


# -- the declarations -----------------------------------------------------------------------------------


_exp = functools.partial(Operation, "experiments", tag="experiments")
_run = functools.partial(Operation, "runs", tag="runs")


OPERATIONS = [
    _exp(
        "create",
        "POST",
        "/experiments",
        calls=TrackingService.create_experiment,
        privilege="CREATE MODEL",
        audit="experiment.create",
    ),
    _exp("search", "GET", "/experiments", calls=search_experiments),
    _exp("get", "GET", "/experiments/{experiment}", calls=get_experiment, privilege="EXECUTE", audit="experiment.get"),
    _exp(
        "set_tag",
        "PUT",
        "/experiments/{experiment}/tags/{key}",
        calls=set_experiment_tag,
        privilege="MODIFY",
        audit="experiment.tag",
    ),
    _exp(
        "delete_tag",
        "DELETE",
        "/experiments/{experiment}/tags/{key}",
        calls=delete_experiment_tag,
        privilege="MODIFY",
        audit="experiment.tag",
    ),
    _exp(
        "delete",
        "DELETE",
        "/experiments/{experiment}",
        calls=delete_experiment,
        privilege="MANAGE",
        audit="experiment.delete",
    ),
    _exp(
        "restore",
        "POST",
        "/experiments/{experiment}/restore",
        calls=restore_experiment,
        privilege="MANAGE",
        audit="experiment.restore",
    ),
    _run("start", "POST", "/runs", calls=start_run, privilege="MODIFY", audit="run.create"),
    _run("search", "POST", "/runs/search", calls=search_runs, privilege="EXECUTE", audit="run.search"),
    _run("get", "GET", "/runs/{run_id}", calls=get_run, privilege="EXECUTE", audit="run.get"),
    _run("log_params", "POST", "/runs/{run_id}/params", calls=log_params, privilege="MODIFY", audit="run.log"),
    _run("log_metrics", "POST", "/runs/{run_id}/metrics", calls=log_metrics, privilege="MODIFY", audit="run.log"),
    _run(
        "metric_history",
        "GET",
        "/runs/{run_id}/metrics/{key}",
        calls=metric_history,
        privilege="EXECUTE",
        audit="run.read",
    ),
    _run("set_tags", "PUT", "/runs/{run_id}/tags", calls=set_run_tags, privilege="MODIFY", audit="run.log"),
    _run("end", "POST", "/runs/{run_id}/end", calls=end_run, privilege="MODIFY", audit="run.update"),
    _run("delete", "DELETE", "/runs/{run_id}", calls=delete_run, privilege="MODIFY", audit="run.delete"),
    _run("restore", "POST", "/runs/{run_id}/restore", calls=restore_run, privilege="MODIFY", audit="run.restore"),
    _run(
        "artifacts",
        "GET",
        "/runs/{run_id}/artifacts",
        calls=list_artifacts,
        privilege="EXECUTE",
        audit="artifact.list",
    ),
    _run(
        "log_artifact",
        "PUT",
        "/runs/{run_id}/artifacts/{path:path}",
        calls=log_artifact,
        body="data",
        privilege="MODIFY",
        audit="artifact.write",
    ),
    _run(
        "read_artifact",
        "GET",
        "/runs/{run_id}/artifacts/{path:path}",
        calls=read_artifact,
        privilege="EXECUTE",
        audit="artifact.read",
    ),
]

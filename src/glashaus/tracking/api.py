"""``lh.experiments`` and ``lh.runs``: the tracking service bound to the caller.

Experiments are named as MLflow names them (``main.shop.reco_training``, or a
free-form name placed in ``main.default``) or by id; runs by their id.

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

from typing import Any

from glashaus.access import Principal
from glashaus.tracking.entities import ArtifactFile, Experiment, Metric, Run, RunStatus, ViewType
from glashaus.tracking.records import now_ms
from glashaus.tracking.service import TrackingService


class Experiments:
    """Create, find and manage experiments (``lh.experiments``)."""

    def __init__(self, service: TrackingService, principal: Principal) -> None:
        self._svc, self._who = service, principal

    def _id(self, experiment: str) -> str:
        return experiment if str(experiment).isdigit() else self._svc.experiment_id_of(experiment)

    def create(self, name: str, *, tags: dict[str, str] | None = None) -> Experiment:
        """>>> lh.experiments.create("main.shop.ferns_training", tags={"team": "reco"}).name
        'main.shop.ferns_training'
        """
        return self._svc.create_experiment(self._who, name, tags=tags)

    def get(self, experiment: str) -> Experiment:
        """An experiment by MLflow name or id."""
        if str(experiment).isdigit():
            return self._svc.get_experiment(self._who, str(experiment))
        return self._svc.get_experiment_by_name(self._who, experiment)

    def search(
        self,
        filter_string: str | None = None,
        *,
        view: ViewType = "active",
        order_by: list[str] | None = None,
        max_results: int = 1000,
    ) -> list[Experiment]:
        """Experiments you may read, e.g. ``search("name LIKE 'main.shop.%'")``."""
        return self._svc.search_experiments(
            self._who, view=view, filter_string=filter_string, order_by=order_by, max_results=max_results
        ).items

    def set_tag(self, experiment: str, key: str, value: str) -> None:
        self._svc.set_experiment_tag(self._who, self._id(experiment), key, value)

    def delete(self, experiment: str) -> None:
        """Mark it (and its runs) deleted; :meth:`restore` brings both back."""
        self._svc.delete_experiment(self._who, self._id(experiment))

    def restore(self, experiment: str) -> None:
        self._svc.restore_experiment(self._who, self._id(experiment))


class Runs:
    """Start runs, log to them, search them (``lh.runs``)."""

    def __init__(self, service: TrackingService, principal: Principal) -> None:
        self._svc, self._who = service, principal

    def start(self, experiment: str, *, name: str | None = None, tags: dict[str, str] | None = None) -> Run:
        """A new RUNNING run in an experiment (by MLflow name or id)."""
        exp = experiment if str(experiment).isdigit() else self._svc.experiment_id_of(experiment)
        return self._svc.create_run(self._who, str(exp), run_name=name, tags=tags)

    def get(self, run_id: str) -> Run:
        return self._svc.get_run(self._who, run_id)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Params are immutable: a key logged again must keep its value."""
        self._svc.log_batch(self._who, run_id, params={k: str(v) for k, v in params.items()})

    def log_metrics(
        self, run_id: str, metrics: dict[str, float], *, step: int = 0, timestamp: int | None = None
    ) -> None:
        ts = now_ms() if timestamp is None else timestamp
        self._svc.log_batch(self._who, run_id, metrics=[Metric(k, float(v), ts, step) for k, v in metrics.items()])

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self._svc.log_batch(self._who, run_id, tags=tags)

    def end(self, run_id: str, *, status: RunStatus = "FINISHED") -> Run:
        return self._svc.update_run(self._who, run_id, status=status, end_time=now_ms())

    def search(
        self,
        experiments: list[str],
        filter_string: str | None = None,
        *,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        view: ViewType = "active",
    ) -> list[Run]:
        """Runs matching an MLflow filter, e.g. ``"metrics.rmse < 0.3 and params.model = 'gbm'"``."""
        ids = [e if str(e).isdigit() else self._svc.experiment_id_of(e) for e in experiments]
        return self._svc.search_runs(
            self._who, ids, filter_string=filter_string, order_by=order_by, max_results=max_results, view=view
        ).items

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self._svc.get_metric_history(self._who, run_id, key).items

    def log_artifact(self, run_id: str, path: str, data: bytes) -> ArtifactFile:
        """Store ``data`` as ``path`` among the run's files (``MODIFY``)."""
        return self._svc.files.write(self._who, f"{self._svc.run_artifact_path(run_id)}/{path}", data)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        return self._svc.files.read(self._who, f"{self._svc.run_artifact_path(run_id)}/{path}")

    def artifacts(self, run_id: str, path: str = "") -> list[ArtifactFile]:
        """Files and folders directly inside ``path`` of the run's files."""
        root = self._svc.run_artifact_path(run_id)
        return self._svc.files.list(self._who, f"{root}/{path}" if path else root)

    def delete(self, run_id: str) -> None:
        self._svc.delete_run(self._who, run_id)

    def restore(self, run_id: str) -> None:
        self._svc.restore_run(self._who, run_id)

"""Where the model a run or logged model holds lies, for registering it as a model version.

The registry registers versions from files in managed storage, and MLflow users name the
files tracking keeps by URI: ``runs:/<run_id>/<path>``, ``models:/m-<id>`` (an MLflow 3
logged model) and ``mlflow-artifacts:/<path>``. The registry parses those URIs
(``registry/sources.py``) and asks this part where the model lies and which run and
logged model it belongs to: reading them takes ``EXECUTE`` on their experiment (asked
through the guard, so audited), as every read does. Registry and tracking are on the same
level and do not import each other: the :class:`~glashaus.lakehouse.Lakehouse` hands this
part to the registry, which declares what it needs as a protocol (``TrackedFolders``).

>>> m = svc.models.create(alice, exp_id, name="reco", source_run_id=run_id)
>>> folder = svc.model_folders.of_logged_model(alice, m.model_id)
>>> folder.location.endswith(f"/models/{m.model_id}/artifacts"), folder.run_id == run_id
(True, True)
>>> svc.model_folders.of_run(alice, run_id, "model")
Traceback (most recent call last):
glashaus.errors.NotFoundError: model source 'runs:/.../model': run ... has no MLmodel at 'model' and no logged model named 'model'...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from glashaus.access import Principal, request
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.tracking.artifacts import check_relative, parse_artifact_path
from glashaus.tracking.rows import RunRow

if TYPE_CHECKING:
    from glashaus.tracking.service import TrackingService

#: How many logged models of one run ``runs:/<run>/<name>`` looks through (MLflow's largest search page).
_MAX_LOGGED_MODELS = 1000


@dataclass(frozen=True)
class ModelFolder:
    """A model's folder in managed storage, with the run and logged model it belongs to."""

    location: str
    run_id: str | None
    logged_model_id: str | None


class ModelFolders:
    """of_run, of_logged_model, at: the folders of models that runs logged (``EXECUTE``, audited)."""

    def __init__(self, service: TrackingService) -> None:
        self.service = service

    def of_run(self, who: Principal, run_id: str, path: str) -> ModelFolder:
        """``runs:/<run_id>/<path>``: the run's files at ``path`` when an MLmodel is there, else (MLflow 3)
        the run's newest logged model called ``path``."""
        rel = check_relative(path or "", what="model source path")
        svc = self.service
        with request():
            run = svc.get_run(who, run_id)
            folder = f"{run.artifact_path}/{rel}" if rel else run.artifact_path
            if any(f.path == "MLmodel" for f in svc.files.list(who, folder)):
                return ModelFolder(self._storage(folder), run.run_id, None)
            page = svc.models.search(
                who,
                [run.experiment_id],
                filter_string=f"source_run_id = '{run.run_id}'",
                max_results=_MAX_LOGGED_MODELS,
            )
        named = [m for m in page.items if m.name == rel]
        if not named:
            raise NotFoundError(
                f"model source 'runs:/{run.run_id}/{rel}': run {run.run_id} has no MLmodel at "
                f"{rel!r} and no logged model named {rel!r}; name the folder the model was "
                "logged to (e.g. 'runs:/<run_id>/model') or the logged model ('models:/m-<id>')."
            )
        model = max(named, key=lambda m: m.creation_time)
        return ModelFolder(self._storage(model.artifact_path), run.run_id, model.model_id)

    def run_exists(self, run_id: str) -> bool:
        """Whether this lakehouse has a run ``run_id`` (whoever may read it).

        For MLflow clients registering ``runs:/<run_id>/...`` of a run this server does not have
        (MLflow records such versions): a run that exists is read as the caller (EXECUTE, audited).
        Run ids are random, so the answer tells nothing about other people's runs.
        """
        with self.service.metastore.session() as s:
            return isinstance(run_id, str) and len(run_id) <= 32 and s.get(RunRow, run_id) is not None

    def of_logged_model(self, who: Principal, model_id: str) -> ModelFolder:
        """``models:/m-<id>``: an MLflow 3 logged model's files, with the run that logged it."""
        model = self.service.models.get(who, model_id)
        return ModelFolder(self._storage(model.artifact_path), model.source_run_id, model.model_id)

    def at(self, who: Principal, artifact_path: str) -> ModelFolder:
        """``mlflow-artifacts:/<path>``: ``<experiment_id>/<run_id>/artifacts/...`` or
        ``<experiment_id>/models/<model_id>/artifacts/...``, checked to belong to that experiment."""
        path = check_relative(artifact_path, what="model source path")
        where = parse_artifact_path(path)
        if where.kind == "run":
            run = self.service.get_run(who, where.owner_id)
            _same_experiment(path, "run", run.run_id, run.experiment_id, where.experiment_id)
            return ModelFolder(self._storage(path), run.run_id, None)
        model = self.service.models.get(who, where.owner_id)
        _same_experiment(path, "logged model", model.model_id, model.experiment_id, where.experiment_id)
        return ModelFolder(self._storage(path), model.source_run_id, model.model_id)

    def _storage(self, artifact_path: str) -> str:
        """``<experiment_id>/<rest>`` (an artifact proxy path) as a location in the experiment's folder."""
        experiment, _, rest = artifact_path.partition("/")
        base = self.service.experiment_locations.folder(experiment).rstrip("/")
        return f"{base}/{rest}" if rest else base


def _same_experiment(path: str, kind: str, owner: str, actual: str, named: str) -> None:
    if actual != named:
        raise InvalidArgumentError(
            f"Invalid model source path {path!r}: {kind} {owner} belongs to experiment "
            f"{actual!r}, but the path names experiment {named!r}."
        )

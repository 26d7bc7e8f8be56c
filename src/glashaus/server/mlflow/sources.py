"""Where model version files come from and how they are served: MLflow sources, the ``registry/`` tree.

:func:`managed_source` translates the source URI of an MLflow ``CreateModelVersion``
(``runs:/<run_id>/<path>``, ``models:/m-<id>``, ``models:/<name>/<version>`` or ``@alias``,
``mlflow-artifacts:/<path>``) into the storage location in managed storage it names, with
the run and logged model it came from. :class:`RegistryFiles` serves a version's files
through the artifact proxy at ``mlflow-artifacts:/registry/<name>/<version>`` (EXECUTE
checked per request, by the registry service).

>>> location, run_id, model_id = managed_source(lh, "models:/main.shop.reco/1", run_id=None, model_id=None)
>>> location.endswith("/versions/1"), run_id, model_id
(True, None, None)
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from glashaus.catalog.names import parse_number
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.lakehouse import services
from glashaus.registry.refs import (
    ModelRef,
    logged_model_id,
    parse_model_name,
    parse_ref,
)
from glashaus.registry.service import RegistryService
from glashaus.server.mlflow.artifacts import ARTIFACT_TREES, SCHEME
from glashaus.tracking.artifacts import check_relative, parse_artifact_path
from glashaus.tracking.entities import ArtifactFile
from glashaus.tracking.rules import mlflow_rules

#: The artifact proxy's first path segment for model version files.
TREE = "registry"


def _svc(lh: Any) -> RegistryService:
    return services(lh).registry


def managed_source(lh: Any, source: str, *, run_id: str | None,
                    model_id: str | None) -> tuple[str, str | None, str | None]:
    """The storage location an MLflow source URI names, with the run and logged model it came from.

    Only translation: the registry service checks that the location lies in managed storage
    and that the caller may read it (anything else, e.g. ``s3://elsewhere``, it refuses).
    """
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme in ("runs", "models") and parsed.netloc:
        raise InvalidArgumentError(f"Invalid model version source {source!r}: name a run or model of this "
                                   "server, e.g. 'runs:/<run_id>/model' or 'models:/m-<id>'.")
    if parsed.scheme == "runs":
        return _run_source(lh, source, run_id, model_id)
    if parsed.scheme == "models":
        logged = logged_model_id(source)
        if logged is not None:
            return _logged_model_source(lh, source, logged, run_id, model_id)
        mv = _svc(lh).get_version(lh.principal, parse_ref(source))
        return mv.storage_location or "", run_id or mv.run_id, model_id or mv.logged_model_id
    if parsed.scheme == SCHEME:
        path = check_relative(parsed.path.lstrip("/"), what="model version source path")
        head, _, rest = path.partition("/")
        if head == TREE:
            ref, rel = tree_ref(rest)
            mv = _svc(lh).get_version(lh.principal, ref)
            base = mv.storage_location or ""
            return (f"{base}/{rel}" if rel else base), run_id or mv.run_id, model_id or mv.logged_model_id
        where = parse_artifact_path(path)
        if where.kind == "run":
            run = services(lh).tracking.get_run(lh.principal, where.owner_id)
            _same(source, "run_id", run_id, run.run_id)
            _same(source, "experiment", where.experiment_id, run.experiment_id)
            return _storage(lh, path), run.run_id, model_id
        model = services(lh).tracking.models.get(lh.principal, where.owner_id)
        _same(source, "model_id", model_id, model.model_id)
        _same(source, "experiment", where.experiment_id, model.experiment_id)
        return _storage(lh, path), run_id or model.source_run_id, model.model_id
    return source, run_id, model_id  # a path: the registry decides whether it lies in managed storage


def _run_source(lh: Any, source: str, run_id: str | None,
                model_id: str | None) -> tuple[str, str | None, str | None]:
    """``runs:/<run>/<path>``: the run's files, or (MLflow 3) the run's logged model called ``<path>``."""
    from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository

    with mlflow_rules():
        source_run, rel = RunsArtifactRepository.parse_runs_uri(source)
    _same(source, "run_id", run_id, source_run)
    rel = check_relative(rel or "", what="model version source path")
    tracking = services(lh).tracking
    run = tracking.get_run(lh.principal, source_run)
    folder = f"{run.artifact_path}/{rel}" if rel else run.artifact_path
    if any(f.path == "MLmodel" for f in tracking.files.list(lh.principal, folder)):
        return _storage(lh, folder), run.run_id, model_id
    page = tracking.models.search(lh.principal, [run.experiment_id],
                                  filter_string=f"source_run_id = '{run.run_id}'", max_results=1000)
    named = [x for x in page.items if x.name == rel]
    if not named:
        raise NotFoundError(f"model version source {source!r}: run {run.run_id} has no MLmodel at {rel!r} and "
                            f"no logged model named {rel!r}.")
    model = max(named, key=lambda x: x.creation_time)
    _same(source, "model_id", model_id, model.model_id)
    return _storage(lh, model.artifact_path), run.run_id, model.model_id


def _logged_model_source(lh: Any, source: str, logged: str, run_id: str | None,
                         model_id: str | None) -> tuple[str, str | None, str | None]:
    _same(source, "model_id", model_id, logged)
    model = services(lh).tracking.models.get(lh.principal, logged)
    return _storage(lh, model.artifact_path), run_id or model.source_run_id, model.model_id


def _same(source: str, field: str, given: str | None, actual: str) -> None:
    if given and given != actual:
        raise InvalidArgumentError(f"Invalid model version source {source!r}: it belongs to {field} {actual!r}, "
                                   f"but the request names {given!r}.")


def _storage(lh: Any, artifact_path: str) -> str:
    """``<experiment_id>/<rest>`` (an artifact proxy path) as a location in the experiment's folder."""
    experiment, _, rest = artifact_path.partition("/")
    base = services(lh).tracking.locations.experiment_location(experiment).rstrip("/")
    return f"{base}/{rest}" if rest else base


def tree_ref(path: str) -> tuple[ModelRef, str]:
    """``<catalog>.<schema>.<model>/<version>[/<file>]`` as a version reference and a file path."""
    parts = path.split("/") if path else []
    shape = "the path reads registry/<catalog>.<schema>.<model>/<version>[/<file>]"
    if len(parts) < 2:
        raise NotFoundError(f"no model files at 'registry/{path}': {shape}.")
    try:
        version = parse_number(parts[1], what="the model version", minimum=1)
    except InvalidArgumentError as exc:
        raise NotFoundError(f"no model files at 'registry/{path:.200}': {exc} ({shape}).") from None
    return ModelRef(parse_model_name(parts[0]), version=version), "/".join(parts[2:])


class RegistryFiles:
    """Model version files, read-only through the artifact proxy (EXECUTE on the model, audited)."""

    def read(self, lh: Any, path: str) -> bytes:
        ref, rel = tree_ref(check_relative(path))
        if not rel:
            raise NotFoundError(f"registry/{path} is a model version folder; name a file inside it.")
        return _svc(lh).read_file(lh.principal, ref, rel)

    def list(self, lh: Any, path: str) -> list[ArtifactFile]:
        """Files and folders directly inside ``path`` (names relative to it; nothing for a file)."""
        ref, rel = tree_ref(check_relative(path))
        prefix = f"{rel}/" if rel else ""
        children: dict[str, ArtifactFile] = {}
        for f in _svc(lh).list_files(lh.principal, ref):
            if not f.path.startswith(prefix):
                continue
            head, below, _ = f.path[len(prefix):].partition("/")
            children[head] = ArtifactFile(head, True, None) if below else ArtifactFile(head, False, f.size)
        return sorted(children.values(), key=lambda f: f.path)


ARTIFACT_TREES[TREE] = RegistryFiles()

"""MLflow's model-registry endpoints: registered models, versions, tags, aliases, download URIs.

A thin face over :class:`glashaus.registry.RegistryService`: each handler reads an
MLflow request message (``mlflow.protos.model_registry_pb2``), calls the service as
the caller, and answers with MLflow's entities as JSON
(``mlflow.entities.model_registry.*.to_proto()``, empty lists left out).

Names: an MLflow registered-model name is a Glashaus three-part name
(``main.shop.recommender``). Version sources are translated to managed storage:
``runs:/<run_id>/<path>``, ``models:/m-<id>`` (an MLflow 3 logged model),
``models:/<name>/<version>`` (or ``@alias``), and ``mlflow-artifacts:/<path>``; the
version records the URI the client gave. A version's files are served through the
artifact proxy at ``mlflow-artifacts:/registry/<name>/<version>`` (EXECUTE checked per
request), which is what ``get-download-uri`` answers, so
``mlflow.pyfunc.load_model("models:/main.shop.recommender@champion")`` works.

>>> client.set_registered_model_alias("main.shop.recommender", "champion", 1)   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from typing import Any

from glashaus.catalog.names import parse_number
from glashaus.errors import (
    AlreadyExistsError,
    GlashausError,
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
)
from glashaus.registry.refs import ModelRef, check_alias, logged_model_id, parse_model_name, parse_ref
from glashaus.registry.service import RegisteredModel, RegistryService
from glashaus.registry.versions import ModelVersion
from glashaus.server.mlflow.protocol import MlflowRequest, Route, parse_message
from glashaus.server.mlflow.tracking import ARTIFACT_TREES, SCHEME
from glashaus.tracking.artifacts import check_relative, parse_artifact_path
from glashaus.tracking.entities import ArtifactFile
from glashaus.tracking.rules import mlflow_rules, page_offset

#: The artifact proxy's first path segment for model version files.
TREE = "registry"
#: MLflow's page limits (SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD, model_registry.proto).
MAX_MODELS_PAGE = 1000
MAX_VERSIONS_PAGE = 200_000


def _pb() -> Any:
    from mlflow.protos import model_registry_pb2

    return model_registry_pb2


def _svc(lh: Any) -> RegistryService:
    return lh.registry


def _required(message: Any, name: str) -> Any:
    value = getattr(message, name)
    if not message.HasField(name) or value == "":
        raise InvalidArgumentError(f"Missing value for required parameter '{name}'.")
    return value


def _name(message: Any, field: str = "name") -> str:
    """The request's registered-model name, checked to be a Glashaus three-part name."""
    text = _required(message, field)
    try:
        return parse_model_name(text).full
    except InvalidNameError as exc:
        raise InvalidArgumentError(
            f"registered model name {text!r} is not usable here: {exc} MLflow registered models in Glashaus "
            "have three-part names <catalog>.<schema>.<model>, e.g. 'main.shop.recommender'."
        ) from None


def _version(message: Any) -> int:
    return parse_number(str(_required(message, "version")), what="Model version", minimum=1)


# -- MLflow's messages ------------------------------------------------------------------------


def _ms(when: dt.datetime) -> int:
    if when.tzinfo is None:  # SQLite hands back naive UTC
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def _json(proto: Any) -> dict[str, Any]:
    from mlflow.utils.proto_json_utils import message_to_json

    return json.loads(message_to_json(proto, pretty=False))


def _version_entity(mv: ModelVersion) -> Any:
    from mlflow.entities.model_registry import ModelVersion as Entity
    from mlflow.entities.model_registry import ModelVersionTag

    return Entity(
        name=mv.name, version=mv.version, creation_timestamp=_ms(mv.created_at),  # type: ignore[arg-type]
        last_updated_timestamp=_ms(mv.updated_at), description=mv.description, user_id=mv.created_by,
        current_stage="None", source=mv.source, run_id=mv.run_id, status=mv.status,
        status_message=mv.status_message, tags=[ModelVersionTag(k, v) for k, v in mv.tags.items()],
        aliases=list(mv.aliases), model_id=mv.logged_model_id,
    )


def _version_message(entity: Any) -> dict[str, Any]:
    proto = entity.to_proto()
    if entity.model_id:  # to_proto leaves it out; MLflow 3 clients read it
        proto.model_id = entity.model_id
    return _json(proto)


def _model_entity(rm: RegisteredModel, latest: ModelVersion | None = None) -> Any:
    from mlflow.entities.model_registry import RegisteredModel as Entity
    from mlflow.entities.model_registry import RegisteredModelAlias, RegisteredModelTag

    return Entity(
        name=rm.name, creation_timestamp=_ms(rm.created_at), last_updated_timestamp=_ms(rm.updated_at),
        description=rm.description, latest_versions=[_version_entity(latest)] if latest else [],
        tags=[RegisteredModelTag(k, v) for k, v in rm.tags.items()],
        aliases=[RegisteredModelAlias(a, str(v)) for a, v in rm.aliases.items()],
    )


def _model_message(lh: Any, rm: RegisteredModel) -> dict[str, Any]:
    """A registered model with its latest version (MLflow's ``latest_versions``: all versions are stage None)."""
    latest = None
    if rm.latest_version is not None:
        latest = _svc(lh).get_version(lh.principal, ModelRef(parse_model_name(rm.name), version=rm.latest_version))
    return _json(_model_entity(rm, latest).to_proto())


def _page(items: list[Any], max_results: int, page_token: str, limit: int) -> tuple[list[Any], str | None]:
    from mlflow.utils.search_utils import SearchUtils

    if max_results < 1 or max_results > limit:
        raise InvalidArgumentError(f"Invalid value for max_results: it must be between 1 and {limit}, "
                                   f"got {max_results}.")
    start = page_offset(page_token or None)
    end = start + max_results
    if end >= len(items):
        return items[start:end], None
    token = SearchUtils.create_page_token(end)
    return items[start:end], token.decode() if isinstance(token, bytes) else token


# -- registered models --------------------------------------------------------------------------


def create_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().CreateRegisteredModel)
    name = _name(m)
    try:
        rm = _svc(lh).create_model(lh.principal, name, description=m.description or None,
                                   tags={t.key: t.value for t in m.tags})
    except PermissionDeniedError as denied:
        # mlflow.register_model creates the model first and expects RESOURCE_ALREADY_EXISTS when it exists:
        # someone who may use the model but not create models gets that answer, not a denial.
        try:
            _svc(lh).get_model(lh.principal, name)
        except GlashausError:
            raise denied from None
        raise AlreadyExistsError(f"Registered Model (name={name}) already exists.") from None
    return {"registered_model": _model_message(lh, rm)}


def get_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetRegisteredModel)
    return {"registered_model": _model_message(lh, _svc(lh).get_model(lh.principal, _name(m)))}


def search_registered_models(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    from mlflow.utils.search_utils import SearchModelUtils

    m = parse_message(req, _pb().SearchRegisteredModels)
    found = {rm.name: rm for rm in _svc(lh).list_models(lh.principal)}
    with mlflow_rules():
        entities = SearchModelUtils.filter([_model_entity(rm) for rm in found.values()], m.filter)
        entities = SearchModelUtils.sort(entities, list(m.order_by))
    page, token = _page(entities, m.max_results, m.page_token, MAX_MODELS_PAGE)
    out: dict[str, Any] = {}
    if page:
        out["registered_models"] = [_model_message(lh, found[e.name]) for e in page]
    if token:
        out["next_page_token"] = token
    return out


def update_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().UpdateRegisteredModel)
    name = _name(m)
    if m.HasField("description"):
        rm = _svc(lh).set_description(lh.principal, name, m.description)
    else:
        rm = _svc(lh).get_model(lh.principal, name)
    return {"registered_model": _model_message(lh, rm)}


def rename_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().RenameRegisteredModel)
    name, new_name = _name(m), _name(m, "new_name")
    raise InvalidArgumentError(
        f"registered models cannot be renamed in Glashaus (a model's name is its catalog name, which grants, "
        f"lineage and aliases refer to). To move {name} to {new_name}, register its versions under the new "
        f"name, e.g. mlflow.register_model('models:/{name}/1', '{new_name}'), then delete the old model."
    )


def delete_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteRegisteredModel)
    _svc(lh).delete_model(lh.principal, _name(m))
    return {}


def set_registered_model_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetRegisteredModelTag)
    _svc(lh).set_tags(lh.principal, _name(m), {_required(m, "key"): m.value})
    return {}


def delete_registered_model_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteRegisteredModelTag)
    _svc(lh).unset_tags(lh.principal, _name(m), [_required(m, "key")])
    return {}


def get_latest_versions(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    """The newest version; Glashaus has no stages (every version is stage ``None``)."""
    from mlflow.entities.model_registry.model_version_stages import get_canonical_stage

    m = parse_message(req, _pb().GetLatestVersions)
    name = _name(m)
    with mlflow_rules():
        stages = {get_canonical_stage(s) for s in m.stages}
    rm = _svc(lh).get_model(lh.principal, name)
    if rm.latest_version is None or (stages and "None" not in stages):
        return {}
    mv = _svc(lh).get_version(lh.principal, ModelRef(parse_model_name(name), version=rm.latest_version))
    return {"model_versions": [_version_message(_version_entity(mv))]}


# -- aliases ------------------------------------------------------------------------------------


def set_alias(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetRegisteredModelAlias)
    _svc(lh).set_alias(lh.principal, _name(m), _required(m, "alias"), _version(m))
    return {}


def delete_alias(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteRegisteredModelAlias)
    _svc(lh).delete_alias(lh.principal, _name(m), _required(m, "alias"))
    return {}


def get_version_by_alias(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetModelVersionByAlias)
    ref = ModelRef(parse_model_name(_name(m)), alias=check_alias(_required(m, "alias")))
    return {"model_version": _version_message(_version_entity(_svc(lh).get_version(lh.principal, ref)))}


# -- model versions -----------------------------------------------------------------------------


def create_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().CreateModelVersion)
    name, source = _name(m), _required(m, "source")
    location, run_id, model_id = _managed_source(lh, source, run_id=m.run_id or None, model_id=m.model_id or None)
    mv = _svc(lh).register_files(
        lh.principal, location, name, description=m.description or None, tags={t.key: t.value for t in m.tags},
        run_id=run_id, logged_model_id=model_id, source_uri=source,
    )
    return {"model_version": _version_message(_version_entity(mv))}


def get_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetModelVersion)
    return {"model_version": _version_message(_version_entity(_get_version(lh, m)))}


def _get_version(lh: Any, m: Any) -> ModelVersion:
    return _svc(lh).get_version(lh.principal, ModelRef(parse_model_name(_name(m)), version=_version(m)))


def update_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().UpdateModelVersion)
    if m.HasField("description"):
        mv = _svc(lh).set_description(lh.principal, _name(m), m.description, version=_version(m))
    else:
        mv = _get_version(lh, m)
    return {"model_version": _version_message(_version_entity(mv))}


def delete_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteModelVersion)
    _svc(lh).delete_version(lh.principal, _name(m), _version(m))
    return {}


def set_model_version_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetModelVersionTag)
    _svc(lh).set_tags(lh.principal, _name(m), {_required(m, "key"): m.value}, version=_version(m))
    return {}


def delete_model_version_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteModelVersionTag)
    _svc(lh).unset_tags(lh.principal, _name(m), [_required(m, "key")], version=_version(m))
    return {}


def search_model_versions(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    from mlflow.utils.search_utils import SearchModelVersionUtils

    m = parse_message(req, _pb().SearchModelVersions)
    with mlflow_rules():
        clauses = SearchModelVersionUtils.parse_search_filter(m.filter)
    svc = _svc(lh)
    named = [c["value"] for c in clauses if c["type"] == "attribute" and c["key"] == "name" and c["comparator"] == "="]
    names = named[:1] or [rm.name for rm in svc.list_models(lh.principal)]
    versions: list[ModelVersion] = []
    for name in names:
        try:
            versions.extend(svc.list_versions(lh.principal, name))
        except (NotFoundError, PermissionDeniedError, InvalidArgumentError, InvalidNameError):
            continue  # MLflow answers an empty list for a model one cannot see (or a malformed name)
    with mlflow_rules():
        entities = SearchModelVersionUtils.filter([_version_entity(v) for v in versions], m.filter)
        entities = SearchModelVersionUtils.sort(entities, list(m.order_by))
    page, token = _page(entities, m.max_results, m.page_token, MAX_VERSIONS_PAGE)
    out: dict[str, Any] = {}
    if page:
        out["model_versions"] = [_version_message(e) for e in page]
    if token:
        out["next_page_token"] = token
    return out


def get_download_uri(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    """Where MLflow clients fetch a version's files: the artifact proxy's ``registry/`` tree."""
    m = parse_message(req, _pb().GetModelVersionDownloadUri)
    mv = _get_version(lh, m)
    return {"artifact_uri": f"{SCHEME}:/{TREE}/{mv.name}/{mv.version}"}


def transition_stage(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().TransitionModelVersionStage)
    name, version = _name(m), _version(m)
    raise InvalidArgumentError(
        f"model version stages are deprecated in MLflow and Glashaus does not keep them (asked to move {name} "
        f"version {version} to {m.stage or 'a stage'!r}); use aliases instead: "
        f"client.set_registered_model_alias('{name}', 'champion', {version}) and load "
        f"'models:/{name}@champion'."
    )


# -- sources ------------------------------------------------------------------------------------


def _managed_source(lh: Any, source: str, *, run_id: str | None,
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
            ref, rel = _tree_ref(rest)
            mv = _svc(lh).get_version(lh.principal, ref)
            base = mv.storage_location or ""
            return (f"{base}/{rel}" if rel else base), run_id or mv.run_id, model_id or mv.logged_model_id
        where = parse_artifact_path(path)
        if where.kind == "run":
            run = lh.tracking.get_run(lh.principal, where.owner_id)
            _same(source, "run_id", run_id, run.run_id)
            _same(source, "experiment", where.experiment_id, run.experiment_id)
            return _storage(lh, path), run.run_id, model_id
        model = lh.tracking.models.get(lh.principal, where.owner_id)
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
    tracking = lh.tracking
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
    model = lh.tracking.models.get(lh.principal, logged)
    return _storage(lh, model.artifact_path), run_id or model.source_run_id, model.model_id


def _same(source: str, field: str, given: str | None, actual: str) -> None:
    if given and given != actual:
        raise InvalidArgumentError(f"Invalid model version source {source!r}: it belongs to {field} {actual!r}, "
                                   f"but the request names {given!r}.")


def _storage(lh: Any, artifact_path: str) -> str:
    """``<experiment_id>/<rest>`` (an artifact proxy path) as a location in the experiment's folder."""
    experiment, _, rest = artifact_path.partition("/")
    base = lh.tracking.locations.experiment_location(experiment).rstrip("/")
    return f"{base}/{rest}" if rest else base


# -- the artifact proxy's registry/ tree ----------------------------------------------------------


def _tree_ref(path: str) -> tuple[ModelRef, str]:
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
        ref, rel = _tree_ref(check_relative(path))
        if not rel:
            raise NotFoundError(f"registry/{path} is a model version folder; name a file inside it.")
        return _svc(lh).read_file(lh.principal, ref, rel)

    def list(self, lh: Any, path: str) -> list[ArtifactFile]:
        """Files and folders directly inside ``path`` (names relative to it; nothing for a file)."""
        ref, rel = _tree_ref(check_relative(path))
        prefix = f"{rel}/" if rel else ""
        children: dict[str, ArtifactFile] = {}
        for f in _svc(lh).list_files(lh.principal, ref):
            if not f.path.startswith(prefix):
                continue
            head, below, _ = f.path[len(prefix):].partition("/")
            children[head] = ArtifactFile(head, True, None) if below else ArtifactFile(head, False, f.size)
        return sorted(children.values(), key=lambda f: f.path)


ARTIFACT_TREES[TREE] = RegistryFiles()

_RM, _MV = "/registered-models", "/model-versions"

ROUTES: list[Route] = [
    Route("POST", _RM + "/create", create_registered_model),
    Route("GET", _RM + "/get", get_registered_model),
    Route("GET", _RM + "/search", search_registered_models),
    Route("PATCH", _RM + "/update", update_registered_model),
    Route("POST", _RM + "/rename", rename_registered_model),
    Route("DELETE", _RM + "/delete", delete_registered_model),
    Route("POST", _RM + "/set-tag", set_registered_model_tag),
    Route("DELETE", _RM + "/delete-tag", delete_registered_model_tag),
    Route("POST", _RM + "/get-latest-versions", get_latest_versions),
    Route("GET", _RM + "/get-latest-versions", get_latest_versions),
    Route("POST", _RM + "/alias", set_alias),
    Route("DELETE", _RM + "/alias", delete_alias),
    Route("GET", _RM + "/alias", get_version_by_alias),
    Route("POST", _MV + "/create", create_model_version),
    Route("GET", _MV + "/get", get_model_version),
    Route("PATCH", _MV + "/update", update_model_version),
    Route("DELETE", _MV + "/delete", delete_model_version),
    Route("GET", _MV + "/search", search_model_versions),
    Route("POST", _MV + "/set-tag", set_model_version_tag),
    Route("DELETE", _MV + "/delete-tag", delete_model_version_tag),
    Route("GET", _MV + "/get-download-uri", get_download_uri),
    Route("POST", _MV + "/transition-stage", transition_stage),
]

"""MLflow's model-registry endpoints: registered models, versions, tags, aliases, download URIs.

A thin face over :class:`glashaus.registry.RegistryService`: each handler reads an
MLflow request message (``mlflow.protos.model_registry_pb2``), calls the service as
the caller, and answers in MLflow's JSON (``registry_messages.py``, built like the tracking
messages, empty lists left out).

Names: an MLflow registered-model name is a Glashaus three-part name
(``main.shop.recommender``). CreateModelVersion is ``register_files``, which takes MLflow's
sources itself (``runs:/<run_id>/<path>``, ``models:/m-<id>``, ``models:/<name>/<version>``
or ``@alias``, ``mlflow-artifacts:/<path>``: ``registry/sources.py``) and records the URI the
client gave. A version's files are served
through the artifact proxy at ``mlflow-artifacts:/registry/<name>/<version>`` (EXECUTE
checked per request), which is what ``get-download-uri`` answers, so
``mlflow.pyfunc.load_model("models:/main.shop.recommender@champion")`` works.

>>> import os
>>> from mlflow import MlflowClient
>>> from glashaus.server.app import create_app
>>> from glashaus.server.running import ServerThread
>>> os.environ["MLFLOW_TRACKING_TOKEN"] = lh.create_token()
>>> with ServerThread(create_app(lh)) as server:
...     client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
...     client.set_registered_model_alias("main.shop.reco", "challenger", 1)
...     client.get_model_version_by_alias("main.shop.reco", "challenger").version
'1'
>>> del os.environ["MLFLOW_TRACKING_TOKEN"]
"""

from __future__ import annotations

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
from glashaus.lakehouse import services
from glashaus.registry.refs import ModelRef, check_alias, parse_model_name
from glashaus.registry.service import RegisteredModel, RegistryService
from glashaus.registry.versions import ModelVersion
from glashaus.server.mlflow.artifacts import SCHEME
from glashaus.server.mlflow.protocol import MlflowRequest, Route, parse_message
from glashaus.server.mlflow.registry_errors import with_mlflow_messages
from glashaus.server.mlflow.registry_messages import (
    model_entity,
    model_message,
    version_entity,
    version_message,
)
from glashaus.server.mlflow.sources import TREE
from glashaus.tracking.rules import mlflow_rules, page_offset

#: MLflow's page limits (SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD, model_registry.proto).
MAX_MODELS_PAGE = 1000
MAX_VERSIONS_PAGE = 200_000


def _pb() -> Any:
    from mlflow.protos import model_registry_pb2

    return model_registry_pb2


def _svc(lh: Any) -> RegistryService:
    return services(lh).registry


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
    text = str(_required(message, "version"))
    if not text.strip().lstrip("+-").isdigit():  # MLflow's words (validation.not_integer_value)
        raise InvalidArgumentError(f"Parameter 'version' must be an integer, got '{text:.100}'.")
    return parse_number(text, what="Model version", minimum=1)


def _model_message(lh: Any, rm: RegisteredModel) -> dict[str, Any]:
    """A registered model with its latest version (MLflow's ``latest_versions``: all versions are stage None)."""
    latest = None
    if rm.latest_version is not None:
        latest = _svc(lh).get_version(lh.principal, ModelRef(parse_model_name(rm.name), version=rm.latest_version))
    return model_message(rm, latest)


def _page(items: list[Any], max_results: int, page_token: str, limit: int) -> tuple[list[Any], str | None]:
    from mlflow.utils.search_utils import SearchUtils

    if max_results < 1 or max_results > limit:
        raise InvalidArgumentError(
            f"Invalid value for max_results: it must be between 1 and {limit}, got {max_results}."
        )
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
        rm = _svc(lh).create_model(
            lh.principal, name, description=m.description or None, tags={t.key: t.value for t in m.tags}
        )
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
        entities = SearchModelUtils.filter([model_entity(rm) for rm in found.values()], m.filter)
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
    _svc(lh).get_model(lh.principal, name)  # a missing model is MLflow's RESOURCE_DOES_NOT_EXIST, not a refusal
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
    return {"model_versions": [version_message(mv)]}


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
    return {"model_version": version_message(_svc(lh).get_version(lh.principal, ref))}


# -- model versions -----------------------------------------------------------------------------


def create_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().CreateModelVersion)
    name, source = _name(m), _required(m, "source")
    mv = _svc(lh).register_files(
        lh.principal,
        source,
        name,
        description=m.description or None,
        tags={t.key: t.value for t in m.tags},
        run_id=m.run_id or None,
        logged_model_id=m.model_id or None,
    )
    return {"model_version": version_message(mv)}


def get_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetModelVersion)
    return {"model_version": version_message(_get_version(lh, m))}


def _get_version(lh: Any, m: Any) -> ModelVersion:
    return _svc(lh).get_version(lh.principal, ModelRef(parse_model_name(_name(m)), version=_version(m)))


def update_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().UpdateModelVersion)
    if m.HasField("description"):
        mv = _svc(lh).set_description(lh.principal, _name(m), m.description, version=_version(m))
    else:
        mv = _get_version(lh, m)
    return {"model_version": version_message(mv)}


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
        entities = SearchModelVersionUtils.filter([version_entity(v) for v in versions], m.filter)
        entities = SearchModelVersionUtils.sort(entities, list(m.order_by))
    page, token = _page(entities, m.max_results, m.page_token, MAX_VERSIONS_PAGE)
    out: dict[str, Any] = {}
    if page:
        found = {(v.name, v.version): v for v in versions}
        out["model_versions"] = [version_message(found[(e.name, int(e.version))]) for e in page]
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

# MLflow's sentences for a missing or duplicate model or version (registry_errors.py).
ROUTES = [with_mlflow_messages(route) for route in ROUTES]

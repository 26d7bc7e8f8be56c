"""MLflow's model-registry endpoints: registered models, versions, tags, aliases, download URIs.

A thin face over :class:`glashaus.registry.RegistryService`: each handler reads an
MLflow request message (``mlflow.protos.model_registry_pb2``), calls the service as
the caller, and answers in MLflow's JSON (``registry_messages.py``, built like the tracking
messages, empty lists left out).

Names (``glashaus.registry.mlflow_names``): a three-part name (``main.shop.recommender``) is
the securable; a plain name (``CreateRMTest``) lives in the server's default schema
(``main.default`` unless ``glashaus serve --default-schema``) and every reply, errors
included, gives it back as the client wrote it (``model_names.py``). CreateModelVersion is ``register_files``, which takes MLflow's
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

from contextlib import suppress
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
from glashaus.registry.mlflow_names import ModelNames
from glashaus.registry.refs import ModelRef, check_alias, logged_model_id, parse_model_name, parse_ref
from glashaus.registry.service import RegisteredModel, RegistryService
from glashaus.registry.versions import ModelVersion
from glashaus.server.mlflow.artifacts import SCHEME
from glashaus.server.mlflow.model_names import Named, as_written, name_of, plain_source
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
#: How many copies of a version without files get-download-uri follows back to the original source.
MAX_COPIES = 10
#: MLflow's default order of search_model_versions (its SQL store's): newest change first.
VERSIONS_ORDER = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]


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


def _names(req: MlflowRequest) -> ModelNames:
    return ModelNames(req.default_schema)


def _named(req: MlflowRequest, message: Any, field: str = "name") -> Named:
    """The request's registered-model name: three-part, or plain (in the server's default schema)."""
    return name_of(_names(req), _required(message, field))


def _version(message: Any) -> int:
    text = str(_required(message, "version"))
    if not text.strip().lstrip("+-").isdigit():  # MLflow's words (validation.not_integer_value)
        raise InvalidArgumentError(f"Parameter 'version' must be an integer, got '{text:.100}'.")
    return parse_number(text, what="Model version", minimum=1)


def _model_message(lh: Any, rm: RegisteredModel, shown: str) -> dict[str, Any]:
    """A registered model with its latest version (MLflow's ``latest_versions``: all versions are stage None)."""
    latest = None
    if rm.latest_version is not None:
        latest = _svc(lh).get_version(lh.principal, ModelRef(parse_model_name(rm.name), version=rm.latest_version))
    return model_message(rm, latest, name=shown)


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
    named = _named(req, m)
    description, tags = m.description or None, {t.key: t.value for t in m.tags}
    with as_written(named):
        try:
            if named.plain:
                rm = _svc(lh).create_named(
                    lh.principal, named.securable, mlflow_name=named.text, description=description, tags=tags
                )
            else:
                rm = _svc(lh).create_model(lh.principal, named.full, description=description, tags=tags)
        except AlreadyExistsError:
            raise _exists(lh, named) from None
        except PermissionDeniedError as denied:
            # mlflow.register_model creates the model first and expects RESOURCE_ALREADY_EXISTS when it exists:
            # someone who may use the model but not create models gets that answer, not a denial.
            try:
                _svc(lh).get_model(lh.principal, named.full)
            except GlashausError:
                raise denied from None
            raise _exists(lh, named) from None
        return {"registered_model": _model_message(lh, rm, named.shown)}


def _exists(lh: Any, named: Named) -> AlreadyExistsError:
    """MLflow's answer for a taken name; naming the other model when a different plain name holds the securable."""
    try:
        other = _svc(lh).get_model(lh.principal, named.full).mlflow_name
    except GlashausError:
        other = None
    if named.plain and other is not None and other != named.text:
        return AlreadyExistsError(
            f"Registered Model (name={named.text}) cannot be created: its catalog name {named.full} belongs to "
            f"the registered model {other!r}. Choose another name."
        )
    return AlreadyExistsError(f"Registered Model (name={named.shown}) already exists.")


def get_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetRegisteredModel)
    named = _named(req, m)
    with as_written(named):
        return {"registered_model": _model_message(lh, _svc(lh).get_model(lh.principal, named.full), named.shown)}


def search_registered_models(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    from mlflow.utils.search_utils import SearchModelUtils

    m = parse_message(req, _pb().SearchRegisteredModels)
    names = _names(req)
    found = {names.shown(rm.name, rm.mlflow_name): rm for rm in _svc(lh).list_models(lh.principal)}
    with mlflow_rules():
        entities = SearchModelUtils.filter([model_entity(rm, name=n) for n, rm in found.items()], m.filter)
        entities = SearchModelUtils.sort(entities, list(m.order_by))
    page, token = _page(entities, m.max_results, m.page_token, MAX_MODELS_PAGE)
    out: dict[str, Any] = {}
    if page:
        out["registered_models"] = [_model_message(lh, found[e.name], e.name) for e in page]
    if token:
        out["next_page_token"] = token
    return out


def update_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().UpdateRegisteredModel)
    named = _named(req, m)
    with as_written(named):
        if m.HasField("description"):
            rm = _svc(lh).set_description(lh.principal, named.full, m.description)
        else:
            rm = _svc(lh).get_model(lh.principal, named.full)
        return {"registered_model": _model_message(lh, rm, named.shown)}


def rename_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().RenameRegisteredModel)
    named = _named(req, m)
    name, new_name = named.shown, _named(req, m, "new_name").shown
    with as_written(named):  # a missing model is MLflow's RESOURCE_DOES_NOT_EXIST, not a refusal
        _svc(lh).get_model(lh.principal, named.full)
    raise InvalidArgumentError(
        f"registered models cannot be renamed in Glashaus (a model's name is its catalog name, which grants, "
        f"lineage and aliases refer to). To move {name} to {new_name}, register its versions under the new "
        f"name, e.g. mlflow.register_model('models:/{name}/1', '{new_name}'), then delete the old model."
    )


def delete_registered_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteRegisteredModel)
    named = _named(req, m)
    with as_written(named):
        _svc(lh).delete_model(lh.principal, named.full)
    return {}


def set_registered_model_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetRegisteredModelTag)
    named = _named(req, m)
    with as_written(named):
        _svc(lh).set_tags(lh.principal, named.full, {_required(m, "key"): m.value})
    return {}


def delete_registered_model_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteRegisteredModelTag)
    named = _named(req, m)
    with as_written(named):
        _svc(lh).unset_tags(lh.principal, named.full, [_required(m, "key")])
    return {}


def get_latest_versions(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    """The newest version; Glashaus has no stages (every version is stage ``None``)."""
    from mlflow.entities.model_registry.model_version_stages import get_canonical_stage

    m = parse_message(req, _pb().GetLatestVersions)
    named = _named(req, m)
    with mlflow_rules():
        stages = {get_canonical_stage(s) for s in m.stages}
    with as_written(named):
        rm = _svc(lh).get_model(lh.principal, named.full)
        if rm.latest_version is None or (stages and "None" not in stages):
            return {}
        mv = _svc(lh).get_version(lh.principal, ModelRef(named.securable, version=rm.latest_version))
    return {"model_versions": [version_message(mv, name=named.shown)]}


# -- aliases ------------------------------------------------------------------------------------


def set_alias(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetRegisteredModelAlias)
    named = _named(req, m)
    with as_written(named):
        _svc(lh).set_alias(lh.principal, named.full, _required(m, "alias"), _version(m))
    return {}


def delete_alias(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteRegisteredModelAlias)
    named = _named(req, m)
    with as_written(named):
        _svc(lh).delete_alias(lh.principal, named.full, _required(m, "alias"))
    return {}


def get_version_by_alias(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetModelVersionByAlias)
    named = _named(req, m)
    ref = ModelRef(named.securable, alias=check_alias(_required(m, "alias")))
    with as_written(named):
        return {"model_version": version_message(_svc(lh).get_version(lh.principal, ref), name=named.shown)}


# -- model versions -----------------------------------------------------------------------------


def create_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().CreateModelVersion)
    named, source = _named(req, m), _required(m, "source")
    with as_written(named):
        if named.plain:
            _ensure_named(lh, named)
        mv = _svc(lh).register_files(
            lh.principal,
            plain_source(_names(req), source),
            named.full,
            description=m.description or None,
            tags={t.key: t.value for t in m.tags},
            run_id=m.run_id or None,
            logged_model_id=m.model_id or None,
            recorded_source=source,  # as the client wrote it (a plain name in models:/ stays plain)
            allow_missing_run=True,  # runs:/<a run this server lacks> is recorded without files, as MLflow does
        )
    return {"model_version": version_message(mv, name=named.shown)}


def _ensure_named(lh: Any, named: Named) -> None:
    """A plain-named model registered into before it exists is created under its name (so it records it).

    Registering creates a missing model (as ``lh.models.register_files`` does), but would not record the name.
    """
    try:
        _svc(lh).get_model(lh.principal, named.full)
    except NotFoundError:
        with suppress(AlreadyExistsError):  # created meanwhile
            _svc(lh).create_named(lh.principal, named.securable, mlflow_name=named.text)
    except PermissionDeniedError:
        pass  # registering decides whether the caller may add a version (and audits its decision)


def get_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetModelVersion)
    named = _named(req, m)
    with as_written(named):
        return {"model_version": version_message(_get_version(lh, named, m), name=named.shown)}


def _get_version(lh: Any, named: Named, m: Any) -> ModelVersion:
    return _svc(lh).get_version(lh.principal, ModelRef(named.securable, version=_version(m)))


def update_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().UpdateModelVersion)
    named = _named(req, m)
    with as_written(named):
        if m.HasField("description"):
            mv = _svc(lh).set_description(lh.principal, named.full, m.description, version=_version(m))
        else:
            mv = _get_version(lh, named, m)
    return {"model_version": version_message(mv, name=named.shown)}


def delete_model_version(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteModelVersion)
    named = _named(req, m)
    with as_written(named):
        _svc(lh).delete_version(lh.principal, named.full, _version(m))
    return {}


def set_model_version_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetModelVersionTag)
    named = _named(req, m)
    with as_written(named):
        _svc(lh).set_tags(lh.principal, named.full, {_required(m, "key"): m.value}, version=_version(m))
    return {}


def delete_model_version_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteModelVersionTag)
    named = _named(req, m)
    with as_written(named):
        _svc(lh).unset_tags(lh.principal, named.full, [_required(m, "key")], version=_version(m))
    return {}


def search_model_versions(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    from mlflow.utils.search_utils import SearchModelVersionUtils

    m = parse_message(req, _pb().SearchModelVersions)
    with mlflow_rules():
        clauses = SearchModelVersionUtils.parse_search_filter(m.filter)
    svc, names = _svc(lh), _names(req)
    named = [c["value"] for c in clauses if c["type"] == "attribute" and c["key"] == "name" and c["comparator"] == "="]
    shown: dict[str, str] = {}  # securable -> the name replies carry
    for text in named[:1]:
        with suppress(InvalidArgumentError, InvalidNameError):  # MLflow answers an empty list for a malformed name
            shown[names.securable(text).full] = text if names.is_plain(text) else names.securable(text).full
    if not named:
        shown = {rm.name: names.shown(rm.name, rm.mlflow_name) for rm in svc.list_models(lh.principal)}
    versions: dict[tuple[str, int], ModelVersion] = {}
    for full, text in shown.items():
        try:
            versions.update(((text, v.version), v) for v in svc.list_versions(lh.principal, full))
        except (NotFoundError, PermissionDeniedError, InvalidArgumentError, InvalidNameError):
            continue  # MLflow answers an empty list for a model one cannot see
    with mlflow_rules():
        entities = [version_entity(v, name=text) for (text, _), v in versions.items()]
        entities = SearchModelVersionUtils.filter(entities, m.filter)
        entities = SearchModelVersionUtils.sort(entities, list(m.order_by) or VERSIONS_ORDER)
    page, token = _page(entities, m.max_results, m.page_token, MAX_VERSIONS_PAGE)
    out: dict[str, Any] = {}
    if page:
        out["model_versions"] = [version_message(versions[(e.name, int(e.version))], name=e.name) for e in page]
    if token:
        out["next_page_token"] = token
    return out


def get_download_uri(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    """Where MLflow clients fetch a version's files: the artifact proxy's ``registry/`` tree (catalog names).

    A version without files answers its source, as MLflow's server answers a version it holds no files of.
    """
    m = parse_message(req, _pb().GetModelVersionDownloadUri)
    named = _named(req, m)
    with as_written(named):
        mv = _get_version(lh, named, m)
    return {"artifact_uri": _download_uri(lh, req, mv)}


def _download_uri(lh: Any, req: MlflowRequest, mv: ModelVersion, depth: int = 0) -> str:
    """The proxy's tree for a version with files; else its source, followed through copies (``models:/``)
    as MLflow's copy keeps its source's location. Each followed version is read as the caller (EXECUTE)."""
    if mv.storage_location:
        return f"{SCHEME}:/{TREE}/{mv.name}/{mv.version}"
    source = mv.source or ""
    if depth < MAX_COPIES and source.startswith("models:/") and logged_model_id(source) is None:
        try:
            copied = _svc(lh).get_version(lh.principal, parse_ref(plain_source(_names(req), source)))
        except GlashausError:
            return source
        return _download_uri(lh, req, copied, depth + 1)
    return source


def transition_stage(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().TransitionModelVersionStage)
    named = _named(req, m)
    name, version = named.shown, _version(m)
    with as_written(named):  # a missing version is MLflow's RESOURCE_DOES_NOT_EXIST, not a refusal
        _get_version(lh, named, m)
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

"""Where a version registered from files may come from: inside managed storage, readable by the caller.

A source is a folder holding an MLmodel file, named as

- ``/Volumes/<catalog>/<schema>/<volume>/<path>`` (Unity Catalog's volume paths),
- a path or URI under the lakehouse root that lies inside a volume, a registered
  model or an experiment (run artifacts, logged models), or
- one of MLflow's source URIs, as ``mlflow.register_model`` and the MLflow server take
  them (:class:`SourceUris` translates them into storage locations first):
  ``runs:/<run_id>/<path>`` (the run's files there, or the run's MLflow 3 logged model of
  that name), ``models:/m-<id>`` (a logged model), ``models:/<name>/<version>`` or
  ``models:/<name>@<alias>`` (another version's files), ``mlflow-artifacts:/<path>``
  (the artifact proxy's paths, ``registry/<name>/<version>`` among them) and
  ``glashaus-artifacts:/<path>`` (the same paths, as runs logged through a ``glashaus:``
  tracking URI name them). The version records the URI, and the run and logged model it
  came from.

Anything else is refused, and the refusal audited: a path outside the root, one with
``..`` or NUL in it, or one inside the root that belongs to no such securable (the
metastore, table files, system tables). The caller needs the right to read what holds
the source: READ VOLUME on the volume, EXECUTE on the model or experiment (reading a run
or logged model by URI asks for EXECUTE on its experiment too). Symbolic links are
resolved first, so a link cannot lead outside.

Runs and logged models are experiment tracking's (``tracking/``, the same level as the
registry): the registry does not import it but declares what it needs from it,
:class:`TrackedFolders`, which the Lakehouse fills with tracking's ``model_folders``.

>>> resolve(tables, alice, "/Volumes/main/shop/uploads/reco", action="model.register")
Traceback (most recent call last):
glashaus.errors.NotFoundError: volume 'main.shop.uploads' does not exist...
>>> registry.register_files(alice, "models:/main.shop.reco@champion", "main.shop.reco_copy").source
'models:/main.shop.reco@champion'
>>> registry.register_files(alice, "runs://elsewhere/0a1b/model", "main.shop.reco")
Traceback (most recent call last):
glashaus.errors.InvalidArgumentError: Invalid model version source 'runs://elsewhere/0a1b/model': name a run or model of this lakehouse...
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from glashaus.access import Principal
from glashaus.access.guard import USE, Check
from glashaus.catalog import Name, Securable, parse_name
from glashaus.catalog.names import parse_number
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.registry import refs
from glashaus.registry.lookup import ModelLookup, model_check
from glashaus.registry.refs import ModelRef, parse_model_name, parse_ref
from glashaus.registry.versions import ModelVersion
from glashaus.tables import TablesService
from glashaus.tables.volumes import check_path

#: Securables whose folders may hold model files.
SOURCE_KINDS = ("volume", "model", "experiment")

#: The MLflow artifact proxy's URI scheme, and its first path segment for model version files
#: (``mlflow-artifacts:/registry/<catalog>.<schema>.<model>/<version>[/<file>]``).
ARTIFACT_SCHEME = "mlflow-artifacts"
TREE = "registry"
#: Schemes whose paths are tracking's artifact paths: the proxy's, and the embedded artifact
#: repository's (``glashaus-artifacts:/``, the artifact URIs of runs logged through a
#: ``glashaus:`` tracking URI, which has no MLflow registry store: ``register_files`` is the way).
ARTIFACT_SCHEMES = (ARTIFACT_SCHEME, "glashaus-artifacts")

#: Reading another version's files to copy them (as ``get_version``: EXECUTE on its model).
VERSION_SOURCE = model_check("EXECUTE", "model.version.get")

_RUNS_SHAPE = "a runs URI reads 'runs:/<run_id>/<path>', e.g. 'runs:/0a1b2c/model'"


class TrackedFolder(Protocol):
    """A model folder in managed storage that a run or logged model holds."""

    @property
    def location(self) -> str: ...

    @property
    def run_id(self) -> str | None: ...

    @property
    def logged_model_id(self) -> str | None: ...


class TrackedFolders(Protocol):
    """Where runs and logged models keep their models (experiment tracking's ``model_folders``).

    Each call reads the run or logged model as ``who`` (EXECUTE on its experiment, audited)
    and raises the tracking service's errors (NotFoundError, PermissionDeniedError).
    """

    def of_run(self, who: Principal, run_id: str, path: str) -> TrackedFolder: ...

    def of_logged_model(self, who: Principal, model_id: str) -> TrackedFolder: ...

    def at(self, who: Principal, artifact_path: str) -> TrackedFolder: ...

    def run_exists(self, run_id: str) -> bool: ...


@dataclass(frozen=True)
class Origin:
    """Where a new version's files come from, and the run and MLflow 3 logged model they belong to."""

    location: str
    run_id: str | None = None
    logged_model_id: str | None = None
    #: False: the source names no files here (a run this lakehouse does not have; MLflow's face only).
    files: bool = True


class SourceUris:
    """MLflow's source URIs as storage locations, for ``register_files`` (one implementation for every face)."""

    def __init__(self, *, lookup: ModelLookup, tracked: TrackedFolders) -> None:
        self.lookup = lookup
        self.tracked = tracked

    def locate(
        self,
        who: Principal,
        source: str,
        *,
        run_id: str | None = None,
        logged_model_id: str | None = None,
        allow_missing_run: bool = False,
    ) -> Origin:
        """The location ``source`` names, with its run and logged model (a path is returned as it is).

        Only translation: :func:`resolve` then checks that the location lies in managed storage
        and that ``who`` may read it. A ``run_id`` or ``logged_model_id`` that contradicts the
        source is refused; where the source names neither, they are recorded as given.
        ``allow_missing_run`` (MLflow's face, as MLflow's server records them): ``runs:/<run_id>/...``
        of a run this lakehouse does not have is an origin without files (``files=False``), its
        ``run_id`` recorded as given; a run that exists is read as ``who`` as always.

        >>> uris = registry.registration.uris
        >>> origin = uris.locate(bob, "mlflow-artifacts:/registry/main.shop.reco/1/MLmodel")
        >>> origin.location.endswith("/versions/1/MLmodel"), origin.run_id
        (True, None)
        """
        parsed = _parse_uri(source)
        if parsed.scheme in ("runs", "models") and parsed.netloc:
            raise InvalidArgumentError(
                f"Invalid model version source {source!r:.200}: name a run or model of this "
                "lakehouse, e.g. 'runs:/<run_id>/model' or 'models:/m-<id>'."
            )
        if parsed.scheme == "runs":
            source_run, rel = parse_runs_uri(source)
            if allow_missing_run and not self.tracked.run_exists(source_run):
                return Origin("", run_id or source_run, logged_model_id, files=False)
            _same(source, "run_id", run_id, source_run)
            return self._tracked(source, run_id, logged_model_id, lambda t: t.of_run(who, source_run, rel))
        if parsed.scheme == "models":
            logged = refs.logged_model_id(source)  # refs.py: the one models:/ parser
            if logged is None:
                return self._version(who, parse_ref(source), "", run_id, logged_model_id, allow_missing_run)
            _same(source, "model_id", logged_model_id, logged)
            return self._tracked(source, run_id, logged_model_id, lambda t: t.of_logged_model(who, logged))
        if parsed.scheme in ARTIFACT_SCHEMES:
            path = parsed.path.lstrip("/")
            head, _, rest = path.partition("/")
            if head == TREE and parsed.scheme == ARTIFACT_SCHEME:
                ref, rel = tree_ref(rest)
                return self._version(who, ref, rel, run_id, logged_model_id, allow_missing_run)
            return self._tracked(source, run_id, logged_model_id, lambda t: t.at(who, path))
        return Origin(source, run_id, logged_model_id)  # a path: resolve() decides whether it is allowed

    def _tracked(
        self,
        source: str,
        run_id: str | None,
        logged_model_id: str | None,
        find: Callable[[TrackedFolders], TrackedFolder],
    ) -> Origin:
        """A run's or logged model's folder; the ids given must be the ones the source names."""
        folder = find(self.tracked)
        if folder.logged_model_id is not None:  # a logged model: its run is recorded unless one was given
            _same(source, "model_id", logged_model_id, folder.logged_model_id)
            return Origin(folder.location, run_id or folder.run_id, folder.logged_model_id)
        if folder.run_id is not None:
            _same(source, "run_id", run_id, folder.run_id)
        return Origin(folder.location, folder.run_id or run_id, logged_model_id)

    def _version(
        self,
        who: Principal,
        ref: ModelRef,
        rel: str,
        run_id: str | None,
        logged_model_id: str | None,
        allow_missing_run: bool,
    ) -> Origin:
        """Another version's files (or a folder inside them), with the run and logged model it records."""
        _, mv = self.lookup.resolve(who, ref, VERSION_SOURCE)
        if not mv.storage_location:  # a version without files (registered by an MLflow client)
            if not allow_missing_run or rel:
                raise NotFoundError(no_files(mv))
            return Origin("", run_id or mv.run_id, logged_model_id or mv.logged_model_id, files=False)
        base = mv.storage_location.rstrip("/")
        return Origin(f"{base}/{rel}" if rel else base, run_id or mv.run_id, logged_model_id or mv.logged_model_id)


def no_files(mv: ModelVersion) -> str:
    """Why a version without files cannot be loaded, served or copied with files.

    >>> from types import SimpleNamespace
    >>> no_files(SimpleNamespace(ref="main.default.m/1", source="runs:/run_id/model"))[:44]
    'model version main.default.m/1 has no files:'
    """
    return (
        f"model version {mv.ref} has no files: an MLflow client registered it from {mv.source!r}, a run "
        "this lakehouse does not have (MLflow records such versions; Glashaus keeps the record). Register "
        "a model this lakehouse holds, e.g. mlflow.register_model('runs:/<run_id>/model', ...) for a run "
        "logged here."
    )


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """The run and the path inside its artifacts that ``runs:/<run_id>/<path>`` names (MLflow's rule).

    >>> parse_runs_uri("runs:/0a1b2c/model")
    ('0a1b2c', 'model')
    """
    parsed = _parse_uri(uri)
    path = parsed.path
    if parsed.scheme != "runs" or parsed.netloc or not path.startswith("/") or len(path) <= 1:
        raise InvalidArgumentError(f"Not a proper runs:/ URI: {uri!r:.200}; {_RUNS_SHAPE}.")
    run_id, _, rel = path[1:].partition("/")
    if not run_id:
        raise InvalidArgumentError(f"Not a proper runs:/ URI: {uri!r:.200}; {_RUNS_SHAPE}.")
    return run_id, rel


def tree_ref(path: str) -> tuple[ModelRef, str]:
    """``<catalog>.<schema>.<model>/<version>[/<file>]`` (below ``registry/``) as a version and a file path.

    >>> ref, rel = tree_ref("main.shop.reco/1/MLmodel")
    >>> str(ref), rel
    ('main.shop.reco/1', 'MLmodel')
    """
    parts = path.split("/") if path else []
    shape = "the path reads registry/<catalog>.<schema>.<model>/<version>[/<file>]"
    if len(parts) < 2:
        raise NotFoundError(f"no model files at 'registry/{path:.200}': {shape}.")
    try:
        version = parse_number(parts[1], what="the model version", minimum=1)
    except InvalidArgumentError as exc:
        raise NotFoundError(f"no model files at 'registry/{path:.200}': {exc} ({shape}).") from None
    rel = "/".join(parts[2:])
    return ModelRef(parse_model_name(parts[0]), version=version), check_path(rel) if rel else ""


def _parse_uri(source: str) -> urllib.parse.ParseResult:
    try:
        return urllib.parse.urlparse(source)
    except ValueError as exc:  # e.g. 'runs://[x/model': an unclosed IPv6 host
        raise InvalidArgumentError(
            f"Invalid model version source {source!r:.200}: it is no valid URI ({exc}); "
            "name a folder in managed storage or a runs:/, models:/ or mlflow-artifacts:/ "
            "URI."
        ) from None


def _same(source: str, field: str, given: str | None, actual: str) -> None:
    if given and given != actual:
        raise InvalidArgumentError(
            f"Invalid model version source {source!r}: it belongs to {field} {actual!r}, "
            f"but the request names {given!r}."
        )


def resolve(tables: TablesService, who: Principal, source: Any, *, action: str) -> tuple[str, Securable]:
    """The source's location and the securable holding it, after checking the caller may read it."""
    source = check_source(tables, who, source, action=action)
    # READ VOLUME on a volume, EXECUTE on a model or experiment.
    if source.startswith("/Volumes/"):
        name, rel = _volume_path(source)
        volume = tables.guard.allow(who, Check(USE, action, kinds=("volume",)), name, details={"source": source}).found
        base = (volume.storage_location or "").rstrip("/")
        return (f"{base}/{rel}" if rel else base), volume
    location, holder = _storage_path(tables, who, source, action)
    tables.guard.allow(who, Check(USE, action, kinds=SOURCE_KINDS), holder, details={"source": source})
    return location, holder


def check_source(tables: TablesService, who: Principal, source: Any, *, action: str) -> str:
    """``source`` once it is a string without NUL, backslash or ``..`` (a refusal is audited as ``action``)."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidArgumentError("source must be a path or URI of a model folder in the lakehouse's managed storage.")
    refusal = _malformed(source)
    if refusal:
        _refuse(tables, who, source, refusal, action)
    return source


def _malformed(source: str) -> str | None:
    if "\x00" in source or "\\" in source:
        return "it contains a NUL or a backslash"
    path = source.split("://", 1)[-1]
    if ".." in path.split("/"):
        return "it contains '..'"
    return None


def _volume_path(source: str) -> tuple[Name, str]:
    """The volume a ``/Volumes/<catalog>/<schema>/<volume>/<path>`` names, and the path inside it."""
    parts = source.removeprefix("/Volumes/").split("/", 3)
    if len(parts) < 3:
        raise InvalidArgumentError(f"{source!r}: a volume path reads /Volumes/<catalog>/<schema>/<volume>/<folder>.")
    rel = parts[3].strip("/") if len(parts) == 4 else ""
    return parse_name(".".join(parts[:3]), allow_version=False), check_path(rel) if rel else ""


def _storage_path(tables: TablesService, who: Principal, source: str, action: str) -> tuple[str, Securable]:
    layout = tables.layout
    if layout.is_local:
        path = source.removeprefix("file://")
        if not os.path.isabs(path):
            _refuse(tables, who, source, "it is not an absolute path (or a /Volumes/... path)", action)
        path, root = os.path.realpath(path), os.path.realpath(layout.root)
        if os.path.commonpath([path, root]) != root:
            _refuse(tables, who, source, "it is outside the lakehouse's managed storage", action)
    else:
        path, root = source.rstrip("/"), layout.root
        if not path.startswith(root + "/"):
            _refuse(tables, who, source, "it is outside the lakehouse's managed storage", action)
    for kind in SOURCE_KINDS:
        for securable in tables.catalog.search(kind=kind):
            where = securable.storage_location
            if not where:
                continue
            where = os.path.realpath(where) if layout.is_local else where.rstrip("/")
            if path == where or path.startswith(where + "/"):
                return path, securable
    _refuse(tables, who, source, "it lies in no volume, registered model or experiment of the lakehouse", action)
    raise AssertionError("unreachable")


def _refuse(tables: TablesService, who: Principal, source: str, why: str, action: str) -> None:
    reason = (
        f"model source {source!r} is refused: {why}. Register from a folder in managed storage, e.g. upload it "
        "to a volume (lh.put_file) and pass '/Volumes/<catalog>/<schema>/<volume>/<folder>'."
    )
    tables.access.refuse(who, action=action, reason=reason, details={"source": source})
    raise InvalidArgumentError(reason)

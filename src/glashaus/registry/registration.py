"""Registering model versions: from a Python object or a saved MLflow folder, with lineage and facts.

A new version needs ownership or MANAGE on its model; registering into a missing model
creates it (CREATE MODEL on the schema, through the tables service, the only writer of the
catalog). The files are built in staging, checked (``safety.py``), numbered and published;
the version records its source, signature, flavors, environment, code commit and training
set (each table at its exact Delta version, SELECT checked on each), and lineage edges go to
``system.lineage.table_lineage``. All or nothing: a failure at any step leaves no version,
and no model if this call created it.

>>> registration = registry.registration
>>> registration.register(alice, model, "main.shop.reco", training_set=["main.shop.orders"]).version
2
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from glashaus.access import Principal, request
from glashaus.access.guard import Check
from glashaus.catalog import Name, Securable
from glashaus.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from glashaus.lineage import LineageStore, Source
from glashaus.registry import environment, flavors, safety, sources
from glashaus.registry.files import ModelFiles
from glashaus.registry.lookup import ModelLookup, check_tags, model_check, model_name
from glashaus.registry.mlflow_names import SPEC_KEY
from glashaus.registry.versions import ModelVersion
from glashaus.tables import TablesService
from glashaus.tables.containers import Created

CREATE_MODEL = Check.create("model", "model.create")
NEW_VERSION = model_check("MANAGE", "model.version.create")
TRAINING_SET = Check("SELECT", "model.training_set", kinds=("table", "view"), versions=True)

#: Input examples bigger than this stay in the files only (the metastore keeps small facts).
_MAX_EXAMPLE_BYTES = 64 * 1024

#: ``build(staged_folder) -> facts``: writes a version's files into the staging folder.
Build = Callable[[str], dict[str, Any]]


class Registration:
    """register, register_files; create_model (a model without versions)."""

    def __init__(
        self,
        *,
        tables: TablesService,
        lookup: ModelLookup,
        files: ModelFiles,
        lineage: LineageStore,
        tracked: sources.TrackedFolders,
    ) -> None:
        self.tables = tables
        self.guard = tables.guard
        self.layout = tables.layout
        self.lookup = lookup
        self.versions = lookup.versions
        self.files = files
        self.lineage = lineage
        self.uris = sources.SourceUris(lookup=lookup, tracked=tracked)

    def create_model(
        self,
        who: Principal,
        name: Name,
        *,
        description: str | None,
        tags: dict[str, str] | None = None,
        mlflow_name: str | None = None,
    ) -> Created:
        """A new registered model owned by ``who`` (CREATE MODEL on its schema), with its managed folder.

        ``mlflow_name``: the plain MLflow name it is created under, recorded in its spec.
        """
        return self.tables.create_securable(
            who,
            CREATE_MODEL,
            name,
            comment=description,
            tags=tags,
            spec={SPEC_KEY: mlflow_name} if mlflow_name is not None else None,
            location=self.layout.model_location,
        )

    def register(
        self,
        who: Principal,
        model: Any,
        name: str,
        *,
        training_set: Any = None,
        signature: Any = None,
        input_example: Any = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        run_id: str | None = None,
        code_commit: str | None = None,
    ) -> ModelVersion:
        """Save a model object as a new version (creating the model if needed), with lineage.

        ``training_set``: the tables read (``"main.shop.orders"``, ``"main.shop.orders@v3"``), a list
        of them, or ``{"tables": [...], "features": [...]}``; each is recorded with its exact version.
        """
        n = model_name(name)
        tags = check_tags(tags, what="model version")
        flavors.flavor_of(model)  # an unsupported object is refused before anything happens

        def build(staged: str) -> dict[str, Any]:
            flavor = flavors.save(model, staged, signature=signature, input_example=input_example)
            return {
                "environment": environment.capture(environment.FLAVOR_PACKAGES[flavor]),
                "code_commit": code_commit or environment.code_commit(),
            }

        return self._new_version(
            who,
            n,
            build,
            source="python object",
            training_set=training_set,
            description=description,
            tags=tags,
            run_id=run_id,
            logged_model_id=None,
        )

    def register_files(
        self,
        who: Principal,
        source: str,
        name: str,
        *,
        training_set: Any = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        run_id: str | None = None,
        logged_model_id: str | None = None,
        code_commit: str | None = None,
        recorded_source: str | None = None,
        allow_missing_run: bool = False,
    ) -> ModelVersion:
        """Register a saved MLflow model folder from managed storage as a new version (files are copied).

        ``recorded_source``: the source to record when the client wrote it differently from ``source``
        (MLflow's face passes ``models:/<plain name>/1`` as written, ``source`` with the catalog name).
        ``allow_missing_run`` (MLflow's face): ``runs:/<run_id>/...`` of a run this lakehouse does not
        have becomes a version without files, as MLflow's server records it (loading, serving or
        copying its files is then refused, naming why: :func:`glashaus.registry.sources.no_files`).

        ``source`` is ``/Volumes/<catalog>/<schema>/<volume>/<folder>``, a path/URI inside a volume,
        model or experiment of this lakehouse, or an MLflow source URI: ``runs:/<run_id>/<path>``,
        ``models:/m-<id>``, ``models:/<name>/<version>`` (or ``@alias``), ``mlflow-artifacts:/<path>``
        (see :mod:`glashaus.registry.sources`); anything else is refused. The version records
        ``source`` as given, and the run and logged model it came from (``run_id`` and
        ``logged_model_id`` are recorded when the source names none, and refused when they
        contradict it). The MLflow server's CreateModelVersion is this call.

        >>> run = tracking.create_run(alice, tracking.create_experiment(alice, "main.shop.reco_training").experiment_id)
        >>> for f in registry.list_files(alice, "main.shop.reco/1"):
        ...     _ = tracking.files.write(alice, f"{run.artifact_path}/model/{f.path}",
        ...                              registry.read_file(alice, "main.shop.reco/1", f.path))
        >>> mv = registry.register_files(alice, f"runs:/{run.run_id}/model", "main.shop.reco")
        >>> mv.version, mv.source == f"runs:/{run.run_id}/model", mv.run_id == run.run_id
        (2, True, True)
        """
        n = model_name(name)
        tags = check_tags(tags, what="model version")
        action = "model.version.create"
        with request():
            sources.check_source(self.tables, who, source, action=action)
            origin = self.uris.locate(
                who, source, run_id=run_id, logged_model_id=logged_model_id, allow_missing_run=allow_missing_run
            )

            def build(staged: str) -> dict[str, Any]:
                location, _ = sources.resolve(self.tables, who, origin.location, action=action)
                self.files.copy_in(location, staged)
                return {"code_commit": code_commit}

            return self._new_version(
                who,
                n,
                build if origin.files else None,
                source=recorded_source or source,
                training_set=training_set,
                description=description,
                tags=tags,
                run_id=origin.run_id,
                logged_model_id=origin.logged_model_id,
            )

    def _model_for_version(self, who: Principal, n: Name) -> tuple[Securable, Created | None]:
        """The model a new version goes into (MANAGE on it), or a new one (CREATE MODEL), with its undo."""
        with self.guard.require_if_exists(who, NEW_VERSION, n) as existing:
            if existing is not None:
                return existing.found, None
        try:
            created = self.create_model(who, n, description=None)
        except AlreadyExistsError:  # created meanwhile by someone else
            return self.lookup.model(who, NEW_VERSION, n), None
        return created.securable, created

    def _new_version(
        self,
        who: Principal,
        n: Name,
        build: Build | None,
        *,
        source: str,
        training_set: Any,
        description: str | None,
        tags: dict[str, str],
        run_id: str | None,
        logged_model_id: str | None,
    ) -> ModelVersion:
        """Create the model if needed, build the files, number and publish the version, record lineage.

        All or nothing: a failure at any step leaves no version (and no model, if this call created it).
        ``build`` None: a version without files (an MLflow client's source naming a run this lakehouse
        does not have), recorded with its source, run and training set only.
        """
        with request():
            model, created = self._model_for_version(who, n)
            number = None
            staged = None
            try:
                read, lineage = self._training_set(who, training_set)
                reserve = functools.partial(
                    self.versions.reserve,
                    model,
                    created_by=who.name,
                    source=source,
                    run_id=run_id,
                    logged_model_id=logged_model_id,
                    description=description,
                )
                if build is None:
                    number = reserve()
                    self.versions.ready(model, number, storage_location=None, training_set=read)
                    return self._finish(who, n, model, number, tags, lineage)
                staged = self.files.staging()
                facts = build(staged)
                verdict = safety.assess(staged)
                facts.setdefault("environment", environment.from_folder(staged, verdict.mlmodel or {}))
                number = reserve()
                location = self.layout.model_version_location(n, model.id, number)
                digest = safety.digest(staged)
                self.files.publish(staged, location)
                staged = None
                self.versions.ready(
                    model,
                    number,
                    storage_location=location,
                    signature=(verdict.mlmodel or {}).get("signature"),
                    input_example=_input_example(location if self.layout.is_local else None, verdict.mlmodel),
                    flavors=list(verdict.flavors),
                    file_format=verdict.file_format,
                    files_digest=digest,
                    training_set=read,
                    **facts,
                )
                return self._finish(who, n, model, number, tags, lineage)
            except BaseException:
                self.files.discard(staged)
                if number is not None:
                    self.versions.discard(model, number)
                if created is not None:
                    created.undo()
                raise

    def _finish(
        self, who: Principal, n: Name, model: Securable, number: int, tags: dict[str, str], lineage: list[Source]
    ) -> ModelVersion:
        """A new version's tags and lineage edges; the version as it now is."""
        if tags:
            self.versions.set_tags(model, number, tags)
        self.lineage.record(
            principal=who.name,
            target=n.full,
            target_kind="model",
            target_version=number,
            sources=lineage,
            operation="model.register",
        )
        return self.versions.get(model, number)

    def _training_set(self, who: Principal, training_set: Any) -> tuple[list[dict[str, Any]], list[Source]]:
        """The tables a model was trained on, each at its exact version (SELECT checked on each)."""
        recorded, lineage = [], []
        for text, role in _training_names(training_set):
            allowed = self.guard.allow(who, TRAINING_SET, text, details={"role": role})
            n, securable = allowed.name, allowed.found
            base = Name(n.catalog, n.schema, n.object)
            version = None
            if securable.kind == "table":
                latest = self.tables.version(who, base.full)
                if n.version is not None and n.version > latest:
                    raise NotFoundError(
                        f"training set {text!r}: version {n.version} does not exist; versions run from 0 to {latest}."
                    )
                version = latest if n.version is None else n.version
            recorded.append({"name": base.full, "kind": securable.kind, "version": version, "role": role})
            lineage.append(Source(base.full, securable.kind, version))
        return recorded, lineage


def _training_names(training_set: Any) -> list[tuple[str, str]]:
    """(name, role) pairs from a name, a list of names, {"tables": [...], "features": [...]} or such an object."""
    if training_set is None:
        return []
    if isinstance(training_set, str):
        return [(training_set, "input")]
    if isinstance(training_set, Mapping) or hasattr(training_set, "tables"):
        get = (
            training_set.get
            if isinstance(training_set, Mapping)
            else (lambda key, default: getattr(training_set, key, default))
        )
        unknown = set(training_set) - {"tables", "features"} if isinstance(training_set, Mapping) else set()
        if unknown:
            raise InvalidArgumentError(f"training_set keys are 'tables' and 'features'; got {sorted(unknown)}.")
        return _training_names_list(get("tables", None) or [], "input") + _training_names_list(
            get("features", None) or [], "feature"
        )
    return _training_names_list(training_set, "input")


def _training_names_list(names: Any, role: str) -> list[tuple[str, str]]:
    if isinstance(names, str):
        return [(names, role)]
    try:
        items = list(names)
    except TypeError:
        items = [names]
    bad = [n for n in items if not isinstance(n, str)]
    if bad:
        raise InvalidArgumentError(
            f"training_set names tables as strings ('main.shop.orders' or 'main.shop.orders@v3'); got {bad[0]!r}."
        )
    return [(n, role) for n in items]


def _input_example(folder: str | None, mlmodel: dict[str, Any] | None) -> Any:
    """The saved input example (if small), for pages and the MLflow protocol."""
    info = (mlmodel or {}).get("saved_input_example_info") or {}
    path = info.get("artifact_path")
    if folder is None or not isinstance(path, str) or "/" in path or path.startswith("."):
        return None
    full = os.path.join(folder, path)
    if not os.path.isfile(full) or os.path.getsize(full) > _MAX_EXAMPLE_BYTES:
        return None
    try:
        with open(full, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError, RecursionError):  # nested too deep for the parser: shown as no example
        return None

"""The model registry: registered models, versions, aliases, files, loading and batch scoring.

Registered models are securables of kind ``model`` (``main.shop.reco``). Rights, after
Unity Catalog: ``CREATE MODEL`` on the schema to create one; ``EXECUTE`` to see, load
and score it; ownership or ``MANAGE`` (or admin) to add versions, edit it and move its
aliases. Every method asks :meth:`Access.authorize` first (so every call is audited)
and all faces (``lh.models``, the CLI, MLflow's REST protocol) are thin layers over
these methods, which take the acting principal first.

>>> registry.register(alice, model, "main.shop.reco", training_set=["main.shop.orders"],
...                   input_example=X.head(5))  # doctest: +SKIP
>>> registry.set_alias(alice, "main.shop.reco", "champion", 1, reason="first model")  # doctest: +SKIP
>>> registry.load(bob, "main.shop.reco@champion").predict(X)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from glashaus.access import Principal, request
from glashaus.catalog import Name, Securable, parse_name
from glashaus.catalog.names import check_int64, parse_number
from glashaus.catalog.tables import utcnow
from glashaus.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
)
from glashaus.lineage import LineageStore, Source
from glashaus.mlflow_checks import check_model_version_tag, check_registered_model_tag
from glashaus.registry import environment, flavors, safety, scoring, sources
from glashaus.registry.aliases import AliasMove, AliasStore
from glashaus.registry.files import ModelFiles
from glashaus.registry.mlflow_lib import load_pyfunc
from glashaus.registry.refs import ModelRef, check_alias, parse_model_name, parse_ref
from glashaus.registry.versions import ModelVersion, VersionStore
from glashaus.tables import FileInfo, TablesService

ScoreMode = Literal["overwrite", "append"]

#: Input examples bigger than this stay in the files only (the metastore keeps small facts).
_MAX_EXAMPLE_BYTES = 64 * 1024


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model: its catalog entry plus its aliases and latest version."""

    name: str
    owner: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_version: int | None
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    storage_location: str | None = None


class RegistryService:
    def __init__(self, *, tables: TablesService, lineage: LineageStore) -> None:
        self.tables = tables
        self.catalog = tables.catalog
        self.access = tables.access
        self.lineage = lineage
        self.versions = VersionStore(self.catalog.metastore)
        self.aliases = AliasStore(self.catalog.metastore)
        self.files = ModelFiles(tables.layout)

    # -- registered models ---------------------------------------------------------------

    def create_model(
        self, who: Principal, name: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        """Create an empty registered model (needs CREATE MODEL on its schema)."""
        n = _model_name(name)
        tags = _check_tags(tags, what="registered model")
        with request():
            securable = self._create(who, n, description=description)
            if tags:
                securable = self.catalog.set_tags(n, tags)
            return self._describe(securable)

    def get_model(self, who: Principal, name: str) -> RegisteredModel:
        with request():
            return self._describe(self._model(who, name, "EXECUTE", "model.get"))

    def list_models(self, who: Principal, parent: str | None = None) -> list[RegisteredModel]:
        """The models the caller may use or manage, in a schema (``main.shop``) or everywhere."""
        with request():
            if parent is None:
                visible = self.access.visible_to(who)
                found = [s for s in self.catalog.search(kind="model") if visible(s)]
            else:
                found = self.tables.list(who, parent, kind="model")
            return [self._describe(s) for s in found]

    def set_description(self, who: Principal, name: str, description: str, *, version: int | None = None) -> Any:
        """Describe the model, or one of its versions (needs ownership or MANAGE)."""
        with request():
            if version is None:
                self.tables.set_comment(who, _model_name(name).full, description)
                return self.get_model(who, name)
            model = self._model(who, name, "MANAGE", "model.version.update", {"version": version})
            return self.versions.update(model, _version_number(version), description=description)

    def set_tags(self, who: Principal, name: str, tags: dict[str, str], *, version: int | None = None) -> Any:
        with request():
            if version is None:
                self.tables.set_tags(who, _model_name(name).full, _check_tags(tags, what="registered model"))
                return self.get_model(who, name)
            model = self._model(who, name, "MANAGE", "model.version.tag", {"version": version})
            return self.versions.set_tags(model, _version_number(version), _check_tags(tags, what="model version"))

    def unset_tags(self, who: Principal, name: str, keys: list[str], *, version: int | None = None) -> Any:
        with request():
            if version is None:
                self.tables.unset_tags(who, _model_name(name).full, list(keys))
                return self.get_model(who, name)
            model = self._model(who, name, "MANAGE", "model.version.untag", {"version": version})
            return self.versions.unset_tags(model, _version_number(version), list(keys))

    def delete_model(self, who: Principal, name: str) -> None:
        """Remove the model, its versions and aliases from the catalog (files stay, as for tables)."""
        self.tables.drop(who, _model_name(name).full, kind="model")

    # -- versions ---------------------------------------------------------------------------

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
        n = _model_name(name)
        tags = _check_tags(tags, what="model version")
        flavors.flavor_of(model)  # an unsupported object is refused before anything happens

        def build(staged: str) -> dict[str, Any]:
            flavor = flavors.save(model, staged, signature=signature, input_example=input_example)
            return {"environment": environment.capture(environment.FLAVOR_PACKAGES[flavor]),
                    "code_commit": code_commit or environment.code_commit()}

        return self._new_version(who, n, build, source="python object", training_set=training_set,
                                 description=description, tags=tags, run_id=run_id, logged_model_id=None)

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
        source_uri: str | None = None,
    ) -> ModelVersion:
        """Register a saved MLflow model folder from managed storage as a new version (files are copied).

        ``source`` is ``/Volumes/<catalog>/<schema>/<volume>/<folder>`` or a path/URI inside a volume,
        model or experiment of this lakehouse; anything else is refused. ``source_uri`` is what the
        version records as its source when that differs from the path read (the MLflow protocol
        records the client's ``runs:/...`` or ``models:/m-...`` URI, never a storage path).
        """
        n = _model_name(name)
        tags = _check_tags(tags, what="model version")

        def build(staged: str) -> dict[str, Any]:
            location, _ = sources.resolve(self.tables, who, source, action="model.version.create")
            self.files.copy_in(location, staged)
            return {"code_commit": code_commit}

        return self._new_version(who, n, build, source=source_uri or source, training_set=training_set,
                                 description=description, tags=tags, run_id=run_id, logged_model_id=logged_model_id)

    def get_version(self, who: Principal, ref: str | ModelRef) -> ModelVersion:
        """``main.shop.reco/3``, ``main.shop.reco@champion`` or ``main.shop.reco/latest``."""
        with request():
            return self._resolve(who, ref, "model.version.get")[1]

    def list_versions(self, who: Principal, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first."""
        with request():
            return self.versions.list(self._model(who, name, "EXECUTE", "model.versions"))

    def delete_version(self, who: Principal, name: str, version: int, *, reason: str | None = None) -> None:
        """Hide a version (its number is never reused); aliases pointing at it are deleted, with history."""
        number = _version_number(version)
        with request():
            model = self._model(who, name, "MANAGE", "model.version.delete", {"version": number})
            self.versions.get(model, number)
            for alias, target in self.aliases.of_model(model).items():
                if target == number:
                    self.aliases.delete(model, alias, principal=who.name,
                                        reason=reason or f"version {number} was deleted")
            self.versions.delete(model, number)

    # -- aliases ------------------------------------------------------------------------------

    def set_alias(
        self, who: Principal, name: str, alias: str, version: int, *, reason: str | None = None
    ) -> AliasMove:
        """Point ``alias`` at ``version`` (needs ownership or MANAGE); the move is kept in the history."""
        alias, number = check_alias(alias), _version_number(version)
        with request():
            model = self._model(who, name, "MANAGE", "model.alias.set",
                                {"alias": alias, "version": number, "reason": reason})
            self.versions.get(model, number)
            return self.aliases.set(model, alias, number, principal=who.name, reason=reason)

    def delete_alias(self, who: Principal, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        alias = check_alias(alias)
        with request():
            model = self._model(who, name, "MANAGE", "model.alias.delete", {"alias": alias, "reason": reason})
            return self.aliases.delete(model, alias, principal=who.name, reason=reason)

    def rollback(self, who: Principal, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        """Move ``alias`` back to the version it pointed at before its last move."""
        alias = check_alias(alias)
        with request():
            model = self._model(who, name, "MANAGE", "model.alias.rollback", {"alias": alias, "reason": reason})
            usable = {v.version for v in self.versions.list(model) if v.status == "READY"}
            return self.aliases.rollback(model, alias, principal=who.name, reason=reason, usable=usable)

    def alias_history(self, who: Principal, name: str, *, alias: str | None = None) -> list[AliasMove]:
        """Every alias move of a model (or of one alias), newest first."""
        with request():
            model = self._model(who, name, "EXECUTE", "model.alias.history")
            return self.aliases.history(model, alias)

    # -- trust, files, loading ---------------------------------------------------------------

    def set_trusted(self, who: Principal, name: str, version: int, trusted: bool = True) -> ModelVersion:
        """Let a pickle-based version load (admins only), for exactly the files it has now."""
        number = _version_number(version)
        n = _model_name(name)
        with request():
            self.access.require_admin(who, action="model.trust",
                                      details={"model": n.full, "version": number, "trusted": trusted})
            model = self.catalog.get(n, kind="model")
            mv = self.versions.get(model, number)
            if not trusted:
                return self.versions.update(model, number, trusted_digest=None, trusted_by=None, trusted_at=None)
            folder = self.files.local(mv.storage_location or "")
            return self.versions.update(model, number, trusted_digest=safety.digest(folder), trusted_by=who.name,
                                        trusted_at=utcnow())

    def load(self, who: Principal, ref: str | ModelRef) -> Any:
        """The version as an ``mlflow.pyfunc.PyFuncModel`` (needs EXECUTE; pickles need an admin's trust)."""
        with request():
            model, mv = self._resolve(who, ref, "model.load")
            return self._pyfunc(who, model, mv, action="model.load")

    def local_path(self, who: Principal, ref: str | ModelRef) -> tuple[ModelVersion, str]:
        """The version and a local folder with its files, checked as :meth:`load` checks them (for serving)."""
        with request():
            model, mv = self._resolve(who, ref, "model.load")
            return mv, self._checked_folder(who, model, mv, action="model.load")

    def list_files(self, who: Principal, ref: str | ModelRef, prefix: str = "") -> list[FileInfo]:
        with request():
            _, mv = self._resolve(who, ref, "model.files")
            return self.files.list(mv.storage_location or "", prefix)

    def read_file(self, who: Principal, ref: str | ModelRef, path: str) -> bytes:
        """One file of a version (``MLmodel``, ``model.skops``, ...), e.g. for MLflow's artifact download."""
        with request():
            _, mv = self._resolve(who, ref, "model.files")
            return self.files.read(mv.storage_location or "", path)

    # -- batch scoring ---------------------------------------------------------------------

    def score(
        self,
        who: Principal,
        ref: str | ModelRef,
        *,
        table: str,
        output: str,
        mode: ScoreMode = "overwrite",
        batch_size: int = 65_536,
        keep: list[str] | None = None,
        prediction_column: str = "prediction",
        progress: scoring.ProgressFn | None = None,
    ) -> scoring.ScoreResult:
        """Predict every row of ``table`` (``@vN`` pins a version) into ``output`` in one Delta commit.

        Needs EXECUTE on the model, SELECT on the table and MODIFY on ``output`` (or CREATE TABLE on
        its schema when new). ``keep`` names the input columns copied beside the predictions (default:
        all). The table is checked against the model's signature before any row is read.
        """
        if mode not in ("overwrite", "append"):
            raise InvalidArgumentError(f"mode must be 'overwrite' or 'append', not {mode!r}.")
        prediction_column = parse_name(prediction_column, levels=1, allow_version=False).full
        source_name = parse_name(table, allow_version=True)
        out = parse_name(output, allow_version=False)
        if out.catalog == "system":
            raise InvalidArgumentError(f"cannot write scores to {out.full!r}: the system catalog is written only by "
                                       "Glashaus.")
        if out.full == source_name.full:
            raise InvalidArgumentError(f"output {out.full} is the table being scored; write the scores elsewhere.")
        with request():
            model, mv = self._resolve(who, ref, "model.score", {"table": str(source_name), "output": out.full})
            exists = self.catalog.exists(out)
            if exists:
                target = self.catalog.get(out, kind="table")
                self.access.authorize(who, "MODIFY", target, action="table.write", details={"mode": mode})
            else:
                parent = self.catalog.get(out.parent, kind="schema")  # type: ignore[arg-type]
                self.access.authorize(who, "CREATE TABLE", parent, action="table.create", details={"name": out.full})
            read = self.tables.read_batches(who, str(source_name), batch_size=batch_size, action="model.score")
            columns = scoring.check_signature(read.reader.schema, mv.signature, model=mv.ref, table=read.table)
            kept = list(read.reader.schema.names) if keep is None else [c.lower() for c in keep]
            unknown = [c for c in kept if c not in read.reader.schema.names]
            if unknown:
                raise InvalidArgumentError(f"keep= names {unknown}, which {read.table} does not have; its columns "
                                           f"are {read.reader.schema.names}.")
            clash = [c for c in kept if c == prediction_column or c.startswith(prediction_column + "_")]
            if clash:
                raise InvalidArgumentError(f"{read.table} has a column {clash[0]!r} already; pass "
                                           "prediction_column= another name (or keep= fewer columns).")
            pyfunc = self._pyfunc(who, model, mv, action="model.score")
            with scoring.scratch() as folder:
                spill = scoring.Spill(folder)
                scoring.score_batches(read.reader, pyfunc, columns, keep=kept, prediction_column=prediction_column,
                                      model=mv.ref, table=read.table, spill=spill, progress=progress,
                                      total=read.num_rows)
                empty = _empty_schema(read.reader.schema, kept, prediction_column, mv.signature)
                lineage = [Source(read.table, "table", read.version), Source(mv.name, "model", mv.version)]
                with spill.table(empty) as scores:
                    if not exists:
                        self.tables.create_table(who, out.full, schema=scores.schema,
                                                 comment=f"Predictions of {mv.ref} for {read.table}.")
                    try:
                        commit = self.tables.write(who, out.full, scores, mode=mode, sources=lineage,
                                                   operation="model.score")
                    except BaseException:
                        if not exists:  # all or nothing: no empty table left behind
                            self.tables.drop(who, out.full, kind="table", if_exists=True)
                        raise
            return scoring.ScoreResult(mv.name, mv.version, read.table, read.version, out.full, commit.version,
                                       spill.rows)

    # -- internals ---------------------------------------------------------------------------

    def _create(self, who: Principal, n: Name, *, description: str | None) -> Securable:
        visible = self.access.visible_to(who)
        parent = self.catalog.get(n.parent, kind="schema", visible=visible)  # type: ignore[arg-type]
        self.access.authorize(who, "CREATE MODEL", parent, action="model.create", details={"name": n.full})
        securable = self.catalog.create("model", n, owner=who.name, comment=description)
        return self.catalog.update(n, storage_location=self.tables.layout.model_location(n, securable.id))

    def _model(
        self, who: Principal, name: str | Name, privilege: str, action: str, details: dict[str, Any] | None = None
    ) -> Securable:
        n = name if isinstance(name, Name) else _model_name(name)
        model = self.catalog.get(n, kind="model", visible=self.access.visible_to(who))
        self.access.authorize(who, privilege, model, action=action, details=details)
        return model

    def _resolve(
        self, who: Principal, ref: str | ModelRef, action: str, details: dict[str, Any] | None = None
    ) -> tuple[Securable, ModelVersion]:
        r = ref if isinstance(ref, ModelRef) else parse_ref(ref)
        model = self._model(who, r.name, "EXECUTE", action, {**(details or {}), "ref": str(r)})
        if r.version is not None:
            number = r.version
        elif r.alias is not None:
            number = self.aliases.version_of(model, r.alias)
        else:
            latest = self.versions.latest(model)
            if latest is None:
                raise NotFoundError(f"model {model.full_name} has no versions yet; register one first.")
            number = latest
        return model, self.versions.get(model, number)

    def _describe(self, model: Securable) -> RegisteredModel:
        return RegisteredModel(
            name=model.full_name, owner=model.owner, description=model.comment, tags=dict(model.tags),
            aliases=self.aliases.of_model(model), latest_version=self.versions.latest(model),
            created_at=model.created_at, created_by=model.created_by, updated_at=model.updated_at,
            storage_location=model.storage_location,
        )

    def _new_version(
        self, who: Principal, n: Name, build: Any, *, source: str, training_set: Any, description: str | None,
        tags: dict[str, str], run_id: str | None, logged_model_id: str | None,
    ) -> ModelVersion:
        """Create the model if needed, build the files, number and publish the version, record lineage.

        All or nothing: a failure at any step leaves no version (and no model, if this call created it).
        """
        with request():
            created = False
            if self.catalog.exists(n):
                model = self._model(who, n, "MANAGE", "model.version.create")
            else:
                try:
                    model, created = self._create(who, n, description=None), True
                except AlreadyExistsError:  # created meanwhile by someone else
                    model = self._model(who, n, "MANAGE", "model.version.create")
            number = None
            staged = None
            try:
                read, lineage = self._training_set(who, training_set)
                staged = self.files.staging()
                facts = build(staged)
                verdict = safety.assess(staged)
                facts.setdefault("environment", environment.from_folder(staged, verdict.mlmodel or {}))
                number = self.versions.reserve(model, created_by=who.name, source=source, run_id=run_id,
                                               logged_model_id=logged_model_id, description=description)
                location = self.tables.layout.model_version_location(n, model.id, number)
                digest = safety.digest(staged)
                self.files.publish(staged, location)
                staged = None
                self.versions.ready(
                    model, number, storage_location=location, signature=(verdict.mlmodel or {}).get("signature"),
                    input_example=_input_example(location if self.tables.layout.is_local else None, verdict.mlmodel),
                    flavors=list(verdict.flavors), file_format=verdict.file_format, files_digest=digest,
                    training_set=read, **facts,
                )
                if tags:
                    self.versions.set_tags(model, number, tags)
                self.lineage.record(principal=who.name, target=n.full, target_kind="model", target_version=number,
                                    sources=lineage, operation="model.register")
            except BaseException:
                self.files.discard(staged)
                if number is not None:
                    self.versions.discard(model, number)
                if created:
                    self.catalog.drop(n)
                raise
            return self.versions.get(model, number)

    def _training_set(self, who: Principal, training_set: Any) -> tuple[list[dict[str, Any]], list[Source]]:
        """The tables a model was trained on, each at its exact version (SELECT checked on each)."""
        recorded, lineage = [], []
        for text, role in _training_names(training_set):
            n = parse_name(text, allow_version=True)
            base = Name(n.catalog, n.schema, n.object)
            securable = self.catalog.get(base, kind=("table", "view"), visible=self.access.visible_to(who))
            self.access.authorize(who, "SELECT", securable, action="model.training_set", details={"role": role})
            version = None
            if securable.kind == "table":
                latest = self.tables.version(who, base.full)
                if n.version is not None and n.version > latest:
                    raise NotFoundError(f"training set {text!r}: version {n.version} does not exist; versions "
                                        f"run from 0 to {latest}.")
                version = latest if n.version is None else n.version
            recorded.append({"name": base.full, "kind": securable.kind, "version": version, "role": role})
            lineage.append(Source(base.full, securable.kind, version))
        return recorded, lineage

    def _checked_folder(self, who: Principal, model: Securable, mv: ModelVersion, *, action: str) -> str:
        """The version's local folder, if its files may be loaded (refusals are audited)."""
        folder = self.files.local(mv.storage_location or "")
        try:
            verdict = safety.assess(folder)
        except InvalidArgumentError as exc:  # they passed these checks when registered: storage changed them
            raise StorageError(f"the stored files of model {mv.ref} are no longer a model: {exc} They were checked "
                               f"when the version was registered, so storage lost or changed them: an admin should "
                               f"check {mv.storage_location}.") from None
        if verdict.file_format != "pickle":
            return folder
        row = self.versions.raw(model, mv.version)
        if row.trusted_digest is None:
            why = (f"model {mv.ref} cannot be loaded: {verdict.reason}, and loading it would run code from its "
                   f"files. An admin who has reviewed it can run lh.models.set_trusted({mv.name!r}, {mv.version}); "
                   "or register it again in skops (scikit-learn) or a native format.")
        elif safety.digest(folder) != row.trusted_digest:
            why = (f"model {mv.ref} cannot be loaded: its files changed since {row.trusted_by} trusted them; an "
                   f"admin must review and trust it again (lh.models.set_trusted({mv.name!r}, {mv.version})).")
        else:
            return folder
        self.access.refuse(who, action=action, reason=why, details={"model": mv.name, "version": mv.version})
        raise PermissionDeniedError(why)

    def _pyfunc(self, who: Principal, model: Securable, mv: ModelVersion, *, action: str) -> Any:
        return load_pyfunc(self._checked_folder(who, model, mv, action=action), ref=mv.ref)


def _model_name(name: str) -> Name:
    n = parse_model_name(name)
    if n.catalog == "system":
        raise InvalidArgumentError(f"cannot register models in {n.full!r}: the system catalog is Glashaus's own.")
    return n


def _version_number(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise InvalidArgumentError(f"a model version is a number like 3, not {version!r:.80}.")
    if isinstance(version, str):
        return parse_number(version, what="a model version", minimum=1)
    if version < 1:
        raise InvalidArgumentError(f"model versions start at 1; got {version}.")
    return check_int64(version, what="a model version")


def _check_tags(tags: dict[str, str] | None, *, what: str) -> dict[str, str]:
    """Tags by MLflow's rules (key names and size limits), values as strings."""
    if not tags:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidArgumentError(f"{what} tags must be a dict of strings, not {type(tags).__name__}.")
    check = check_model_version_tag if what == "model version" else check_registered_model_tag
    clean = {}
    for key, value in tags.items():
        value = "" if value is None else str(value)
        check(str(key), value)
        clean[str(key)] = value
    return clean


def _training_names(training_set: Any) -> list[tuple[str, str]]:
    """(name, role) pairs from a name, a list of names, {"tables": [...], "features": [...]} or such an object."""
    if training_set is None:
        return []
    if isinstance(training_set, str):
        return [(training_set, "input")]
    if isinstance(training_set, Mapping) or hasattr(training_set, "tables"):
        get = training_set.get if isinstance(training_set, Mapping) else (
            lambda key, default: getattr(training_set, key, default))
        unknown = set(training_set) - {"tables", "features"} if isinstance(training_set, Mapping) else set()
        if unknown:
            raise InvalidArgumentError(f"training_set keys are 'tables' and 'features'; got {sorted(unknown)}.")
        return (_training_names_list(get("tables", None) or [], "input")
                + _training_names_list(get("features", None) or [], "feature"))
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


def _empty_schema(schema: Any, kept: list[str], column: str, signature: dict[str, Any] | None) -> Any:
    import pyarrow as pa

    return pa.schema([schema.field(c) for c in kept] + [pa.field(column, scoring.output_type(signature))])

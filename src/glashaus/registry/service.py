"""The model registry: registered models, versions and aliases; loading, registering and scoring by its parts.

Registered models are securables of kind ``model`` (``main.shop.reco``). Rights, after
Unity Catalog: ``CREATE MODEL`` on the schema to create one; ``EXECUTE`` to see, load
and score it; ownership or ``MANAGE`` (or admin) to add versions, edit it and move its
aliases. Every method asks :meth:`Access.authorize` first (so every call is audited)
and all faces (``lh.models``, the CLI, MLflow's REST protocol) are thin layers over
these methods, which take the acting principal first. The service is composed of parts:
:class:`~glashaus.registry.lookup.ModelLookup` (finding a model or version for a caller),
:class:`~glashaus.registry.registration.Registration` (new models and versions),
:class:`~glashaus.registry.loading.Loading` (load, files, trust) and
:class:`~glashaus.registry.scoring.BatchScoring` (score); the catalog is written only through
the tables service.

>>> registry.register(alice, model, "main.shop.reco", training_set=["main.shop.orders"],
...                   input_example=X.head(5)).version
2
>>> registry.set_alias(alice, "main.shop.reco", "champion", 2, reason="second model").to_version
2
>>> registry.load(bob, "main.shop.reco@champion").predict(X)[:3].tolist()
[0, 0, 1]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import overload

from glashaus.access import Principal, request
from glashaus.catalog import Name, Securable
from glashaus.lineage import LineageStore
from glashaus.registry.aliases import AliasMove, AliasStore
from glashaus.registry.files import ModelFiles
from glashaus.registry.loading import Loading
from glashaus.registry.lookup import ModelLookup, check_tags, model_check, model_name, version_number
from glashaus.registry.mlflow_names import SPEC_KEY
from glashaus.registry.refs import ModelRef, check_alias
from glashaus.registry.registration import Registration
from glashaus.registry.scoring import BatchScoring, ScoreMode
from glashaus.registry.sources import TrackedFolders
from glashaus.registry.versions import ModelVersion, VersionStore
from glashaus.tables import TablesService

__all__ = ["RegisteredModel", "RegistryService", "ScoreMode"]

GET = model_check("EXECUTE", "model.get")
VERSIONS = model_check("EXECUTE", "model.versions")
VERSION_GET = model_check("EXECUTE", "model.version.get")
VERSION_UPDATE = model_check("MANAGE", "model.version.update")
VERSION_TAG = model_check("MANAGE", "model.version.tag")
VERSION_UNTAG = model_check("MANAGE", "model.version.untag")
VERSION_DELETE = model_check("MANAGE", "model.version.delete")
ALIAS_SET = model_check("MANAGE", "model.alias.set")
ALIAS_DELETE = model_check("MANAGE", "model.alias.delete")
ALIAS_ROLLBACK = model_check("MANAGE", "model.alias.rollback")
ALIAS_HISTORY = model_check("EXECUTE", "model.alias.history")


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
    #: The plain MLflow name it was created under (``glashaus.registry.mlflow_names``), if any.
    mlflow_name: str | None = None


class RegistryService:
    def __init__(self, *, tables: TablesService, lineage: LineageStore, tracked: TrackedFolders) -> None:
        """``tracked``: where runs and logged models keep their models (tracking's ``model_folders``),
        for MLflow's ``runs:/``, ``models:/m-<id>`` and ``mlflow-artifacts:/`` sources."""
        self.tables = tables
        self.guard = tables.guard
        self.access = tables.access
        self.lineage = lineage
        self.versions = VersionStore(tables.catalog.metastore)
        self.aliases = AliasStore(tables.catalog.metastore)
        self.files = ModelFiles(tables.layout)
        self.lookup = ModelLookup(guard=self.guard, versions=self.versions, aliases=self.aliases)
        self.registration = Registration(
            tables=tables, lookup=self.lookup, files=self.files, lineage=lineage, tracked=tracked
        )
        self.loading = Loading(access=tables.access, guard=self.guard, lookup=self.lookup, files=self.files)
        self.scoring = BatchScoring(tables=tables, lookup=self.lookup, loading=self.loading)

        # The parts' operations.
        self.register = self.registration.register
        self.register_files = self.registration.register_files
        self.set_trusted = self.loading.set_trusted
        self.load = self.loading.load
        self.local_path = self.loading.local_path
        self.list_files = self.loading.list_files
        self.read_file = self.loading.read_file
        self.score = self.scoring.score

    # -- registered models ---------------------------------------------------------------

    def create_model(
        self, who: Principal, name: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        """An empty registered model (versions come with ``lh.models.register``); needs CREATE MODEL on its schema.

        >>> lh.models.create("main.shop.ferns", description="Ferns a buyer may like.").latest_version
        """
        n = model_name(name)
        tags = check_tags(tags, what="registered model")
        with request():
            created = self.registration.create_model(who, n, description=description, tags=tags)
            return self._describe(who, created.securable)

    def create_named(
        self,
        who: Principal,
        name: Name,
        *,
        mlflow_name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RegisteredModel:
        """An empty registered model created under an MLflow plain name (MLflow's face; CREATE MODEL on its schema).

        ``name`` is the securable :class:`~glashaus.registry.mlflow_names.ModelNames` maps
        ``mlflow_name`` to; the model records ``mlflow_name`` so MLflow clients see it.

        >>> from glashaus.registry.mlflow_names import ModelNames
        >>> registry.create_named(alice, ModelNames().securable("Fern Picker"), mlflow_name="Fern Picker").mlflow_name
        'Fern Picker'
        """
        tags = check_tags(tags, what="registered model")
        with request():
            created = self.registration.create_model(
                who, model_name(name.full), description=description, tags=tags, mlflow_name=mlflow_name
            )
            return self._describe(who, created.securable)

    def get_model(self, who: Principal, name: str) -> RegisteredModel:
        """The registered model: its description, tags, aliases and latest version (needs EXECUTE).

        >>> lh.models.get("main.shop.reco").aliases
        {'champion': 1}
        """
        with request():
            return self._describe(who, self.lookup.model(who, GET, name))

    def list_models(self, who: Principal, parent: str | None = None) -> list[RegisteredModel]:
        """Models you may use or manage, in a schema (``"main.shop"``) or everywhere.

        >>> [m.name for m in lh.models.list("main.shop")]
        ['main.shop.reco']
        """
        with request():
            if parent is None:
                found = self.guard.visible(who, self.tables.catalog.search(kind="model"))
            else:
                found = self.tables.list(who, parent, kind="model")
            return [self._describe(who, s) for s in found]

    # The overloads tell callers of the service which comes back (the MLflow server's); lh.models,
    # generated from the implementation, shows the union.
    @overload
    def set_description(
        self, who: Principal, name: str, description: str, *, version: None = None
    ) -> RegisteredModel: ...

    @overload
    def set_description(self, who: Principal, name: str, description: str, *, version: int) -> ModelVersion: ...

    def set_description(
        self, who: Principal, name: str, description: str, *, version: int | None = None
    ) -> RegisteredModel | ModelVersion:
        """Describe the model, or one of its versions (needs ownership or MANAGE); returns it.

        >>> lh.models.set_description("main.shop.reco", "the first one", version=1).description
        'the first one'
        """
        with request():
            if version is None:
                self.tables.set_comment(who, model_name(name).full, description)
                return self.get_model(who, name)
            model = self.lookup.model(who, VERSION_UPDATE, name, {"version": version})
            return self.versions.update(model, version_number(version), description=description)

    @overload
    def set_tags(self, who: Principal, name: str, tags: dict[str, str], *, version: None = None) -> RegisteredModel: ...

    @overload
    def set_tags(self, who: Principal, name: str, tags: dict[str, str], *, version: int) -> ModelVersion: ...

    def set_tags(
        self, who: Principal, name: str, tags: dict[str, str], *, version: int | None = None
    ) -> RegisteredModel | ModelVersion:
        """Tag the model, or one of its versions (needs ownership or MANAGE); returns it.

        >>> lh.models.set_tags("main.shop.reco", {"team": "reco"}).tags
        {'team': 'reco'}
        """
        with request():
            if version is None:
                self.tables.set_tags(who, model_name(name).full, check_tags(tags, what="registered model"))
                return self.get_model(who, name)
            model = self.lookup.model(who, VERSION_TAG, name, {"version": version})
            return self.versions.set_tags(model, version_number(version), check_tags(tags, what="model version"))

    @overload
    def unset_tags(self, who: Principal, name: str, keys: list[str], *, version: None = None) -> RegisteredModel: ...

    @overload
    def unset_tags(self, who: Principal, name: str, keys: list[str], *, version: int) -> ModelVersion: ...

    def unset_tags(
        self, who: Principal, name: str, keys: list[str], *, version: int | None = None
    ) -> RegisteredModel | ModelVersion:
        """Remove the tags ``keys`` from the model, or from one of its versions (ownership or MANAGE); returns it.

        >>> _ = lh.models.set_tags("main.shop.reco", {"team": "reco", "stage": "trial"})
        >>> lh.models.unset_tags("main.shop.reco", ["stage"]).tags
        {'team': 'reco'}
        """
        with request():
            if version is None:
                self.tables.unset_tags(who, model_name(name).full, list(keys))
                return self.get_model(who, name)
            model = self.lookup.model(who, VERSION_UNTAG, name, {"version": version})
            return self.versions.unset_tags(model, version_number(version), list(keys))

    def delete_model(self, who: Principal, name: str) -> None:
        """Drop the model, its versions and aliases from the catalog (needs ownership or MANAGE).

        Its files stay, as a dropped table's do.

        >>> lh.models.delete("main.shop.reco")
        >>> [m.name for m in lh.models.list("main.shop")]
        []
        """
        self.tables.drop(who, model_name(name).full, kind="model")

    # -- versions ---------------------------------------------------------------------------

    def get_version(self, who: Principal, ref: str | ModelRef) -> ModelVersion:
        """``main.shop.reco/3``, ``main.shop.reco@champion`` or ``main.shop.reco/latest``."""
        with request():
            return self.lookup.resolve(who, ref, VERSION_GET)[1]

    def list_versions(self, who: Principal, name: str) -> list[ModelVersion]:
        """Every version of the model, newest first (needs EXECUTE).

        >>> [v.version for v in lh.models.versions("main.shop.reco")]
        [1]
        """
        with request():
            return self.versions.list(self.lookup.model(who, VERSIONS, name))

    def delete_version(self, who: Principal, name: str, version: int, *, reason: str | None = None) -> None:
        """Hide a version (needs ownership or MANAGE); its number is never reused.

        Aliases pointing at it are deleted, with history.

        >>> lh.models.delete_version("main.shop.reco", 1, reason="retired")
        >>> lh.models.get("main.shop.reco").aliases, lh.models.alias_history("main.shop.reco")[0].reason
        ({}, 'retired')
        """
        number = version_number(version)
        with request():
            model = self.lookup.model(who, VERSION_DELETE, name, {"version": number})
            self.versions.get(model, number)
            for alias, target in self.aliases.of_model(model).items():
                if target == number:
                    self.aliases.delete(
                        model, alias, principal=who.name, reason=reason or f"version {number} was deleted"
                    )
            self.versions.delete(model, number)

    # -- aliases ------------------------------------------------------------------------------

    def set_alias(self, who: Principal, name: str, alias: str, version: int, *, reason: str | None = None) -> AliasMove:
        """Point ``alias`` at ``version`` (needs ownership or MANAGE); the move is kept in the history.

        >>> lh.models.set_alias("main.shop.reco", "challenger", 1, reason="AUC 0.81 > 0.78").reason
        'AUC 0.81 > 0.78'
        """
        alias, number = check_alias(alias), version_number(version)
        with request():
            model = self.lookup.model(who, ALIAS_SET, name, {"alias": alias, "version": number, "reason": reason})
            self.versions.get(model, number)
            return self.aliases.set(model, alias, number, principal=who.name, reason=reason)

    def delete_alias(self, who: Principal, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        """Remove ``alias`` from the model (needs ownership or MANAGE); the removal is kept in the history.

        >>> move = lh.models.delete_alias("main.shop.reco", "champion", reason="no winner yet")
        >>> move.from_version, move.to_version, lh.models.get("main.shop.reco").aliases
        (1, None, {})
        """
        alias = check_alias(alias)
        with request():
            model = self.lookup.model(who, ALIAS_DELETE, name, {"alias": alias, "reason": reason})
            return self.aliases.delete(model, alias, principal=who.name, reason=reason)

    def rollback(self, who: Principal, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        """Move ``alias`` back to the version it pointed at before its last move, in one call.

        Needs ownership or MANAGE; the move is kept in the history.

        >>> _ = lh.models.register(model, "main.shop.reco")
        >>> _ = lh.models.set_alias("main.shop.reco", "champion", 2)
        >>> lh.models.rollback("main.shop.reco", "champion", reason="conversion dropped").to_version
        1
        """
        alias = check_alias(alias)
        with request():
            model = self.lookup.model(who, ALIAS_ROLLBACK, name, {"alias": alias, "reason": reason})
            usable = {v.version for v in self.versions.list(model) if v.status == "READY"}
            return self.aliases.rollback(model, alias, principal=who.name, reason=reason, usable=usable)

    def alias_history(self, who: Principal, name: str, *, alias: str | None = None) -> list[AliasMove]:
        """Who moved which alias when, from which version to which, and why; newest first.

        Of one ``alias``, or of all; needs EXECUTE.

        >>> [(m.from_version, m.to_version) for m in lh.models.alias_history("main.shop.reco")]
        [(None, 1)]
        """
        with request():
            model = self.lookup.model(who, ALIAS_HISTORY, name)
            return self.aliases.history(model, alias)

    # -- internals ---------------------------------------------------------------------------

    def _describe(self, who: Principal, model: Securable) -> RegisteredModel:
        """The model as ``who`` may see it (its folder's location only for admins and owners)."""
        model = self.guard.shown(who, model)
        return RegisteredModel(
            name=model.full_name,
            owner=model.owner,
            description=model.comment,
            tags=dict(model.tags),
            aliases=self.aliases.of_model(model),
            latest_version=self.versions.latest(model),
            created_at=model.created_at,
            created_by=model.created_by,
            updated_at=_later(model.updated_at, self.versions.last_change(model)),
            storage_location=model.storage_location,
            mlflow_name=model.spec.get(SPEC_KEY),
        )


def _later(first: dt.datetime, second: dt.datetime | None) -> dt.datetime:
    """The later of two times (SQLite hands back naive UTC datetimes; PostgreSQL aware ones)."""
    if second is None:
        return first
    as_utc = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in (first, second)]
    return first if as_utc[0] >= as_utc[1] else second

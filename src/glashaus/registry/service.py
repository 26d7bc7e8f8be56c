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
from typing import Any

from glashaus.access import Principal, request
from glashaus.catalog import Securable
from glashaus.lineage import LineageStore
from glashaus.registry.aliases import AliasMove, AliasStore
from glashaus.registry.files import ModelFiles
from glashaus.registry.loading import Loading
from glashaus.registry.lookup import ModelLookup, check_tags, model_check, model_name, version_number
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
        """Create an empty registered model (needs CREATE MODEL on its schema)."""
        n = model_name(name)
        tags = check_tags(tags, what="registered model")
        with request():
            created = self.registration.create_model(who, n, description=description, tags=tags)
            return self._describe(who, created.securable)

    def get_model(self, who: Principal, name: str) -> RegisteredModel:
        with request():
            return self._describe(who, self.lookup.model(who, GET, name))

    def list_models(self, who: Principal, parent: str | None = None) -> list[RegisteredModel]:
        """The models the caller may use or manage, in a schema (``main.shop``) or everywhere."""
        with request():
            if parent is None:
                found = self.guard.visible(who, self.tables.catalog.search(kind="model"))
            else:
                found = self.tables.list(who, parent, kind="model")
            return [self._describe(who, s) for s in found]

    def set_description(self, who: Principal, name: str, description: str, *, version: int | None = None) -> Any:
        """Describe the model, or one of its versions (needs ownership or MANAGE)."""
        with request():
            if version is None:
                self.tables.set_comment(who, model_name(name).full, description)
                return self.get_model(who, name)
            model = self.lookup.model(who, VERSION_UPDATE, name, {"version": version})
            return self.versions.update(model, version_number(version), description=description)

    def set_tags(self, who: Principal, name: str, tags: dict[str, str], *, version: int | None = None) -> Any:
        with request():
            if version is None:
                self.tables.set_tags(who, model_name(name).full, check_tags(tags, what="registered model"))
                return self.get_model(who, name)
            model = self.lookup.model(who, VERSION_TAG, name, {"version": version})
            return self.versions.set_tags(model, version_number(version), check_tags(tags, what="model version"))

    def unset_tags(self, who: Principal, name: str, keys: list[str], *, version: int | None = None) -> Any:
        with request():
            if version is None:
                self.tables.unset_tags(who, model_name(name).full, list(keys))
                return self.get_model(who, name)
            model = self.lookup.model(who, VERSION_UNTAG, name, {"version": version})
            return self.versions.unset_tags(model, version_number(version), list(keys))

    def delete_model(self, who: Principal, name: str) -> None:
        """Remove the model, its versions and aliases from the catalog (files stay, as for tables)."""
        self.tables.drop(who, model_name(name).full, kind="model")

    # -- versions ---------------------------------------------------------------------------

    def get_version(self, who: Principal, ref: str | ModelRef) -> ModelVersion:
        """``main.shop.reco/3``, ``main.shop.reco@champion`` or ``main.shop.reco/latest``."""
        with request():
            return self.lookup.resolve(who, ref, VERSION_GET)[1]

    def list_versions(self, who: Principal, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first."""
        with request():
            return self.versions.list(self.lookup.model(who, VERSIONS, name))

    def delete_version(self, who: Principal, name: str, version: int, *, reason: str | None = None) -> None:
        """Hide a version (its number is never reused); aliases pointing at it are deleted, with history."""
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
        """Point ``alias`` at ``version`` (needs ownership or MANAGE); the move is kept in the history."""
        alias, number = check_alias(alias), version_number(version)
        with request():
            model = self.lookup.model(who, ALIAS_SET, name, {"alias": alias, "version": number, "reason": reason})
            self.versions.get(model, number)
            return self.aliases.set(model, alias, number, principal=who.name, reason=reason)

    def delete_alias(self, who: Principal, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        alias = check_alias(alias)
        with request():
            model = self.lookup.model(who, ALIAS_DELETE, name, {"alias": alias, "reason": reason})
            return self.aliases.delete(model, alias, principal=who.name, reason=reason)

    def rollback(self, who: Principal, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        """Move ``alias`` back to the version it pointed at before its last move."""
        alias = check_alias(alias)
        with request():
            model = self.lookup.model(who, ALIAS_ROLLBACK, name, {"alias": alias, "reason": reason})
            usable = {v.version for v in self.versions.list(model) if v.status == "READY"}
            return self.aliases.rollback(model, alias, principal=who.name, reason=reason, usable=usable)

    def alias_history(self, who: Principal, name: str, *, alias: str | None = None) -> list[AliasMove]:
        """Every alias move of a model (or of one alias), newest first."""
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
            updated_at=model.updated_at,
            storage_location=model.storage_location,
        )

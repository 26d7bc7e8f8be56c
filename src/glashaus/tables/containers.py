"""Catalogs, schemas and the securables in them: create, find, list, drop (the catalog side of the tables service).

Also the one way another capability registers a securable of its own (a model, an
experiment): :meth:`Containers.create_securable` checks the creating privilege on the
container through the guard, creates it owned by the caller, gives it its managed folder,
and hands back a :class:`Created` whose holder alone can take it back again, when the rest
of the capability's work fails.

>>> svc.create_schema(alice, "main.garden").full_name
'main.garden'
>>> [s.full_name for s in svc.list(alice, "main.shop", kind="table")]
['main.shop.customers', 'main.shop.orders']
"""

from __future__ import annotations

import builtins  # methods named list/set below hide the builtins inside their class
import dataclasses
from collections.abc import Callable
from typing import Any, cast, get_args

from glashaus.access import Access, Principal, request
from glashaus.access.guard import USE, Check, Guard
from glashaus.catalog import Catalog, Name, Securable
from glashaus.catalog.service import Kind
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.storage.delta import DeltaStore
from glashaus.storage.layout import Layout

#: The kinds of securable ``list(kind=...)`` takes.
KINDS: tuple[str, ...] = get_args(Kind)

CREATE_CATALOG = Check.create("catalog", "catalog.create")
CREATE_SCHEMA = Check.create("schema", "schema.create")
CREATE_VOLUME = Check.create("volume", "volume.create")
LIST = Check(USE, "{kind}.list", kinds=("catalog", "schema"), levels=(1, 2))
GET = Check(USE, "{kind}.get", levels=(1, 2, 3))
DROP = Check("MANAGE", "{kind}.drop", levels=(1, 2, 3), system="drop")

#: What other capabilities register through :meth:`Containers.create_securable`.
CAPABILITY_KINDS = ("volume", "model", "experiment")

#: ``location(name, securable_id)``: a managed folder for a new securable (``Layout.model_location``, ...).
LocationFn = Callable[[Name, str], str]


class Created:
    """A securable just created for a capability; whoever holds this may still take it back.

    >>> from glashaus.access.guard import Check
    >>> created = svc.create_securable(alice, Check.create("model", "model.create"), "main.shop.reco")
    >>> created.undo()  # the rest failed: nothing is left behind
    >>> [m.full_name for m in svc.list(alice, "main.shop", kind="model")]
    []
    """

    def __init__(self, securable: Securable, containers: Containers) -> None:
        self.securable = securable
        self._containers = containers

    def locate(self, location: str) -> Securable:
        """Give the new securable its managed folder, when that is known only after it exists."""
        self.securable = self._containers.catalog.update(self.securable.name, storage_location=location)
        return self.securable

    def undo(self) -> None:
        """Remove the securable again (only this one: a securable of the same name with another id stays)."""
        self._containers.discard(self.securable)


class Containers:
    """create_catalog, create_schema, create_volume, list, get, drop; create_securable for capabilities."""

    def __init__(self, *, catalog: Catalog, access: Access, guard: Guard, store: DeltaStore, layout: Layout) -> None:
        self.catalog = catalog
        self.access = access
        self.guard = guard
        self.store = store
        self.layout = layout

    def create_catalog(
        self, who: Principal, name: str, *, comment: str | None = None, if_not_exists: bool = False
    ) -> Securable:
        """Create a catalog, owned by you; needs CREATE CATALOG on the metastore.

        >>> lh.create_catalog("dev").full_name
        'dev'
        """
        with self.guard.require(who, CREATE_CATALOG, name) as allowed:
            return allowed.shown(
                self.catalog.create(
                    "catalog", allowed.name, owner=who.name, comment=comment, if_not_exists=if_not_exists
                )
            )

    def create_schema(
        self, who: Principal, name: str, *, comment: str | None = None, if_not_exists: bool = False
    ) -> Securable:
        """Create a schema in a catalog, owned by you; needs CREATE SCHEMA on the catalog.

        >>> lh.create_schema("main.garden").full_name
        'main.garden'
        """
        with self.guard.require(who, CREATE_SCHEMA, name) as allowed:
            return allowed.shown(
                self.catalog.create(
                    "schema", allowed.name, owner=who.name, comment=comment, if_not_exists=if_not_exists
                )
            )

    def create_volume(
        self, who: Principal, name: str, *, comment: str | None = None, if_not_exists: bool = False
    ) -> Securable:
        """Create a managed volume: a governed folder for files (images, text, models); needs CREATE VOLUME.

        >>> lh.create_volume("main.shop.documents").kind
        'volume'
        """
        with self.guard.require(who, CREATE_VOLUME, name) as allowed:
            n = allowed.name
            if if_not_exists and self.catalog.exists(n) and self.catalog.get(n).kind == "volume":
                return allowed.shown(self.catalog.get(n, kind="volume"))
            return allowed.shown(
                self._register("volume", n, who, comment=comment, spec=None, location=self.layout.volume_location)
            )

    def list(self, who: Principal, parent: str | None = None, *, kind: str | None = None) -> list[Securable]:
        """Catalogs (no parent), the schemas of a catalog, or the objects of a schema (``kind``: only those).

        Only what you may use or manage is listed.

        >>> [s.full_name for s in lh.list("main.shop", kind="table")]
        ['main.shop.customers', 'main.shop.orders']
        """
        if kind is not None and kind not in KINDS:
            raise InvalidArgumentError(f"kind={kind!r} is not a kind of securable; use one of {', '.join(KINDS)}.")
        if parent is None:
            with request():
                return self.guard.visible(who, self.catalog.list(kind=kind))
        with self.guard.require(who, LIST, parent) as allowed:
            # Only what the caller may use or manage is listed.
            return self.guard.visible(who, self.catalog.list(parent=allowed.name, kind=kind))

    def get(self, who: Principal, name: str, *, kind: str | tuple[str, ...] | None = None) -> Securable:
        with self.guard.require(who, _of(GET, kind), name) as allowed:
            return allowed.shown()

    def exists(self, who: Principal, name: str) -> bool:
        """Whether a catalog, schema, table, view, volume, model or experiment of that name exists (as Unity
        Catalog's ``tables/{name}/exists``); one you may not use is refused, as by :meth:`get`, not reported missing.

        >>> lh.exists("main.shop.orders"), lh.exists("main.shop.nope")
        (True, False)
        """
        with self.guard.require_if_exists(who, GET, name) as allowed:
            return allowed is not None

    def drop(
        self,
        who: Principal,
        name: str,
        *,
        kind: str | tuple[str, ...] | None = None,
        if_exists: bool = False,
        cascade: bool = False,
    ) -> builtins.list[Securable]:
        """Remove a securable from the catalog. Data files stay until vacuumed by an admin."""
        check = _of(DROP, kind)
        n = check.parse(name)
        with request():
            try:
                allowed = self.guard.allow(who, check, n)
            except NotFoundError:  # also a securable of another kind than asked for: DROP VIEW IF EXISTS <a table>
                if if_exists:
                    return []
                raise
            gone = self.catalog.drop(n, cascade=cascade)
            self.access.forget(gone)
            for s in gone:
                if s.storage_location and s.kind == "table":
                    self.store.forget(s.storage_location)
            return [allowed.shown(s) for s in gone]

    # -- for other capabilities ---------------------------------------------------------------

    def create_securable(
        self,
        who: Principal,
        check: Check,
        name: str | Name,
        *,
        comment: str | None = None,
        spec: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        location: LocationFn | None = None,
        details: dict[str, Any] | None = None,
    ) -> Created:
        """Create the securable ``check`` creates (``Check.create("model", ...)``), owned by ``who``.

        The guard checks the creating privilege on its container (audited with ``details``);
        ``location`` gives it a managed folder, or :meth:`Created.locate` does later.
        """
        if check.creates not in CAPABILITY_KINDS:
            raise InvalidArgumentError(
                f"create_securable makes {', '.join(CAPABILITY_KINDS)}, not a {check.creates}; "
                "tables, views, catalogs and schemas have operations of their own."
            )
        with self.guard.require(who, check, name, details=details) as allowed:
            kind = cast(Kind, check.creates)  # one of CAPABILITY_KINDS (checked above)
            securable = self._register(kind, allowed.name, who, comment=comment, spec=spec, location=location)
            if tags:
                securable = self.catalog.set_tags(allowed.name, tags)
            return Created(securable, self)

    def discard(self, securable: Securable) -> None:
        """Take back a securable a failed creation left (:meth:`Created.undo`); gone already is fine."""
        try:
            current = self.catalog.get(securable.name, details=False)
        except NotFoundError:
            return
        if current.id == securable.id:
            self.access.forget(self.catalog.drop(securable.name, kind=securable.kind))

    def _register(
        self,
        kind: Kind,
        n: Name,
        who: Principal,
        *,
        comment: str | None,
        spec: dict[str, Any] | None,
        location: LocationFn | None,
    ) -> Securable:
        securable = self.catalog.create(kind, n, owner=who.name, comment=comment, spec=spec)
        if location is None:
            return securable
        return self.catalog.update(n, storage_location=location(n, securable.id))


def _of(check: Check, kind: str | tuple[str, ...] | None) -> Check:
    """``check`` for a securable of ``kind`` only (``None``: any kind)."""
    if kind is None:
        return check
    return dataclasses.replace(check, kinds=(kind,) if isinstance(kind, str) else tuple(kind))

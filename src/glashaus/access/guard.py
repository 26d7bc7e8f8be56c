"""The guard: one call finds a securable as its caller may see it, decides, audits and shapes it.

Every governed operation needs the same four steps before it touches anything: parse and
check the name, look the securable up (a not-found error suggests only names the caller
may see), authorize (:meth:`~glashaus.access.Access.authorize`: the decision and its audit
event, allowed or denied) and, for what it returns, hide what the caller may not see
(storage locations, filter and mask expressions). A copy of those steps that forgets one
is a hole, so operations declare what they need as a :class:`Check` and ask the guard:

>>> WRITE = Check("MODIFY", "table.write", kinds=("table",), system="write to")
>>> with guard.require(alice, WRITE, "main.shop.orders", details={"mode": "append"}) as allowed:
...     where = allowed.securable.storage_location   # as stored, for the capability's own work
...     shown = allowed.shown()                      # as alice may see it, for what the call returns
>>> shown.full_name
'main.shop.orders'

A check names the privilege (or :data:`USE`: the one that lets one use a securable of its
kind), the audit action (``"{kind}.get"`` is filled in with the securable's kind), and how
the securable is found: an existing object of the given ``kinds`` by its name, or, for a
check made with :meth:`Check.create`, the container a new object goes into (its schema, a
schema's catalog, a catalog's metastore). Each call runs in one request scope
(:func:`~glashaus.access.audit.request`): nested calls, and everything the caller does
inside the ``with``, share the request's audit id and its cached decisions.

Unknown and existing-but-forbidden names keep the rules of ``docs/access.md``: an unknown
name is a :class:`~glashaus.errors.NotFoundError` that suggests only close names the caller
may use or manage; a name the caller may not act on is an audited
:class:`~glashaus.errors.PermissionDeniedError` naming the privilege and the GRANT that fixes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from glashaus.access.audit import request
from glashaus.access.authorize import Access
from glashaus.access.policies import HIDDEN
from glashaus.access.principal import Principal
from glashaus.access.privileges import use_privilege
from glashaus.catalog import Name, Securable, parse_name
from glashaus.errors import InvalidArgumentError, NotFoundError

#: In a :class:`Check`: the privilege that lets one use a securable of its kind (USE CATALOG,
#: USE SCHEMA, SELECT, READ VOLUME, EXECUTE), chosen once the securable is found.
USE = "USE"

#: The privilege that creates each kind of securable, on its container.
CREATE_PRIVILEGE = {
    "catalog": "CREATE CATALOG",
    "schema": "CREATE SCHEMA",
    "table": "CREATE TABLE",
    "view": "CREATE TABLE",
    "volume": "CREATE VOLUME",
    "model": "CREATE MODEL",
    "experiment": "CREATE MODEL",
}

_LEVELS = {"catalog": (1,), "schema": (2,)}

#: ``shaper(access, who, securable) -> securable``: one rule of what a caller may see of a securable.
Shaper = Callable[[Access, Principal, Securable], Securable]


def refuse_system(name: Name, verb: str) -> None:
    """The system catalog is written only by Glashaus itself (:class:`InvalidArgumentError` otherwise).

    >>> refuse_system(parse_name("main.shop.orders"), "drop")
    >>> refuse_system(parse_name("system.access.audit"), "drop")
    Traceback (most recent call last):
    glashaus.errors.InvalidArgumentError: cannot drop 'system.access.audit': the system catalog is written only by Glashaus.
    """
    if name.catalog == "system":
        raise InvalidArgumentError(f"cannot {verb} {name.full!r}: the system catalog is written only by Glashaus.")


@dataclass(frozen=True)
class Check:
    """What one operation requires of its caller: a declaration, made once per operation.

    ``privilege``: a privilege name, or :data:`USE`. ``action``: the audit action; ``{kind}``
    in it becomes the securable's kind. ``kinds``: the kinds of securable the name may
    denote (``None``: any). ``levels``: how many parts the name has (1 catalog, 2 schema,
    3 object). ``versions``: whether the name may carry ``@vN``. ``system``: the verb of the
    refusal when the name lies in the ``system`` catalog (``None``: allowed there).
    ``creates``: set by :meth:`create`, the kind of securable the operation creates: the
    check is then made on the container it goes into. ``details``: whether the lookup loads
    tags and column comments (the hot paths that need neither skip them).

    >>> Check(USE, "{kind}.get", levels=(1, 2, 3)).privilege_for("volume")
    'READ VOLUME'
    """

    privilege: str
    action: str
    kinds: tuple[str, ...] | None = None
    levels: tuple[int, ...] = (3,)
    versions: bool = False
    system: str | None = None
    creates: str | None = None
    details: bool = True

    @classmethod
    def create(cls, kind: str, action: str, *, privilege: str | None = None, system: str = "create") -> Check:
        """The check for creating a securable of ``kind``: its creating privilege on the container.

        A catalog's container is the metastore, a schema's its catalog, anything else's its
        schema. The audit event's details name the new securable (``{"name": ...}``).

        >>> Check.create("view", "view.create").privilege
        'CREATE TABLE'
        """
        return cls(
            privilege or CREATE_PRIVILEGE[kind], action, levels=_LEVELS.get(kind, (3,)), system=system, creates=kind
        )

    def parse(self, name: str | Name) -> Name:
        """``name`` parsed and checked as this operation takes it (levels, version, system catalog)."""
        n = name if isinstance(name, Name) else parse_name(name, levels=self.levels, allow_version=self.versions)
        if self.system is not None:
            refuse_system(n, self.system)
        return n

    def privilege_for(self, kind: str) -> str:
        return use_privilege(kind) if self.privilege == USE else self.privilege

    def action_for(self, kind: str) -> str:
        return self.action.format(kind=kind) if "{" in self.action else self.action


@dataclass(frozen=True)
class Allowed:
    """What the guard let through: the name asked about and the securable the decision was on.

    ``securable`` is the securable as stored (with its storage location), for the
    operation's own work; ``None`` when the decision was on the metastore (creating a
    catalog). For a create, ``name`` is the new securable's and ``securable`` its container.
    What the operation returns goes through :meth:`shown`.
    """

    who: Principal
    name: Name
    securable: Securable | None
    guard: Guard

    @property
    def found(self) -> Securable:
        """The securable, for checks that always find one (never the metastore)."""
        assert self.securable is not None, "a check on the metastore has no securable"
        return self.securable

    def shown(self, securable: Securable | None = None) -> Securable:
        """``securable`` (default: the one decided on) as the caller may see it."""
        return self.guard.shown(self.who, securable if securable is not None else self.found)


def hide_location(access: Access, who: Principal, securable: Securable) -> Securable:
    """The storage location is for admins and owners (of the securable or a container of it).

    A path in the file system or object store is for those who administer the data;
    everyone else reaches the data through the catalog, where access is governed.
    """
    if securable.storage_location is None or access.owns(who, securable):
        return securable
    return dataclasses.replace(securable, storage_location=None)


def hide_policy_expressions(access: Access, who: Principal, securable: Securable) -> Securable:
    """Row filter and column mask expressions are for the table's managers; others see :data:`HIDDEN`.

    The expressions (and the groups and values they name) are the managers' business;
    everyone else learns only that a filter or mask is there.
    """
    spec = securable.spec or {}
    if not spec.get("row_filter") and not spec.get("column_masks"):
        return securable
    if access.allows(who, "MANAGE", securable):
        return securable
    hidden = dict(spec)
    if spec.get("row_filter"):
        hidden["row_filter"] = HIDDEN
    if spec.get("column_masks"):
        hidden["column_masks"] = dict.fromkeys(spec["column_masks"], HIDDEN)
    return dataclasses.replace(securable, spec=hidden)


#: What every securable a caller receives goes through (:meth:`Guard.shown`).
SHAPERS: tuple[Shaper, ...] = (hide_policy_expressions, hide_location)


class Guard:
    """Lookup, decision, audit and shaping for every operation on a securable (see the module)."""

    def __init__(self, access: Access, *, shapers: Sequence[Shaper] = SHAPERS) -> None:
        self.access = access
        self.catalog = access.catalog
        #: The rules of what a caller may see of a securable; a capability with a rule of its own adds it here.
        self.shapers: list[Shaper] = list(shapers)

    # -- deciding ------------------------------------------------------------------------

    @contextlib.contextmanager
    def require(
        self,
        who: Principal,
        check: Check,
        name: str | Name | Securable,
        *,
        details: dict[str, Any] | None = None,
        reader: Principal | None = None,
    ) -> Iterator[Allowed]:
        """Find what ``check`` names, authorize ``who`` (audited) and hand it over, in one request scope.

        ``name``: the name as the caller gave it, a parsed :class:`Name`, or a securable
        found some other way (by id: runs, experiments, endpoints), which is then only
        checked and authorized. ``details`` go into the audit event; ``reader`` is who is
        really asking when ``who``'s rights are used for them (a view's owner).
        """
        with request():
            yield self._allow(who, check, name, details=details, reader=reader)

    @contextlib.contextmanager
    def require_if_exists(
        self,
        who: Principal,
        check: Check,
        name: str | Name,
        *,
        details: dict[str, Any] | None = None,
    ) -> Iterator[Allowed | None]:
        """:meth:`require`, or ``None`` when no securable has the name (``IF EXISTS``; nothing is audited then).

        A securable of another kind than ``check.kinds`` is an error, not ``None``.
        """
        with request():
            n = check.parse(name)
            yield None if not self.catalog.exists(n) else self._allow(who, check, n, details=details, reader=None)

    def allow(
        self,
        who: Principal,
        check: Check,
        name: str | Name | Securable,
        *,
        details: dict[str, Any] | None = None,
        reader: Principal | None = None,
    ) -> Allowed:
        """:meth:`require` as a plain call, for a step of an operation that holds a request scope already.

        Alone, it is a request of its own (the decision and its audit event); the rest of the
        caller's work is not in it.
        """
        with request():
            return self._allow(who, check, name, details=details, reader=reader)

    def _allow(
        self,
        who: Principal,
        check: Check,
        name: str | Name | Securable,
        *,
        details: dict[str, Any] | None,
        reader: Principal | None,
    ) -> Allowed:
        if isinstance(name, Securable):
            securable: Securable | None = _of_kind(name, check.kinds)
            n = name.name
        else:
            n = check.parse(name)
            if check.creates is not None:
                securable = self._container(who, n)
                details = {"name": n.full, **(details or {})}
            else:
                securable = self.catalog.get(
                    n, kind=check.kinds, details=check.details, visible=self.access.visible_to(who)
                )
        kind = securable.kind if securable is not None else "metastore"
        self.access.authorize(
            who, check.privilege_for(kind), securable, action=check.action_for(kind), details=details, reader=reader
        )
        return Allowed(who, n, securable, self)

    def _container(self, who: Principal, name: Name) -> Securable | None:
        """Where a securable called ``name`` would be created: its schema or catalog, or None (the metastore)."""
        parent = name.parent
        if parent is None:
            return None
        return self.catalog.get(
            parent,
            kind="catalog" if parent.schema is None else "schema",
            details=False,
            visible=self.access.visible_to(who),
        )

    # -- finding without deciding ------------------------------------------------------------

    def find(
        self,
        who: Principal | None,
        name: str | Name,
        *,
        kinds: tuple[str, ...] | None = None,
        levels: tuple[int, ...] = (3,),
        details: bool = True,
    ) -> Securable:
        """The securable called ``name``, unauthorized, as stored: for operations whose decision is
        not one privilege (granting, changing an owner), which decide through :class:`Access` next,
        and for runtimes that authorize each use of what they found (serving).

        A not-found error suggests only names ``who`` may see, as :meth:`require`'s does (none
        without ``who``).
        """
        n = name if isinstance(name, Name) else parse_name(name, levels=levels, allow_version=False)
        return self.catalog.get(
            n, kind=kinds, details=details, visible=None if who is None else self.access.visible_to(who)
        )

    def may_see(self, who: Principal, name: str | Name) -> bool:
        """Whether ``name`` exists and ``who`` may use or manage it (listings filter with this; unaudited)."""
        try:
            n = name if isinstance(name, Name) else parse_name(name)
            securable = self.catalog.get(n, details=False)
        except NotFoundError:
            return False
        return self.access.visible_to(who)(securable)

    # -- shaping -------------------------------------------------------------------------------

    def shown(self, who: Principal, securable: Securable) -> Securable:
        """``securable`` as ``who`` may see it (:data:`SHAPERS`: location for owners, expressions for managers)."""
        for shape in self.shapers:
            securable = shape(self.access, who, securable)
        return securable

    def visible(self, who: Principal, securables: Iterable[Securable]) -> list[Securable]:
        """The securables ``who`` may use or manage, each as they may see it (listings; unaudited)."""
        visible = self.access.visible_to(who)
        return [self.shown(who, s) for s in securables if visible(s)]


def _of_kind(securable: Securable, kinds: tuple[str, ...] | None) -> Securable:
    if kinds and securable.kind not in kinds:
        raise NotFoundError(f"{securable.full_name!r} is a {securable.kind}, not a {' or '.join(kinds)}.")
    return securable

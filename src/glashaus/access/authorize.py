"""The one authorization path: ``authorize(principal, privilege, securable)``.

Every capability and every face (SDK, CLI, REST, UI) asks here before it touches a
securable, and every answer, allowed or denied, is audited.

The rules, after Unity Catalog:
- members of ``admins`` may do everything;
- privileges are inherited downward: a grant on a catalog holds for its schemas and
  their objects, a grant on a schema for its objects; so does ownership (the owner of
  a catalog holds every privilege on everything in it);
- ``ALL PRIVILEGES`` stands for every privilege but ``MANAGE``;
- to reach anything inside a catalog one needs ``USE CATALOG`` on it, and inside a
  schema ``USE SCHEMA`` too;
- grants and ownership changes need ``MANAGE`` (owners, admins, MANAGE holders).

>>> access.authorize(alice, "SELECT", table, action="table.read")
>>> access.authorize(bob, "SELECT", table, action="table.read")
Traceback (most recent call last):
glashaus.errors.PermissionDeniedError: bob lacks USE SCHEMA on schema main.shop; ...
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from glashaus.access.audit import AuditLog, current_request_id
from glashaus.access.directory import ADMINS, Directory
from glashaus.access.grants import METASTORE, GrantInfo, Grants
from glashaus.access.principal import Principal
from glashaus.access.privileges import check_grantable, check_privilege, use_privilege
from glashaus.catalog import Catalog, Name, Securable
from glashaus.deprecation import renamed_keywords
from glashaus.errors import InvalidArgumentError, PermissionDeniedError

_KIND_SQL = {
    "catalog": "CATALOG",
    "schema": "SCHEMA",
    "table": "TABLE",
    "view": "VIEW",
    "volume": "VOLUME",
    "model": "MODEL",
    "experiment": "EXPERIMENT",
}


class Access:
    def __init__(self, audit: AuditLog, *, directory: Directory, grants: Grants, catalog: Catalog) -> None:
        self.audit = audit
        self.directory = directory
        self.grants = grants
        self.catalog = catalog
        self._identities: OrderedDict[tuple[str, str, str | None], tuple[frozenset[int], frozenset[str]]] = (
            OrderedDict()
        )
        self._decisions: OrderedDict[tuple[str, str, str, str], tuple[bool, str]] = OrderedDict()
        self._lock = threading.Lock()

    # -- deciding ------------------------------------------------------------------------

    def authorize(
        self,
        principal: Principal,
        privilege: str,
        securable: Securable | Name | None,
        *,
        action: str,
        details: dict[str, Any] | None = None,
        reader: Principal | None = None,
    ) -> None:
        """Allow or raise :class:`~glashaus.errors.PermissionDeniedError`; audit either way.

        ``reader``: who is actually asking when ``principal`` is someone whose rights are
        used on their behalf (a view's owner, inside a view); the audit event records them.
        """
        privilege = check_privilege(privilege)
        if reader is not None and reader.name != principal.name:
            details = {**(details or {}), "reader": reader.name}
        if isinstance(securable, Name):
            securable = self.catalog.get(securable, details=False)
        # One decision (and one audit event) per request, principal, privilege and securable:
        # a statement that touches a table ten times asks once.
        key = (current_request_id(), principal.name, privilege, securable.id if securable is not None else "")
        with self._lock:
            cached = self._decisions.get(key)
        if cached is not None:
            if not cached[0]:
                raise PermissionDeniedError(cached[1])
            return
        allowed, reason = self.decide(principal, privilege, securable)
        with self._lock:
            self._decisions[key] = (allowed, reason)
            while len(self._decisions) > 256:
                self._decisions.popitem(last=False)
        self.audit.record(
            principal=principal.name,
            action=action,
            privilege=privilege,
            securable=securable.full_name if securable is not None else None,
            securable_kind=securable.kind if securable is not None else "metastore",
            decision="allow" if allowed else "deny",
            reason=reason,
            details=details,
        )
        if not allowed:
            raise PermissionDeniedError(reason)

    def allows(self, principal: Principal, privilege: str, securable: Securable | None) -> bool:
        """The decision alone, unaudited (to filter listings)."""
        return self.decide(principal, check_privilege(privilege), securable)[0]

    def owns(self, principal: Principal, securable: Securable) -> bool:
        """Whether ``principal`` owns ``securable`` or a container of it (itself or through a group); admins do."""
        if self.is_admin(principal):
            return True
        names = self._who(principal)[1]
        return any(c.owner in names for c in self._chain(securable))

    def visible_to(self, principal: Principal) -> Callable[[Securable], bool]:
        """Whether ``principal`` may see a securable: use it or manage it (listings, name suggestions)."""
        return lambda s: self.allows(principal, use_privilege(s.kind), s) or self.allows(principal, "MANAGE", s)

    def decide(self, principal: Principal, privilege: str, securable: Securable | None) -> tuple[bool, str]:
        if principal.kind == "system":
            return True, "the platform itself"
        ids, names = self._who(principal)
        if not ids:
            return False, f"{principal.name!r} is not a known principal of this lakehouse."
        if ADMINS in names:
            return True, "admin"
        if securable is None:
            if (METASTORE, privilege) in self.grants.held([METASTORE], ids):
                return True, f"{privilege} granted on the metastore"
            return False, (
                f"{principal.name} lacks {privilege} on the metastore; an admin can run "
                f"GRANT {privilege} ON METASTORE TO {principal.name}."
            )
        chain = self._chain(securable)
        held = self.grants.held([c.id for c in chain], ids)

        def holds(p: str, start: int) -> bool:
            for c in chain[start:]:
                if c.owner in names or (c.id, p) in held or (p != "MANAGE" and (c.id, "ALL PRIVILEGES") in held):
                    return True
            return False

        needed: list[tuple[str, Securable, int]] = []
        depth = len(chain)
        if depth >= 1 and chain[-1].kind == "catalog" and not (privilege == "USE CATALOG" and depth == 1):
            needed.append(("USE CATALOG", chain[-1], depth - 1))
        if depth >= 2 and not (privilege == "USE SCHEMA" and depth == 2):
            needed.append(("USE SCHEMA", chain[-2], depth - 2))
        needed.append((privilege, securable, 0))
        # MANAGE (and ownership) needs USE CATALOG and USE SCHEMA too, as in Unity Catalog.
        for p, on, start in needed:
            if not holds(p, start):
                kind = _KIND_SQL.get(on.kind, on.kind.upper())
                return False, (
                    f"{principal.name} lacks {p} on {on.kind} {on.full_name}; its owner ({on.owner}) or an "
                    f"admin can run GRANT {p} ON {kind} {on.full_name} TO {principal.name}."
                )
        return True, "granted" if not any(c.owner in names for c in chain) else "owner"

    def refuse(self, principal: Principal, *, action: str, reason: str, details: dict[str, Any] | None = None) -> None:
        """Record an attempt refused before any securable was named (e.g. SQL reading a file)."""
        self.audit.record(
            principal=principal.name,
            action=action,
            decision="deny",
            reason=reason,
            details=details,
        )

    # -- managing grants -----------------------------------------------------------------

    def grant(self, who: Principal, privilege: str, securable: Securable | None, to: str) -> bool:
        """Grant ``privilege`` on ``securable`` (None: the metastore) to a user or group."""
        kind = securable.kind if securable is not None else "metastore"
        privilege = check_grantable(privilege, kind)
        self._manage(who, securable, action="grant", details={"privilege": privilege, "to": to})
        target = securable.id if securable is not None else METASTORE
        return self.grants.add(target, to, privilege, granted_by=who.name)

    @renamed_keywords(frm="from_")
    def revoke(self, who: Principal, privilege: str, securable: Securable | None, from_: str) -> bool:
        kind = securable.kind if securable is not None else "metastore"
        privilege = check_grantable(privilege, kind)
        self._manage(who, securable, action="revoke", details={"privilege": privilege, "from": from_})
        target = securable.id if securable is not None else METASTORE
        return self.grants.remove(target, from_, privilege)

    def show_grants(self, who: Principal, securable: Securable | None) -> list[GrantInfo]:
        """Grants on ``securable`` and those it inherits from its catalog and schema.

        As in Unity Catalog (SHOW GRANTS), admins, owners and holders of MANAGE see every
        grant; anyone else sees the grants they hold themselves or through their groups.
        On an object that takes the right to use it (USE CATALOG, USE SCHEMA, SELECT, ...);
        on the metastore nothing more. Audited either way.
        """
        if securable is None:
            everything = self.is_admin(who)
            reason = (
                "admin"
                if everything
                else (
                    f"{who.name} is not an admin: shown only the metastore grants {who.name} holds, directly or "
                    "through a group"
                )
            )
            self.audit.record(
                principal=who.name,
                action="grants.show",
                securable=None,
                securable_kind="metastore",
                decision="allow",
                reason=reason,
            )
            found = self.grants.on([METASTORE])
        else:
            chain = self._chain(securable)
            self.authorize(who, use_privilege(securable.kind), securable, action="grants.show")
            everything = self.allows(who, "MANAGE", securable)
            found = self.grants.on([c.id for c in chain])
        if everything:
            return found
        names = self._who(who)[1]
        return [g for g in found if g.principal in names]

    def check_owner_change(self, who: Principal, securable: Securable, new_owner: str) -> None:
        """Ownership moves at the hand of an owner (of the object or a container of it) or an admin.

        As in Unity Catalog, MANAGE is not enough: it lets one grant, drop and edit, not give
        the object away. Like every right inside a catalog it needs USE CATALOG and USE SCHEMA.
        """
        # The right first: whoever may not change the owner learns nothing about principals.
        allowed, reason = self._decide_owner_change(who, securable)
        self.audit.record(
            principal=who.name,
            action="owner.change",
            privilege=None,
            securable=securable.full_name,
            securable_kind=securable.kind,
            decision="allow" if allowed else "deny",
            reason=reason,
            details={"to": new_owner, "from": securable.owner},
        )
        if not allowed:
            raise PermissionDeniedError(reason)
        if not self.directory.exists(new_owner):
            raise InvalidArgumentError(
                f"cannot make {new_owner!r} the owner of {securable.full_name}: no such user or group; "
                f"an admin can create it first (lh.create_user / lh.create_group)."
            )

    def _decide_owner_change(self, who: Principal, securable: Securable) -> tuple[bool, str]:
        if who.kind == "system" or self.is_admin(who):
            return True, "admin"
        chain = self._chain(securable)
        names = self._who(who)[1]
        if not any(c.owner in names for c in chain):
            kind = _KIND_SQL.get(securable.kind, securable.kind.upper())
            return False, (
                f"{who.name} may not transfer ownership of {securable.kind} {securable.full_name}: only its owner "
                f"({securable.owner}), the owner of a schema or catalog around it, or a member of 'admins' may (MANAGE "
                f"is not enough, as in Unity Catalog). Ask one of them to run ALTER {kind} {securable.full_name} "
                f"OWNER TO <principal>."
            )
        # An owner still needs USE CATALOG and USE SCHEMA to reach the object; MANAGE holds for owners.
        return self.decide(who, "MANAGE", securable)

    def forget(self, securables: list[Securable]) -> None:
        self.grants.forget([s.id for s in securables])

    def require_admin(self, who: Principal, *, action: str, details: dict[str, Any] | None = None) -> None:
        """Principals and other people's tokens are managed by admins only."""
        allowed = self.is_admin(who)
        reason = "admin" if allowed else f"only members of '{ADMINS}' may do {action}; {who.name} is not one."
        self.audit.record(
            principal=who.name,
            action=action,
            privilege="MANAGE",
            securable=None,
            securable_kind="metastore",
            decision="allow" if allowed else "deny",
            reason=reason,
            details=details,
        )
        if not allowed:
            raise PermissionDeniedError(reason)

    def is_admin(self, principal: Principal) -> bool:
        return principal.kind == "system" or ADMINS in self._who(principal)[1]

    def _manage(self, who: Principal, securable: Securable | None, *, action: str, details: dict) -> None:
        if securable is None:
            self.require_admin(who, action=action, details=details)
            return
        self.authorize(who, "MANAGE", securable, action=action, details=details)

    # -- internals -------------------------------------------------------------------------

    def _who(self, principal: Principal) -> tuple[frozenset[int], frozenset[str]]:
        # Cached for the length of one request: one statement sees one membership state.
        key = (current_request_id(), principal.name, principal.token_id)
        with self._lock:
            hit = self._identities.get(key)
        if hit is None:
            hit = self.directory.identities(principal.name, token_id=principal.token_id)
            with self._lock:
                self._identities[key] = hit
                while len(self._identities) > 64:
                    self._identities.popitem(last=False)
        return hit

    def _chain(self, securable: Securable) -> list[Securable]:
        """The securable and its containers, innermost first (one metastore query)."""
        return [securable, *self.catalog.containers(securable.name)]

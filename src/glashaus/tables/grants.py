"""Grants and ownership of securables: the tables service's part, over :class:`~glashaus.access.Access`.

The SQL forms (``GRANT``, ``REVOKE``, ``SHOW GRANTS``, ``ALTER ... OWNER TO``) and the
Lakehouse methods call these. The guard finds the securable as the caller may see it; the
decision is :class:`~glashaus.access.Access`'s (MANAGE to grant, an owner to give away).

>>> svc.grant(alice, "SELECT", on="main.shop.orders", to="analysts")
True
"""

from __future__ import annotations

from glashaus.access import Access, Principal, request
from glashaus.access.guard import Guard, refuse_system
from glashaus.catalog import Catalog, Securable, parse_name
from glashaus.deprecation import renamed_keywords
from glashaus.tables.results import Grant


class Permissions:
    """grant, revoke, show_grants, set_owner."""

    def __init__(self, *, catalog: Catalog, access: Access, guard: Guard) -> None:
        self.catalog = catalog
        self.access = access
        self.guard = guard

    def _target(self, who: Principal, on: str | None) -> Securable | None:
        if on is None or str(on).strip().upper() == "METASTORE":
            return None
        return self.guard.find(who, on, levels=(1, 2, 3), details=False)

    def grant(self, who: Principal, privilege: str, *, on: str | None, to: str) -> bool:
        """Grant a privilege (Unity Catalog names) on a securable (``on=None``: the metastore) to a user or group.

        >>> lh.grant("SELECT", on="main.shop.orders", to="analysts")
        True
        """
        with request():
            return self.access.grant(who, privilege, self._target(who, on), to)

    @renamed_keywords(frm="from_")
    def revoke(self, who: Principal, privilege: str, *, on: str | None, from_: str) -> bool:
        """Revoke a privilege on a securable (``on=None``: the metastore) from a user or group."""
        with request():
            return self.access.revoke(who, privilege, self._target(who, on), from_)

    def show_grants(self, who: Principal, on: str | None) -> list[Grant]:
        """Grants on ``on`` (``None``: the metastore) and those it inherits (``inherited`` says which).

        Managers (admins, owners, MANAGE holders) see every grant, others their own.

        >>> _ = lh.grant("SELECT", on="main.shop.orders", to="analysts")
        >>> [(g.principal, g.privilege, g.inherited) for g in lh.show_grants("main.shop.orders")]
        [('analysts', 'SELECT', False), ('users', 'USE CATALOG', True)]
        """
        with request():
            target = self._target(who, on)
            names = {}
            if target is not None:
                names = {c.id: c.full_name for c in [target, *self.catalog.containers(target.name)]}
            return [
                Grant(
                    principal=g.principal,
                    privilege=g.privilege,
                    on=names.get(g.securable_id, "METASTORE"),
                    inherited=target is not None and g.securable_id != target.id,
                    granted_by=g.granted_by,
                )
                for g in self.access.show_grants(who, target)
            ]

    def set_owner(self, who: Principal, name: str, owner: str) -> Securable:
        """Transfer ownership (ALTER ... OWNER TO): for owners (of it or a container) and admins.

        The new owner must exist.
        """
        n = parse_name(name, levels=(1, 2, 3), allow_version=False)
        refuse_system(n, "change the owner of")
        with request():
            securable = self.guard.find(who, n)
            self.access.check_owner_change(who, securable, owner)
            return self.guard.shown(who, self.catalog.update(n, owner=owner.lower()))

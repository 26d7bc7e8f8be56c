"""Grants and ownership of securables: the tables service's part, over :class:`~glashaus.access.Access`.

Mixed into :class:`~glashaus.tables.TablesService`; the SQL forms (``GRANT``, ``REVOKE``,
``SHOW GRANTS``, ``ALTER ... OWNER TO``) and the Lakehouse methods call these.

>>> svc.grant(alice, "SELECT", on="main.shop.orders", to="analysts")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glashaus.access import Access, Principal, request
from glashaus.catalog import Catalog, Securable, parse_name
from glashaus.tables.checks import refuse_system


class GrantsMixin:
    """grant, revoke, show_grants, set_owner (uses the service's catalog, access and lookups)."""

    catalog: Catalog
    access: Access
    _find: Callable[..., Securable]
    _shown: Callable[[Principal, Securable], Securable]

    def _grant_target(self, who: Principal, on: str | None) -> Securable | None:
        if on is None or str(on).strip().upper() == "METASTORE":
            return None
        return self._find(who, parse_name(on, levels=(1, 2, 3), allow_version=False), details=False)

    def grant(self, who: Principal, privilege: str, *, on: str | None, to: str) -> bool:
        """Grant a privilege on a securable (``on=None``: the metastore) to a user or group."""
        with request():
            return self.access.grant(who, privilege, self._grant_target(who, on), to)

    def revoke(self, who: Principal, privilege: str, *, on: str | None, frm: str) -> bool:
        with request():
            return self.access.revoke(who, privilege, self._grant_target(who, on), frm)

    def show_grants(self, who: Principal, on: str | None) -> list[dict[str, Any]]:
        """Grants on a securable and those it inherits, with where each comes from.

        Managers (admins, owners, MANAGE holders) see every grant, others their own.
        """
        with request():
            target = self._grant_target(who, on)
            names = {}
            if target is not None:
                names = {c.id: c.full_name for c in [target, *self.catalog.containers(target.name)]}
            return [
                {"principal": g.principal, "privilege": g.privilege, "on": names.get(g.securable_id, "METASTORE"),
                 "inherited": target is not None and g.securable_id != target.id, "granted_by": g.granted_by}
                for g in self.access.show_grants(who, target)
            ]

    def set_owner(self, who: Principal, name: str, owner: str) -> Securable:
        """Transfer ownership (ALTER ... OWNER TO): for owners (of it or a container) and admins.

        The new owner must exist.
        """
        n = parse_name(name, levels=(1, 2, 3), allow_version=False)
        refuse_system(n, "change the owner of")
        with request():
            securable = self._find(who, n)
            self.access.check_owner_change(who, securable, owner)
            return self._shown(who, self.catalog.update(n, owner=owner.lower()))

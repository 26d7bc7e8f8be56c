"""Grants: which principal holds which privilege on which securable.

A grant on a catalog or schema is inherited by everything inside it. ``''`` stands
for the metastore itself (where ``CREATE CATALOG`` is granted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from glashaus.access.rows import GrantRow, PrincipalRow
from glashaus.errors import NotFoundError
from glashaus.metastore import Metastore, affected

METASTORE = ""

_HELD = sa.select(GrantRow.securable_id, GrantRow.privilege).where(
    GrantRow.securable_id.in_(sa.bindparam("securables", expanding=True)),
    GrantRow.principal_id.in_(sa.bindparam("principals", expanding=True)),
)


@dataclass(frozen=True)
class GrantInfo:
    securable_id: str
    principal: str
    privilege: str
    granted_by: str
    granted_at: dt.datetime


class Grants:
    def __init__(self, metastore: Metastore) -> None:
        self.metastore = metastore

    def add(self, securable_id: str, principal: str, privilege: str, *, granted_by: str) -> bool:
        """Record a grant; False when it was there already."""
        try:
            with self.metastore.session() as s:
                pid = self._principal_id(s, principal)
                if self._exists(s, securable_id, pid, privilege):
                    return False
                s.add(GrantRow(securable_id=securable_id, principal_id=pid, privilege=privilege, granted_by=granted_by))
                return True
        except sa.exc.IntegrityError:
            # Two processes granted the same at once: the other one won; the grant is there.
            with self.metastore.session() as s:
                if self._exists(s, securable_id, self._principal_id(s, principal), privilege):
                    return False
            raise

    @staticmethod
    def _exists(s, securable_id: str, pid: int, privilege: str) -> bool:
        return (
            s.scalar(
                sa.select(GrantRow.id).where(
                    GrantRow.securable_id == securable_id, GrantRow.principal_id == pid, GrantRow.privilege == privilege
                )
            )
            is not None
        )

    def remove(self, securable_id: str, principal: str, privilege: str) -> bool:
        """Remove a grant; False when there was none."""
        with self.metastore.session() as s:
            pid = self._principal_id(s, principal)
            result = s.execute(
                sa.delete(GrantRow).where(
                    GrantRow.securable_id == securable_id, GrantRow.principal_id == pid, GrantRow.privilege == privilege
                )
            )
            return bool(affected(result))

    def on(self, securable_ids: list[str]) -> list[GrantInfo]:
        with self.metastore.session() as s:
            rows = s.execute(
                sa.select(GrantRow, PrincipalRow.name)
                .join(PrincipalRow, PrincipalRow.id == GrantRow.principal_id)
                .where(GrantRow.securable_id.in_(securable_ids))
                .order_by(PrincipalRow.name, GrantRow.privilege)
            ).all()
            return [GrantInfo(g.securable_id, name, g.privilege, g.granted_by, g.granted_at) for g, name in rows]

    def held(self, securable_ids: list[str], principal_ids: frozenset[int]) -> set[tuple[str, str]]:
        """(securable id, privilege) pairs that any of ``principal_ids`` holds on ``securable_ids``."""
        if not principal_ids:
            return set()
        # A plain connection and a statement built once: this runs for the first check of every request.
        with self.metastore.engine.connect() as conn:
            rows = conn.execute(_HELD, {"securables": list(securable_ids), "principals": list(principal_ids)}).all()
            return {(r[0], r[1]) for r in rows}

    def forget(self, securable_ids: list[str]) -> None:
        """Drop the grants of securables that no longer exist."""
        with self.metastore.session() as s:
            s.execute(sa.delete(GrantRow).where(GrantRow.securable_id.in_(securable_ids)))

    def _principal_id(self, s, name: str) -> int:
        pid = s.scalar(sa.select(PrincipalRow.id).where(PrincipalRow.name == name.lower()))
        if pid is None:
            raise NotFoundError(f"principal {name!r} does not exist; create it first (lh.create_user / create_group).")
        return pid

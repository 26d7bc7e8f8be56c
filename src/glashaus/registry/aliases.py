"""Aliases (``@champion``, ``@challenger``) and the history of every move.

Each change of an alias writes one history row in the same transaction: who, when,
from which version to which, why (``reason``), and the request id that ties it to
the audit log. ``rollback`` undoes moves one at a time, like a stack: after
``1 -> 2 -> 3`` two rollbacks give 2, then 1; after a delete, a rollback brings the
alias back.

No authorization here: :class:`~glashaus.registry.service.RegistryService` asks first.

>>> store = registry.aliases
>>> move = store.set(reco, "challenger", 1, principal="alice", reason="better AUC")
>>> move.alias, move.from_version, move.to_version
('challenger', None, 1)
"""

from __future__ import annotations

import builtins  # the method `set` below hides the builtin inside the class
import datetime as dt
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus.access.audit import current_request_id
from glashaus.catalog import Securable
from glashaus.catalog.rows import utcnow
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.metastore import Metastore
from glashaus.registry.rows import AliasEventRow, ModelAliasRow

Action = Literal["set", "delete", "rollback"]


@dataclass(frozen=True)
class AliasMove:
    """One change of an alias: ``from_version`` is None when it was new, ``to_version`` when deleted."""

    model: str
    alias: str
    action: str
    from_version: int | None
    to_version: int | None
    principal: str
    reason: str | None
    event_time: dt.datetime
    request_id: str | None


class AliasStore:
    def __init__(self, metastore: Metastore) -> None:
        self.metastore = metastore

    def of_model(self, model: Securable) -> dict[str, int]:
        with self.metastore.session() as s:
            rows = s.scalars(
                sa.select(ModelAliasRow).where(ModelAliasRow.model_id == model.id).order_by(ModelAliasRow.alias)
            )
            return {r.alias: r.version for r in rows}

    def version_of(self, model: Securable, alias: str) -> int:
        with self.metastore.session() as s:
            row = s.get(ModelAliasRow, (model.id, alias))
            if row is None:
                raise NotFoundError(self._missing(s, model, alias))
            return row.version

    def set(self, model: Securable, alias: str, version: int, *, principal: str, reason: str | None) -> AliasMove:
        with self.metastore.session() as s:
            return self._move(s, model, alias, version, "set", principal, reason)

    def delete(self, model: Securable, alias: str, *, principal: str, reason: str | None) -> AliasMove:
        with self.metastore.session() as s:
            if s.get(ModelAliasRow, (model.id, alias)) is None:
                raise NotFoundError(self._missing(s, model, alias))
            return self._move(s, model, alias, None, "delete", principal, reason)

    def rollback(
        self, model: Securable, alias: str, *, principal: str, reason: str | None, usable: builtins.set[int]
    ) -> AliasMove:
        """Move ``alias`` back to the version it pointed at before its last move; ``usable``: live versions."""
        with self.metastore.session() as s:
            events = list(
                s.scalars(
                    sa.select(AliasEventRow)
                    .where(AliasEventRow.model_id == model.id, AliasEventRow.alias == alias)
                    .order_by(AliasEventRow.id)
                )
            )
            if not events:
                raise NotFoundError(self._missing(s, model, alias))
            stack: list[int] = []
            for e in events:
                if e.action == "rollback":
                    if stack:
                        stack.pop()
                elif e.from_version is not None and e.from_version != e.to_version:
                    stack.append(e.from_version)
            if not stack:
                raise InvalidArgumentError(
                    f"alias {alias!r} of {model.full_name} has no earlier version to roll back to; "
                    f"set it explicitly (lh.models.set_alias)."
                )
            target = stack[-1]
            if target not in usable:
                raise InvalidArgumentError(
                    f"cannot roll {alias!r} of {model.full_name} back to version {target}: that version was "
                    f"deleted; set the alias explicitly."
                )
            return self._move(s, model, alias, target, "rollback", principal, reason)

    def history(self, model: Securable, alias: str | None = None) -> list[AliasMove]:
        """Every move, newest first (of one alias, or of all)."""
        with self.metastore.session() as s:
            query = sa.select(AliasEventRow).where(AliasEventRow.model_id == model.id)
            if alias is not None:
                query = query.where(AliasEventRow.alias == alias)
            return [_move(model, e) for e in s.scalars(query.order_by(AliasEventRow.id.desc()))]

    def _move(
        self,
        s: Session,
        model: Securable,
        alias: str,
        version: int | None,
        action: Action,
        principal: str,
        reason: str | None,
    ) -> AliasMove:
        row = s.get(ModelAliasRow, (model.id, alias))
        before = row.version if row is not None else None
        now = utcnow()
        if version is None:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(ModelAliasRow(model_id=model.id, alias=alias, version=version, set_by=principal, set_at=now))
        else:
            row.version, row.set_by, row.set_at = version, principal, now
        event = AliasEventRow(
            model_id=model.id,
            model_name=model.full_name,
            alias=alias,
            action=action,
            from_version=before,
            to_version=version,
            principal=principal,
            reason=reason,
            request_id=current_request_id(),
            event_time=now,
        )
        s.add(event)
        s.flush()
        return _move(model, event)

    @staticmethod
    def _missing(s: Session, model: Securable, alias: str) -> str:
        known = list(s.scalars(sa.select(ModelAliasRow.alias).where(ModelAliasRow.model_id == model.id)))
        return f"model {model.full_name} has no alias {alias!r}" + (
            f"; its aliases are {', '.join(sorted(known))}." if known else "; it has no aliases yet."
        )


def _move(model: Securable, e: AliasEventRow) -> AliasMove:
    return AliasMove(
        model.full_name,
        e.alias,
        e.action,
        e.from_version,
        e.to_version,
        e.principal,
        e.reason,
        e.event_time,
        e.request_id,
    )

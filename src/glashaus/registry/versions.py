"""Model versions in the metastore: numbered 1, 2, ... per model, never reused.

A version is reserved (PENDING_REGISTRATION) before its files are written and turned
READY after; a registration that fails removes its reservation. Deleted versions keep
their row, hidden, so numbers and alias history stay meaningful.

No authorization here: :class:`~glashaus.registry.service.RegistryService` asks first.

>>> store = registry.versions
>>> store.reserve(reco, created_by="alice", source="python object")   # the next version number
2
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus.catalog import Securable
from glashaus.catalog.rows import utcnow
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.metastore import Metastore
from glashaus.registry.rows import ModelAliasRow, ModelVersionRow, ModelVersionTagRow

READY = "READY"
PENDING = "PENDING_REGISTRATION"


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model, with everything recorded about how it was made."""

    name: str
    version: int
    status: str
    description: str | None
    source: str
    storage_location: str | None
    run_id: str | None
    logged_model_id: str | None
    signature: dict[str, Any] | None
    input_example: Any
    flavors: list[str]
    file_format: str
    trusted: bool
    trusted_by: str | None
    training_set: list[dict[str, Any]]
    code_commit: str | None
    environment: dict[str, Any]
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``main.shop.reco/3``"""
        return f"{self.name}/{self.version}"


class VersionStore:
    def __init__(self, metastore: Metastore) -> None:
        self.metastore = metastore

    # -- lifecycle ------------------------------------------------------------------

    def reserve(self, model: Securable, *, created_by: str, source: str, **facts: Any) -> int:
        """Take the next version number (PENDING_REGISTRATION); returns it."""
        for _ in range(20):
            try:
                with self.metastore.session() as s:
                    latest = (
                        s.scalar(
                            sa.select(sa.func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model.id)
                        )
                        or 0
                    )
                    now = utcnow()
                    s.add(
                        ModelVersionRow(
                            model_id=model.id,
                            version=latest + 1,
                            status=PENDING,
                            source=source,
                            flavors=[],
                            file_format="pickle",
                            training_set=[],
                            environment={},
                            created_by=created_by,
                            created_at=now,
                            updated_at=now,
                            **facts,
                        )
                    )
                    return latest + 1
            except sa.exc.IntegrityError:
                continue  # another registration took the number first: take the next one
        raise InvalidArgumentError(f"could not number a new version of {model.full_name}: too many at once; retry.")

    def ready(self, model: Securable, version: int, **facts: Any) -> None:
        with self.metastore.session() as s:
            row = self._row(s, model, version, include_pending=True)
            for key, value in facts.items():
                setattr(row, key, value)
            row.status, row.updated_at = READY, utcnow()

    def discard(self, model: Securable, version: int) -> None:
        """Forget a reservation whose registration failed."""
        with self.metastore.session() as s:
            s.execute(
                sa.delete(ModelVersionRow).where(
                    ModelVersionRow.model_id == model.id, ModelVersionRow.version == version
                )
            )

    def update(self, model: Securable, version: int, **facts: Any) -> ModelVersion:
        with self.metastore.session() as s:
            row = self._row(s, model, version)
            for key, value in facts.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            s.flush()
            return self._load(s, model, row)

    def delete(self, model: Securable, version: int) -> None:
        with self.metastore.session() as s:
            row = self._row(s, model, version)
            row.deleted_at = row.updated_at = utcnow()

    # -- tags -----------------------------------------------------------------------

    def set_tags(self, model: Securable, version: int, tags: dict[str, str]) -> ModelVersion:
        with self.metastore.session() as s:
            row = self._row(s, model, version)
            for key, value in tags.items():
                tag = s.scalar(
                    sa.select(ModelVersionTagRow).where(
                        ModelVersionTagRow.version_id == row.id, ModelVersionTagRow.key == key
                    )
                )
                if tag is None:
                    s.add(ModelVersionTagRow(version_id=row.id, key=key, value=value))
                else:
                    tag.value = value
            row.updated_at = utcnow()
            s.flush()
            return self._load(s, model, row)

    def unset_tags(self, model: Securable, version: int, keys: list[str]) -> ModelVersion:
        with self.metastore.session() as s:
            row = self._row(s, model, version)
            s.execute(
                sa.delete(ModelVersionTagRow).where(
                    ModelVersionTagRow.version_id == row.id, ModelVersionTagRow.key.in_(keys)
                )
            )
            row.updated_at = utcnow()
            s.flush()
            return self._load(s, model, row)

    # -- reading ----------------------------------------------------------------------

    def get(self, model: Securable, version: int, *, include_pending: bool = False) -> ModelVersion:
        with self.metastore.session() as s:
            return self._load(s, model, self._row(s, model, version, include_pending=include_pending))

    def last_change(self, model: Securable) -> dt.datetime | None:
        """When a version of the model (deleted ones too) last changed: MLflow counts it as the model's change."""
        with self.metastore.session() as s:
            return s.scalar(
                sa.select(sa.func.max(ModelVersionRow.updated_at)).where(ModelVersionRow.model_id == model.id)
            )

    def latest(self, model: Securable) -> int | None:
        with self.metastore.session() as s:
            return s.scalar(
                sa.select(sa.func.max(ModelVersionRow.version)).where(
                    ModelVersionRow.model_id == model.id,
                    ModelVersionRow.status == READY,
                    ModelVersionRow.deleted_at.is_(None),
                )
            )

    def list(self, model: Securable) -> list[ModelVersion]:
        """Every live version, newest first."""
        with self.metastore.session() as s:
            rows = s.scalars(
                sa.select(ModelVersionRow)
                .where(
                    ModelVersionRow.model_id == model.id,
                    ModelVersionRow.deleted_at.is_(None),
                )
                .order_by(ModelVersionRow.version.desc())
            )
            return [self._load(s, model, r) for r in rows]

    def exists(self, model: Securable, version: int) -> bool:
        with self.metastore.session() as s:
            return (
                s.scalar(
                    sa.select(ModelVersionRow.id).where(
                        ModelVersionRow.model_id == model.id,
                        ModelVersionRow.version == version,
                        ModelVersionRow.deleted_at.is_(None),
                        ModelVersionRow.status == READY,
                    )
                )
                is not None
            )

    def raw(self, model: Securable, version: int) -> ModelVersionRow:
        """The row itself (digests included), detached."""
        with self.metastore.session() as s:
            row = self._row(s, model, version)
            s.expunge(row)
            return row

    def _row(self, s: Session, model: Securable, version: int, *, include_pending: bool = False) -> ModelVersionRow:
        row = s.scalar(
            sa.select(ModelVersionRow).where(ModelVersionRow.model_id == model.id, ModelVersionRow.version == version)
        )
        if row is None or row.deleted_at is not None or (row.status != READY and not include_pending):
            latest = s.scalar(
                sa.select(sa.func.max(ModelVersionRow.version)).where(
                    ModelVersionRow.model_id == model.id, ModelVersionRow.deleted_at.is_(None)
                )
            )
            hint = f"its latest version is {latest}" if latest else "it has no versions yet"
            state = (
                "was deleted"
                if row is not None and row.deleted_at is not None
                else ("is still being registered" if row is not None and row.deleted_at is None else "does not exist")
            )
            raise NotFoundError(f"version {version} of model {model.full_name} {state}; {hint}.")
        return row

    def _load(self, s: Session, model: Securable, row: ModelVersionRow) -> ModelVersion:
        tags = {
            t.key: t.value
            for t in s.scalars(
                sa.select(ModelVersionTagRow)
                .where(ModelVersionTagRow.version_id == row.id)
                .order_by(ModelVersionTagRow.key)
            )
        }
        aliases = list(
            s.scalars(
                sa.select(ModelAliasRow.alias)
                .where(ModelAliasRow.model_id == model.id, ModelAliasRow.version == row.version)
                .order_by(ModelAliasRow.alias)
            )
        )
        return ModelVersion(
            name=model.full_name,
            version=row.version,
            status=row.status,
            description=row.description,
            source=row.source,
            storage_location=row.storage_location,
            run_id=row.run_id,
            logged_model_id=row.logged_model_id,
            signature=row.signature,
            input_example=row.input_example,
            flavors=list(row.flavors or []),
            file_format=row.file_format,
            trusted=row.trusted_digest is not None,
            trusted_by=row.trusted_by,
            training_set=list(row.training_set or []),
            code_commit=row.code_commit,
            environment=dict(row.environment or {}),
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            status_message=row.status_message,
            tags=tags,
            aliases=aliases,
        )

"""The registry's metastore rows (SQLAlchemy models): model versions, their tags, aliases and every alias move.

A registered model itself is a securable (``securables`` row of kind ``model``: name,
owner, description as its comment, tags in ``tags``); these tables hang off it and go
with it when it is dropped (ON DELETE CASCADE).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from glashaus.catalog.rows import utcnow
from glashaus.metastore.base import Base


def _model_fk() -> sa.ForeignKey:
    return sa.ForeignKey("securables.id", ondelete="CASCADE")


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (sa.UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(sa.String(32), _model_fk(), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    #: MLflow's words: PENDING_REGISTRATION while files are written, then READY.
    status: Mapped[str] = mapped_column(sa.String(32))
    status_message: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    #: What the version was registered from: 'python object' or the source path/URI given.
    source: Mapped[str] = mapped_column(sa.Text)
    storage_location: Mapped[str | None] = mapped_column(sa.Text)
    run_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    #: MLflow 3 logged model id (``m-...``), when registered from one.
    logged_model_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: ``ModelSignature.to_dict()`` (inputs/outputs/params as JSON strings), or None.
    signature: Mapped[dict | None] = mapped_column(sa.JSON)
    input_example: Mapped[dict | list | None] = mapped_column(sa.JSON)
    flavors: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: skops | native | pickle: pickle-based files load only once an admin trusted them.
    file_format: Mapped[str] = mapped_column(sa.String(16))
    #: SHA-256 over the version's files when registered, and when an admin trusted them.
    files_digest: Mapped[str | None] = mapped_column(sa.String(64))
    trusted_digest: Mapped[str | None] = mapped_column(sa.String(64))
    trusted_by: Mapped[str | None] = mapped_column(sa.String(255))
    trusted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: [{"name", "kind", "version", "role": "input"|"feature"}]: the exact data read.
    training_set: Mapped[list] = mapped_column(sa.JSON, default=list)
    code_commit: Mapped[str | None] = mapped_column(sa.String(64))
    #: {"python", "platform", "packages": {distribution: version}}
    environment: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: Deleted versions keep their row (numbers are never reused; history stays readable).
    deleted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class ModelVersionTagRow(Base):
    __tablename__ = "model_version_tags"
    __table_args__ = (sa.UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("model_versions.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(sa.String(250))
    value: Mapped[str] = mapped_column(sa.Text, default="")


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"

    model_id: Mapped[str] = mapped_column(sa.String(32), _model_fk(), primary_key=True)
    alias: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    set_by: Mapped[str] = mapped_column(sa.String(255))
    set_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class AliasEventRow(Base):
    """One alias move: set (from -> to), delete (from -> None) or rollback (to the version before)."""

    __tablename__ = "model_alias_history"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(sa.String(32), _model_fk(), index=True)
    #: The model's name when the move happened (readable without a join).
    model_name: Mapped[str] = mapped_column(sa.String(400))
    alias: Mapped[str] = mapped_column(sa.String(255))
    action: Mapped[str] = mapped_column(sa.String(16))
    from_version: Mapped[int | None] = mapped_column(sa.Integer)
    to_version: Mapped[int | None] = mapped_column(sa.Integer)
    principal: Mapped[str] = mapped_column(sa.String(255))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    event_time: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

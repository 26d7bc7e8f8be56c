"""The catalog's metastore rows (SQLAlchemy models): securables and their tags.

One row per securable (catalog, schema, table, view, volume; models and functions
later), addressed by its lower-case three-level ``full_name``.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from glashaus.metastore.base import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SecurableRow(Base):
    __tablename__ = "securables"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)
    full_name: Mapped[str] = mapped_column(sa.String(400), unique=True)
    parent_id: Mapped[str | None] = mapped_column(
        sa.String(32), sa.ForeignKey("securables.id", ondelete="CASCADE"), index=True
    )
    owner: Mapped[str] = mapped_column(sa.String(255))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    properties: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: Platform facts about the object: primary key, partition columns, view SQL, ...
    spec: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    storage_location: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class TagRow(Base):
    __tablename__ = "tags"
    __table_args__ = (sa.UniqueConstraint("securable_id", "column_name", "key"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    securable_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("securables.id", ondelete="CASCADE"), index=True
    )
    #: '' for a tag on the securable itself, else the column it is on.
    column_name: Mapped[str] = mapped_column(sa.String(255), default="")
    key: Mapped[str] = mapped_column(sa.String(255))
    value: Mapped[str] = mapped_column(sa.Text, default="")


class ColumnCommentRow(Base):
    __tablename__ = "column_comments"

    securable_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    column_name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    comment: Mapped[str] = mapped_column(sa.Text)

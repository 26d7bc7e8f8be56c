"""The access capability's metastore rows (SQLAlchemy models): principals, group memberships, tokens, grants."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from glashaus.catalog.rows import utcnow
from glashaus.metastore.base import Base


class PrincipalRow(Base):
    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    #: user | group | service_principal
    kind: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class MembershipRow(Base):
    __tablename__ = "memberships"

    group_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the token: tokens are 256-bit random strings, so a fast hash suffices.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class GrantRow(Base):
    __tablename__ = "grants"
    __table_args__ = (sa.UniqueConstraint("securable_id", "principal_id", "privilege"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    #: The securable, or '' for the metastore itself (CREATE CATALOG).
    securable_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    principal_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    privilege: Mapped[str] = mapped_column(sa.String(32))
    granted_by: Mapped[str] = mapped_column(sa.String(255))
    granted_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class TagPolicyRow(Base):
    """Mask every column tagged ``tag_key`` (``=tag_value``) for all outside ``except_groups``."""

    __tablename__ = "tag_policies"

    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    tag_key: Mapped[str] = mapped_column(sa.String(255))
    tag_value: Mapped[str | None] = mapped_column(sa.String(255))
    mask: Mapped[str] = mapped_column(sa.Text)
    #: JSON list of group names.
    except_groups: Mapped[str] = mapped_column(sa.Text)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class AuditJournalRow(Base):
    """Audit events written ahead here, in the decision's own transaction-speed write,
    then moved to ``system.access.audit`` in batches: a crash loses none."""

    __tablename__ = "audit_journal"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event: Mapped[str] = mapped_column(sa.Text)
    #: Which flush is moving the row (None: waiting); stale claims are taken over.
    claim: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

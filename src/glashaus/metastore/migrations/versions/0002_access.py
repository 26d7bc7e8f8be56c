"""access: principals, memberships, tokens, grants

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "member_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True, index=True
        ),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "principal_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("securable_id", sa.String(32), nullable=False, index=True),
        sa.Column(
            "principal_id", sa.Integer, sa.ForeignKey("principals.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("privilege", sa.String(32), nullable=False),
        sa.Column("granted_by", sa.String(255), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("securable_id", "principal_id", "privilege"),
    )


def downgrade() -> None:
    op.drop_table("grants")
    op.drop_table("tokens")
    op.drop_table("memberships")
    op.drop_table("principals")

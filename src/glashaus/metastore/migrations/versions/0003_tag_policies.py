"""access: tag-driven masking policies

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tag_policies",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("tag_key", sa.String(255), nullable=False),
        sa.Column("tag_value", sa.String(255), nullable=True),
        sa.Column("mask", sa.Text, nullable=False),
        sa.Column("except_groups", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tag_policies")

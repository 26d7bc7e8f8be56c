"""catalog: securables, tags, column comments

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "securables",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False, index=True),
        sa.Column("full_name", sa.String(400), nullable=False, unique=True),
        sa.Column(
            "parent_id",
            sa.String(32),
            sa.ForeignKey("securables.id", ondelete="CASCADE"),
            nullable=True,
            index=True,
        ),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("storage_location", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "securable_id",
            sa.String(32),
            sa.ForeignKey("securables.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("column_name", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.UniqueConstraint("securable_id", "column_name", "key"),
    )
    op.create_table(
        "column_comments",
        sa.Column(
            "securable_id",
            sa.String(32),
            sa.ForeignKey("securables.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("column_name", sa.String(255), primary_key=True),
        sa.Column("comment", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("column_comments")
    op.drop_table("tags")
    op.drop_table("securables")

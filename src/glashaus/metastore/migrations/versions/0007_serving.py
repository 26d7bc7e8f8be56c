"""serving: model serving endpoints (routes, traffic split, shadow, inference table)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serving_endpoints",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column(
            "model_id", sa.String(32), sa.ForeignKey("securables.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("serving_endpoints")

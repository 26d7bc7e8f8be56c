"""registry: model versions, their tags, aliases and the history of alias moves

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _model_id(**kwargs) -> sa.Column:
    return sa.Column(
        "model_id", sa.String(32), sa.ForeignKey("securables.id", ondelete="CASCADE"), nullable=False, **kwargs
    )


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _model_id(index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("storage_location", sa.Text, nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True, index=True),
        sa.Column("logged_model_id", sa.String(64), nullable=True),
        sa.Column("signature", sa.JSON, nullable=True),
        sa.Column("input_example", sa.JSON, nullable=True),
        sa.Column("flavors", sa.JSON, nullable=False),
        sa.Column("file_format", sa.String(16), nullable=False),
        sa.Column("files_digest", sa.String(64), nullable=True),
        sa.Column("trusted_digest", sa.String(64), nullable=True),
        sa.Column("trusted_by", sa.String(255), nullable=True),
        sa.Column("trusted_at", _TS, nullable=True),
        sa.Column("training_set", sa.JSON, nullable=False),
        sa.Column("code_commit", sa.String(64), nullable=True),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("deleted_at", _TS, nullable=True),
        sa.UniqueConstraint("model_id", "version"),
    )
    op.create_table(
        "model_version_tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "version_id", sa.Integer, sa.ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.UniqueConstraint("version_id", "key"),
    )
    op.create_table(
        "model_aliases",
        _model_id(primary_key=True),
        sa.Column("alias", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("set_by", sa.String(255), nullable=False),
        sa.Column("set_at", _TS, nullable=False),
    )
    op.create_table(
        "model_alias_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _model_id(index=True),
        sa.Column("model_name", sa.String(400), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("event_time", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_alias_history")
    op.drop_table("model_aliases")
    op.drop_table("model_version_tags")
    op.drop_table("model_versions")

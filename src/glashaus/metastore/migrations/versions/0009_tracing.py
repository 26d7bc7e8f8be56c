"""tracing: MLflow 3 traces (src/glashaus/tracing/): one row per trace, its tags, the runs it is linked to

The spans are rows of a Delta table in the system catalog, not of the metastore.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _trace_fk() -> sa.Column:
    return sa.Column(
        "trace_id",
        sa.String(50),
        sa.ForeignKey("ml_traces.trace_id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "ml_traces",
        sa.Column("trace_id", sa.String(50), primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("client_request_id", sa.String(250), nullable=True),
        sa.Column("request_time", sa.BigInteger, nullable=False),
        sa.Column("execution_duration", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("request_preview", sa.Text, nullable=True),
        sa.Column("response_preview", sa.Text, nullable=True),
        sa.Column("trace_metadata", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
    )
    op.create_index("ix_ml_traces_experiment", "ml_traces", ["experiment_id", "request_time"])
    op.create_table(
        "ml_trace_tags",
        _trace_fk(),
        sa.Column("key", sa.String(250), primary_key=True, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "ml_trace_runs",
        _trace_fk(),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
    )
    op.create_index("ix_ml_trace_runs_run_id", "ml_trace_runs", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_ml_trace_runs_run_id", table_name="ml_trace_runs")
    op.drop_table("ml_trace_runs")
    op.drop_table("ml_trace_tags")
    op.drop_index("ix_ml_traces_experiment", table_name="ml_traces")
    op.drop_table("ml_traces")

"""tracking: metastore tables of the tracking capability (src/glashaus/tracking/)

Experiments (each tied to a securable of kind 'experiment'), runs, params, metrics
(history and latest), run tags, dataset inputs, run outputs and MLflow 3 logged models.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Double = sa.Float(precision=53)


def _run_fk(primary_key: bool = False, index: bool = False) -> sa.Column:
    return sa.Column(
        "run_id",
        sa.String(32),
        sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
        index=index,
    )


def _model_fk() -> sa.Column:
    return sa.Column(
        "model_id",
        sa.String(64),
        sa.ForeignKey("ml_logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "ml_experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "securable_id",
            sa.String(32),
            sa.ForeignKey("securables.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("name", sa.String(500), nullable=False, unique=True),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ml_experiment_tags",
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(250), primary_key=True, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "ml_runs",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_ml_runs_experiment", "ml_runs", ["experiment_id", "lifecycle_stage", "start_time"])
    for table in ("ml_params", "ml_run_tags"):
        op.create_table(
            table,
            _run_fk(primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True, nullable=False),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "ml_latest_metrics",
        _run_fk(primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True, nullable=False),
        sa.Column("value", Double, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
    )
    op.create_table(
        "ml_metrics",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _run_fk(),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", Double, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        # One row per distinct value (as MLflow's primary key); also the index history reads.
        sa.UniqueConstraint("run_id", "key", "step", "timestamp", "value", "is_nan", name="uq_ml_metrics_value"),
    )
    op.create_table(
        "ml_logged_model_metrics",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.String(64), nullable=False, index=True),
        _run_fk(),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", Double, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("dataset_name", sa.String(500), nullable=True),
        sa.Column("dataset_digest", sa.String(36), nullable=True),
    )
    op.create_table(
        "ml_datasets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("schema", sa.Text, nullable=True),
        sa.Column("profile", sa.Text, nullable=True),
        sa.UniqueConstraint("experiment_id", "name", "digest"),
    )
    op.create_table(
        "ml_run_inputs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _run_fk(index=True),
        sa.Column("dataset_id", sa.String(32), sa.ForeignKey("ml_datasets.id", ondelete="CASCADE"), nullable=True),
        sa.Column("model_id", sa.String(64), nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("context", sa.String(500), nullable=True),
    )
    op.create_table(
        "ml_run_outputs",
        _run_fk(primary_key=True),
        sa.Column("model_id", sa.String(64), primary_key=True, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ml_logged_models",
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("lifecycle_stage", sa.String(20), nullable=False),
        sa.Column("model_type", sa.String(500), nullable=True),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("creator", sa.String(255), nullable=False),
    )
    for table in ("ml_logged_model_tags", "ml_logged_model_params"):
        op.create_table(
            table,
            _model_fk(),
            sa.Column("key", sa.String(250), primary_key=True, nullable=False),
            sa.Column("value", sa.Text, nullable=False),
        )


def downgrade() -> None:
    for table in (
        "ml_logged_model_params",
        "ml_logged_model_tags",
        "ml_logged_model_metrics",
        "ml_logged_models",
        "ml_run_outputs",
        "ml_run_inputs",
        "ml_datasets",
        "ml_metrics",
        "ml_latest_metrics",
        "ml_run_tags",
        "ml_params",
        "ml_runs",
        "ml_experiment_tags",
        "ml_experiments",
    ):
        op.drop_table(table)

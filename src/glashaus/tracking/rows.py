"""The tracking capability's metastore rows (SQLAlchemy models): experiments, runs and what runs log.

An experiment is a securable (kind ``experiment``, ``securables`` row) plus one
``ml_experiments`` row holding what MLflow knows about it; dropping the securable
drops the experiment and, by cascade, its runs, params, metrics, tags, inputs and
logged models. Times are milliseconds since the epoch, as in MLflow.

Metrics are kept twice, as MLflow does: every logged value in ``ml_metrics`` (the
history) and the newest per run and key in ``ml_latest_metrics`` (what search and
``get_run`` read). NaN is stored as 0 with ``is_nan`` set, +/-inf as the largest
finite double, exactly as MLflow's SQL store does.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from glashaus.metastore.base import Base

#: A 64-bit auto-increment key everywhere (SQLite only auto-increments INTEGER PRIMARY KEY).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Double = sa.Float(precision=53)


class ExperimentRow(Base):
    __tablename__ = "ml_experiments"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    securable_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("securables.id", ondelete="CASCADE"), unique=True
    )
    #: The MLflow name: the securable's three-part name, or a free-form name (see names.py).
    name: Mapped[str] = mapped_column(sa.String(500), unique=True)
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(32), default="active")
    creation_time: Mapped[int] = mapped_column(sa.BigInteger)
    last_update_time: Mapped[int] = mapped_column(sa.BigInteger)


class SequenceRow(Base):
    """The highest id ever given out, per kind (``experiment``).

    Experiment ids name the experiment's folder (``<root>/ml/experiments/<id>/``), and a dropped
    experiment's files stay there: an id given out again would hand them to a new experiment
    and its owner. SQLite would reuse the highest id after a delete; this counter never does.
    """

    __tablename__ = "ml_sequences"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)


class ExperimentTagRow(Base):
    __tablename__ = "ml_experiment_tags"

    experiment_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class RunRow(Base):
    __tablename__ = "ml_runs"
    __table_args__ = (sa.Index("ix_ml_runs_experiment", "experiment_id", "lifecycle_stage", "start_time"),)

    run_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(250))
    user_id: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(20))
    start_time: Mapped[int] = mapped_column(sa.BigInteger)
    end_time: Mapped[int | None] = mapped_column(sa.BigInteger)
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(20), default="active")
    deleted_time: Mapped[int | None] = mapped_column(sa.BigInteger)


class ParamRow(Base):
    __tablename__ = "ml_params"

    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class RunTagRow(Base):
    __tablename__ = "ml_run_tags"

    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class LatestMetricRow(Base):
    __tablename__ = "ml_latest_metrics"

    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    step: Mapped[int] = mapped_column(sa.BigInteger)
    is_nan: Mapped[bool] = mapped_column(sa.Boolean)


class MetricRow(Base):
    """Every logged value of a run's metrics; the same (key, step, timestamp, value) is kept once."""

    __tablename__ = "ml_metrics"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "key", "step", "timestamp", "value", "is_nan", name="uq_ml_metrics_value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(250))
    value: Mapped[float] = mapped_column(Double)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    step: Mapped[int] = mapped_column(sa.BigInteger)
    is_nan: Mapped[bool] = mapped_column(sa.Boolean)


class LoggedModelMetricRow(Base):
    """MLflow 3: a metric a run logged about a logged model (optionally on a dataset)."""

    __tablename__ = "ml_logged_model_metrics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    run_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(250))
    value: Mapped[float] = mapped_column(Double)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    step: Mapped[int] = mapped_column(sa.BigInteger)
    is_nan: Mapped[bool] = mapped_column(sa.Boolean)
    dataset_name: Mapped[str | None] = mapped_column(sa.String(500))
    dataset_digest: Mapped[str | None] = mapped_column(sa.String(36))


class DatasetRow(Base):
    __tablename__ = "ml_datasets"
    __table_args__ = (sa.UniqueConstraint("experiment_id", "name", "digest"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(500))
    digest: Mapped[str] = mapped_column(sa.String(36))
    source_type: Mapped[str] = mapped_column(sa.String(36))
    source: Mapped[str] = mapped_column(sa.Text)
    schema: Mapped[str | None] = mapped_column(sa.Text)
    profile: Mapped[str | None] = mapped_column(sa.Text)


class RunInputRow(Base):
    """A dataset (``dataset_id``) or a logged model (``model_id``) a run read."""

    __tablename__ = "ml_run_inputs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str | None] = mapped_column(sa.String(32), sa.ForeignKey("ml_datasets.id", ondelete="CASCADE"))
    model_id: Mapped[str | None] = mapped_column(sa.String(64))
    tags: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: The ``mlflow.data.context`` input tag (``training``, ``eval``), kept apart for search.
    context: Mapped[str | None] = mapped_column(sa.String(500))


class RunOutputRow(Base):
    __tablename__ = "ml_run_outputs"

    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    step: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class LoggedModelRow(Base):
    __tablename__ = "ml_logged_models"

    model_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(500))
    creation_time: Mapped[int] = mapped_column(sa.BigInteger)
    last_updated_time: Mapped[int] = mapped_column(sa.BigInteger)
    #: MLflow's LoggedModelStatus: PENDING, READY or FAILED.
    status: Mapped[str] = mapped_column(sa.String(20))
    status_message: Mapped[str | None] = mapped_column(sa.Text)
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(20), default="active")
    model_type: Mapped[str | None] = mapped_column(sa.String(500))
    source_run_id: Mapped[str | None] = mapped_column(sa.String(32))
    creator: Mapped[str] = mapped_column(sa.String(255))


class LoggedModelTagRow(Base):
    __tablename__ = "ml_logged_model_tags"

    model_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("ml_logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class LoggedModelParamRow(Base):
    __tablename__ = "ml_logged_model_params"

    model_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("ml_logged_models.model_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)

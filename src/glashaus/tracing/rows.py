"""The tracing capability's metastore rows: one ``ml_traces`` row per trace, its tags, its linked runs.

A trace belongs to one experiment (dropping the experiment drops its traces, by cascade);
its spans are rows of a Delta table (:mod:`glashaus.tracing.spans`), not of the metastore.
Times are milliseconds since the epoch, as in MLflow.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from glashaus.metastore.base import Base


class TraceRow(Base):
    __tablename__ = "ml_traces"
    __table_args__ = (sa.Index("ix_ml_traces_experiment", "experiment_id", "request_time"),)

    trace_id: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("ml_experiments.id", ondelete="CASCADE"))
    client_request_id: Mapped[str | None] = mapped_column(sa.String(250))
    request_time: Mapped[int] = mapped_column(sa.BigInteger)
    execution_duration: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: MLflow's TraceState: OK, ERROR, IN_PROGRESS (or STATE_UNSPECIFIED).
    state: Mapped[str] = mapped_column(sa.String(32))
    request_preview: Mapped[str | None] = mapped_column(sa.Text)
    response_preview: Mapped[str | None] = mapped_column(sa.Text)
    #: The trace's request metadata (``mlflow.sourceRun``, ``mlflow.modelId``, ...): set when it is logged.
    trace_metadata: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: Who logged it (the authenticated principal, never a name the client sent).
    created_by: Mapped[str] = mapped_column(sa.String(255))


class TraceTagRow(Base):
    __tablename__ = "ml_trace_tags"

    trace_id: Mapped[str] = mapped_column(
        sa.String(50), sa.ForeignKey("ml_traces.trace_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class TraceRunRow(Base):
    """A run a trace is linked to (MLflow's ``link_traces_to_run``)."""

    __tablename__ = "ml_trace_runs"

    trace_id: Mapped[str] = mapped_column(
        sa.String(50), sa.ForeignKey("ml_traces.trace_id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("ml_runs.run_id", ondelete="CASCADE"), primary_key=True, index=True
    )

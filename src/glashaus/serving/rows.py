"""The serving capability's metastore rows (SQLAlchemy models): endpoints, and inference rows written ahead.

``inference_journal`` holds each answered request's inference row from the moment its
answer is sent (committed in the audit journal's transaction, with the request's audit
event) until a mover has appended it to the endpoint's inference table
(``serving/journal.py``). ``inference_movers`` holds one lease per inference table, so
one mover at a time appends its rows, batch after batch (``batch`` counts them: the
Delta application-transaction version that makes a repeated append a no-op).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from glashaus.metastore.base import Base

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class EndpointRow(Base):
    __tablename__ = "serving_endpoints"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("securables.id", ondelete="CASCADE"), index=True)
    #: {"routes": [{"variant": "champion", "traffic": 90}, ...], "shadow": "challenger" | None,
    #:  "inference_table": "main.shop.reco_inference" | None, "inference_table_id": "<securable id>" | None}
    config: Mapped[dict] = mapped_column(sa.JSON)
    owner: Mapped[str] = mapped_column(sa.String(255))
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class InferenceJournalRow(Base):
    """One inference row on its way to the inference table (columns as in ``inference.SCHEMA``)."""

    __tablename__ = "inference_journal"
    __table_args__ = (sa.Index("ix_inference_journal_table", "table_id", "batch", "id"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    #: The inference table's securable id (no foreign key: a table dropped meanwhile must not fail the
    #: transaction that also holds other requests' audit events; the mover discards such rows).
    table_id: Mapped[str] = mapped_column(sa.String(32))
    #: Who appends the row (the endpoint's owner), authorized (MODIFY) and audited per batch.
    writer: Mapped[str] = mapped_column(sa.String(255))
    #: The batch a mover claimed the row for (None: waiting).
    batch: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Bytes the row holds (request, response, error), for the byte bounds.
    size: Mapped[int] = mapped_column(sa.BigInteger)
    request_id: Mapped[str] = mapped_column(sa.String(64))
    #: Microseconds since the epoch (UTC).
    event_time: Mapped[int] = mapped_column(sa.BigInteger)
    endpoint: Mapped[str] = mapped_column(sa.String(64))
    model: Mapped[str] = mapped_column(sa.String(400))
    model_version: Mapped[int | None] = mapped_column(sa.BigInteger)
    variant: Mapped[str | None] = mapped_column(sa.String(255))
    shadow: Mapped[bool] = mapped_column(sa.Boolean)
    principal: Mapped[str | None] = mapped_column(sa.String(255))
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    latency_ms: Mapped[float | None] = mapped_column(sa.Float(precision=53))
    #: Bytes as received and sent (decoded when moved: no NUL or encoding can fail the transaction).
    request: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    response: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    error: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


class InferenceMoverRow(Base):
    """Which mover appends an inference table's rows now (a lease), and how many batches it appended."""

    __tablename__ = "inference_movers"

    table_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(sa.String(32))
    #: The lease ends then (microseconds since the epoch); another mover may take it over after.
    until_us: Mapped[int | None] = mapped_column(sa.BigInteger)
    batch: Mapped[int] = mapped_column(sa.BigInteger)

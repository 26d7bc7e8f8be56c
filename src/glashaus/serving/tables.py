"""The serving capability's metastore table: one row per endpoint."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from glashaus.metastore.base import Base


class EndpointRow(Base):
    __tablename__ = "serving_endpoints"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("securables.id", ondelete="CASCADE"),
                                          index=True)
    #: {"routes": [{"variant": "champion", "traffic": 90}, ...], "shadow": "challenger" | None,
    #:  "inference_table": "main.shop.reco_inference" | None}
    config: Mapped[dict] = mapped_column(sa.JSON)
    owner: Mapped[str] = mapped_column(sa.String(255))
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))

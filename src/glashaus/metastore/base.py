"""The declarative base every capability's metastore tables derive from."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Base class of all metastore tables (see ``migrations/`` for their DDL)."""

"""The metastore: a small transactional database for names, owners, grants and versions.

SQLite (WAL) inside the lakehouse folder by default, PostgreSQL for teams. The schema
is owned by Alembic migrations in ``migrations/``; capabilities declare their tables
on :data:`Base` in their own folder.
"""

from glashaus.metastore.base import Base
from glashaus.metastore.db import Metastore, affected

__all__ = ["Base", "Metastore", "affected"]

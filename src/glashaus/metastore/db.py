"""Connecting to the metastore and bringing its schema to the current migration.

>>> import sqlalchemy as sa
>>> ms = Metastore.open("sqlite:///:memory:")
>>> with ms.session() as s:
...     s.execute(sa.text("SELECT count(*) FROM securables")).scalar()
0
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from glashaus.errors import MetastoreError

_MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config(engine: sa.Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    # WAL lets readers run beside one writer; busy_timeout makes a second process wait
    # for the write lock instead of failing at once.
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL survives any process crash (a power cut may lose the last
    # commits) and spares an fsync per commit: audit journaling stays cheap.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Metastore:
    """A SQLAlchemy engine plus a session factory, at the newest schema version."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Metastore:
        """Open the metastore at ``url`` and apply pending migrations.

        >>> Metastore.open("sqlite:///:memory:").engine.dialect.name
        'sqlite'
        """
        try:
            engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise MetastoreError(
                f"cannot use metastore URL {_redact(url)!r}: {exc}. "
                "Use e.g. 'sqlite:///path/meta.db' or 'postgresql+psycopg://user@host/db' "
                "(PostgreSQL needs: pip install 'glashaus[postgres]')."
            ) from None
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _on_sqlite_connect)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Apply every pending Alembic migration (cheap when there is none)."""
        script = ScriptDirectory.from_config(_alembic_config(self.engine))
        try:
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_heads()
        except sa.exc.OperationalError as exc:
            raise MetastoreError(
                f"cannot connect to the metastore {_redact(str(self.engine.url))!r}: "
                f"{exc.orig}. Check the URL and that the database server runs."
            ) from None
        if set(current) == set(script.get_heads()):
            return
        unknown = set(current) - {rev.revision for rev in script.walk_revisions()}
        if unknown:
            raise MetastoreError(
                f"the metastore is at migration {sorted(unknown)}, which this Glashaus "
                "version does not know: upgrade Glashaus."
            )
        logging.getLogger("alembic").setLevel(logging.WARNING)
        with self.engine.begin() as conn:
            cfg = _alembic_config(self.engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def affected(result: sa.Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed.

    ``Session.execute`` types every result as a plain ``Result``; DML without RETURNING gives a
    ``CursorResult``, which has the count.

    >>> engine = sa.create_engine("sqlite://")
    >>> with engine.begin() as c:
    ...     _ = c.execute(sa.text("CREATE TABLE t (x INT)"))
    ...     _ = c.execute(sa.text("INSERT INTO t VALUES (1), (2)"))
    ...     affected(c.execute(sa.text("DELETE FROM t")))
    2
    """
    return cast("sa.CursorResult[Any]", result).rowcount


def _redact(url: str) -> str:
    """Hide a password in a URL before it reaches a message or a log."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"

"""The metastore: Alembic migrations, SQLite by default, PostgreSQL when given a URL."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

import glashaus
from glashaus.errors import MetastoreError
from glashaus.metastore import Metastore

MIGRATIONS = Path(glashaus.__file__).parent / "metastore" / "migrations" / "versions"


def _exercise(root, metastore):
    lh = glashaus.connect(root, user="alice", metastore=metastore)
    lh.sql("CREATE SCHEMA main.shop COMMENT 'the shop'")
    lh.create_table("main.shop.orders", data=pa.table({"id": [1, 2, 3], "qty": [1, 5, 2]}), primary_key=["id"])
    lh.set_tags("main.shop.orders", {"pii": "email"}, column="id")
    lh.sql("CREATE TABLE main.shop.big AS SELECT * FROM main.shop.orders WHERE qty > 1")
    lh.create_user("bob")
    lh.grant("USE SCHEMA", on="main.shop", to="bob")
    lh.grant("SELECT", on="main.shop", to="bob")
    lh.close()
    # A second connection (a new process would do the same) sees everything.
    lh = glashaus.connect(root, user="bob", metastore=metastore)
    names = [s.full_name for s in lh.list("main.shop")]
    assert names == ["main.shop.big", "main.shop.orders"]
    assert lh.get("main.shop").comment == "the shop"
    assert lh.describe("main.shop.orders").columns[0].tags == {"pii": "email"}
    assert lh.sql("SELECT sum(qty) FROM main.shop.big").scalar() == 7
    assert [e.source for e in lh.lineage("main.shop.big")] == ["main.shop.orders"]
    lh.close()


def test_sqlite_metastore_lives_in_the_lakehouse_folder(tmp_path):
    _exercise(tmp_path / "lh", None)
    assert (tmp_path / "lh" / "_metastore.db").exists()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'lh' / '_metastore.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        newest = max(p.name[:4] for p in MIGRATIONS.glob("0*.py"))
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == newest
    engine.dispose()


def test_postgresql_metastore(tmp_path, pg_database):
    _exercise(tmp_path / "lh", pg_database)
    engine = sa.create_engine(pg_database)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM securables WHERE kind = 'table'")).scalar()
        assert count >= 2 + 3  # two user tables plus the system tables
    engine.dispose()
    assert not (tmp_path / "lh" / "_metastore.db").exists()


def test_migrating_twice_is_a_no_op(tmp_path):
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    Metastore.open(url).dispose()
    store = Metastore.open(url)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    store.dispose()


def test_bad_metastore_url_names_the_fix(tmp_path):
    with pytest.raises(MetastoreError, match="metastore URL"):
        glashaus.connect(tmp_path / "lh", user="alice", metastore="nosuchdb://x")


def test_unreachable_postgresql_is_a_clear_error_and_hides_the_password(tmp_path):
    url = "postgresql+psycopg://bob:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(MetastoreError) as info:
        glashaus.connect(tmp_path / "lh", user="alice", metastore=url)
    assert "cannot connect to the metastore" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_metastore_from_a_newer_glashaus_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    Metastore.open(url).dispose()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(MetastoreError, match="upgrade Glashaus"):
        Metastore.open(url)

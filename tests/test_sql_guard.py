"""SQL may reach catalog objects only: file readers, paths, COPY, ATTACH, INSTALL, SET ... are refused.

Two walls are tested: the statement check (UngovernedAccessError before anything runs)
and DuckDB's own sandbox underneath it (no file access outside the lakehouse root).
"""

from __future__ import annotations

import glob
import os

import duckdb
import pyarrow as pa
import pytest

import glashaus
from glashaus.catalog import Name
from glashaus.errors import InvalidNameError, NotFoundError, SqlError, UngovernedAccessError


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A lakehouse with main.shop.t (one data file), a secret file outside it, and a sentinel path to write."""
    base = tmp_path_factory.mktemp("guard")
    lh = glashaus.connect(base / "lh", user="mallory")
    lh.create_schema("main.shop")
    lh.create_table("main.shop.t", data=pa.table({"id": [1, 2], "secret": ["a", "b"]}))
    (base / "secret.csv").write_text("password\nhunter2\n")
    lh.secret = str(base / "secret.csv")
    lh.sentinel = str(base / "stolen.csv")
    lh.parquet = glob.glob(f"{lh.root}/tables/main/shop/*/*.parquet")[0]
    yield lh
    lh.close()


def refused(lh, sql, *fragments):
    with pytest.raises(UngovernedAccessError) as err:
        lh.sql(sql)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert not os.path.exists(lh.sentinel)
    return str(err.value)


# -- file-reading functions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM READ_CSV(['/etc/passwd'])",
        'SELECT * FROM "read_csv"(\'/etc/passwd\')',
        "SELECT * FROM read_json('/etc/passwd')",
        "SELECT * FROM read_ndjson_auto('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT content FROM read_text('/etc/passwd')",
        "SELECT * FROM parquet_scan('/etc/passwd')",
        "SELECT * FROM parquet_metadata('/etc/passwd')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM query('SELECT 42')",
        "SELECT * FROM query_table('main.shop.t')",
        "SELECT * FROM delta_scan('/etc')",
        "SELECT * FROM iceberg_scan('/etc')",
        "SELECT read_text('/etc/passwd')",
    ],
)
def test_file_reading_functions_are_refused(guarded, sql):
    message = refused(guarded, sql)
    assert "catalog" in message  # says what to do instead: name catalog tables


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM (SELECT * FROM read_csv('/etc/passwd'))",
        "WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x",
        "WITH a AS (SELECT 1 AS i), b AS (SELECT * FROM a, read_csv('/etc/passwd')) SELECT * FROM b",
        "SELECT * FROM main.shop.t WHERE id IN (SELECT 1 FROM read_csv('/etc/passwd'))",
        "SELECT (SELECT count(*) FROM glob('/etc/*')) AS n",
        "SELECT * FROM main.shop.t WHERE EXISTS (SELECT 1 FROM sniff_csv('/etc/passwd'))",
        "SELECT * FROM main.shop.t UNION ALL SELECT 1, column0 FROM read_csv('/etc/passwd')",
        "SELECT * FROM main.shop.t, LATERAL read_csv('/etc/passwd')",
        "SELECT * FROM main.shop.t t JOIN read_parquet('/etc/passwd') p ON true",
        "CREATE VIEW main.shop.leak AS SELECT * FROM read_csv('/etc/passwd')",
        "CREATE VIEW main.shop.leak AS WITH x AS (SELECT * FROM glob('/etc/*')) SELECT * FROM x",
        "CREATE TABLE main.shop.leak AS SELECT * FROM read_csv('/etc/passwd')",
        "INSERT INTO main.shop.t SELECT 1, column0 FROM read_csv('/etc/passwd')",
        "INSERT INTO main.shop.t (id) SELECT count(*) FROM glob('/etc/*')",
        "UPDATE main.shop.t SET secret = (SELECT content FROM read_text('/etc/passwd'))",
        "DELETE FROM main.shop.t WHERE id IN (SELECT 1 FROM read_csv('/etc/passwd'))",
        "MERGE INTO main.shop.t t USING (SELECT * FROM read_csv('/etc/passwd')) s ON t.id = s.id "
        "WHEN MATCHED THEN DELETE",
    ],
)
def test_file_functions_nested_anywhere_are_refused(guarded, sql):
    v = guarded.describe("main.shop.t")["version"]
    refused(guarded, sql, "reads")
    assert guarded.describe("main.shop.t")["version"] == v
    assert [s.full_name for s in guarded.list("main.shop")] == ["main.shop.t"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_secrets()",
        "SELECT * FROM duckdb_extensions()",
        "SELECT * FROM pragma_version()",
        "SELECT * FROM main.shop.t WHERE id = (SELECT count(*) FROM duckdb_tables())",
    ],
)
def test_other_table_functions_are_refused(guarded, sql):
    refused(guarded, sql, "is not allowed", "catalog.schema.table")


def test_harmless_table_functions_are_allowed(guarded):
    assert guarded.sql("SELECT count(*) FROM range(5)").scalar() == 5
    assert guarded.sql("SELECT sum(generate_series) FROM generate_series(1, 3)").scalar() == 6
    assert guarded.sql("SELECT * FROM unnest([1, 2])").fetchall() == [(1,), (2,)]


# -- paths as tables ----------------------------------------------------------------------------


def test_quoted_paths_are_refused(guarded):
    root = guarded.root
    relative = os.path.relpath(guarded.parquet, root)
    for sql in [
        "SELECT * FROM '/etc/passwd'",
        'SELECT * FROM "/etc/passwd"',
        "FROM '/etc/passwd'",
        "SELECT * FROM '/etc/passwd' AS p",
        f"SELECT * FROM '{guarded.secret}'",
        f"SELECT * FROM '{guarded.parquet}'",            # a data file under the lakehouse root!
        f"SELECT * FROM '{relative}'",                    # the same, relative to the root
        "SELECT * FROM 'lakehouse/tables/main/shop/t/x.parquet'",
        f"SELECT * FROM '{root}/tables/**/*.parquet'",
        "SELECT * FROM 'x.csv'",
        "SELECT * FROM main.shop.t, 'x.csv'",
        "SELECT 1 FROM main.shop.t WHERE EXISTS (FROM '/etc/passwd')",
        "SELECT * FROM (FROM '/etc/passwd')",
        'SELECT * FROM main.shop."t/../../x"',
        "CREATE TABLE main.shop.leak AS SELECT * FROM '/etc/passwd'",
        f"SELECT * FROM read_parquet('{guarded.parquet}')",
    ]:
        message = refused(guarded, sql)
        assert "catalog" in message, sql


# -- statements that reach outside --------------------------------------------------------------


@pytest.mark.parametrize(
    "sql, word",
    [
        ("COPY main.shop.t TO '{sentinel}'", "COPY"),
        ("COPY (SELECT * FROM main.shop.t) TO '{sentinel}' (FORMAT csv)", "COPY"),
        ("/* hidden */ COPY (SELECT 1) TO '{sentinel}'", "COPY"),
        ("SELECT 1; COPY (SELECT 1) TO '{sentinel}'", "COPY"),
        ("ATTACH '{sentinel}' AS other", "ATTACH"),
        ("SELECT 1; ATTACH '{sentinel}'", "ATTACH"),
        ("DETACH other", "DETACH"),
        ("INSTALL httpfs", "INSTALL"),
        ("FORCE INSTALL httpfs", "FORCE"),
        ("LOAD httpfs", "LOAD"),
        ("SELECT 1;\nLOAD httpfs;", "LOAD"),
        ("-- comment\nLOAD httpfs", "LOAD"),
        ("PRAGMA database_list", "PRAGMA"),
        ("SET enable_external_access = true", "SET"),
        ("  set allowed_directories = ['/']", "SET"),
        ("SELECT 1; SET threads = 1", "SET"),
        ("RESET allowed_directories", "RESET"),
        ("CALL pragma_version()", "CALL"),
        ("EXPORT DATABASE '{sentinel}'", "EXPORT"),
        ("SELECT 1; IMPORT DATABASE '/tmp'", "IMPORT"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("VACUUM", "VACUUM"),
        ("USE main", "USE"),
    ],
)
def test_ungoverned_statements_are_refused(guarded, sql, word):
    refused(guarded, sql.format(sentinel=guarded.sentinel), f"{word} is not allowed")
    assert guarded.sql("SELECT count(*) FROM main.shop.t").scalar() == 2  # and nothing was changed


def test_words_inside_strings_are_fine(guarded):
    assert guarded.sql("SELECT 'COPY' AS a; SELECT 'set; load' AS b").fetchall() == [("set; load",)]


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql, error, fragment",
    [
        ("SELECT * FROM t", SqlError, "'t' must be named with three parts, catalog.schema.table"),
        ("SELECT * FROM shop.t", SqlError, "'shop.t' must be named with three parts"),
        ("SELECT * FROM information_schema.tables", SqlError, "must be named with three parts"),
        ("SELECT * FROM a.b.c.d", UngovernedAccessError, "is not a catalog table name"),
        ('SELECT * FROM "main.shop.t"', UngovernedAccessError, "catalog"),
        ("SELECT * FROM main.shop.nope", NotFoundError, "'main.shop.nope' does not exist. Did you mean 'main.shop.t'?"),
        ("SELECT * FROM nope.shop.t", NotFoundError, "catalog 'nope' does not exist"),
        ("DESCRIBE '/etc/passwd'", InvalidNameError, "catalog.schema.object"),
        ("DESCRIBE SELECT * FROM read_csv('/etc/passwd')", SqlError, "expected a catalog name"),
    ],
)
def test_unknown_and_malformed_names(guarded, sql, error, fragment):
    with pytest.raises(error) as err:
        guarded.sql(sql)
    assert fragment in str(err.value)


def test_quoted_catalog_names_still_work(guarded):
    assert guarded.sql('SELECT count(*) FROM "main"."shop"."t"').scalar() == 2


def test_a_tampered_view_is_checked_again_when_read(tmp_path):
    # Even if a view's stored SQL were changed behind Glashaus's back, reading it checks it again.
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.create_table("main.default.t", data=pa.table({"id": [1]}))
        lh.create_view("main.default.v", "SELECT id FROM main.default.t")
        lh.catalog.update(Name("main", "default", "v"), spec={"sql": "SELECT * FROM read_csv('/etc/passwd')"})
        with pytest.raises(UngovernedAccessError, match="read_csv"):
            lh.sql("SELECT * FROM main.default.v")
        lh.catalog.update(Name("main", "default", "v"), spec={"sql": "SELECT * FROM '/etc/passwd'"})
        with pytest.raises(UngovernedAccessError, match="file path"):
            lh.sql("SELECT * FROM main.default.v")


# -- the second wall: DuckDB's own sandbox ---------------------------------------------------------


def test_duckdb_itself_cannot_read_or_write_outside_the_root(guarded):
    con = guarded.engine._connection()
    outside = [
        f"SELECT * FROM read_csv('{guarded.secret}')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        f"COPY (SELECT 1) TO '{guarded.sentinel}'",
        f"ATTACH '{guarded.sentinel}.db' AS other",
        "INSTALL httpfs",
    ]
    for sql in outside:
        with pytest.raises(duckdb.PermissionException):
            con.sql(sql).fetchall()
    with pytest.raises(duckdb.Error):  # no replacement scan for paths either
        con.sql(f"SELECT * FROM '{guarded.secret}'").fetchall()
    with pytest.raises(duckdb.Error):
        con.sql("LOAD httpfs")
    assert not os.path.exists(guarded.sentinel)
    # the platform's own scans (Parquet under the root) still work
    assert con.sql(f"SELECT count(*) FROM read_parquet('{guarded.parquet}')").fetchall() == [(2,)]


def test_duckdb_sandbox_cannot_be_switched_off(guarded):
    con = guarded.engine._connection()
    for sql in ["SET enable_external_access = true", "SET allowed_directories = ['/']",
                "RESET allowed_directories", "SET lock_configuration = false", "SET temp_directory = '/tmp'"]:
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute(sql)
    with pytest.raises(duckdb.PermissionException):
        con.sql(f"SELECT * FROM read_csv('{guarded.secret}')").fetchall()


def test_duckdb_allows_no_folder_outside_the_root(tmp_path, monkeypatch):
    # DuckDB adds its spill folder (by default ./.tmp) to the allowed ones: it must sit inside the root.
    work = tmp_path / "cwd"
    (work / ".tmp").mkdir(parents=True)
    (work / ".tmp" / "secret.csv").write_text("password\nhunter2\n")
    monkeypatch.chdir(work)
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        con = lh.engine._connection()
        allowed = con.execute("SELECT current_setting('allowed_directories')").fetchone()[0]
        assert allowed and all(d.startswith(lh.root + "/") for d in allowed), allowed
        with pytest.raises(duckdb.PermissionException):
            con.sql(f"SELECT * FROM read_csv('{work}/.tmp/secret.csv')").fetchall()


def test_every_thread_gets_a_sandboxed_connection(guarded):
    import threading

    results = []

    def probe():
        con = guarded.engine._connection()
        try:
            con.sql(f"SELECT * FROM read_csv('{guarded.secret}')").fetchall()
            results.append("read")
        except duckdb.PermissionException:
            results.append("refused")

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert results == ["refused"]

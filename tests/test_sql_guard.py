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
from glashaus.lakehouse import services


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
        "SELECT * FROM \"read_csv\"('/etc/passwd')",
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
        (
            "MERGE INTO main.shop.t t USING (SELECT * FROM read_csv('/etc/passwd')) s ON t.id = s.id "
            "WHEN MATCHED THEN DELETE"
        ),
    ],
)
def test_file_functions_nested_anywhere_are_refused(guarded, sql):
    v = guarded.describe("main.shop.t").version
    refused(guarded, sql, "reads")
    assert guarded.describe("main.shop.t").version == v
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
        f"SELECT * FROM '{guarded.parquet}'",  # a data file under the lakehouse root!
        f"SELECT * FROM '{relative}'",  # the same, relative to the root
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
    ("sql", "word"),
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
    ("sql", "error", "fragment"),
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
        services(lh).catalog.update(Name("main", "default", "v"), spec={"sql": "SELECT * FROM read_csv('/etc/passwd')"})
        with pytest.raises(UngovernedAccessError, match="read_csv"):
            lh.sql("SELECT * FROM main.default.v")
        services(lh).catalog.update(Name("main", "default", "v"), spec={"sql": "SELECT * FROM '/etc/passwd'"})
        with pytest.raises(UngovernedAccessError, match="file path"):
            lh.sql("SELECT * FROM main.default.v")


# -- the second wall: DuckDB's own sandbox ---------------------------------------------------------


def test_duckdb_itself_cannot_read_or_write_outside_the_root(guarded):
    con = services(guarded).engine.sandbox.connection()
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
    con = services(guarded).engine.sandbox.connection()
    for sql in [
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "RESET allowed_directories",
        "SET lock_configuration = false",
        "SET temp_directory = '/tmp'",
    ]:
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
        con = services(lh).engine.sandbox.connection()
        allowed = con.execute("SELECT current_setting('allowed_directories')").fetchone()[0]
        assert allowed and all(d.startswith(lh.root + "/") for d in allowed), allowed
        with pytest.raises(duckdb.PermissionException):
            con.sql(f"SELECT * FROM read_csv('{work}/.tmp/secret.csv')").fetchall()


def test_every_thread_gets_a_sandboxed_connection(guarded):
    import threading

    results = []

    def probe():
        con = services(guarded).engine.sandbox.connection()
        try:
            con.sql(f"SELECT * FROM read_csv('{guarded.secret}')").fetchall()
            results.append("read")
        except duckdb.PermissionException:
            results.append("refused")

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert results == ["refused"]


# -- functions that reveal the environment (issue 10: the root path leaked to non-admins) ----------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT current_setting('allowed_directories')",
        "SELECT current_setting('temp_directory')",
        "SELECT CURRENT_SETTING('home_directory')",
        "SELECT \"current_setting\"('allowed_directories')",
        "SELECT main.current_setting('allowed_directories')",
        "SELECT current_query() FROM main.shop.t",  # the rewritten text holds every file path
        "SELECT getenv('HOME')",
        "SELECT getvariable('x')",
        "SELECT version()",
        "SELECT current_database()",
        "SELECT current_catalog",
        "SELECT current_schemas(true)",
        "SELECT stats(id) FROM main.shop.t",  # Parquet min/max, also of rows a filter hides
        "SELECT json_serialize_plan('SELECT 1')",  # SQL text planned beyond every check
        "SELECT json_serialize_sql('SELECT 1')",
        "SELECT pg_postmaster_start_time()",
        "SELECT * FROM which_secret('s3://x', 's3')",
        "SELECT * FROM duckdb_databases()",
        "SELECT * FROM main.shop.t WHERE secret = current_setting('threads')",
        "WITH s AS (SELECT current_setting('allowed_directories') AS d) SELECT * FROM s",
        "SELECT (SELECT current_setting('allowed_directories'))",
        "CREATE VIEW main.shop.leak AS SELECT current_setting('allowed_directories') AS d",
        "CREATE TABLE main.shop.leak AS SELECT current_query() AS q FROM main.shop.t",
        "UPDATE main.shop.t SET secret = current_setting('allowed_directories')",
        "INSERT INTO main.shop.t SELECT 3, current_setting('temp_directory')",
    ],
)
def test_functions_that_reveal_the_environment_are_refused_for_everyone(guarded, sql):
    # mallory is the lakehouse's first user, an admin: even admins have no need for them here.
    v = guarded.describe("main.shop.t").version
    message = refused(guarded, sql, "is not allowed")
    assert guarded.root not in message
    assert guarded.describe("main.shop.t").version == v
    assert [s.full_name for s in guarded.list("main.shop")] == ["main.shop.t"]
    last = guarded.sql(
        "SELECT decision, reason FROM system.access.audit WHERE action = 'sql.refused' ORDER BY event_time DESC LIMIT 1"
    )
    assert last.fetchone() == ("deny", message)


def test_row_filters_and_masks_may_not_reveal_the_environment_either(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.create_table("main.default.t", data=pa.table({"id": [1], "email": ["a@b"]}))
        for call in (
            lambda: lh.set_column_mask("main.default.t", "email", "current_setting('allowed_directories')"),
            lambda: lh.set_row_filter("main.default.t", "current_query() IS NOT NULL"),
            lambda: lh.set_column_mask("main.default.t", "email", "read_text('/etc/passwd')"),
            lambda: lh.sql("ALTER TABLE main.default.t ALTER COLUMN email SET MASK version()"),
            lambda: lh.create_tag_policy("p", tag="pii", mask="stats(value)", except_groups=[]),
        ):
            with pytest.raises(UngovernedAccessError, match="may not call"):
                call()
        assert lh.sql("SELECT email FROM main.default.t").scalar() == "a@b"


def test_duckdb_errors_do_not_show_the_lakehouse_root(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.create_user("bob")
        lh.create_table("main.default.t", data=pa.table({"id": [1]}))
        lh.grant("SELECT", on="main.default.t", to="bob")
        for path in glob.glob(f"{lh.root}/tables/main/default/*/*.parquet"):
            os.remove(path)  # storage lost a file: DuckDB's error names it
        for who in (lh, lh.as_user("bob")):
            with pytest.raises(SqlError) as err:
                who.sql("SELECT * FROM main.default.t")
            assert lh.root not in str(err.value) and "<lakehouse>/tables/main/default/" in str(err.value)


# -- what held and must keep holding: more forms of the same tricks ----------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_duckdb('/etc/passwd')",
        "SELECT * FROM read_json_objects('/etc/passwd')",
        "SELECT * FROM read_single_parquet_file('/etc/passwd')",
        "SELECT * FROM parquet_schema('/etc/passwd')",
        "SELECT * FROM parquet_kv_metadata('/etc/passwd')",
        "SELECT * FROM parquet_file_metadata('/etc/passwd')",
        "SELECT * FROM scan_parquet('/etc/passwd')",
        "SELECT system.main.read_text('/etc/passwd')",
        "SELECT main.read_text('/etc/passwd')",
        "SELECT * FROM main.shop.t WHERE secret IN (SELECT content FROM read_text('/etc/passwd'))",
        "SELECT list_transform(['/etc/passwd'], lambda p: (SELECT content FROM read_text(p)))",
        "SELECT * FROM query_table('main.shop.t')",
        "SELECT * FROM json_execute_serialized_sql('x')",
    ],
)
def test_more_file_and_sql_text_functions_are_refused(guarded, sql):
    message = refused(guarded, sql)
    assert "catalog" in message


@pytest.mark.parametrize(
    ("sql", "word"),
    [
        ("copy (SELECT 1) TO '{sentinel}'", "COPY"),
        ("COPY main.shop.t FROM '{sentinel}'", "COPY"),
        ("ATTACH DATABASE '{sentinel}' AS other", "ATTACH"),
        ("DETACH DATABASE other", "DETACH"),
        ("SET GLOBAL enable_external_access = true", "SET"),
        ("SET SESSION threads = 1", "SET"),
        ("RESET ALL", "RESET"),
        ("PRAGMA memory_limit = '100GB'", "PRAGMA"),
        ("CALL duckdb_settings()", "CALL"),
        ("LOAD '/tmp/evil.duckdb_extension'", "LOAD"),
        ("/* a /* nested */ comment */ COPY (SELECT 1) TO '{sentinel}'", "COPY"),
        ("SELECT 1 /* ; */; COPY (SELECT 1) TO '{sentinel}'", "COPY"),
        ("SELECT 1 -- ;\n; COPY (SELECT 1) TO '{sentinel}'", "COPY"),
        ("SELECT 1;;COPY (SELECT 1) TO '{sentinel}'", "COPY"),
        ("SELECT 'a;b'; ATTACH '{sentinel}'", "ATTACH"),
        ("SELECT $$ ; $$; COPY (SELECT 1) TO '{sentinel}'", "COPY"),
        ("\n\t  -- leading comment\n  /* and another */\n  install httpfs", "INSTALL"),
        ("CREATE VIEW main.shop.v AS SELECT 1; COPY (SELECT 1) TO '{sentinel}'", "COPY"),
    ],
)
def test_more_forms_of_ungoverned_statements_are_refused(guarded, sql, word):
    refused(guarded, sql.format(sentinel=guarded.sentinel), f"{word} is not allowed")
    assert [s.full_name for s in guarded.list("main.shop")] == ["main.shop.t"]


def test_a_second_statement_smuggled_into_a_view_is_refused(guarded):
    with pytest.raises(UngovernedAccessError, match="COPY is not allowed"):
        guarded.create_view("main.shop.v", f"SELECT 1 AS x; COPY (SELECT 1) TO '{guarded.sentinel}'")
    assert not os.path.exists(guarded.sentinel)
    assert [s.full_name for s in guarded.list("main.shop")] == ["main.shop.t"]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE MACRO leak() AS TABLE SELECT * FROM read_csv('/etc/passwd')",
        "CREATE TEMP MACRO leak(p) AS (SELECT content FROM read_text(p))",
        "CREATE OR REPLACE FUNCTION leak() AS current_setting('allowed_directories')",
    ],
)
def test_macros_cannot_smuggle_file_reads_or_settings(guarded, sql):
    with pytest.raises(SqlError):
        guarded.sql(sql)
    with pytest.raises(SqlError):
        guarded.sql("SELECT * FROM leak()")


@pytest.mark.parametrize("name", ['"read_text"', '"Read_Text"', 'main."read_text"', '"main"."read_blob"'])
def test_a_quoted_function_name_is_the_same_function(guarded, name):
    # DuckDB calls "read_text"(...) like read_text(...): the check must see through the quotes, or a
    # raw table file under the root (no row filter, no mask) would be one quoted name away.
    message = refused(guarded, f"SELECT {name}('{guarded.parquet}')", "reads files")
    assert "read_" in message

"""The ``glashaus`` command line: sql, tables, lineage, options and error paths.

Each test runs the real CLI (Typer's CliRunner, a few through a real subprocess)
against a real lakehouse in a temporary folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import glashaus
from glashaus.cli.main import app

ORDERS = "main.shop.orders"


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> str:
    """A lakehouse with main.shop.orders (pk, CHECK, comments, pii tag), a CTAS table and a view."""
    root = str(tmp_path_factory.mktemp("cli") / "lh")
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop", comment="The shop.")
        lh.create_table(
            ORDERS,
            schema=pa.schema(
                [
                    ("order_id", pa.int64()),
                    ("region", pa.string()),
                    ("qty", pa.int32()),
                    ("price", pa.float64()),
                    ("email", pa.string()),
                ]
            ),
            primary_key=["order_id"],
            constraints={"qty_pos": "qty > 0"},
            comment="Orders as placed.",
        )
        lh.set_comment(ORDERS, "Buyer's email address.", column="email")
        lh.set_tags(ORDERS, {"pii": "email"}, column="email")
        lh.write(
            ORDERS,
            pa.table(
                {
                    "order_id": [1, 2, 3],
                    "region": ["north", "alpine", "north"],
                    "qty": pa.array([1, 2, 3], pa.int32()),
                    "price": [10.0, 20.5, 30.0],
                    "email": ["a@example.com", "b@example.com", None],
                }
            ),
        )
        lh.sql("INSERT INTO main.shop.orders VALUES (4, 'alpine', 1, 5.0, 'c@example.com')")
        lh.sql(
            "CREATE TABLE main.shop.by_region AS "
            "SELECT region, CAST(sum(qty) AS BIGINT) AS qty, sum(qty * price) AS revenue "
            "FROM main.shop.orders GROUP BY region"
        )
        lh.sql("CREATE VIEW main.shop.big AS SELECT region, revenue FROM main.shop.by_region WHERE revenue > 50")
    return root


def run(lake: str, *args: str, input: str | None = None, env: dict[str, str | None] | None = None):
    """Invoke the CLI in-process against ``lake`` as alice."""
    base = {"GLASHAUS_LAKEHOUSE": None, "GLASHAUS_USER": None, "GLASHAUS_METASTORE": None, "COLUMNS": None}
    return CliRunner().invoke(
        app, [*args, "--lakehouse", lake, "--user", "alice"], input=input, env={**base, **(env or {})}
    )


def assert_one_line_error(result, *needles: str) -> str:
    """Exit 1, nothing on stdout, exactly one line ``error: ...`` naming ``needles``, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- sql ------------------------------------------------------------------------------------


def test_sql_prints_a_table_with_a_row_count(lake):
    result = run(lake, "sql", "SELECT order_id, region, price FROM main.shop.orders ORDER BY order_id")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "order_id" in line)
    assert "region" in header and "price" in header
    body = "\n".join(lines)
    for value in ("alpine", "20.5", "north"):
        assert value in body
    assert "4 row(s)" in body


def test_sql_table_format_caps_rows_and_says_so(lake):
    result = run(lake, "sql", "SELECT * FROM range(50) t(i)", "--max-rows", "5")
    assert result.exit_code == 0, result.output
    assert "first 5 of 50 rows" in result.stdout
    shown = [line.strip("│ ") for line in result.stdout.splitlines() if line.startswith("│")]
    assert shown == ["0", "1", "2", "3", "4"]


def test_sql_csv_writes_every_row_with_a_header(lake):
    result = run(
        lake, "sql", "SELECT order_id, region, qty, email FROM main.shop.orders ORDER BY order_id", "--format", "csv"
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [
        ["order_id", "region", "qty", "email"],
        ["1", "north", "1", "a@example.com"],
        ["2", "alpine", "2", "b@example.com"],
        ["3", "north", "3", ""],
        ["4", "alpine", "1", "c@example.com"],
    ]


def test_sql_json_is_an_array_of_row_objects_with_iso_dates(lake):
    result = run(
        lake,
        "sql",
        "SELECT order_id, price, email, DATE '2026-01-02' AS day FROM main.shop.orders "
        "WHERE order_id <= 3 ORDER BY order_id",
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"order_id": 1, "price": 10.0, "email": "a@example.com", "day": "2026-01-02"},
        {"order_id": 2, "price": 20.5, "email": "b@example.com", "day": "2026-01-02"},
        {"order_id": 3, "price": 30.0, "email": None, "day": "2026-01-02"},
    ]


def test_sql_json_of_no_rows_is_an_empty_array(lake):
    result = run(lake, "sql", "SELECT * FROM main.shop.orders WHERE order_id < 0", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_sql_parquet_goes_to_the_output_file(lake, tmp_path):
    out = tmp_path / "orders.parquet"
    result = run(
        lake,
        "sql",
        "SELECT order_id, qty FROM main.shop.orders ORDER BY order_id",
        "--format",
        "parquet",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).to_pydict() == {"order_id": [1, 2, 3, 4], "qty": [1, 2, 3, 1]}
    assert "wrote 4 row(s)" in result.stderr
    assert result.stdout == ""


def test_sql_csv_can_go_to_a_file(lake, tmp_path):
    out = tmp_path / "r.csv"
    result = run(lake, "sql", "SELECT 1 AS a", "-f", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text() == "a\n1\n"


def test_sql_parquet_without_output_is_a_usage_error(lake):
    result = run(lake, "sql", "SELECT 1", "--format", "parquet")
    assert result.exit_code == 2
    assert "--output" in result.stderr


def test_sql_unknown_format_is_a_usage_error_naming_the_choices(lake):
    result = run(lake, "sql", "SELECT 1", "--format", "xml")
    assert result.exit_code == 2
    assert "xml" in result.stderr and "csv" in result.stderr


def test_sql_reads_the_statement_from_stdin(lake):
    result = run(lake, "sql", "-", "-f", "csv", input="SELECT count(*) AS n FROM main.shop.orders")
    assert result.exit_code == 0, result.output
    assert result.stdout == "n\n4\n"


def test_sql_ddl_and_dml_print_their_status(tmp_path):
    lake = str(tmp_path / "lh")
    created = run(lake, "sql", "CREATE TABLE main.default.t AS SELECT 1 AS a")
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == "created table main.default.t, 1 row(s) (version 1)"
    inserted = run(lake, "sql", "INSERT INTO main.default.t VALUES (2), (3)")
    assert inserted.stdout.strip() == "inserted 2 row(s) (version 2)"
    assert run(lake, "sql", "SELECT sum(a) FROM main.default.t", "-f", "csv").stdout.splitlines()[1] == "6"


# -- tables -----------------------------------------------------------------------------------


def test_tables_ls_lists_catalogs_schemas_and_objects(lake):
    catalogs = run(lake, "tables", "ls")
    assert catalogs.exit_code == 0, catalogs.output
    assert "main" in catalogs.stdout and "system" in catalogs.stdout
    schemas = run(lake, "tables", "ls", "main")
    assert "main.shop" in schemas.stdout and "The shop." in schemas.stdout
    objects = run(lake, "tables", "ls", "main.shop")
    assert objects.exit_code == 0, objects.output
    lines = objects.stdout.splitlines()
    assert any("main.shop.orders" in line and "table" in line and "Orders as placed." in line for line in lines)
    assert any("main.shop.big" in line and "view" in line for line in lines)
    assert any("main.shop.by_region" in line for line in lines)


def test_tables_ls_of_an_empty_schema_says_so(lake):
    assert run(lake, "sql", "CREATE SCHEMA main.empty").exit_code == 0
    result = run(lake, "tables", "ls", "main.empty")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no objects in main.empty"


def test_tables_show_describes_everything(lake):
    result = run(lake, "tables", "show", ORDERS)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (
        "main.shop.orders (table)",
        "Orders as placed.",
        "alice",
        "primary key",
        "order_id",
        "qty_pos: qty > 0",
        "version",
        "rows",
        "size",
        "file(s)",
    ):
        assert expected in out, expected
    email = next(line for line in out.splitlines() if " email " in line)
    assert "string" in email and "Buyer's email address." in email and "pii=email" in email
    order_id = next(line for line in out.splitlines() if " order_id " in line and "int64" in line)
    assert " no " in order_id  # primary key columns are NOT NULL
    facts = dict(
        line.strip("│ ").split(maxsplit=1) for line in out.splitlines() if line.startswith(("│ version ", "│ rows "))
    )
    assert facts == {"version": "3", "rows": "4"}


def test_tables_show_of_a_view_shows_its_sql(lake):
    result = run(lake, "tables", "show", "main.shop.big")
    assert result.exit_code == 0, result.output
    assert "main.shop.big (view)" in result.stdout
    assert "view SQL" in result.stdout and "main.shop.by_region" in result.stdout


def test_tables_history_lists_commits_newest_first(lake):
    result = run(lake, "tables", "history", ORDERS)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    versions = [int(line.strip("│ ").split()[0]) for line in rows]
    assert versions == sorted(versions, reverse=True) and versions[0] == 3
    assert "INSERT" in rows[0] and "+1" in rows[0] and "alice" in rows[0]
    assert "WRITE append" in rows[1] and "+3" in rows[1]
    limited = run(lake, "tables", "history", ORDERS, "--limit", "1")
    assert len([line for line in limited.stdout.splitlines() if line.startswith("│")]) == 1


# -- lineage -------------------------------------------------------------------------------------


def test_lineage_upstream_tree_names_versions_read(lake):
    result = run(lake, "lineage", "main.shop.big")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("main.shop.big (view)")
    assert "main.shop.by_region@v1" in lines[1] and "CREATE VIEW" in lines[1]
    assert "main.shop.orders@v3" in lines[2] and "CREATE TABLE AS SELECT → v1" in lines[2]
    # tree indentation: orders sits under by_region
    assert lines[2].index("main.shop.orders") > lines[1].index("main.shop.by_region")


def test_lineage_downstream_and_columns(lake):
    down = run(lake, "lineage", ORDERS, "--direction", "downstream")
    assert down.exit_code == 0, down.output
    assert "main.shop.by_region@v1" in down.stdout and "read v3" in down.stdout
    assert "main.shop.big" in down.stdout
    cols = run(lake, "lineage", "main.shop.by_region", "--columns")
    assert cols.exit_code == 0, cols.output
    lines = cols.stdout.splitlines()
    revenue = lines.index(next(line for line in lines if line.strip("│├└─ ") == "revenue"))
    below = "\n".join(lines[revenue + 1 : revenue + 3])
    assert "main.shop.orders.price@v3" in below and "main.shop.orders.qty@v3" in below


def test_lineage_of_a_table_without_sources_says_so(lake):
    result = run(lake, "lineage", ORDERS)
    assert result.exit_code == 0
    assert "no upstream lineage recorded" in result.stdout


def test_lineage_bad_direction_is_a_usage_error(lake):
    result = run(lake, "lineage", ORDERS, "--direction", "sideways")
    assert result.exit_code == 2
    assert "sideways" in result.stderr


# -- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("sql", "SELECT * FROM main.shop.nope"),
        ("tables", "show", "main.shop.nope"),
        ("tables", "history", "main.shop.nope"),
        ("lineage", "main.shop.nope"),
    ],
)
def test_unknown_table_is_one_line_naming_it(lake, args):
    line = assert_one_line_error(run(lake, *args), "main.shop.nope")
    assert "does not exist" in line


def test_unknown_schema_in_ls_is_one_line(lake):
    assert_one_line_error(run(lake, "tables", "ls", "main.nope"), "main.nope", "does not exist")


def test_sql_syntax_error_is_one_line(lake):
    assert_one_line_error(run(lake, "sql", "SELEC * FROM main.shop.orders"), "syntax error")


@pytest.mark.parametrize("query", ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM '/etc/passwd'"])
def test_reading_files_from_sql_is_refused(lake, query):
    line = assert_one_line_error(run(lake, "sql", query))
    assert "read_csv" in line or "/etc/passwd" in line


def test_constraint_violation_is_one_line(lake):
    line = assert_one_line_error(
        run(lake, "sql", "INSERT INTO main.shop.orders VALUES (9, 'x', -1, 1.0, NULL)"), "qty_pos"
    )
    assert "nothing was written" in line


def test_invalid_user_is_one_line(lake):
    result = CliRunner().invoke(app, ["tables", "ls", "--lakehouse", lake, "--user", "not a user!"])
    assert_one_line_error(result, "not a user!")


# -- options ----------------------------------------------------------------------------------------


def test_lakehouse_and_user_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"GLASHAUS_LAKEHOUSE": str(tmp_path / "from_env"), "GLASHAUS_USER": "bob", "COLUMNS": None}
    made = CliRunner().invoke(app, ["sql", "CREATE TABLE main.default.t AS SELECT 1 AS a"], env=env)
    assert made.exit_code == 0, made.output
    assert (tmp_path / "from_env").is_dir() and not (tmp_path / "lakehouse").exists()
    shown = CliRunner().invoke(app, ["tables", "show", "main.default.t"], env=env)
    owner = next(line for line in shown.stdout.splitlines() if "owner" in line)
    assert "bob" in owner


def test_default_lakehouse_is_dot_lakehouse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["tables", "ls"], env={"GLASHAUS_LAKEHOUSE": None})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "lakehouse").is_dir()


def test_metastore_url_option_puts_the_catalog_elsewhere(tmp_path):
    lake, db = str(tmp_path / "lh"), tmp_path / "meta.db"
    url = f"sqlite:///{db}"
    made = run(lake, "sql", "CREATE SCHEMA main.elsewhere", "--metastore", url)
    assert made.exit_code == 0, made.output
    assert db.is_file()
    assert "main.elsewhere" in run(lake, "tables", "ls", "main", "--metastore", url).stdout
    assert "main.elsewhere" not in run(lake, "tables", "ls", "main").stdout


def test_version_flag():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"glashaus {glashaus.__version__}"


# -- real processes -------------------------------------------------------------------------------------


def _subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASHAUS_")}
    env["HOME"] = str(tmp_path)
    env["GLASHAUS_USER"] = "alice"  # the lakehouse's admin (its first user)
    return env


def test_module_entry_point_runs_sql_and_fails_cleanly(lake, tmp_path):
    cmd = [sys.executable, "-m", "glashaus.cli.main"]
    ok = subprocess.run(
        [*cmd, "sql", "SELECT count(*) AS n FROM main.shop.orders", "--format", "json", "--lakehouse", lake],
        capture_output=True,
        text=True,
        env=_subprocess_env(tmp_path),
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == [{"n": 4}]
    bad = subprocess.run(
        [*cmd, "tables", "show", "main.shop.missing", "--lakehouse", lake],
        capture_output=True,
        text=True,
        env=_subprocess_env(tmp_path),
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")
    assert "main.shop.missing" in bad.stderr and "Traceback" not in bad.stderr


def test_console_script_lists_tables(lake, tmp_path):
    script = Path(sys.executable).parent / "glashaus"
    if not script.exists():
        pytest.skip("the glashaus console script is not installed next to this Python")
    done = subprocess.run(
        [str(script), "tables", "ls", "main.shop", "--lakehouse", lake],
        capture_output=True,
        text=True,
        env=_subprocess_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "main.shop.orders" in done.stdout and "main.shop.big" in done.stdout

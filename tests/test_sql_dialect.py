"""One SQL parser: the Glashaus dialect of sqlglot reads every statement of ``lh.sql`` (issue 11).

Before: ``sql/engine.py``, ``sql/grants.py`` and ``sql/policies.py`` matched GRANT/REVOKE,
SHOW GRANTS, OWNER TO, row filters, masks, CREATE/DROP CATALOG|VOLUME and SHOW with
regexes beside sqlglot, each with its own idea of quoting, comments and statement ends.
Now ``sql/dialect.py`` (a sqlglot dialect: DuckDB's plus backtick-quoted names) splits a
script once, ``sql/statements.py`` reads Glashaus's own statements from sqlglot's tokens
into sqlglot trees, and the engine dispatches on the trees' types. The first half of this
module reads statements without a lakehouse (every spelling users type, every bad input a
clear ``SqlError``); the second half runs the statements whose behaviour changed, showing
the old and the new behaviour.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from glashaus.errors import GlashausError, InvalidNameError, NotFoundError, SqlError, UngovernedAccessError
from glashaus.sql import grants, policies
from glashaus.sql.dialect import parse
from glashaus.sql.grants import GrantStatement
from glashaus.sql.policies import PolicyStatement
from glashaus.sql.statements import ColumnMask, RowFilter, SetOwner, ShowGrants, ShowObjects

ORDERS = "main.shop.orders"


def read_one(sql: str) -> GrantStatement | PolicyStatement | exp.Expression:
    """Parse one statement and read it as the engine does (grants and policies validated)."""
    (tree,) = parse(sql)
    if grants.handles(tree):
        return grants.from_statement(tree)
    if policies.handles(tree):
        return policies.from_statement(tree)
    return tree


# -- reading, without a lakehouse ----------------------------------------------------------------------

CANONICAL = [
    (
        f"GRANT SELECT , MODIFY ON TABLE {ORDERS} TO ann",
        GrantStatement("GRANT", "table", ORDERS, "ann", ("SELECT", "MODIFY")),
    ),
    (
        "GRANT USE SCHEMA ON SCHEMA main.shop TO `ann@example.com`",
        GrantStatement("GRANT", "schema", "main.shop", "ann@example.com", ("USE SCHEMA",)),
    ),
    (
        'REVOKE READ VOLUME , WRITE VOLUME ON VOLUME main.shop.files FROM "Ann@Example.com"',
        GrantStatement("REVOKE", "volume", "main.shop.files", "ann@example.com", ("READ VOLUME", "WRITE VOLUME")),
    ),
    (
        "GRANT CREATE CATALOG ON METASTORE TO analysts",
        GrantStatement("GRANT", "metastore", None, "analysts", ("CREATE CATALOG",)),
    ),
    (
        "SHOW GRANTS ann@example.com ON TABLE main.shop.orders",
        GrantStatement("SHOW GRANTS", "table", ORDERS, "ann@example.com"),
    ),
    ("SHOW GRANTS ON METASTORE", GrantStatement("SHOW GRANTS", "metastore", None, None)),
    ("ALTER SCHEMA main.shop SET OWNER TO analysts", GrantStatement("OWNER", "schema", "main.shop", "analysts")),
    (
        "ALTER VOLUME main.shop.files OWNER TO `svc-etl+1`",
        GrantStatement("OWNER", "volume", "main.shop.files", "svc-etl+1"),
    ),
    (
        f"ALTER TABLE {ORDERS} SET ROW FILTER region = 'north' OR is_member('admins')",
        PolicyStatement("SET ROW FILTER", ORDERS, None, "region = 'north' OR is_member('admins')"),
    ),
    (
        f"ALTER TABLE {ORDERS} SET ROW FILTER ( region = 'north' )",
        PolicyStatement("SET ROW FILTER", ORDERS, None, "region = 'north'"),
    ),
    (f"ALTER TABLE {ORDERS} DROP ROW FILTER", PolicyStatement("DROP ROW FILTER", ORDERS)),
    (
        f"ALTER TABLE {ORDERS} ALTER COLUMN email SET MASK upper(email)",
        PolicyStatement("SET MASK", ORDERS, "email", "upper(email)"),
    ),
    (
        f"ALTER TABLE {ORDERS} CHANGE email SET MASK email",
        PolicyStatement("SET MASK", ORDERS, "email", "email", name_only=True),
    ),
    (f"ALTER TABLE {ORDERS} ALTER COLUMN email DROP MASK", PolicyStatement("DROP MASK", ORDERS, "email")),
]


def spellings(sql: str) -> list[str]:
    """The same statement as users type it: blanks, line breaks, comments, a trailing ';'.

    A filter or mask expression is kept as typed (it is stored so), so only the words before it vary.
    """
    head, mark, expression = sql.partition(" ROW FILTER ") if " ROW FILTER " in sql else sql.partition(" MASK ")
    words = (head + mark.rstrip()).split(" ") if expression else sql.split(" ")
    rest = f" {expression}" if expression else ""
    return [
        sql,
        "  \n\t".join(words) + rest + "\n",
        " /* note */ ".join(words) + rest,
        f"-- why: audit asked\n{sql}",
        f"/* leading */ {sql} -- trailing",
        f"{sql};",
        f"{sql} ;  \n",
        f"{sql}; -- done",
    ]


@pytest.mark.parametrize(("sql", "expected"), CANONICAL, ids=[c[0][:50] for c in CANONICAL])
def test_each_statement_reads_the_same_in_every_spelling(sql, expected):
    for spelling in spellings(sql):
        assert read_one(spelling) == expected, spelling


@pytest.mark.parametrize(
    ("sql", "expected"),
    [c for c in CANONICAL if isinstance(c[1], GrantStatement)],
    ids=[c[0][:50] for c in CANONICAL if isinstance(c[1], GrantStatement)],
)
def test_keywords_and_names_read_in_any_case(sql, expected):
    assert read_one(sql.lower()) == expected
    assert read_one(sql.upper()) == expected


def test_the_trees_are_sqlglots_own_where_it_has_them_and_ours_elsewhere():
    kinds = [
        type(t)
        for t in parse(
            "GRANT READ VOLUME ON VOLUME main.shop.files TO ann; REVOKE SELECT ON TABLE main.shop.orders FROM ann;"
            "SHOW GRANTS ON METASTORE; ALTER CATALOG main OWNER TO ann; ALTER TABLE main.shop.orders DROP ROW FILTER;"
            "ALTER TABLE main.shop.orders ALTER COLUMN e DROP MASK; CREATE CATALOG dev; DROP VOLUME main.shop.files;"
            "SHOW TABLES IN main.shop; SELECT 1; DESCRIBE main.shop.orders"
        )
    ]
    assert kinds == [
        exp.Grant,
        exp.Revoke,
        ShowGrants,
        SetOwner,
        RowFilter,
        ColumnMask,
        exp.Create,
        exp.Drop,
        ShowObjects,
        exp.Select,
        exp.Describe,
    ]
    # A sqlglot dialect like any other: sqlglot.parse(read="glashaus") gives the same trees.
    assert [type(t) for t in sqlglot.parse("SHOW GRANTS ON METASTORE; SELECT 1", read="glashaus")] == [
        ShowGrants,
        exp.Select,
    ]


def test_the_sqlglot_grant_tree_and_ours_read_alike():
    """sqlglot's DuckDB dialect knows some GRANT forms; the Glashaus dialect reads all of them into the same shape."""
    for sql in (
        "GRANT SELECT, MODIFY ON TABLE main.shop.orders TO ann",
        "GRANT CREATE CATALOG ON METASTORE TO ann",
        'REVOKE ALL PRIVILEGES ON SCHEMA main.shop FROM "ann@example.com"',
    ):
        (theirs,) = sqlglot.parse(sql, read="duckdb")
        (ours,) = parse(sql)
        assert type(ours) is type(theirs)
        assert grants.from_ast(ours) == grants.from_ast(theirs)


def test_a_quoted_name_keeps_semicolons_and_quotes_inside_it():
    """sqlglot's tokenizer splits the script, so a ';' inside backticks, quotes or a comment splits nothing."""
    trees = parse("GRANT SELECT ON TABLE main.shop.orders TO `a;b` -- ; DROP TABLE x\n; SELECT 'c;d'")
    assert [type(t) for t in trees] == [exp.Grant, exp.Select]
    assert trees[0].args["principals"][0].name == "a;b"
    with pytest.raises(InvalidNameError, match="principal 'a;b' is not a valid"):
        grants.from_statement(trees[0])


def test_time_travel_suffixes_are_rewritten_in_queries_only():
    select, grant = parse("SELECT * FROM main.shop.orders@v1 o; GRANT SELECT ON TABLE main.shop.orders TO ann@v1.org")
    assert select.find(exp.Version).expression.name == "1" and select.find(exp.Table).alias == "o"
    assert grants.from_statement(grant).principal == "ann@v1.org"


def test_the_nesting_guard_protects_the_dialect_itself():
    deep = "SELECT " + "(" * 200 + "1" + ")" * 200
    with pytest.raises(SqlError, match="levels deep"):
        sqlglot.parse(deep, read="glashaus")


@pytest.mark.parametrize(
    ("sql", "fragments"),
    [
        (f"GRANT SELECT ON TABLE {ORDERS} TO", ["cannot read", "Supported forms", "TO <principal>"]),
        (f"GRANT SELECT ON TABLE {ORDERS} TO ann carol", ["cannot read", "Quote principals"]),
        (f"GRANT ON TABLE {ORDERS} TO ann", ["GRANT needs a comma-separated list of privileges"]),
        (f"REVOKE SELECT ON TABLE {ORDERS} FROM ann RESTRICT", ["REVOKE ... RESTRICT is not supported"]),
        ('GRANT SELECT ON TABLE main.shop."a""b" TO ann', ['"a""b" is not a valid name', "quote character"]),
        ("GRANT SELECT ON TABLE main.shop.`a``b` TO ann", ["is not a valid name"]),
        ("SHOW GRANTS", ["cannot read 'SHOW GRANTS'", "SHOW GRANTS [<principal>] ON"]),
        ("SHOW FUNCTIONS IN main.shop", ["SHOW FUNCTIONS is not supported", "SHOW CATALOGS", "SHOW GRANTS"]),
        ("SHOW", ["SHOW without what to show is not supported"]),
        ("SHOW TABLES IN main.shop LIKE 'o%'", ["cannot read", "SHOW {TABLES|VIEWS|VOLUMES} IN <catalog.schema>"]),
        ("SHOW CATALOGS IN main", ["takes no IN", "SHOW SCHEMAS IN <catalog>"]),
        ("CREATE CATALOG", ["cannot read 'CREATE CATALOG'", "CREATE {CATALOG|VOLUME} [IF NOT EXISTS] <name>"]),
        ("CREATE CATALOG dev COMMENT sandbox", ["cannot read", "[COMMENT '<text>']"]),
        (
            "CREATE VOLUME main.shop.files CASCADE",
            ["cannot read", "DROP {CATALOG|VOLUME} [IF EXISTS] <name> [CASCADE]"],
        ),
        ("ALTER TABLE main.shop.orders ALTER COLUMN SET MASK 1", ["cannot read", "ALTER COLUMN <column> SET MASK"]),
        ("ALTER TABLE main.shop.orders SET ROW FILTERS true", ["cannot read", "SET ROW FILTER <boolean expression>"]),
        ("ALTER VIEW main.shop.v ALTER COLUMN e DROP MASK", ["on tables, not views"]),
        ("SELECT `qty` FROM main.shop.orders", ["syntax error at line 1", "backticks", '"qty"']),
    ],
)
def test_bad_statements_are_a_sql_error_naming_the_problem(sql, fragments):
    with pytest.raises(SqlError) as caught:
        read_one(sql)
    for fragment in fragments:
        assert fragment in str(caught.value), (fragment, str(caught.value))


@pytest.mark.parametrize(
    "sql",
    [c[0] for c in CANONICAL]
    + [
        "CREATE CATALOG IF NOT EXISTS dev COMMENT 'x'",
        "DROP VOLUME IF EXISTS main.shop.files CASCADE",
        "SHOW TABLES IN main.shop",
        "GRANT SELECT (id) ON TABLE main.shop.orders TO ROLE ann WITH GRANT OPTION",
        f"ALTER TABLE {ORDERS} SET ROW FILTER f ON (region)",
        f"ALTER TABLE {ORDERS} ALTER COLUMN e SET MASK f USING COLUMNS (region)",
    ],
    ids=lambda s: s[:50],
)
def test_every_cut_and_every_stray_word_is_a_clear_error_never_a_crash(sql):
    """Each prefix of a statement (cut at each blank), and each with a stray token after it, either reads or is
    refused with a Glashaus error: never a stack trace from the parser."""
    words = sql.split(" ")
    for n in range(1, len(words) + 1):
        for tail in ("", " )", " ,", " 'x'", " `", " @", " ;;", " x.y.z.w"):
            text = " ".join(words[:n]) + tail
            try:
                read_one(text) if ";" not in text else parse(text)
            except GlashausError:
                pass
            except Exception as exc:  # noqa: BLE001 - the assertion names the escaped exception
                pytest.fail(f"{text!r} raised {type(exc).__name__}: {exc}")


def test_sql_text_is_read_by_sqlglot_only():
    """The regexes left in sql/ and access/'s SQL modules (issue 11): none reads a statement; each has its reason."""
    reasons = {
        "dialect.py": "refuses COPY/ATTACH/... when sqlglot's tokenizer cannot read the text at all",
        "bounds.py": "reads printf/format patterns inside a string literal (not SQL)",
        "sandbox.py": "hides scan names and file lists in DuckDB's error messages (not user SQL)",
        "resolve.py": "reads the digits of one '@v3' token (a table version)",
        "sqltext.py": "classifies a function name sqlglot has parsed (read_*, duckdb_*, ...)",
    }
    src = Path(__file__).resolve().parents[1] / "src" / "glashaus"
    files = [*(src / "sql").glob("*.py"), src / "access" / "sqltext.py", src / "access" / "policies.py"]
    using = {p.name for p in files if re.search(r"^import re$", p.read_text(), re.MULTILINE)}
    assert using == set(reasons), using ^ set(reasons)


# -- behaviour that changed, with a lakehouse --------------------------------------------------------------


@pytest.fixture
def lake(shop):
    """The lakehouse (as alice) with main.shop.orders: ids 1, 2."""
    shop.create_table(ORDERS, data=pa.table({"id": [1, 2], "qty": [5, 50]}))
    return shop


def test_catalog_and_volume_statements_read_in_every_spelling(shop):
    """Before: a leading comment, a quoted name or a place in a script made these 'unsupported statement'."""
    shop.sql("/* sandbox for ann */ create catalog \"dev\" comment 'it''s hers';")
    assert shop.get("dev").comment == "it's hers"
    r = shop.sql("SELECT 1; CREATE VOLUME main.shop.files; SHOW VOLUMES IN `main`.shop")
    assert r.statement == "SHOW VOLUMES" and r.fetchall()[0][:2] == ("main.shop.files", "volume")
    shop.sql("DROP VOLUME main.shop.files;\nDROP CATALOG `dev` CASCADE -- done")
    assert [s.full_name for s in shop.list()] == ["main", "system"]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE CATALOG dev2 CASCADE",
        "CREATE CATALOG IF EXISTS dev2",
        "DROP CATALOG IF NOT EXISTS dev",
        "DROP CATALOG dev COMMENT 'x'",
        "SHOW CATALOGS IN dev",
    ],
)
def test_clauses_the_statement_would_ignore_are_refused(shop, sql):
    """Before: the regex accepted these and ignored the clause (the CREATEs created dev2, the DROPs dropped
    dev, SHOW listed every catalog). Now: refused with the syntax, and nothing changes."""
    shop.create_catalog("dev")
    with pytest.raises(SqlError, match=r"Supported forms|takes no IN"):
        shop.sql(sql)
    assert [s.full_name for s in shop.list()] == ["dev", "main", "system"]


def test_show_reads_in_scripts_and_with_quoted_names(lake):
    """Before: SHOW worked only as the whole text, with unquoted names ('unsupported statement' / syntax error)."""
    assert lake.sql('SELECT 1; SHOW TABLES IN "main".shop').fetchall()[0][0] == ORDERS
    with pytest.raises(SqlError, match=r"SHOW DATABASES is not supported. Supported: SHOW CATALOGS"):
        lake.sql("SHOW DATABASES")  # before: "unsupported statement: 'SHOW DATABASES'"
    with pytest.raises(NotFoundError):
        lake.sql("SHOW TABLES IN main.nowhere")


def test_a_principal_that_looks_like_a_version_suffix_stays_a_principal(lake):
    """Before: a script with a time travel query rewrote every '@v<N>' in its text, principals included
    ('cannot read ... TO ann VERSION AS OF 1.org')."""
    lake.create_user("ann@v1.org")
    r = lake.sql(f"SELECT count(*) FROM {ORDERS}@v0; GRANT SELECT ON TABLE {ORDERS} TO ann@v1.org")
    assert r.to_pylist()[0]["status"] == f"granted SELECT on table {ORDERS} to ann@v1.org"


def test_backticks_in_a_query_say_to_use_double_quotes(lake):
    """Before: 'SQL syntax error ... Invalid expression / Unexpected token'. Now: the same class, naming the fix."""
    with pytest.raises(SqlError, match=r'quoted with backticks; DuckDB SQL quotes names with double quotes \("qty"\)'):
        lake.sql(f"SELECT `qty` FROM {ORDERS}")
    assert lake.sql(f'SELECT "qty" FROM {ORDERS} ORDER BY 1').fetchall() == [(5,), (50,)]


def test_a_quoted_name_with_its_own_quote_inside_is_a_sql_error(lake):
    """Before: InvalidNameError in GRANT's principal, SqlError in OWNER TO's name; now SqlError for both."""
    lake.create_user("ann")
    for sql in (f'GRANT SELECT ON TABLE {ORDERS} TO "ann""x"', 'ALTER TABLE main.shop."orders"" OR 1=1" OWNER TO ann'):
        with pytest.raises(SqlError, match="quote character"):
            lake.sql(sql)
    assert lake.get(ORDERS).owner == "alice"


def test_ungoverned_statements_are_refused_before_anything_is_parsed(lake):
    """A syntax error in another statement of the script cannot hide a COPY; nor can an unreadable text."""
    for sql in ("SELEC 1; COPY (SELECT 1) TO '/tmp/x'", "COPY t TO '/tmp/x", "GRANT SELECT ON TABLE x; LOAD httpfs"):
        with pytest.raises(UngovernedAccessError, match="is not allowed"):
            lake.sql(sql)

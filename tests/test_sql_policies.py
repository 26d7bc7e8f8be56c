"""ALTER TABLE ... SET/DROP ROW FILTER and ALTER COLUMN ... SET/DROP MASK in SQL.

Each form runs against a real lakehouse as alice (the owner); its effect is checked by
reading as bob (an analyst the filter and mask apply to) and carol (a PII reader).
Error paths check the error type, that the message names the thing and the fix, and
that the table's filter and masks did not change.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import (
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
    SqlError,
    UngovernedAccessError,
)
from glashaus.lakehouse import services

CUSTOMERS = "main.shop.customers"
MASK = "CASE WHEN is_member('pii_readers') THEN email ELSE '***' END"


@pytest.fixture
def lake(tmp_path):
    """alice (admin) owns main.shop.customers (4 rows) and main.shop.other; bob and carol are analysts
    with SELECT on the schema; carol is also a PII reader; dave holds MANAGE on customers only."""
    root = tmp_path / "lh"
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_table(
            CUSTOMERS,
            data=pa.table(
                {
                    "id": [1, 2, 3, 4],
                    "region": ["north", "south", "north", "alpine"],
                    "email": ["a@x.org", "b@x.org", "c@x.org", "d@x.org"],
                }
            ),
        )
        lh.create_table("main.shop.other", data=pa.table({"id": [1]}))
        lh.create_group("analysts")
        lh.create_group("pii_readers")
        for user in ("bob", "carol", "dave"):
            lh.create_user(user)
            lh.add_member("analysts", user)
        lh.add_member("pii_readers", "carol")
        lh.grant("USE SCHEMA", on="main.shop", to="analysts")
        lh.grant("SELECT", on="main.shop", to="analysts")
        lh.grant("MANAGE", on=CUSTOMERS, to="dave")
    return root


def as_user(root, user):
    return glashaus.connect(root, user=user)


def rows(root, user, sql=f"SELECT id, email FROM {CUSTOMERS} ORDER BY id"):
    with as_user(root, user) as lh:
        return lh.sql(sql).fetchall()


def spec(root):
    with as_user(root, "alice") as lh:
        s = services(lh).tables.table(CUSTOMERS).spec
        return s.get("row_filter"), s.get("column_masks") or {}


ALL = [(1, "a@x.org"), (2, "b@x.org"), (3, "c@x.org"), (4, "d@x.org")]


# -- each form, round-tripped through a restricted reader's SELECT ---------------------------------


@pytest.mark.parametrize("expression", ["region = 'north'", "(region = 'north')", "( region = 'north' ) ;"])
def test_set_row_filter_with_or_without_parentheses(lake, expression):
    with as_user(lake, "alice") as alice:
        result = alice.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER {expression}")
        assert result.to_pylist()[0]["status"] == f"row filter of {CUSTOMERS} set"
    assert spec(lake)[0] == "region = 'north'"  # stored without the surrounding parentheses
    assert rows(lake, "bob") == [(1, "a@x.org"), (3, "c@x.org")]


def test_parentheses_that_are_part_of_the_expression_stay(lake):
    with as_user(lake, "alice") as alice:
        alice.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER (region = 'north') OR (id = 2)")
    assert spec(lake)[0] == "(region = 'north') OR (id = 2)"
    assert [r[0] for r in rows(lake, "bob")] == [1, 2, 3]


def test_drop_row_filter(lake):
    with as_user(lake, "alice") as alice:
        alice.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER region = 'south' OR is_member('pii_readers')")
    assert rows(lake, "bob") == [(2, "b@x.org")]
    assert rows(lake, "carol") == ALL
    with as_user(lake, "alice") as alice:
        status = alice.sql(f"alter table {CUSTOMERS} drop row filter;").to_pylist()[0]["status"]
        assert status == f"{CUSTOMERS} has no row filter now"
    assert spec(lake)[0] is None
    assert rows(lake, "bob") == ALL


def test_set_and_drop_a_column_mask(lake):
    with as_user(lake, "alice") as alice:
        result = alice.sql(f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK {MASK}")
        assert result.to_pylist()[0]["status"] == f"mask of {CUSTOMERS}.email set"
    assert spec(lake)[1] == {"email": MASK}
    assert rows(lake, "bob") == [(i, "***") for i in (1, 2, 3, 4)]
    assert rows(lake, "carol") == ALL
    # Every read path sees the mask set in SQL: a view, a CTE, lh.read.
    with as_user(lake, "alice") as alice:
        alice.create_view("main.shop.emails", f"SELECT id, email FROM {CUSTOMERS}")
    assert rows(lake, "bob", "SELECT email FROM main.shop.emails WHERE id = 1") == [("***",)]
    assert rows(lake, "bob", f"WITH c AS (SELECT * FROM {CUSTOMERS}) SELECT email FROM c WHERE id = 2") == [("***",)]
    with as_user(lake, "bob") as bob:
        assert set(bob.read(CUSTOMERS)["email"].to_pylist()) == {"***"}
    with as_user(lake, "alice") as alice:
        alice.sql(f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email DROP MASK")
    assert spec(lake)[1] == {}
    assert rows(lake, "bob") == ALL


@pytest.mark.parametrize(
    "form",
    [
        "ALTER TABLE main.shop.customers ALTER COLUMN EMAIL SET MASK '***'",
        "ALTER TABLE main.shop.customers ALTER \"email\" SET MASK ('***')",
        "ALTER TABLE main.shop.customers CHANGE COLUMN email SET MASK '***'",
        "-- hide the e-mails\nALTER TABLE \"main\".shop.customers ALTER COLUMN email SET MASK '***';",
        "SELECT 1; ALTER TABLE main.shop.customers ALTER COLUMN email SET MASK '***'",
    ],
)
def test_spellings_of_the_mask_form(lake, form):
    with as_user(lake, "alice") as alice:
        alice.sql(form)
    assert spec(lake)[1] == {"email": "'***'"}
    assert rows(lake, "bob")[0] == (1, "***")


def test_filter_and_mask_together_with_current_user(lake):
    with as_user(lake, "alice") as alice:
        alice.sql(
            f"ALTER TABLE {CUSTOMERS} SET ROW FILTER email LIKE left(current_user(), 1) || '@%' "
            "OR NOT is_member('analysts')"
        )
        alice.sql(f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK upper(email)")
    assert rows(lake, "bob") == [(2, "B@X.ORG")]
    assert rows(lake, "carol") == [(3, "C@X.ORG")]


def test_words_like_owner_to_inside_an_expression_are_just_text(lake):
    # GRANT's ALTER ... OWNER TO must not claim a filter that mentions the words.
    with as_user(lake, "alice") as alice:
        alice.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER region <> 'owner to bob' AND region = 'alpine'")
    assert rows(lake, "bob") == [(4, "d@x.org")]


def test_holders_of_manage_may_set_and_drop(lake):
    with as_user(lake, "dave") as dave:
        dave.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER region = 'alpine'")
        dave.sql(f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK 'hidden'")
    assert rows(lake, "bob") == [(4, "hidden")]
    with as_user(lake, "dave") as dave:
        dave.sql(f"ALTER TABLE {CUSTOMERS} DROP ROW FILTER")
        dave.sql(f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email DROP MASK")
    assert rows(lake, "bob") == ALL


# -- who may ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "action"),
    [
        (f"ALTER TABLE {CUSTOMERS} SET ROW FILTER true", "table.row_filter"),
        (f"ALTER TABLE {CUSTOMERS} DROP ROW FILTER", "table.row_filter"),
        (f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK email", "table.column_mask"),
        (f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email DROP MASK", "table.column_mask"),
    ],
)
def test_a_reader_without_manage_is_refused_and_audited(lake, statement, action):
    with as_user(lake, "alice") as alice:
        alice.set_row_filter(CUSTOMERS, "region = 'north'")
        alice.set_column_mask(CUSTOMERS, "email", MASK)
    with as_user(lake, "bob") as bob, pytest.raises(PermissionDeniedError) as info:
        bob.sql(statement)
    message = str(info.value)
    assert "bob lacks MANAGE on table main.shop.customers" in message
    assert "GRANT MANAGE ON TABLE main.shop.customers TO bob" in message
    assert spec(lake) == ("region = 'north'", {"email": MASK})
    with as_user(lake, "alice") as alice:
        denied = alice.sql(
            "SELECT action, privilege, securable FROM system.access.audit WHERE principal = 'bob' AND decision = 'deny'"
        ).fetchall()
    assert denied == [(action, "MANAGE", CUSTOMERS)]


# -- bad statements and bad expressions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "error", "fragments"),
    [
        (
            f"ALTER TABLE {CUSTOMERS} SET ROW FILTER main.shop.region_filter ON (region)",
            SqlError,
            [
                "names a SQL function",
                "no SQL functions yet",
                f"ALTER TABLE {CUSTOMERS} SET ROW FILTER region = 'north'",
            ],
        ),
        (f"ALTER TABLE {CUSTOMERS} SET ROW FILTER only_north ON ()", SqlError, ["only_north", "names a SQL function"]),
        (
            f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK mask_email USING COLUMNS (region)",
            SqlError,
            ["mask_email", "names a SQL function", "SET MASK CASE WHEN is_member('pii_readers') THEN email"],
        ),
        (
            f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK main.shop.mask_email",
            SqlError,
            ["main.shop.mask_email", "no SQL functions yet"],
        ),
        (
            f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK mask_email",
            InvalidArgumentError,
            ["'mask_email', which is not a column", "If mask_email is a SQL function", "write the mask expression"],
        ),
        (f"ALTER TABLE {CUSTOMERS} SET ROW FILTER", SqlError, ["needs an expression", "SET ROW FILTER region"]),
        (f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK ;", SqlError, ["needs an expression"]),
        (
            f"ALTER TABLE {CUSTOMERS} SET ROW FILTER nope = 1",
            InvalidArgumentError,
            ["'nope'", "not a column", "id, region, email"],
        ),
        (f"ALTER TABLE {CUSTOMERS} SET ROW FILTER region = 'x' OR", InvalidArgumentError, ["not a SQL expression"]),
        (f"ALTER TABLE {CUSTOMERS} ALTER COLUMN phone SET MASK '***'", NotFoundError, ["no column 'phone'"]),
        ("ALTER TABLE main.shop.nothing SET ROW FILTER true", NotFoundError, ["main.shop.nothing", "does not exist"]),
        ("ALTER TABLE main.shop SET ROW FILTER true", SqlError, ["three-part table name", "'main.shop'"]),
        ("ALTER VIEW main.shop.v SET ROW FILTER true", SqlError, ["on tables, not views"]),
        ("ALTER TABLE system.access.audit SET ROW FILTER true", InvalidArgumentError, ["system catalog"]),
        (f"ALTER TABLE {CUSTOMERS} SET ROW FILTERS true", SqlError, ["Supported forms", "SET ROW FILTER <boolean"]),
        (f'ALTER TABLE {CUSTOMERS} ALTER COLUMN "e-mail" SET MASK 1', InvalidNameError, ["'e-mail'"]),
    ],
)
def test_bad_statements_are_refused_with_a_clear_error(lake, statement, error, fragments):
    with as_user(lake, "alice") as alice:
        alice.set_row_filter(CUSTOMERS, "region = 'north'")
        with pytest.raises(error) as info:
            alice.sql(statement)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert spec(lake) == ("region = 'north'", {})


def test_a_view_of_the_name_is_not_a_table(lake):
    with as_user(lake, "alice") as alice:
        alice.create_view("main.shop.v", f"SELECT * FROM {CUSTOMERS}")
        with pytest.raises(NotFoundError, match=r"'main.shop.v' is a view, not a table"):
            alice.sql("ALTER TABLE main.shop.v SET ROW FILTER true")


# -- injection attempts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "error", "fragment"),
    [
        ("region = 'x' OR (SELECT count(*) FROM main.shop.other) > 0", InvalidArgumentError, "without queries"),
        ("id IN (SELECT id FROM main.shop.other)", InvalidArgumentError, "without queries"),
        ("EXISTS (SELECT 1)", InvalidArgumentError, "without queries"),
        ("read_csv('/etc/passwd') IS NULL", UngovernedAccessError, "read_csv"),
        ("getenv('HOME') IS NOT NULL", UngovernedAccessError, "getenv"),
        ("query('SELECT 1') IS NULL", UngovernedAccessError, "query"),
        ("other.id = 1", InvalidArgumentError, "not a column"),
        ("true) OR (1=1", InvalidArgumentError, "not a SQL expression"),
        ("region = 'x') UNION SELECT * FROM main.shop.other --", InvalidArgumentError, ""),
    ],
)
def test_injection_through_a_filter_is_refused(lake, expression, error, fragment):
    with as_user(lake, "alice") as alice:
        alice.set_row_filter(CUSTOMERS, "region = 'north'")
        with pytest.raises(error) as info:
            alice.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER {expression}")
    assert fragment in str(info.value)
    assert spec(lake)[0] == "region = 'north'"
    assert rows(lake, "bob") == [(1, "a@x.org"), (3, "c@x.org")]


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("(SELECT max(email) FROM main.shop.other)", InvalidArgumentError),
        ("email || (SELECT 'x')", InvalidArgumentError),
        ("read_text('/etc/hostname')", UngovernedAccessError),
        ("email) FROM main.shop.other --", InvalidArgumentError),
    ],
)
def test_injection_through_a_mask_is_refused(lake, expression, error):
    with as_user(lake, "alice") as alice, pytest.raises(error):
        alice.sql(f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK {expression}")
    assert spec(lake)[1] == {}


def test_refused_file_access_in_a_filter_is_audited(lake):
    with as_user(lake, "dave") as dave, pytest.raises(UngovernedAccessError):
        dave.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER read_csv('/etc/passwd') IS NULL")
    with as_user(lake, "alice") as alice:
        refused = alice.sql(
            "SELECT action, decision FROM system.access.audit WHERE principal = 'dave' AND action = 'sql.refused'"
        ).fetchall()
    assert refused == [("sql.refused", "deny")]


@pytest.mark.parametrize("how", ["sql", "python"])
def test_comments_cannot_hide_code_in_a_stored_filter(lake, how):
    # sqlglot rewrites a line comment as /* */ and escapes a */ inside it: the rest stays a comment.
    filter_, mask = "region = 'alpine' -- */ OR true", "'***' -- */ || email"
    with as_user(lake, "alice") as alice:
        if how == "sql":
            alice.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER {filter_}")
            alice.sql(f"ALTER TABLE {CUSTOMERS} ALTER COLUMN email SET MASK {mask}")
        else:
            alice.set_row_filter(CUSTOMERS, filter_)
            alice.set_column_mask(CUSTOMERS, "email", mask)
    assert rows(lake, "bob") == [(4, "***")]


def test_quotes_and_semicolons_inside_strings_stay_strings(lake):
    with as_user(lake, "alice") as alice:
        alice.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER region <> 'x''; DROP TABLE {CUSTOMERS}; --'")
        assert alice.sql(f"SELECT count(*) FROM {CUSTOMERS}").scalar() == 4
    assert len(rows(lake, "bob")) == 4


def test_an_unterminated_string_is_a_syntax_error_and_changes_nothing(lake):
    with as_user(lake, "alice") as alice, pytest.raises(SqlError, match="syntax error"):
        alice.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER region = 'x' OR '1'='1")
    assert spec(lake) == (None, {})


def test_a_statement_after_a_semicolon_is_authorized_on_its_own(lake):
    # A script is several statements, each authorized for the caller: nothing rides on the filter's MANAGE.
    with as_user(lake, "dave") as dave:
        with pytest.raises(PermissionDeniedError, match=r"dave lacks MANAGE on table main.shop.other"):
            dave.sql(f"ALTER TABLE {CUSTOMERS} SET ROW FILTER true; DROP TABLE main.shop.other")
    with as_user(lake, "alice") as alice:
        assert alice.sql("SELECT count(*) FROM main.shop.other").scalar() == 1


def test_names_cannot_carry_statements(lake):
    with as_user(lake, "alice") as alice:
        with pytest.raises(SqlError, match="syntax error"):
            alice.sql(f"ALTER TABLE {CUSTOMERS}; DROP TABLE main.shop.other SET ROW FILTER true")
        with pytest.raises(InvalidNameError):
            alice.sql(f'ALTER TABLE {CUSTOMERS} ALTER COLUMN "email; DROP TABLE main.shop.other" SET MASK 1')
        assert alice.sql("SELECT count(*) FROM main.shop.other").scalar() == 1
    assert spec(lake) == (None, {})

"""GRANT, REVOKE, SHOW GRANTS and ALTER ... OWNER TO in SQL.

Every statement runs against a real lakehouse; its effect is checked by connecting
as the other user and trying. Error paths check the error type, that the message
names the thing and the fix, and that nothing changed.
"""

from __future__ import annotations

import logging
import threading

import pyarrow as pa
import pytest
import sqlglot

import glashaus
from glashaus.errors import (
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
    SqlError,
)
from glashaus.sql import grants as grant_sql
from glashaus.sql.dialect import quiet_fallback

ORDERS = "main.shop.orders"


def build(root):
    """alice (admin) with main.shop.orders (2 rows), view main.shop.big, volume main.shop.files;
    users bob, carol and `carol@example.com`; group analysts holding bob."""
    with glashaus.connect(root, user="alice") as lh:
        for name in ("bob", "carol", "carol@example.com"):
            lh.create_user(name)
        lh.create_group("analysts")
        lh.add_member("analysts", "bob")
        lh.create_schema("main.shop")
        lh.create_table(ORDERS, data=pa.table({"id": [1, 2], "qty": [5, 50]}))
        lh.create_view("main.shop.big", "SELECT * FROM main.shop.orders WHERE qty > 10")
        lh.create_volume("main.shop.files")
        lh.put_file("main.shop.files", "a.txt", b"hello")
    return root


@pytest.fixture
def lake(tmp_path):
    return build(tmp_path / "lh")


@pytest.fixture
def alice(lake):
    with glashaus.connect(lake, user="alice") as lh:
        yield lh


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory):
    """One lakehouse for the tests that check a statement changes nothing, connected as alice."""
    with glashaus.connect(build(tmp_path_factory.mktemp("grants") / "lh"), user="alice") as lh:
        yield lh


def as_user(lake, user):
    return glashaus.connect(lake, user=user)


def can(fn) -> bool:
    try:
        fn()
    except PermissionDeniedError:
        return False
    return True


def grants_of(lh, on=ORDERS):
    return sorted((g.principal, g.privilege, g.on) for g in lh.show_grants(on))


def status(result) -> str:
    return result.to_pylist()[0]["status"]


# -- each form works and changes what someone else can do --------------------------------------------


def test_grant_select_lets_bob_read_and_revoke_takes_it_away(lake, alice):
    with as_user(lake, "bob") as bob:
        read = lambda: bob.sql(f"SELECT count(*) FROM {ORDERS}").scalar()
        assert not can(read)
        r = alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO bob")
        assert r.statement == "GRANT" and status(r) == "granted USE SCHEMA on schema main.shop to bob"
        assert not can(read)  # USE SCHEMA alone shows the schema, not the rows
        r = alice.sql(f"GRANT SELECT ON TABLE {ORDERS} TO bob")
        assert status(r) == f"granted SELECT on table {ORDERS} to bob"
        assert r.to_pylist()[0]["table"] == ORDERS
        assert read() == 2
        assert not can(lambda: bob.sql(f"INSERT INTO {ORDERS} VALUES (3, 1)"))  # SELECT is not MODIFY
        r = alice.sql(f"revoke select on table {ORDERS} from bob;")  # keywords in any case, trailing ;
        assert r.statement == "REVOKE" and status(r) == f"revoked SELECT on table {ORDERS} from bob"
        assert not can(read)


def test_several_privileges_at_once_and_through_a_group(lake, alice):
    alice.sql("GRANT USE SCHEMA, SELECT ON SCHEMA main.shop TO analysts")  # bob is in analysts
    alice.sql(f"GRANT SELECT, MODIFY ON TABLE {ORDERS} TO carol")
    alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO carol")
    with as_user(lake, "bob") as bob, as_user(lake, "carol") as carol:
        assert bob.sql("SELECT count(*) FROM main.shop.big").scalar() == 1  # inherited from the schema
        assert not can(lambda: bob.sql(f"INSERT INTO {ORDERS} VALUES (3, 1)"))
        carol.sql(f"INSERT INTO {ORDERS} VALUES (3, 1)")
        assert carol.sql(f"SELECT count(*) FROM {ORDERS}").scalar() == 3
        alice.sql("REVOKE USE SCHEMA, SELECT ON SCHEMA main.shop FROM analysts")
        assert not can(lambda: bob.sql("SELECT count(*) FROM main.shop.big"))


def test_grant_on_a_view_reaches_the_view_only(lake, alice):
    alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO bob")
    alice.sql("GRANT SELECT ON VIEW main.shop.big TO bob")
    with as_user(lake, "bob") as bob:
        assert bob.sql("SELECT id FROM main.shop.big").fetchall() == [(2,)]
        assert not can(lambda: bob.sql(f"SELECT * FROM {ORDERS}"))


def test_grant_on_a_volume(lake, alice):
    alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO bob")
    with as_user(lake, "bob") as bob:
        assert not can(lambda: bob.get_file("main.shop.files", "a.txt"))
        alice.sql("GRANT READ VOLUME ON VOLUME main.shop.files TO bob")
        assert bob.get_file("main.shop.files", "a.txt") == b"hello"
        assert not can(lambda: bob.put_file("main.shop.files", "b.txt", b"x"))
        alice.sql("GRANT WRITE VOLUME ON VOLUME main.shop.files TO bob")
        bob.put_file("main.shop.files", "b.txt", b"x")


def test_grant_on_a_catalog_and_on_the_metastore(lake, alice):
    with as_user(lake, "bob") as bob:
        assert not can(lambda: bob.create_catalog("bobs"))
        r = alice.sql("GRANT CREATE CATALOG ON METASTORE TO bob")
        assert status(r) == "granted CREATE CATALOG on the metastore to bob"
        assert r.to_pylist()[0]["table"] is None
        assert alice.sql("SHOW GRANTS ON METASTORE").to_pylist() == [
            {
                "principal": "bob",
                "privilege": "CREATE CATALOG",
                "on": "METASTORE",
                "inherited": False,
                "granted_by": "alice",
            }
        ]
        bob.create_catalog("bobs")
        alice.sql("REVOKE CREATE CATALOG ON METASTORE FROM bob")
        assert not can(lambda: bob.create_catalog("bobs2"))
        alice.create_catalog("dev")
        alice.create_schema("dev.s")
        with as_user(lake, "carol") as carol:
            assert not can(lambda: carol.create_schema("dev.carols"))
            alice.sql("GRANT USE CATALOG, CREATE SCHEMA ON CATALOG dev TO carol")
            carol.create_schema("dev.carols")
            assert alice.get("dev.carols").owner == "carol"


def test_quoted_principals(lake, alice):
    alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO `carol@example.com`")
    alice.sql(f'GRANT SELECT ON TABLE {ORDERS} TO "Carol@Example.com"')  # names are case-insensitive
    with as_user(lake, "carol@example.com") as carol:
        assert carol.sql(f"SELECT count(*) FROM {ORDERS}").scalar() == 2
    shown = alice.sql(f"SHOW GRANTS `carol@example.com` ON TABLE {ORDERS}").to_pylist()
    assert {(r["privilege"], r["on"], r["inherited"]) for r in shown} == {
        ("SELECT", ORDERS, False),
        ("USE SCHEMA", "main.shop", True),
    }


def test_show_grants_lists_direct_and_inherited_grants_and_filters_by_principal(lake, alice):
    alice.sql(f"GRANT SELECT ON TABLE {ORDERS} TO analysts")
    alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO analysts")
    result = alice.sql(f"SHOW GRANTS ON TABLE {ORDERS}")
    assert result.statement == "SHOW GRANTS"
    assert result.columns == ["principal", "privilege", "on", "inherited", "granted_by"]
    rows = result.to_pylist()
    assert {
        "principal": "analysts",
        "privilege": "SELECT",
        "on": ORDERS,
        "inherited": False,
        "granted_by": "alice",
    } in rows
    assert {
        "principal": "users",
        "privilege": "USE CATALOG",
        "on": "main",
        "inherited": True,
        "granted_by": "alice",
    } in rows
    assert rows == [g.to_dict() for g in alice.show_grants(ORDERS)]  # the same implementation as the Python API
    only = alice.sql(f"SHOW GRANTS analysts ON TABLE {ORDERS}").to_pylist()
    assert {(r["privilege"], r["on"]) for r in only} == {("SELECT", ORDERS), ("USE SCHEMA", "main.shop")}
    assert alice.sql("SHOW GRANTS bob ON SCHEMA main.shop").num_rows == 0
    empty = alice.sql("SHOW GRANTS ON VOLUME main.shop.files")
    assert empty.to_arrow().schema.field("inherited").type == pa.bool_()
    with pytest.raises(NotFoundError, match="principal 'nobody' does not exist"):
        alice.sql(f"SHOW GRANTS nobody ON TABLE {ORDERS}")


def test_show_grants_needs_to_see_the_object(lake, alice):
    with as_user(lake, "carol") as carol, pytest.raises(PermissionDeniedError, match="USE SCHEMA"):
        carol.sql(f"SHOW GRANTS ON TABLE {ORDERS}")


def test_sql_and_python_grants_are_the_same_grants(lake, alice):
    alice.sql(f"GRANT MODIFY ON TABLE {ORDERS} TO bob")
    alice.grant("SELECT", on=ORDERS, to="bob")
    assert status(alice.sql(f"GRANT SELECT, MODIFY ON TABLE {ORDERS} TO bob")) == (
        f"bob already held SELECT, MODIFY on table {ORDERS}"
    )
    alice.revoke("MODIFY", on=ORDERS, from_="bob")
    assert status(alice.sql(f"REVOKE SELECT, MODIFY ON TABLE {ORDERS} FROM bob")) == (
        f"revoked SELECT on table {ORDERS} from bob; bob held no direct MODIFY grant on table {ORDERS}"
    )
    assert ("bob", "SELECT", ORDERS) not in grants_of(alice)


def test_alter_owner_hands_over_every_right(lake, alice):
    with as_user(lake, "bob") as bob:
        assert not can(lambda: bob.sql(f"GRANT SELECT ON TABLE {ORDERS} TO carol"))
        alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO bob")
        r = alice.sql(f"ALTER TABLE {ORDERS} OWNER TO bob")
        assert r.statement == "ALTER TABLE" and status(r) == f"owner of table {ORDERS} is now bob"
        assert alice.get(ORDERS).owner == "bob"
        assert bob.sql(f"SELECT count(*) FROM {ORDERS}").scalar() == 2
        bob.sql(f"GRANT SELECT ON TABLE {ORDERS} TO carol")  # owners may grant
        bob.sql(f"ALTER TABLE {ORDERS} SET OWNER TO analysts")  # and give it away
        assert alice.get(ORDERS).owner == "analysts"
        assert bob.sql(f"SELECT count(*) FROM {ORDERS}").scalar() == 2  # bob is in analysts
    alice.sql("ALTER VIEW main.shop.big OWNER TO `carol@example.com`")
    alice.sql("ALTER VOLUME main.shop.files OWNER TO carol")
    alice.sql("ALTER SCHEMA main.shop OWNER TO analysts")
    alice.sql("ALTER CATALOG main OWNER TO alice")
    assert [alice.get(n).owner for n in ("main.shop.big", "main.shop.files", "main.shop", "main")] == [
        "carol@example.com",
        "carol",
        "analysts",
        "alice",
    ]


def test_statements_mix_with_others_in_a_script(lake, alice):
    r = alice.sql(
        f"GRANT USE SCHEMA ON SCHEMA main.shop TO bob; GRANT SELECT ON TABLE {ORDERS} TO bob; "
        f"SELECT count(*) FROM {ORDERS}"
    )
    assert r.scalar() == 2
    with as_user(lake, "bob") as bob:
        assert bob.sql(f"SELECT count(*) FROM {ORDERS}").scalar() == 2
    # Forms sqlglot reads as a generic Command, inside a script:
    r = alice.sql(
        "GRANT USE CATALOG ON CATALOG main TO `carol@example.com`;\n"
        "ALTER VOLUME main.shop.files OWNER TO carol;\n"
        "SHOW GRANTS `carol@example.com` ON CATALOG main"
    )
    assert r.to_pylist() == [
        {
            "principal": "carol@example.com",
            "privilege": "USE CATALOG",
            "on": "main",
            "inherited": False,
            "granted_by": "alice",
        }
    ]
    assert alice.get("main.shop.files").owner == "carol"


# -- denied ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        f"GRANT SELECT ON TABLE {ORDERS} TO carol",
        f"REVOKE SELECT ON TABLE {ORDERS} FROM bob",
        "GRANT USE SCHEMA ON SCHEMA main.shop TO carol",
        f"ALTER TABLE {ORDERS} OWNER TO carol",
        "GRANT CREATE CATALOG ON METASTORE TO carol",
    ],
)
def test_without_manage_grants_are_denied_and_audited(lake, alice, statement):
    alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO carol")
    alice.sql(f"GRANT SELECT ON TABLE {ORDERS} TO carol")  # reading is not managing
    before = grants_of(alice), alice.get(ORDERS).owner
    with as_user(lake, "carol") as carol, pytest.raises(PermissionDeniedError) as denied:
        carol.sql(statement)
    message = str(denied.value)
    assert "carol" in message
    assert ("MANAGE" in message and "GRANT MANAGE ON" in message) or "admins" in message
    assert (grants_of(alice), alice.get(ORDERS).owner) == before
    alice.flush()
    events = alice.sql(
        "SELECT action, decision FROM system.access.audit WHERE principal = 'carol' AND decision = 'deny'"
    ).fetchall()
    assert {a for a, _ in events} & {"grant", "revoke", "owner.change"}


# -- errors: each names the thing and the fix, and nothing changes --------------------------------------------

ERRORS = [
    (
        f"GRANT SELECT ON VIEW {ORDERS} TO bob",
        InvalidArgumentError,
        [f"{ORDERS} is a table, not a view", f"TABLE {ORDERS}"],
    ),
    (
        "GRANT SELECT ON TABLE main.shop.big TO bob",
        InvalidArgumentError,
        ["main.shop.big is a view, not a table", "VIEW main.shop.big"],
    ),
    (f"GRANT READ VOLUME ON VOLUME {ORDERS} TO bob", InvalidArgumentError, ["is a table, not a volume"]),
    (f"SHOW GRANTS ON VOLUME {ORDERS}", InvalidArgumentError, ["is a table, not a volume"]),
    (f"ALTER VIEW {ORDERS} OWNER TO bob", InvalidArgumentError, ["is a table, not a view"]),
    (
        f"GRANT SELEKT ON TABLE {ORDERS} TO bob",
        InvalidArgumentError,
        ["unknown privilege 'SELEKT'", "valid privileges", "SELECT"],
    ),
    (f"GRANT SELECT, FLY ON TABLE {ORDERS} TO bob", InvalidArgumentError, ["unknown privilege 'FLY'"]),
    (
        f"GRANT USE CATALOG ON TABLE {ORDERS} TO bob",
        InvalidArgumentError,
        ["USE CATALOG cannot be granted on a table", "SELECT"],
    ),
    ("GRANT SELECT ON METASTORE TO bob", InvalidArgumentError, ["cannot be granted on a metastore", "CREATE CATALOG"]),
    (f"GRANT SELECT ON TABLE {ORDERS} TO nobody", NotFoundError, ["principal 'nobody' does not exist", "create"]),
    (f"REVOKE SELECT ON TABLE {ORDERS} FROM `nobody@example.com`", NotFoundError, ["'nobody@example.com'"]),
    (f"ALTER TABLE {ORDERS} OWNER TO nobody", InvalidArgumentError, ["'nobody'", "no such user or group"]),
    ("GRANT SELECT ON TABLE main.shop.missing TO bob", NotFoundError, ["main.shop.missing", "does not exist"]),
    ("GRANT USE SCHEMA ON SCHEMA main.nowhere TO bob", NotFoundError, ["main.nowhere"]),
    ("GRANT SELECT ON TABLE main.shop TO bob", InvalidNameError, ["a table name is catalog.schema.name", "main.shop"]),
    ("GRANT USE CATALOG ON CATALOG main.shop TO bob", InvalidNameError, ["a catalog name is catalog"]),
    (f"GRANT SELECT ON {ORDERS} TO bob", SqlError, ["needs the securable's kind", f"ON TABLE {ORDERS}"]),
    (f"GRANT SELECT ON TABLE {ORDERS} TO bob WITH GRANT OPTION", SqlError, ["WITH GRANT OPTION", "MANAGE"]),
    (f"GRANT SELECT ON TABLE {ORDERS} TO ROLE bob", SqlError, ["ROLE is not supported"]),
    (f"GRANT SELECT ON TABLE {ORDERS} TO bob, carol", SqlError, ["names 2 principals", "group"]),
    (f"GRANT SELECT (id) ON TABLE {ORDERS} TO bob", SqlError, ["column-level privileges", "column mask"]),
    (f"REVOKE SELECT ON TABLE {ORDERS} FROM bob CASCADE", SqlError, ["CASCADE is not supported"]),
    (f"GRANT SELECT ON TABLE {ORDERS} FROM bob", SqlError, ["GRANT ... TO <principal>"]),
    (f"GRANT EXECUTE ON FUNCTION {ORDERS} TO bob", SqlError, ["FUNCTION are not supported", "TABLE", "METASTORE"]),
    (f"GRANT SELECT ON MODEL {ORDERS} TO bob", SqlError, ["Supported forms", "ON METASTORE"]),
    (f"SHOW GRANTS ON {ORDERS}", SqlError, ["Supported forms"]),
    (f"GRANT SELECT ON TABLE {ORDERS}@v1 TO bob", SqlError, ["Supported forms"]),
    (f"GRANT SELECT ON TABLE {ORDERS} TO 'bob'x", SqlError, []),
    ("SHOW GRANTS ON CATALOG metastore", InvalidArgumentError, ["'metastore'", "rename"]),
]


@pytest.mark.parametrize(("statement", "error", "needles"), ERRORS, ids=[e[0][:60] for e in ERRORS])
def test_errors_name_the_thing_and_the_fix(unchanged, statement, error, needles):
    alice = unchanged
    before = grants_of(alice), alice.get(ORDERS).owner, grants_of(alice, None)
    with pytest.raises(error) as caught:
        alice.sql(statement)
    for needle in needles:
        assert needle in str(caught.value), (needle, str(caught.value))
    assert (grants_of(alice), alice.get(ORDERS).owner, grants_of(alice, None)) == before


# -- injection: names and principals can never carry SQL -------------------------------------------------------

INJECTIONS = [
    (f"GRANT SELECT ON TABLE {ORDERS} TO `bob; DROP TABLE {ORDERS}`", InvalidNameError),
    (f'GRANT SELECT ON TABLE {ORDERS} TO "bob; DROP TABLE {ORDERS}"', InvalidNameError),
    (f"GRANT USE SCHEMA ON SCHEMA main.shop TO `bob; DROP TABLE {ORDERS}; --`", InvalidNameError),
    (f"ALTER TABLE {ORDERS} OWNER TO `bob; DROP TABLE {ORDERS}`", InvalidNameError),
    (f"SHOW GRANTS `bob; DROP TABLE {ORDERS}` ON TABLE {ORDERS}", InvalidNameError),
    (f"""GRANT SELECT ON TABLE {ORDERS} TO "bob' OR '1'='1\"""", InvalidNameError),
    (f'GRANT SELECT ON TABLE main.shop."orders; DROP TABLE {ORDERS}" TO bob', InvalidNameError),
    (f"GRANT SELECT ON TABLE main.shop.`orders; DROP TABLE {ORDERS}` TO bob", InvalidNameError),
    ('ALTER TABLE main.shop."orders"" OR 1=1" OWNER TO bob', SqlError),
    ("GRANT SELECT ON TABLE main.shop.`or'ders` TO bob", InvalidNameError),
    (f"GRANT SELECT ON TABLE {ORDERS}; DROP TABLE {ORDERS} TO bob", SqlError),
    (f"GRANT SELECT ON TABLE {ORDERS}; DROP TABLE {ORDERS}", SqlError),
    (f"ALTER TABLE {ORDERS} OWNER TO; DROP TABLE {ORDERS}", SqlError),
    (f"GRANT SELECT; DROP TABLE {ORDERS} ON TABLE {ORDERS} TO bob", SqlError),
    (f"GRANT SELECT ON TABLE {ORDERS} TO bob\x00; DROP TABLE {ORDERS}", (InvalidNameError, SqlError)),
]


@pytest.mark.parametrize(("statement", "error"), INJECTIONS, ids=[i[0][:70] for i in INJECTIONS])
def test_names_and_principals_cannot_carry_sql(unchanged, statement, error):
    alice = unchanged
    before = grants_of(alice), alice.get(ORDERS).owner
    with pytest.raises(error):
        alice.sql(statement)
    assert alice.sql(f"SELECT count(*) FROM {ORDERS}").scalar() == 2  # never dropped
    assert (grants_of(alice), alice.get(ORDERS).owner) == before


def test_a_statement_after_a_denied_grant_never_runs(lake, alice):
    """``... TO bob; DROP TABLE ...`` is two statements, each authorized: carol's grant is
    denied, and the script stops there."""
    alice.sql("GRANT USE SCHEMA ON SCHEMA main.shop TO carol")
    with as_user(lake, "carol") as carol, pytest.raises(PermissionDeniedError):
        carol.sql(f"GRANT SELECT ON TABLE {ORDERS} TO bob; DROP TABLE {ORDERS}")
    assert alice.get(ORDERS).kind == "table"
    assert ("bob", "SELECT", ORDERS) not in grants_of(alice)


def test_a_comment_cannot_hide_a_second_statement(lake, alice):
    alice.sql(f"GRANT SELECT ON TABLE {ORDERS} TO bob -- ; DROP TABLE {ORDERS}")
    assert alice.get(ORDERS).kind == "table"
    assert ("bob", "SELECT", ORDERS) in grants_of(alice)


# -- reading: sqlglot's AST and the regex agree ------------------------------------------------------------------

BOTH_WAYS = [
    f"GRANT SELECT ON TABLE {ORDERS} TO bob",
    f"GRANT SELECT, MODIFY ON TABLE {ORDERS} TO bob",
    'GRANT ALL PRIVILEGES ON SCHEMA main.shop TO "carol@example.com"',
    "GRANT CREATE TABLE ON SCHEMA main.shop TO analysts",
    "GRANT CREATE CATALOG ON METASTORE TO bob",
    "REVOKE SELECT ON VIEW main.shop.big FROM bob",
    "grant select on table Main.Shop.Orders to Bob",
]


@pytest.mark.parametrize("statement", BOTH_WAYS)
def test_sqlglots_own_tree_and_our_reading_of_the_text_agree(statement):
    import sqlglot

    (tree,) = sqlglot.parse(statement, read="duckdb")
    assert type(tree).__name__ in ("Grant", "Revoke")  # sqlglot parses this form: the AST is used
    assert grant_sql.from_ast(tree) == grant_sql.read(statement)


def test_forms_duckdbs_dialect_does_not_parse_are_read_by_ours():
    read = grant_sql.read
    assert read("GRANT USE CATALOG ON CATALOG main TO `a@b.c`") == grant_sql.GrantStatement(
        "GRANT", "catalog", "main", "a@b.c", ("USE CATALOG",)
    )
    assert read("REVOKE READ VOLUME, WRITE VOLUME ON VOLUME main.shop.files FROM bob") == grant_sql.GrantStatement(
        "REVOKE", "volume", "main.shop.files", "bob", ("READ VOLUME", "WRITE VOLUME")
    )
    assert read("SHOW GRANTS ON METASTORE") == grant_sql.GrantStatement("SHOW GRANTS", "metastore", None, None)
    assert read("show grants `X@y.z` on table main.shop.orders") == grant_sql.GrantStatement(
        "SHOW GRANTS", "table", ORDERS, "x@y.z"
    )
    assert read("ALTER SCHEMA main.shop SET OWNER TO analysts") == grant_sql.GrantStatement(
        "OWNER", "schema", "main.shop", "analysts"
    )
    assert read("GRANT ALL ON CATALOG main TO bob").privileges == ("ALL PRIVILEGES",)


@pytest.mark.timeout(120)  # a hang guard (quadratic or worse parsing), not a speed assertion
def test_long_garbage_is_refused_quickly(unchanged):
    for statement in [
        "GRANT S" + " " * 50_000 + "x",
        "GRANT " + "A ," * 20_000 + "ON TABLE x TO y z",
        "ALTER TABLE " + "a " * 20_000 + "OWNER TO",
        "SHOW GRANTS " + "`" * 50_001,
    ]:
        with pytest.raises(SqlError):
            unchanged.sql(statement)


def test_sqlglot_fallback_warning_is_silenced_only_inside_grant_parsing(caplog):
    """GRANT forms sqlglot does not know (READ VOLUME) fall back to a Command in DuckDB's dialect:
    no alarming log line for them, while sqlglot's warnings elsewhere (other calls, other threads) still go out."""
    sql = "GRANT READ VOLUME ON VOLUME main.shop.files TO bob"
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        assert grant_sql.read(sql).privileges == ("READ VOLUME",)
        assert not [r for r in caplog.records if r.name == "sqlglot"]

        sqlglot.parse_one(sql, read="duckdb")  # outside read(): sqlglot's warning is untouched
        assert "Falling back to parsing as a 'Command'" in caplog.text
        caplog.clear()

        # While one thread is inside read(), another thread's sqlglot warning still goes out.
        with quiet_fallback():
            worker = threading.Thread(target=lambda: sqlglot.parse_one(sql, read="duckdb"))
            worker.start()
            worker.join(timeout=30)
        assert "Falling back to parsing as a 'Command'" in caplog.text

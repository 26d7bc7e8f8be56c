"""No path around the grants: a user allowed to SELECT one table can do nothing else.

bob holds USE SCHEMA on main.shop and SELECT on main.shop.orders, nothing more (plus
what every user gets on main.default). Every other way in — Python writes, every SQL
statement shape, volumes, table maintenance, metadata, lineage, grants — must raise
PermissionDeniedError naming the missing privilege, the securable and the GRANT that
fixes it, leave a 'deny' row in system.access.audit, and change nothing.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import PermissionDeniedError

ORDERS = "main.shop.orders"
SECRET = "main.shop.secret"
FILES = "main.shop.files"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """admin (first user) owns main.shop with orders, secret and volume files; bob may read orders only."""
    root = tmp_path_factory.mktemp("paths") / "lh"
    with glashaus.connect(root, user="admin") as admin:
        admin.create_user("bob")
        admin.create_schema("main.shop")
        admin.create_table(ORDERS, data=pa.table({"id": [1, 2], "qty": [5, 50]}), primary_key=["id"])
        admin.create_table(SECRET, data=pa.table({"id": [1, 2], "ssn": ["111", "222"]}))
        admin.sql(f"CREATE TABLE main.shop.derived AS SELECT id FROM {SECRET}")  # lineage secret -> derived
        admin.create_volume(FILES)
        admin.put_file(FILES, "a.txt", b"hello")
        admin.grant("USE SCHEMA", on="main.shop", to="bob")
        admin.grant("SELECT", on=ORDERS, to="bob")
    with glashaus.connect(root, user="bob") as bob:  # every user may create tables in main.default
        bob.create_table("main.default.mine", schema=pa.schema([("id", pa.int64()), ("qty", pa.int64())]))
    return root


@pytest.fixture(scope="module")
def admin(lake):
    with glashaus.connect(lake, user="admin") as lh:
        yield lh


@pytest.fixture(scope="module")
def bob(lake):
    with glashaus.connect(lake, user="bob") as lh:
        yield lh


def denials_since(admin, principal: str, since: dt.datetime) -> list[dict]:
    """The 'deny' audit rows of ``principal`` written after ``since`` (reading a system table flushes)."""
    rows = admin.sql(
        "SELECT action, privilege, securable, reason, details, event_time FROM system.access.audit "
        f"WHERE principal = '{principal}' AND decision = 'deny' ORDER BY event_time"
    ).to_pylist()
    return [r for r in rows if r["event_time"] >= since]


def state(admin) -> tuple:
    """What a denied call must not change: versions, grants, owners, comments, files, objects."""
    return (
        admin.describe(ORDERS).version,
        admin.describe(SECRET).version,
        sorted((g.principal, g.privilege, g.on) for g in admin.show_grants(ORDERS)),
        admin.get(ORDERS).owner,
        admin.get(ORDERS).comment,
        admin.get(ORDERS).tags,
        [f.path for f in admin.list_files(FILES)],
        sorted(s.full_name for s in admin.list("main.shop")),
        sorted(s.full_name for s in admin.list("main.default")),
        sorted(s.full_name for s in admin.list("main")),
    )


ROW = pa.table({"id": [9], "qty": [1]})
MODIFY_ORDERS = ("MODIFY", "table", ORDERS)
SELECT_SECRET = ("SELECT", "table", SECRET)
MANAGE_ORDERS = ("MANAGE", "table", ORDERS)

#: (id, call as bob, (missing privilege, securable kind, securable)).
DENIED = [
    # Python writes
    ("write append", lambda b: b.write(ORDERS, ROW), MODIFY_ORDERS),
    ("write merge", lambda b: b.write(ORDERS, ROW, mode="merge"), MODIFY_ORDERS),
    ("write overwrite", lambda b: b.write(ORDERS, ROW, mode="overwrite"), MODIFY_ORDERS),
    (
        "write declaring an unreadable upstream",
        lambda b: b.write("main.default.mine", ROW, upstream=[SECRET]),
        SELECT_SECRET,
    ),
    # SQL writes and DDL
    ("INSERT", lambda b: b.sql(f"INSERT INTO {ORDERS} VALUES (9, 1)"), MODIFY_ORDERS),
    ("INSERT ... SELECT", lambda b: b.sql(f"INSERT INTO {ORDERS} SELECT id + 10, qty FROM {ORDERS}"), MODIFY_ORDERS),
    ("UPDATE", lambda b: b.sql(f"UPDATE {ORDERS} SET qty = 0"), MODIFY_ORDERS),
    ("DELETE", lambda b: b.sql(f"DELETE FROM {ORDERS} WHERE id = 1"), MODIFY_ORDERS),
    (
        "MERGE",
        lambda b: b.sql(
            f"MERGE INTO {ORDERS} t USING (SELECT 9 AS id, 1 AS qty) s ON t.id = s.id "
            "WHEN MATCHED THEN UPDATE SET qty = s.qty WHEN NOT MATCHED THEN INSERT *"
        ),
        MODIFY_ORDERS,
    ),
    (
        "CTAS into a schema without CREATE TABLE",
        lambda b: b.sql(f"CREATE TABLE main.shop.copy AS SELECT * FROM {ORDERS}"),
        ("CREATE TABLE", "schema", "main.shop"),
    ),
    (
        "CTAS from an unreadable table",
        lambda b: b.sql(f"CREATE TABLE main.default.copy AS SELECT * FROM {SECRET}"),
        SELECT_SECRET,
    ),
    (
        "CREATE OR REPLACE TABLE over a table bob does not own",
        lambda b: b.sql(f"CREATE OR REPLACE TABLE {ORDERS} AS SELECT 1 AS id"),
        ("CREATE TABLE", "schema", "main.shop"),
    ),
    (
        "CREATE VIEW in a schema without CREATE TABLE",
        lambda b: b.sql(f"CREATE VIEW main.shop.v AS SELECT * FROM {ORDERS}"),
        ("CREATE TABLE", "schema", "main.shop"),
    ),
    (
        "CREATE VIEW over an unreadable table",
        lambda b: b.sql(f"CREATE VIEW main.default.v AS SELECT * FROM {SECRET}"),
        SELECT_SECRET,
    ),
    ("DROP TABLE (readable)", lambda b: b.sql(f"DROP TABLE {ORDERS}"), MANAGE_ORDERS),
    ("DROP TABLE (unreadable)", lambda b: b.sql(f"DROP TABLE {SECRET}"), ("MANAGE", "table", SECRET)),
    ("DROP SCHEMA CASCADE", lambda b: b.sql("DROP SCHEMA main.shop CASCADE"), ("MANAGE", "schema", "main.shop")),
    ("lh.drop", lambda b: b.drop(ORDERS), MANAGE_ORDERS),
    # reads of another table, every query shape
    ("read", lambda b: b.read(SECRET), SELECT_SECRET),
    ("read an old version", lambda b: b.read(SECRET, version=1), SELECT_SECRET),
    ("SELECT", lambda b: b.sql(f"SELECT * FROM {SECRET}"), SELECT_SECRET),
    ("SELECT time travel", lambda b: b.sql(f"SELECT * FROM {SECRET}@v1"), SELECT_SECRET),
    ("JOIN", lambda b: b.sql(f"SELECT o.id, s.ssn FROM {ORDERS} o JOIN {SECRET} s ON o.id = s.id"), SELECT_SECRET),
    ("CTE", lambda b: b.sql(f"WITH s AS (SELECT * FROM {SECRET}) SELECT * FROM s"), SELECT_SECRET),
    (
        "subquery in WHERE",
        lambda b: b.sql(f"SELECT * FROM {ORDERS} WHERE id IN (SELECT id FROM {SECRET})"),
        SELECT_SECRET,
    ),
    (
        "scalar subquery",
        lambda b: b.sql(f"SELECT id, (SELECT max(ssn) FROM {SECRET}) AS x FROM {ORDERS}"),
        SELECT_SECRET,
    ),
    ("EXISTS", lambda b: b.sql(f"SELECT id FROM {ORDERS} WHERE EXISTS (SELECT 1 FROM {SECRET})"), SELECT_SECRET),
    ("derived table", lambda b: b.sql(f"SELECT * FROM (SELECT ssn FROM {SECRET}) AS t"), SELECT_SECRET),
    ("UNION", lambda b: b.sql(f"SELECT id FROM {ORDERS} UNION ALL SELECT id FROM {SECRET}"), SELECT_SECRET),
    ("DESCRIBE", lambda b: b.sql(f"DESCRIBE {SECRET}"), SELECT_SECRET),
    ("the audit table", lambda b: b.sql("SELECT * FROM system.access.audit"), ("USE CATALOG", "catalog", "system")),
    # volumes
    ("put_file", lambda b: b.put_file(FILES, "b.txt", b"x"), ("WRITE VOLUME", "volume", FILES)),
    ("delete_file", lambda b: b.delete_file(FILES, "a.txt"), ("WRITE VOLUME", "volume", FILES)),
    ("get_file", lambda b: b.get_file(FILES, "a.txt"), ("READ VOLUME", "volume", FILES)),
    ("list_files", lambda b: b.list_files(FILES), ("READ VOLUME", "volume", FILES)),
    # table maintenance and history
    ("history", lambda b: b.history(SECRET), SELECT_SECRET),
    ("describe", lambda b: b.describe(SECRET), SELECT_SECRET),
    ("changes", lambda b: b.changes(SECRET), SELECT_SECRET),
    ("restore", lambda b: b.restore(ORDERS, version=0), MODIFY_ORDERS),
    ("vacuum", lambda b: b.vacuum(ORDERS, dry_run=True), MODIFY_ORDERS),
    ("optimize", lambda b: b.optimize(ORDERS), MODIFY_ORDERS),
    # lineage
    ("lineage", lambda b: b.lineage(SECRET), SELECT_SECRET),
    ("lineage downstream", lambda b: b.lineage(SECRET, direction="downstream"), SELECT_SECRET),
    ("column lineage", lambda b: b.column_lineage(SECRET), SELECT_SECRET),
    # metadata
    ("set_tags", lambda b: b.set_tags(ORDERS, {"tier": "gold"}), MANAGE_ORDERS),
    ("set column tags", lambda b: b.set_tags(ORDERS, {"pii": "no"}, column="qty"), MANAGE_ORDERS),
    ("unset_tags", lambda b: b.unset_tags(ORDERS, ["tier"]), MANAGE_ORDERS),
    ("set_comment", lambda b: b.set_comment(ORDERS, "mine now"), MANAGE_ORDERS),
    ("set column comment", lambda b: b.set_comment(ORDERS, "x", column="qty"), MANAGE_ORDERS),
    ("set_properties", lambda b: b.set_properties(ORDERS, {"a": "b"}), MANAGE_ORDERS),
    ("set_row_filter", lambda b: b.set_row_filter(ORDERS, "true"), MANAGE_ORDERS),
    # grants and ownership
    ("grant", lambda b: b.grant("SELECT", on=ORDERS, to="bob"), MANAGE_ORDERS),
    ("grant MODIFY to oneself", lambda b: b.grant("MODIFY", on=ORDERS, to="bob"), MANAGE_ORDERS),
    ("revoke", lambda b: b.revoke("SELECT", on=ORDERS, from_="bob"), MANAGE_ORDERS),
    ("show_grants of an unreadable table", lambda b: b.show_grants(SECRET), SELECT_SECRET),
    # creating things
    (
        "create_table",
        lambda b: b.create_table("main.shop.t", schema=pa.schema([("a", pa.int64())])),
        ("CREATE TABLE", "schema", "main.shop"),
    ),
    ("create_volume", lambda b: b.create_volume("main.shop.vol"), ("CREATE VOLUME", "schema", "main.shop")),
    ("create_schema", lambda b: b.create_schema("main.bobs"), ("CREATE SCHEMA", "catalog", "main")),
]


@pytest.mark.parametrize(("call", "missing"), [d[1:] for d in DENIED], ids=[d[0] for d in DENIED])
def test_every_other_path_is_denied_audited_and_changes_nothing(admin, bob, call, missing):
    privilege, kind, securable = missing
    before = state(admin)
    since = dt.datetime.now(dt.UTC)
    with pytest.raises(PermissionDeniedError) as caught:
        call(bob)
    message = str(caught.value)
    sql_kind = {"table": "TABLE", "schema": "SCHEMA", "catalog": "CATALOG", "volume": "VOLUME"}[kind]
    assert f"lacks {privilege} on {kind} {securable}" in message, message
    assert f"GRANT {privilege} ON {sql_kind} {securable} TO bob" in message, message
    denied = denials_since(admin, "bob", since)
    assert denied, "the denial was not audited"
    assert denied[-1]["reason"] == message
    assert securable in (denied[-1]["securable"] or "")  # what was asked for (a table inside 'system', say)
    assert state(admin) == before


def test_creating_a_catalog_is_denied_with_the_metastore_grant_to_ask_for(admin, bob):
    since = dt.datetime.now(dt.UTC)
    with pytest.raises(PermissionDeniedError, match="GRANT CREATE CATALOG ON METASTORE TO bob"):
        bob.create_catalog("bobs")
    assert [(d["action"], d["privilege"]) for d in denials_since(admin, "bob", since)] == [
        ("catalog.create", "CREATE CATALOG")
    ]
    assert "bobs" not in [c.full_name for c in admin.list()]


def test_a_denied_statement_reads_nothing_even_when_the_readable_part_comes_first(bob):
    # The statement is checked whole before it runs: no partial result escapes.
    with pytest.raises(PermissionDeniedError):
        bob.sql(f"SELECT id FROM {ORDERS} UNION ALL SELECT ssn FROM {SECRET}").to_pylist()


def test_the_allowed_path_works(bob):
    assert bob.read(ORDERS).sort_by("id").to_pylist() == [{"id": 1, "qty": 5}, {"id": 2, "qty": 50}]
    assert bob.read(ORDERS, version=1).num_rows == 2
    assert bob.sql(f"SELECT sum(qty) FROM {ORDERS}").scalar() == 55
    assert bob.sql(f"SELECT count(*) FROM {ORDERS} a JOIN {ORDERS} b ON a.id = b.id").scalar() == 2
    assert bob.sql(f"WITH o AS (SELECT * FROM {ORDERS}) SELECT max(qty) FROM o").scalar() == 50
    assert bob.describe(ORDERS).num_rows == 2
    assert next(h.version for h in bob.history(ORDERS)) == 1
    assert bob.changes(ORDERS).num_rows == 2
    assert bob.lineage(ORDERS) == []
    assert [s.full_name for s in bob.list("main.shop")] == [ORDERS]
    assert {(g.principal, g.privilege) for g in bob.show_grants(ORDERS)} == {
        ("bob", "SELECT"),
        ("bob", "USE SCHEMA"),
        ("users", "USE CATALOG"),
    }


def test_what_every_user_may_do_in_main_default_still_works(bob):
    # bob may copy what he can read into main.default (users hold CREATE TABLE there) and owns the copy.
    bob.sql(f"CREATE TABLE main.default.my_orders AS SELECT * FROM {ORDERS}")
    assert bob.get("main.default.my_orders").owner == "bob"
    bob.write("main.default.my_orders", pa.table({"id": [3], "qty": [1]}))
    assert bob.sql("SELECT count(*) FROM main.default.my_orders").scalar() == 3
    bob.drop("main.default.my_orders")


# -- views run with their owner's rights ------------------------------------------------------------


@pytest.fixture
def views(tmp_path):
    """alice (not an admin) may read secret and create tables in main.shop; she defines main.shop.ids over it."""
    root = tmp_path / "lh"
    with glashaus.connect(root, user="admin") as admin:
        for user in ("alice", "bob"):
            admin.create_user(user)
        admin.create_schema("main.shop")
        admin.create_table(SECRET, data=pa.table({"id": [1, 2], "ssn": ["111", "222"]}))
        admin.create_table(ORDERS, data=pa.table({"id": [1], "qty": [5]}))
        for user in ("alice", "bob"):
            admin.grant("USE SCHEMA", on="main.shop", to=user)
        admin.grant("CREATE TABLE", on="main.shop", to="alice")
        admin.grant("SELECT", on=SECRET, to="alice")
        admin.grant("SELECT", on=ORDERS, to="bob")
    with glashaus.connect(root, user="alice") as alice:
        alice.create_view("main.shop.ids", f"SELECT id, ssn FROM {SECRET}")
    return root


def test_a_view_reads_with_its_owners_rights(views):
    with glashaus.connect(views, user="alice") as alice, glashaus.connect(views, user="bob") as bob:
        with pytest.raises(PermissionDeniedError, match=r"bob lacks SELECT on view main.shop.ids"):
            bob.sql("SELECT * FROM main.shop.ids")
        alice.grant("SELECT", on="main.shop.ids", to="bob")  # the owner of the view may grant on it
        # Unity Catalog's rule: SELECT on the view is enough; bob needs nothing on the table below.
        assert bob.sql("SELECT id, ssn FROM main.shop.ids ORDER BY id").fetchall() == [(1, "111"), (2, "222")]
        assert bob.sql(f"SELECT count(*) FROM main.shop.ids v JOIN {ORDERS} o ON v.id = o.id").scalar() == 1
        assert [c.name for c in bob.describe("main.shop.ids").columns] == ["id", "ssn"]
        with pytest.raises(PermissionDeniedError, match=f"bob lacks SELECT on table {SECRET}"):
            bob.sql(f"SELECT * FROM {SECRET}")  # the table itself stays closed


def test_a_view_stops_working_when_its_owner_loses_the_right(views):
    with glashaus.connect(views, user="admin") as admin, glashaus.connect(views, user="bob") as bob:
        admin.grant("SELECT", on="main.shop.ids", to="bob")
        assert bob.sql("SELECT count(*) FROM main.shop.ids").scalar() == 2
        admin.revoke("SELECT", on=SECRET, from_="alice")
        since = dt.datetime.now(dt.UTC)
        with pytest.raises(PermissionDeniedError) as caught:
            bob.sql("SELECT count(*) FROM main.shop.ids")
        assert f"alice lacks SELECT on table {SECRET}" in str(caught.value)
        assert f"GRANT SELECT ON TABLE {SECRET} TO alice" in str(caught.value)
        # The owner is the one checked; the audit row also says who asked.
        row = denials_since(admin, "alice", since)[-1]
        assert (row["privilege"], row["securable"]) == ("SELECT", SECRET)
        assert json.loads(row["details"])["reader"] == "bob"


def test_a_view_over_something_its_creator_cannot_read_cannot_be_created(views):
    with glashaus.connect(views, user="bob") as bob:
        with pytest.raises(PermissionDeniedError, match=f"bob lacks SELECT on table {SECRET}"):
            bob.sql(f"CREATE VIEW main.default.leak AS SELECT * FROM {SECRET}")
        assert "main.default.leak" not in [s.full_name for s in bob.list("main.default")]


def test_replacing_someone_elses_view_needs_manage_on_it(views):
    with glashaus.connect(views, user="admin") as admin, glashaus.connect(views, user="bob") as bob:
        admin.grant("CREATE TABLE", on="main.shop", to="bob")  # bob may create views in main.shop...
        with pytest.raises(PermissionDeniedError) as caught:  # ...but not take over alice's
            bob.create_view("main.shop.ids", f"SELECT id, qty AS ssn FROM {ORDERS}", replace=True)
        assert "bob lacks MANAGE on view main.shop.ids" in str(caught.value)
        assert "GRANT MANAGE ON VIEW main.shop.ids TO bob" in str(caught.value)
        with pytest.raises(PermissionDeniedError, match=r"MANAGE on view main.shop.ids"):
            bob.sql(f"CREATE OR REPLACE VIEW main.shop.ids AS SELECT * FROM {ORDERS}")
        view = admin.get("main.shop.ids")
        assert view.owner == "alice" and SECRET in view.spec["sql"]
        admin.grant("MANAGE", on="main.shop.ids", to="bob")
        bob.create_view("main.shop.ids", f"SELECT id FROM {ORDERS}", replace=True)
        assert admin.get("main.shop.ids").owner == "bob"


def test_every_check_made_inside_nested_views_records_the_reader(views):
    """bob reads carol's view over alice's view over the table: each owner is checked, bob is recorded."""
    with glashaus.connect(views, user="admin") as admin:
        admin.create_user("carol")
        admin.grant("USE SCHEMA", on="main.shop", to="carol")
        admin.grant("CREATE TABLE", on="main.shop", to="carol")
        admin.grant("SELECT", on="main.shop.ids", to="carol")
    with glashaus.connect(views, user="carol") as carol:
        carol.create_view("main.shop.ids2", "SELECT id, ssn FROM main.shop.ids")
        carol.grant("SELECT", on="main.shop.ids2", to="bob")
    with glashaus.connect(views, user="bob") as bob:
        assert bob.sql("SELECT count(*) FROM main.shop.ids2").scalar() == 2
    with glashaus.connect(views, user="admin") as admin:
        rows = admin.sql(
            "SELECT principal, securable, decision, details FROM system.access.audit "
            "WHERE request_id = (SELECT request_id FROM system.access.audit WHERE principal = 'bob' "
            "AND securable = 'main.shop.ids2' AND action = 'sql.select')"
        ).to_pylist()
    seen = {
        (r["principal"], r["securable"], r["decision"], (json.loads(r["details"] or "{}")).get("reader")) for r in rows
    }
    assert seen == {
        ("bob", "main.shop.ids2", "allow", None),  # bob reads for himself: nothing to add
        ("carol", "main.shop.ids", "allow", "bob"),
        ("alice", SECRET, "allow", "bob"),
    }


def test_giving_away_what_one_may_only_read_is_denied_audited_and_changes_nothing(admin, bob):
    before = state(admin)
    since = dt.datetime.now(dt.UTC)
    for call in (lambda: bob.set_owner(ORDERS, "bob"), lambda: bob.sql(f"ALTER TABLE {ORDERS} OWNER TO bob")):
        with pytest.raises(PermissionDeniedError) as caught:
            call()
        assert f"bob may not transfer ownership of table {ORDERS}: only its owner (admin)" in str(caught.value)
    assert [(d["action"], d["securable"]) for d in denials_since(admin, "bob", since)] == [("owner.change", ORDERS)] * 2
    assert state(admin) == before

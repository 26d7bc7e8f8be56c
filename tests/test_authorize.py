"""The authorization rules, one test per rule (docs/access.md).

admin is the first user (and so an admin); alice, bob and carol are plain users. The
schema main.shop and its table orders belong to admin. Every decision is checked by
trying, as the user, through the public API.
"""

from __future__ import annotations

import datetime as dt
import threading

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError

ORDERS = "main.shop.orders"


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lh"
    with glashaus.connect(root, user="admin") as admin:
        for user in ("alice", "bob", "carol"):
            admin.create_user(user)
        admin.create_schema("main.shop")
        admin.create_table(ORDERS, data=pa.table({"id": [1, 2], "qty": [5, 50]}))
    return root


@pytest.fixture
def admin(lake):
    with glashaus.connect(lake, user="admin") as lh:
        yield lh


@pytest.fixture
def bob(lake):
    with glashaus.connect(lake, user="bob") as lh:
        yield lh


def connect(lake, user):
    return glashaus.connect(lake, user=user)


def can(call) -> bool:
    try:
        call()
    except PermissionDeniedError:
        return False
    return True


def denied(call) -> str:
    with pytest.raises(PermissionDeniedError) as caught:
        call()
    return str(caught.value)


def reads(lh, name=ORDERS) -> bool:
    return can(lambda: lh.read(name))


def grants(lh, on=ORDERS) -> list[tuple]:
    return sorted((g.principal, g.privilege, g.on, g.inherited) for g in lh.show_grants(on))


def audited(lh, principal: str, action: str) -> list[tuple]:
    return [
        (r["decision"], r["privilege"], r["securable"])
        for r in lh.sql(
            "SELECT decision, privilege, securable FROM system.access.audit "
            f"WHERE principal = '{principal}' AND action = '{action}' ORDER BY event_time"
        ).to_pylist()
    ]


# -- rule 1: admins may do everything ---------------------------------------------------------------------


def test_members_of_admins_may_do_everything(lake, admin):
    admin.create_table("main.shop.bobs", data=pa.table({"x": [1]}))
    admin.set_owner("main.shop.bobs", "bob")
    admin.add_member("admins", "carol")
    with connect(lake, "carol") as carol:  # an admin by membership, owning nothing, granted nothing
        assert carol.read("main.shop.bobs").num_rows == 1
        carol.write("main.shop.bobs", pa.table({"x": [2]}))
        carol.grant("SELECT", on="main.shop.bobs", to="alice")
        carol.create_catalog("dev")
        assert carol.sql("SELECT count(*) FROM system.access.audit").scalar() > 0
        carol.drop("main.shop.bobs")
        admin.remove_member("admins", "carol")
        assert not can(lambda: carol.create_catalog("dev2"))  # at once


# -- rule 2: grants are inherited downward, now and later --------------------------------------------------


def test_a_grant_on_a_catalog_holds_for_tables_created_later(admin, bob):
    admin.create_catalog("dev")
    for privilege in ("USE CATALOG", "USE SCHEMA", "SELECT"):
        admin.grant(privilege, on="dev", to="bob")
    admin.create_schema("dev.later")  # created after the grants
    admin.create_table("dev.later.t", data=pa.table({"x": [1, 2, 3]}))
    assert bob.read("dev.later.t").num_rows == 3
    assert bob.sql("SELECT count(*) FROM dev.later.t").scalar() == 3
    assert ("bob", "SELECT", "dev", True) in grants(admin, "dev.later.t")  # shown, marked inherited
    assert not can(lambda: bob.write("dev.later.t", pa.table({"x": [4]})))  # SELECT is not MODIFY


def test_a_grant_on_a_schema_holds_for_its_objects_and_no_others(admin, bob):
    admin.create_schema("main.other")
    admin.create_table("main.other.t", data=pa.table({"x": [1]}))
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on="main.shop", to="bob")
    assert reads(bob)
    admin.create_table("main.shop.later", data=pa.table({"x": [1]}))
    assert reads(bob, "main.shop.later")
    assert not reads(bob, "main.other.t")


def test_a_grant_on_a_table_does_not_reach_its_neighbours(admin, bob):
    admin.create_table("main.shop.neighbour", data=pa.table({"x": [1]}))
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on=ORDERS, to="bob")
    assert reads(bob) and not reads(bob, "main.shop.neighbour")


# -- rule 3: ownership, inherited downward (a documented decision) -------------------------------------------


def test_the_owner_of_a_schema_can_read_a_table_another_user_created_in_it(lake, admin):
    admin.set_owner("main.shop", "alice")
    admin.grant("USE SCHEMA", on="main.shop", to="carol")
    admin.grant("CREATE TABLE", on="main.shop", to="carol")
    with connect(lake, "carol") as carol, connect(lake, "alice") as alice:
        carol.create_table("main.shop.carols", data=pa.table({"x": [1, 2]}))
        assert alice.get("main.shop.carols").owner == "carol"
        assert alice.read("main.shop.carols").num_rows == 2  # ownership of the schema reaches inside
        alice.write("main.shop.carols", pa.table({"x": [3]}))
        alice.grant("SELECT", on="main.shop.carols", to="bob")  # and so does the right to grant
        alice.drop("main.shop.carols")


def test_the_owner_of_a_catalog_holds_every_privilege_on_everything_in_it(lake, admin):
    admin.grant("CREATE CATALOG", on=None, to="alice")
    with connect(lake, "alice") as alice:
        alice.create_catalog("team")
    admin.create_schema("team.raw")  # created by someone else inside alice's catalog
    admin.create_table("team.raw.events", data=pa.table({"x": [1]}))
    admin.create_volume("team.raw.files")
    admin.put_file("team.raw.files", "a.txt", b"a")
    with connect(lake, "alice") as alice:
        assert alice.read("team.raw.events").num_rows == 1
        assert alice.get_file("team.raw.files", "a.txt") == b"a"
        alice.set_owner("team.raw.events", "bob")
        assert alice.read("team.raw.events").num_rows == 1  # still hers through the catalog


def test_a_group_can_own_and_its_members_act_as_owners(lake, admin):
    admin.create_group("data_team")
    admin.add_member("data_team", "bob")
    admin.grant("USE SCHEMA", on="main.shop", to="data_team")
    admin.set_owner(ORDERS, "data_team")
    with connect(lake, "bob") as bob, connect(lake, "carol") as carol:
        assert reads(bob)
        bob.grant("SELECT", on=ORDERS, to="carol")
        admin.grant("USE SCHEMA", on="main.shop", to="carol")
        assert reads(carol)
        admin.remove_member("data_team", "bob")
        assert not reads(bob)


def test_changing_the_owner_moves_every_right_at_once(lake, admin):
    admin.grant("USE SCHEMA", on="main.shop", to="alice")
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.set_owner(ORDERS, "alice")
    with connect(lake, "alice") as alice, connect(lake, "bob") as bob:
        assert reads(alice) and not reads(bob)
        alice.set_owner(ORDERS, "bob")  # owners may give it away
        assert reads(bob) and not reads(alice)
        assert "alice may not transfer ownership of table main.shop.orders" in denied(
            lambda: alice.set_owner(ORDERS, "alice")
        )


# -- rule 4: USE CATALOG and USE SCHEMA to reach inside -----------------------------------------------------


def test_a_user_without_grants_is_denied_everything_in_a_new_schema(admin, bob):
    admin.create_volume("main.shop.files")
    admin.create_view("main.shop.big", f"SELECT * FROM {ORDERS} WHERE qty > 10")
    attempts = {
        "list": lambda: bob.list("main.shop"),
        "get schema": lambda: bob.get("main.shop"),
        "get table": lambda: bob.get(ORDERS),
        "read": lambda: bob.read(ORDERS),
        "sql": lambda: bob.sql(f"SELECT * FROM {ORDERS}"),
        "view": lambda: bob.sql("SELECT * FROM main.shop.big"),
        "describe": lambda: bob.describe(ORDERS),
        "history": lambda: bob.history(ORDERS),
        "write": lambda: bob.write(ORDERS, pa.table({"id": [3], "qty": [1]})),
        "create table": lambda: bob.create_table("main.shop.t", data=pa.table({"x": [1]})),
        "create volume": lambda: bob.create_volume("main.shop.v"),
        "files": lambda: bob.list_files("main.shop.files"),
        "show grants": lambda: bob.show_grants("main.shop"),
    }
    for what, call in attempts.items():
        message = denied(call)
        assert "bob lacks USE SCHEMA on schema main.shop" in message, what
        assert "GRANT USE SCHEMA ON SCHEMA main.shop TO bob" in message, what
    assert "main.shop" not in [s.full_name for s in bob.list("main")]
    assert len([d for d in audited(admin, "bob", "table.read") if d[0] == "deny"]) == 1


def test_use_catalog_alone_is_not_enough_to_select(admin, bob):
    admin.create_catalog("dev")
    admin.create_schema("dev.s")
    admin.create_table("dev.s.t", data=pa.table({"x": [1]}))
    admin.grant("USE CATALOG", on="dev", to="bob")
    assert "bob lacks USE SCHEMA on schema dev.s" in denied(lambda: bob.read("dev.s.t"))
    admin.grant("USE SCHEMA", on="dev.s", to="bob")
    message = denied(lambda: bob.read("dev.s.t"))
    assert "bob lacks SELECT on table dev.s.t" in message
    assert "GRANT SELECT ON TABLE dev.s.t TO bob" in message
    admin.grant("SELECT", on="dev.s.t", to="bob")
    assert bob.read("dev.s.t").num_rows == 1


def test_select_without_use_catalog_is_denied(admin, bob):
    admin.create_catalog("dev")
    admin.create_schema("dev.s")
    admin.create_table("dev.s.t", data=pa.table({"x": [1]}))
    admin.grant("USE SCHEMA", on="dev.s", to="bob")
    admin.grant("SELECT", on="dev.s.t", to="bob")
    message = denied(lambda: bob.sql("SELECT * FROM dev.s.t"))
    assert "bob lacks USE CATALOG on catalog dev" in message
    assert "GRANT USE CATALOG ON CATALOG dev TO bob" in message


def test_ownership_and_manage_still_need_use_catalog_and_use_schema(admin, bob):
    # As in Unity Catalog: MANAGE (or owning the object) does not open the containers above it.
    admin.create_table("main.shop.bobs", data=pa.table({"x": [1]}))
    admin.grant("MANAGE", on=ORDERS, to="bob")
    admin.set_owner("main.shop.bobs", "bob")
    for call in (
        lambda: bob.grant("SELECT", on=ORDERS, to="carol"),
        lambda: bob.drop(ORDERS),
        lambda: bob.read("main.shop.bobs"),
        lambda: bob.drop("main.shop.bobs"),
    ):
        assert "bob lacks USE SCHEMA on schema main.shop" in denied(call)
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    bob.grant("SELECT", on=ORDERS, to="carol")
    assert bob.read("main.shop.bobs").num_rows == 1


def test_every_user_starts_with_use_catalog_main_and_create_rights_in_main_default(admin, bob):
    assert ("users", "USE CATALOG", "main", True) in grants(admin, "main.default")
    assert {g[1] for g in grants(admin, "main.default") if g[0] == "users" and g[2] == "main.default"} == {
        "USE SCHEMA",
        "CREATE TABLE",
        "CREATE VOLUME",
        "CREATE MODEL",
    }
    bob.create_table("main.default.mine", data=pa.table({"x": [1]}))
    bob.create_volume("main.default.stuff")
    assert [s.full_name for s in bob.list("main")] == ["main.default"]
    assert "GRANT CREATE SCHEMA ON CATALOG main TO bob" in denied(lambda: bob.create_schema("main.bobs"))
    admin.revoke("CREATE TABLE", on="main.default", from_="users")
    assert "CREATE TABLE on schema main.default" in denied(
        lambda: bob.create_table("main.default.more", data=pa.table({"x": [1]}))
    )
    assert bob.read("main.default.mine").num_rows == 1  # what bob owns stays his


# -- grants and revokes take effect at once ----------------------------------------------------------------


def test_a_revoke_takes_effect_at_once_in_this_and_other_connections(lake, admin, bob):
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on=ORDERS, to="bob")
    with connect(lake, "bob") as other:
        assert reads(bob) and other.sql(f"SELECT count(*) FROM {ORDERS}").scalar() == 2
        with connect(lake, "admin") as second_admin:
            second_admin.revoke("SELECT", on=ORDERS, from_="bob")
        assert not reads(bob)
        assert not can(lambda: other.sql(f"SELECT count(*) FROM {ORDERS}"))
        admin.grant("SELECT", on=ORDERS, to="bob")
        assert reads(bob) and reads(other)


def test_membership_of_a_group_inside_a_group_carries_its_grants(admin, bob):
    admin.create_group("analysts")
    admin.create_group("emea_analysts")
    admin.add_member("analysts", "emea_analysts")
    admin.add_member("emea_analysts", "bob")
    admin.grant("USE SCHEMA", on="main.shop", to="analysts")
    admin.grant("SELECT", on=ORDERS, to="analysts")
    assert reads(bob)
    admin.remove_member("analysts", "emea_analysts")
    assert not reads(bob)


# -- rule 5: ALL PRIVILEGES is every privilege but MANAGE ----------------------------------------------------


def test_all_privileges_gives_everything_but_manage(lake, admin, bob):
    admin.grant("ALL PRIVILEGES", on="main.shop", to="bob")
    bob.write(ORDERS, pa.table({"id": [3], "qty": [1]}))
    assert bob.read(ORDERS).num_rows == 3
    bob.create_table("main.shop.bobs", data=pa.table({"x": [1]}))
    bob.create_volume("main.shop.files")
    for call in (
        lambda: bob.grant("SELECT", on=ORDERS, to="carol"),
        lambda: bob.drop(ORDERS),
        lambda: bob.set_owner(ORDERS, "bob"),
        lambda: bob.set_comment(ORDERS, "x"),
        lambda: bob.revoke("SELECT", on="main.shop", from_="bob"),
    ):
        message = denied(call)
        assert (
            "bob lacks MANAGE on table main.shop.orders" in message
            or "MANAGE on schema main.shop" in message
            or "bob may not transfer ownership of table main.shop.orders" in message
        )
    admin.grant("MANAGE", on="main.shop", to="bob")
    bob.grant("SELECT", on=ORDERS, to="carol")
    assert admin.grant("all", on=ORDERS, to="carol")  # 'ALL' is short for ALL PRIVILEGES
    assert ("carol", "ALL PRIVILEGES", ORDERS, False) in grants(admin)


# -- rule 6: only owners, MANAGE holders and admins grant ------------------------------------------------------


def test_a_user_granting_what_they_do_not_own_is_denied_and_audited(lake, admin, bob):
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on=ORDERS, to="bob")
    before = grants(admin)
    message = denied(lambda: bob.grant("SELECT", on=ORDERS, to="carol"))
    assert "bob lacks MANAGE on table main.shop.orders" in message
    assert "GRANT MANAGE ON TABLE main.shop.orders TO bob" in message
    assert "bob lacks MANAGE on table main.shop.orders" in denied(lambda: bob.revoke("SELECT", on=ORDERS, from_="bob"))
    assert grants(admin) == before
    assert audited(admin, "bob", "grant") == [("deny", "MANAGE", ORDERS)]
    assert audited(admin, "bob", "revoke") == [("deny", "MANAGE", ORDERS)]


def test_owners_manage_holders_and_admins_may_grant(lake, admin):
    admin.grant("USE SCHEMA", on="main.shop", to="users")
    admin.create_table("main.shop.alices", data=pa.table({"x": [1]}))
    admin.set_owner("main.shop.alices", "alice")
    admin.grant("MANAGE", on=ORDERS, to="bob")
    with connect(lake, "alice") as alice, connect(lake, "bob") as bob:
        assert alice.grant("SELECT", on="main.shop.alices", to="carol")  # owner
        assert bob.grant("SELECT", on=ORDERS, to="carol")  # MANAGE holder
        assert not bob.grant("SELECT", on=ORDERS, to="carol")  # already there: False, no error
        assert bob.revoke("SELECT", on=ORDERS, from_="carol")
        assert not bob.revoke("SELECT", on=ORDERS, from_="carol")  # nothing to revoke: False
        assert "alice lacks MANAGE on table main.shop.orders" in denied(
            lambda: alice.grant("SELECT", on=ORDERS, to="carol")
        )
    assert audited(admin, "bob", "grant") == [("allow", "MANAGE", ORDERS)] * 2


def test_the_metastore_grants_create_catalog_and_only_admins_grant_there(lake, admin, bob):
    message = denied(lambda: bob.create_catalog("bobs"))
    assert "bob lacks CREATE CATALOG on the metastore" in message
    assert "GRANT CREATE CATALOG ON METASTORE TO bob" in message
    assert admin.grant("CREATE CATALOG", on=None, to="bob")
    assert [(g.principal, g.privilege, g.on) for g in admin.show_grants(None)] == [
        ("bob", "CREATE CATALOG", "METASTORE")
    ]
    bob.create_catalog("bobs")
    bob.create_schema("bobs.s")  # the creator owns it, so everything inside is his
    bob.create_table("bobs.s.t", data=pa.table({"x": [1]}))
    assert bob.read("bobs.s.t").num_rows == 1
    assert "only members of 'admins' may do grant" in denied(lambda: bob.grant("CREATE CATALOG", on=None, to="carol"))
    admin.revoke("CREATE CATALOG", on="METASTORE", from_="bob")
    assert not can(lambda: bob.create_catalog("more"))


# -- grant validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("privilege", "on", "fragments"),
    [
        (
            "SELECT",
            "main.shop.files",
            [
                "SELECT cannot be granted on a volume",
                "on a volume you can grant: ALL PRIVILEGES, MANAGE, READ VOLUME, WRITE VOLUME",
            ],
        ),
        ("READ VOLUME", ORDERS, ["READ VOLUME cannot be granted on a table", "MODIFY, SELECT"]),
        ("USE CATALOG", "main.shop", ["USE CATALOG cannot be granted on a schema"]),
        ("CREATE CATALOG", "main", ["CREATE CATALOG cannot be granted on a catalog"]),
        ("SELECT", None, ["SELECT cannot be granted on a metastore", "CREATE CATALOG"]),
        ("MODIFY", "main.shop.big", ["MODIFY cannot be granted on a view", "SELECT"]),
        ("READ", ORDERS, ["unknown privilege 'READ'", "valid privileges:", "READ VOLUME", "SELECT"]),
        ("SELECT; DROP TABLE x", ORDERS, ["unknown privilege"]),
    ],
)
def test_a_privilege_that_does_not_apply_is_refused_with_the_valid_list(admin, privilege, on, fragments):
    admin.create_volume("main.shop.files")
    admin.create_view("main.shop.big", f"SELECT * FROM {ORDERS}")
    before = grants(admin), admin.show_grants(None)
    with pytest.raises(InvalidArgumentError) as caught:
        admin.grant(privilege, on=on, to="bob")
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert (grants(admin), admin.show_grants(None)) == before


def test_privilege_names_are_case_and_space_insensitive(admin):
    assert admin.grant("use  schema", on="main.shop", to="bob")
    assert ("bob", "USE SCHEMA", "main.shop", True) in grants(admin)


@pytest.mark.parametrize(
    ("call", "error", "fragments"),
    [
        (
            lambda lh: lh.grant("SELECT", on=ORDERS, to="nobody"),
            NotFoundError,
            ["principal 'nobody' does not exist", "create it first"],
        ),
        (
            lambda lh: lh.revoke("SELECT", on=ORDERS, from_="nobody"),
            NotFoundError,
            ["principal 'nobody' does not exist"],
        ),
        (
            lambda lh: lh.grant("SELECT", on="main.shop.nothing", to="bob"),
            NotFoundError,
            ["main.shop.nothing", "does not exist"],
        ),
        (
            lambda lh: lh.set_owner(ORDERS, "nobody"),
            InvalidArgumentError,
            ["cannot make 'nobody' the owner of main.shop.orders", "no such user or group", "lh.create_user"],
        ),
    ],
)
def test_unknown_principals_and_securables_are_named(admin, call, error, fragments):
    before = grants(admin), admin.get(ORDERS).owner
    with pytest.raises(error) as caught:
        call(admin)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert (grants(admin), admin.get(ORDERS).owner) == before


def test_set_owner_needs_ownership_before_anything_else(admin, bob):
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    # Without the right, an unknown new owner is not even looked at: denied (and audited) first.
    for new_owner in ("bob", "nobody"):
        message = denied(lambda o=new_owner: bob.set_owner(ORDERS, o))
        assert "bob may not transfer ownership of table main.shop.orders" in message
        assert "only its owner (admin), the owner of a schema or catalog around it, or a member of 'admins'" in message
        assert "ALTER TABLE main.shop.orders OWNER TO <principal>" in message
    assert admin.get(ORDERS).owner == "admin"
    assert audited(admin, "bob", "owner.change") == [("deny", None, ORDERS)] * 2


def test_manage_is_not_enough_to_give_an_object_away(lake, admin, bob):
    # Unity Catalog: the owner (of the object, its schema or its catalog) or an admin transfers ownership.
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("MANAGE", on="main.shop", to="bob")
    bob.grant("SELECT", on=ORDERS, to="carol")  # MANAGE grants, comments, drops...
    bob.set_comment(ORDERS, "orders")
    assert "MANAGE is not enough" in denied(lambda: bob.set_owner(ORDERS, "bob"))
    assert "MANAGE is not enough" in denied(lambda: bob.sql(f"ALTER TABLE {ORDERS} OWNER TO carol"))
    assert admin.get(ORDERS).owner == "admin"
    admin.set_owner("main.shop", "bob")  # ...owning the schema around it is enough
    assert bob.set_owner(ORDERS, "carol").owner == "carol"
    with connect(lake, "carol") as carol:  # an owner needs USE SCHEMA to reach it, as for any right
        assert "carol lacks USE SCHEMA on schema main.shop" in denied(lambda: carol.set_owner(ORDERS, "bob"))
        admin.grant("USE SCHEMA", on="main.shop", to="carol")
        assert carol.set_owner(ORDERS, "alice").owner == "alice"
    rows = admin.sql(
        "SELECT principal, decision, reason, details FROM system.access.audit "
        "WHERE action = 'owner.change' AND decision = 'allow' ORDER BY event_time"
    ).to_pylist()
    assert [(r["principal"], r["reason"]) for r in rows[-2:]] == [("bob", "owner"), ("carol", "owner")]
    assert '"from": "carol"' in rows[-1]["details"] and '"to": "alice"' in rows[-1]["details"]


def test_dropping_an_object_forgets_its_grants(admin, bob):
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on=ORDERS, to="bob")
    admin.drop(ORDERS)
    admin.create_table(ORDERS, data=pa.table({"id": [1]}))  # a new table under the old name
    assert not reads(bob)
    assert ("bob", "SELECT", ORDERS, False) not in grants(admin)


# -- the system catalog, listings -----------------------------------------------------------------------


def test_the_system_catalog_is_for_admins_unless_they_grant_it(admin, bob):
    assert admin.sql("SELECT count(*) FROM system.access.audit").scalar() > 0
    assert "system" in [c.full_name for c in admin.list()]
    assert "system" not in [c.full_name for c in bob.list()]
    for call in (
        lambda: bob.sql("SELECT * FROM system.access.audit"),
        lambda: bob.read("system.access.audit"),
        lambda: bob.list("system"),
        lambda: bob.sql("SELECT * FROM system.lineage.table_lineage"),
    ):
        assert "bob lacks USE CATALOG on catalog system" in denied(call)
    admin.grant("USE CATALOG", on="system", to="bob")
    admin.grant("USE SCHEMA", on="system.access", to="bob")
    admin.grant("SELECT", on="system.access.audit", to="bob")
    assert bob.sql("SELECT count(*) FROM system.access.audit WHERE principal = 'bob'").scalar() > 0
    assert not can(lambda: bob.sql("SELECT * FROM system.lineage.table_lineage"))


def test_listings_show_only_what_the_caller_may_use(lake, admin, bob):
    admin.create_catalog("dev")
    admin.create_schema("main.hidden")
    admin.create_table("main.shop.secret", data=pa.table({"x": [1]}))
    admin.create_volume("main.shop.files")
    admin.create_volume("main.shop.private")
    admin.create_view("main.shop.v", f"SELECT * FROM {ORDERS}")
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on=ORDERS, to="bob")
    admin.grant("READ VOLUME", on="main.shop.files", to="bob")
    admin.grant("MANAGE", on="main.shop.v", to="bob")  # managing is enough to see it

    def listed(parent=None):
        return sorted(s.full_name for s in bob.list(parent))

    assert listed() == ["main"]
    assert listed("main") == ["main.default", "main.shop"]
    assert listed("main.shop") == ["main.shop.files", ORDERS, "main.shop.v"]
    assert [s.full_name for s in bob.list("main.shop", kind="volume")] == ["main.shop.files"]
    assert "bob lacks USE CATALOG on catalog dev" in denied(lambda: bob.list("dev"))
    assert "bob lacks USE SCHEMA on schema main.hidden" in denied(lambda: bob.list("main.hidden"))
    assert sorted(s.full_name for s in admin.list("main.shop")) == [
        "main.shop.files",
        ORDERS,
        "main.shop.private",
        "main.shop.secret",
        "main.shop.v",
    ]
    bob.create_table("main.default.mine", data=pa.table({"x": [1]}))
    assert "main.default.mine" in listed("main.default")  # what one owns is listed


def test_show_grants_marks_what_is_inherited(admin, bob):
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on=ORDERS, to="bob")
    assert grants(admin) == [
        ("bob", "SELECT", ORDERS, False),
        ("bob", "USE SCHEMA", "main.shop", True),
        ("users", "USE CATALOG", "main", True),
    ]
    assert [g.granted_by for g in admin.show_grants(ORDERS) if g.principal == "bob"] == ["admin", "admin"]
    assert grants(bob) == grants(admin)  # every grant here is bob's own or his group's (users)


def test_show_grants_shows_every_grant_to_managers_and_their_own_to_others(lake, admin, bob):
    # Unity Catalog's SHOW GRANTS: admins, owners and MANAGE holders see all; a principal sees its own.
    admin.create_group("analysts")
    admin.add_member("analysts", "bob")
    admin.grant("USE SCHEMA", on="main.shop", to="analysts")
    admin.grant("SELECT", on=ORDERS, to="bob")
    admin.grant("MODIFY", on=ORDERS, to="carol")
    everything = [
        ("analysts", "USE SCHEMA", "main.shop", True),
        ("bob", "SELECT", ORDERS, False),
        ("carol", "MODIFY", ORDERS, False),
        ("users", "USE CATALOG", "main", True),
    ]
    assert grants(admin) == everything
    assert grants(bob) == [g for g in everything if g[0] != "carol"]  # his, and his groups'
    assert bob.sql(f"SHOW GRANTS carol ON TABLE {ORDERS}").num_rows == 0
    admin.grant("MANAGE", on=ORDERS, to="bob")
    assert ("carol", "MODIFY", ORDERS, False) in grants(bob)  # a manager sees every grant
    with connect(lake, "carol") as carol:  # carol may not use main.shop: not even her own grants there
        assert "carol lacks USE SCHEMA on schema main.shop" in denied(lambda: carol.show_grants(ORDERS))
    assert audited(admin, "bob", "grants.show") == [("allow", "SELECT", ORDERS)] * 3


def test_metastore_grants_are_shown_to_admins_and_each_principal_its_own_and_audited(lake, admin, bob):
    admin.create_group("creators")
    admin.add_member("creators", "bob")
    admin.grant("CREATE CATALOG", on=None, to="creators")
    admin.grant("CREATE CATALOG", on=None, to="carol")
    assert [(g.principal, g.on) for g in admin.show_grants(None)] == [("carol", "METASTORE"), ("creators", "METASTORE")]
    assert [(g.principal, g.on) for g in bob.show_grants(None)] == [("creators", "METASTORE")]
    assert bob.sql("SHOW GRANTS ON METASTORE").to_pylist() == [
        {
            "principal": "creators",
            "privilege": "CREATE CATALOG",
            "on": "METASTORE",
            "inherited": False,
            "granted_by": "admin",
        }
    ]
    with connect(lake, "alice") as alice:
        assert alice.show_grants(None) == []
    rows = admin.sql(
        "SELECT principal, decision, securable, securable_kind, reason FROM system.access.audit "
        "WHERE action = 'grants.show' ORDER BY event_time"
    ).to_pylist()
    assert [(r["principal"], r["decision"], r["securable"], r["securable_kind"]) for r in rows] == [
        ("admin", "allow", None, "metastore"),
        ("bob", "allow", None, "metastore"),
        ("bob", "allow", None, "metastore"),
        ("alice", "allow", None, "metastore"),
    ]
    assert rows[0]["reason"] == "admin"
    assert "bob is not an admin: shown only the metastore grants bob holds" in rows[1]["reason"]


# -- not-found errors name only what the caller may see --------------------------------------------------


def test_not_found_suggests_only_names_the_caller_may_see(lake, admin, bob):
    admin.create_schema("main.secret")
    admin.create_table("main.secret.salaries", data=pa.table({"x": [1]}))
    admin.create_table("main.shop.ordersx", data=pa.table({"x": [1]}))  # closest to 'orderz' after orders
    admin.create_volume("main.shop.files")
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on="main.shop.ordersx", to="bob")
    hidden = [
        lambda lh: lh.get("main.secret.salarie"),
        lambda lh: lh.read("main.secret.salarie"),
        lambda lh: lh.sql("SELECT * FROM main.secret.salarie"),
        lambda lh: lh.get("main.secrt"),
        lambda lh: lh.list("main.secrt"),
        lambda lh: lh.get_file("main.shop.filez", "a.txt"),
        lambda lh: lh.grant("SELECT", on="main.secret.salarie", to="carol"),
        lambda lh: lh.sql("GRANT SELECT ON TABLE main.secret.salarie TO carol"),
        lambda lh: lh.set_row_filter("main.secret.salarie", "true"),
    ]
    for call in hidden:
        with pytest.raises(NotFoundError) as as_bob:
            call(bob)
        message = str(as_bob.value)
        assert "does not exist" in message
        assert "mean 'main.secret" not in message and "mean 'main.shop.files'" not in message
        with pytest.raises(NotFoundError, match=r"Did you mean 'main.(secret|shop)"):  # the admin sees them
            call(admin)
    # Among close names, the one the caller may see is suggested.
    with pytest.raises(NotFoundError) as as_bob:
        bob.read("main.shop.orderz")
    assert "Did you mean 'main.shop.ordersx'?" in str(as_bob.value)
    with pytest.raises(NotFoundError, match=r"Did you mean 'main.shop.orders'\?"):
        admin.read("main.shop.orderz")


def test_decisions_allowed_and_denied_are_both_audited_with_the_reason(admin, bob):
    since = dt.datetime.now(dt.UTC)
    assert not reads(bob)
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on=ORDERS, to="bob")
    assert reads(bob)
    rows = [
        r
        for r in admin.sql(
            "SELECT decision, privilege, securable, securable_kind, reason, event_time FROM system.access.audit "
            "WHERE principal = 'bob' AND action = 'table.read' ORDER BY event_time"
        ).to_pylist()
        if r["event_time"] >= since
    ]
    assert [(r["decision"], r["privilege"], r["securable"], r["securable_kind"]) for r in rows] == [
        ("deny", "SELECT", ORDERS, "table"),
        ("allow", "SELECT", ORDERS, "table"),
    ]
    assert "GRANT USE SCHEMA ON SCHEMA main.shop TO bob" in rows[0]["reason"]
    assert rows[1]["reason"] == "granted"


def test_the_same_grant_made_at_once_by_several_processes_is_made_once(lake, admin):
    # Each thread has its own connection (its own metastore engine), as separate processes would.
    results, errors = [], []
    barrier = threading.Barrier(8)

    def grant():
        try:
            with connect(lake, "admin") as lh:
                barrier.wait()
                results.append(lh.grant("SELECT", on=ORDERS, to="bob"))
        except Exception as exc:  # noqa: BLE001 - any error is the failure being tested
            errors.append(exc)

    threads = [threading.Thread(target=grant) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    assert [g for g in grants(admin) if g[0] == "bob"] == [("bob", "SELECT", ORDERS, False)]


# -- storage locations are for admins and owners ------------------------------------------------------------


def test_the_storage_location_is_shown_to_admins_and_owners_only(lake, admin, bob):
    admin.create_volume("main.shop.files")
    admin.create_group("owners")
    admin.add_member("owners", "carol")
    admin.grant("USE SCHEMA", on="main.shop", to="bob")
    admin.grant("SELECT", on=ORDERS, to="bob")
    admin.grant("READ VOLUME", on="main.shop.files", to="bob")
    admin.grant("MANAGE", on="main.shop.files", to="bob")  # managing is not owning
    location = admin.describe(ORDERS).location
    assert location and admin.get(ORDERS).storage_location == location
    assert bob.describe(ORDERS).location is None
    assert bob.describe("main.shop.files").location is None
    assert bob.get(ORDERS).storage_location is None
    assert {s.storage_location for s in bob.list("main.shop")} == {None}
    assert bob.set_comment("main.shop.files", "raw files").storage_location is None
    # Owners see it, also through a group and through owning the schema around the object.
    admin.set_owner(ORDERS, "owners")
    admin.grant("USE SCHEMA", on="main.shop", to="owners")
    with connect(lake, "carol") as carol:
        assert carol.describe(ORDERS).location == location
    admin.set_owner("main.shop", "bob")
    assert bob.describe("main.shop.files").location == admin.get("main.shop.files").storage_location
    bob.create_table("main.default.mine", data=pa.table({"x": [1]}))
    assert bob.describe("main.default.mine").location is not None  # bob created it: his


def test_every_call_that_returns_an_existing_securable_shapes_it_for_the_caller(lake, admin, bob):
    """Before, ``create_table``/``create_volume`` with ``if_not_exists`` on an object that
    existed already handed it back as stored, and ``lh.models.get`` gave every EXECUTE holder the
    model's folder: the storage location (and a table's filter expression) of an object the caller
    neither owns nor manages. They go through the guard's shaping now, as ``get`` and ``list`` did."""
    admin.create_table("main.default.shared", data=pa.table({"id": [1]}))
    admin.set_row_filter("main.default.shared", "id > 0")
    admin.create_volume("main.default.drop_box")
    admin.models.create("main.default.reco")
    admin.grant("EXECUTE", on="main.default.reco", to="bob")
    again = bob.create_table("main.default.shared", data=pa.table({"id": [2]}), if_not_exists=True)
    assert (again.owner, again.storage_location, again.spec["row_filter"]) == ("admin", None, "(hidden)")
    assert bob.create_volume("main.default.drop_box", if_not_exists=True).storage_location is None
    assert bob.models.get("main.default.reco").storage_location is None
    assert [m.storage_location for m in bob.models.list("main.default")] == [None]
    # The owner still sees where the data lives.
    assert (
        admin.create_table(
            "main.default.shared", schema=pa.schema([("id", pa.int64())]), if_not_exists=True
        ).storage_location
        is not None
    )
    assert admin.models.get("main.default.reco").storage_location is not None

"""The guard: one call finds a securable as the caller may see it, decides, audits and shapes it.

Every capability's operations go through it (``access/guard.py``); these tests drive it
directly with real lakehouses, as a later face generated from declarations will, and check
that the capabilities no longer reach around it.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from glashaus.access import request
from glashaus.access.guard import SHAPERS, USE, Check, Guard
from glashaus.access.policies import HIDDEN
from glashaus.errors import InvalidArgumentError, InvalidNameError, NotFoundError, PermissionDeniedError
from glashaus.lakehouse import services

SRC = Path(__file__).resolve().parents[1] / "src" / "glashaus"
ORDERS = "main.shop.orders"


@pytest.fixture
def lake(shop):
    """alice (admin) owns main.shop with orders (filtered), a volume and a secret table; bob may read orders only."""
    shop.create_user("bob")
    shop.create_table(ORDERS, data=pa.table({"id": [1, 2], "region": ["n", "s"]}))
    shop.create_table("main.shop.order_secrets", data=pa.table({"id": [1]}))
    shop.create_volume("main.shop.files")
    shop.set_row_filter(ORDERS, "region = 'n'")
    shop.grant("USE SCHEMA", on="main.shop", to="bob")
    shop.grant("SELECT", on=ORDERS, to="bob")
    return shop


def events(lh, since: dt.datetime, principal: str) -> list[dict]:
    rows = lh.sql(
        "SELECT request_id, action, privilege, securable, securable_kind, decision, details, event_time "
        f"FROM system.access.audit WHERE principal = '{principal}' ORDER BY event_time"
    ).to_pylist()
    return [r for r in rows if r["event_time"] >= since]


def as_bob(lh):
    return lh.as_user("bob").principal


def test_a_check_names_privilege_and_action_by_the_kind_found(lake):
    since = dt.datetime.now(dt.UTC)
    guard, bob = services(lake).tables.guard, as_bob(lake)
    get = Check(USE, "{kind}.get", levels=(1, 2, 3))
    with guard.require(bob, get, ORDERS) as allowed:
        assert (allowed.name.full, allowed.found.kind) == (ORDERS, "table")
    denied = r"bob lacks READ VOLUME on volume main\.shop\.files.*GRANT READ VOLUME"
    with pytest.raises(PermissionDeniedError, match=denied), guard.require(bob, get, "main.shop.files"):
        pass
    rows = events(lake, since, "bob")
    assert [(r["action"], r["privilege"], r["securable"], r["securable_kind"], r["decision"]) for r in rows] == [
        ("table.get", "SELECT", ORDERS, "table", "allow"),
        ("volume.get", "READ VOLUME", "main.shop.files", "volume", "deny"),
    ]


def test_kinds_levels_versions_and_the_system_catalog_are_checked_before_any_lookup(lake):
    guard = services(lake).tables.guard
    read = Check("SELECT", "table.read", kinds=("table",), system="read")
    with pytest.raises(NotFoundError, match=r"'main.shop.files' is a volume, not a table"):
        guard.allow(lake.principal, read, "main.shop.files")
    with pytest.raises(InvalidNameError, match="may not carry a version"):
        guard.allow(lake.principal, read, "main.shop.orders@v1")
    with pytest.raises(InvalidNameError, match=r"expected catalog.schema.object"):
        guard.allow(lake.principal, read, "main.shop")
    with pytest.raises(InvalidArgumentError, match="the system catalog is written only by Glashaus"):
        guard.allow(lake.principal, read, "system.access.audit")
    allowed = guard.allow(lake.principal, Check("SELECT", "table.read", versions=True), "main.shop.orders@v1")
    assert allowed.name.version == 1


def test_unknown_names_suggest_only_what_the_caller_may_see(lake):
    guard, bob = services(lake).tables.guard, as_bob(lake)
    read = Check("SELECT", "table.read", kinds=("table",))
    with pytest.raises(NotFoundError, match=r"Did you mean 'main\.shop\.orders'\?"):
        guard.allow(bob, read, "main.shop.ordrs")
    with pytest.raises(NotFoundError) as refused:
        guard.allow(bob, read, "main.shop.order_secret")
    assert "order_secrets" not in str(refused.value)  # bob may not see it, so it is never named to him
    with pytest.raises(NotFoundError, match=r"Did you mean 'main\.shop\.order_secrets'\?"):
        guard.allow(lake.principal, read, "main.shop.order_secret")  # alice may


def test_creates_are_checked_on_the_container_metastore_catalog_schema(lake):
    since = dt.datetime.now(dt.UTC)
    guard, bob = services(lake).tables.guard, as_bob(lake)
    for kind, name in (("catalog", "dev"), ("schema", "main.bobs"), ("table", "main.shop.t"), ("view", "main.shop.v")):
        with pytest.raises(PermissionDeniedError):
            guard.allow(bob, Check.create(kind, f"{kind}.create"), name)
    allowed = guard.allow(bob, Check.create("model", "model.create"), "main.default.reco")
    assert (allowed.name.full, allowed.found.full_name) == ("main.default.reco", "main.default")
    allowed = guard.allow(lake.principal, Check.create("catalog", "catalog.create"), "dev")
    assert allowed.securable is None  # the metastore
    rows = [
        (r["action"], r["privilege"], r["securable"], r["securable_kind"], r["decision"], json.loads(r["details"]))
        for r in events(lake, since, "bob")
    ]
    assert rows == [
        ("catalog.create", "CREATE CATALOG", None, "metastore", "deny", {"name": "dev"}),
        ("schema.create", "CREATE SCHEMA", "main", "catalog", "deny", {"name": "main.bobs"}),
        ("table.create", "CREATE TABLE", "main.shop", "schema", "deny", {"name": "main.shop.t"}),
        ("view.create", "CREATE TABLE", "main.shop", "schema", "deny", {"name": "main.shop.v"}),
        ("model.create", "CREATE MODEL", "main.default", "schema", "allow", {"name": "main.default.reco"}),
    ]


def test_if_exists_is_none_for_a_missing_name_and_audits_nothing(lake):
    since = dt.datetime.now(dt.UTC)
    guard, bob = services(lake).tables.guard, as_bob(lake)
    write = Check("MODIFY", "table.write", kinds=("table",))
    with guard.require_if_exists(bob, write, "main.shop.nothing") as allowed:
        assert allowed is None
    with pytest.raises(NotFoundError, match="is a volume, not a table"):
        with guard.require_if_exists(bob, write, "main.shop.files"):
            pass
    with pytest.raises(PermissionDeniedError, match="bob lacks MODIFY"):
        with guard.require_if_exists(bob, write, ORDERS):
            pass
    assert [r["action"] for r in events(lake, since, "bob")] == ["table.write"]


def test_one_request_scope_holds_the_decision_and_everything_inside(lake):
    since = dt.datetime.now(dt.UTC)
    bob = as_bob(lake)
    with services(lake).tables.guard.require(bob, Check("SELECT", "test.outer", kinds=("table",)), ORDERS):
        services(lake).tables.get(bob, "main.shop")  # an operation inside: the same request
        services(lake).tables.history(
            bob, ORDERS
        )  # SELECT on orders was decided in this request: asked once, audited once
    services(lake).tables.history(bob, ORDERS)  # outside: a request of its own
    rows = events(lake, since, "bob")
    assert [r["action"] for r in rows] == ["test.outer", "schema.get", "table.history"]
    assert rows[0]["request_id"] == rows[1]["request_id"] != rows[2]["request_id"]


def test_what_a_caller_receives_is_shaped_for_them_and_capabilities_may_add_rules(lake):
    bob = as_bob(lake)
    guard = services(lake).tables.guard
    get = Check(USE, "{kind}.get")
    owner = guard.allow(lake.principal, get, ORDERS)
    assert owner.shown().storage_location == owner.found.storage_location is not None
    assert owner.shown().spec["row_filter"] == "region = 'n'"
    reader = guard.allow(bob, get, ORDERS)
    assert reader.found.storage_location is not None  # the operation's own work uses the stored securable
    assert reader.shown().storage_location is None  # bob neither owns it nor administers
    assert reader.shown().spec["row_filter"] == HIDDEN  # nor manages it

    def no_comments(access, who, securable):
        return securable if access.is_admin(who) else securable.__class__(**{**vars(securable), "comment": None})

    lake.set_comment(ORDERS, "north and south")
    custom = Guard(services(lake).access, shapers=[*SHAPERS, no_comments])
    with request():
        assert custom.allow(bob, get, ORDERS).shown().comment is None
        assert custom.allow(lake.principal, get, ORDERS).shown().comment == "north and south"
        assert [s.comment for s in custom.visible(bob, [services(lake).tables.table(ORDERS)])] == [None]


def test_a_securable_found_some_other_way_is_checked_and_authorized(lake):
    guard, bob = services(lake).tables.guard, as_bob(lake)
    secret = services(lake).tables.table("main.shop.order_secrets")
    with pytest.raises(PermissionDeniedError, match=r"bob lacks SELECT on table main.shop.order_secrets"):
        guard.allow(bob, Check("SELECT", "test.by_id"), secret)
    with pytest.raises(NotFoundError, match="is a table, not a model"):
        guard.allow(lake.principal, Check("EXECUTE", "test.by_id", kinds=("model",)), secret)
    assert guard.allow(bob, Check("SELECT", "test.by_id"), services(lake).tables.table(ORDERS)).name.full == ORDERS


# -- nothing reaches around the guard -----------------------------------------------------------

#: Capabilities that decide through the guard (sql/ resolves table references itself: its own slice).
GUARDED = ("tables", "registry", "tracking", "serving", "lakehouse.py")
#: The catalog's writing methods: only the tables service (and access, for filters, masks and grants) calls them.
CATALOG_WRITES = {"create", "update", "drop", "set_tags", "unset_tags", "set_column_comment"}


def _calls(package: str) -> list[tuple[str, str, str]]:
    """(file, receiver, method) of every ``<x>.<receiver>.<method>(...)`` or ``<receiver>.<method>(...)`` call."""
    found = []
    root = SRC / package
    for path in [root] if root.suffix == ".py" else sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = node.func.value
                name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
                found.append((str(path.relative_to(SRC)), name, node.func.attr))
    return found


def test_capabilities_authorize_only_through_the_guard():
    direct = [(f, r, m) for package in GUARDED for f, r, m in _calls(package) if r == "access" and m == "authorize"]
    assert direct == []


def test_only_the_tables_service_writes_the_catalog():
    writes = [
        (f, r, m)
        for package in (
            "registry",
            "tracking",
            "serving",
            "lakehouse.py",
            "sql",
            "server",
            "web",
            "cli",
            "integrations",
        )
        for f, r, m in _calls(package)
        if r == "catalog" and m in CATALOG_WRITES
    ]
    assert writes == []

"""The catalog: catalogs, schemas, tables, views and volumes; names, comments, tags, drops."""

from __future__ import annotations

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
)

SCHEMA = pa.schema([("id", pa.int64()), ("email", pa.string())])


def names(securables):
    return [s.full_name for s in securables]


# -- defaults ------------------------------------------------------------------------------


def test_a_new_lakehouse_has_main_default_and_system(lh):
    assert names(lh.list()) == ["main", "system"]
    assert names(lh.list("main")) == ["main.default"]
    assert lh.get("main.default").kind == "schema"
    assert names(lh.list("system")) == ["system.access", "system.lineage"]
    assert "system.access.audit" in names(lh.list("system.access"))
    assert lh.get("system").owner == "system"
    assert lh.get("main").owner == "alice"


def test_reopening_keeps_everything_and_creates_nothing_twice(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.create_schema("main.shop", comment="plants")
        lh.create_user("bob")
        lh.grant("USE SCHEMA", on="main.shop", to="bob")
    with glashaus.connect(tmp_path / "lh", user="bob") as lh:
        # bob lists what he may use: not the system catalog, which is for admins
        assert names(lh.list()) == ["main"]
        assert names(lh.list("main")) == ["main.default", "main.shop"]
        assert lh.get("main.shop").comment == "plants"
        assert lh.get("main.shop").owner == "alice"


def test_main_default_is_usable_at_once(lh):
    lh.create_table("main.default.t", schema=SCHEMA)
    # beside MLflow's default experiment (experiment 0), made with the lakehouse
    assert names(lh.list("main.default")) == ["main.default.default_0", "main.default.t"]


# -- create / list / get -----------------------------------------------------------------


def test_create_list_get_every_kind(shop):
    lh = shop
    lh.create_catalog("dev", comment="sandbox")
    lh.create_schema("dev.scratch")
    lh.create_table("main.shop.orders", schema=SCHEMA)
    lh.create_view("main.shop.big", "SELECT id FROM main.shop.orders WHERE id > 10")
    lh.create_volume("main.shop.images")
    assert names(lh.list()) == ["dev", "main", "system"]
    assert names(lh.list("dev")) == ["dev.scratch"]
    assert names(lh.list("main.shop")) == ["main.shop.big", "main.shop.images", "main.shop.orders"]
    assert names(lh.list("main.shop", kind="table")) == ["main.shop.orders"]
    assert names(lh.list("main.shop", kind="view")) == ["main.shop.big"]
    assert names(lh.list("main.shop", kind="volume")) == ["main.shop.images"]
    assert [
        lh.get(n).kind for n in ("dev", "dev.scratch", "main.shop.orders", "main.shop.big", "main.shop.images")
    ] == ["catalog", "schema", "table", "view", "volume"]
    assert lh.get("dev").comment == "sandbox"
    assert lh.get("main.shop.orders").owner == "alice"
    assert lh.get("main.shop.orders").created_by == "alice"


@pytest.mark.parametrize(
    "create",
    [
        lambda lh: lh.create_catalog("main"),
        lambda lh: lh.create_schema("main.shop"),
        lambda lh: lh.create_table("main.shop.orders", schema=SCHEMA),
        lambda lh: lh.create_volume("main.shop.files"),
    ],
)
def test_creating_twice_is_refused_with_the_fix(shop, create):
    shop.create_table("main.shop.orders", schema=SCHEMA)
    shop.create_volume("main.shop.files")
    with pytest.raises(AlreadyExistsError) as err:
        create(shop)
    assert "already exists" in str(err.value)
    assert "if_not_exists=True" in str(err.value)


def test_if_not_exists_returns_the_existing_object_unchanged(shop):
    lh = shop
    first = lh.create_table("main.shop.orders", schema=SCHEMA, comment="first")
    again = lh.create_table(
        "main.shop.orders", schema=pa.schema([("other", pa.string())]), comment="second", if_not_exists=True
    )
    assert again.id == first.id and again.comment == "first"
    assert lh.read("main.shop.orders").schema.names == ["id", "email"]
    assert lh.create_schema("main.shop", if_not_exists=True).full_name == "main.shop"
    assert lh.create_catalog("main", if_not_exists=True).full_name == "main"
    vol = lh.create_volume("main.shop.files")
    assert lh.create_volume("main.shop.files", if_not_exists=True).id == vol.id


def test_a_name_is_taken_across_kinds(shop):
    shop.create_table("main.shop.orders", schema=SCHEMA)
    with pytest.raises(AlreadyExistsError, match=r"table 'main.shop.orders' already exists"):
        shop.create_volume("main.shop.orders")
    with pytest.raises(AlreadyExistsError, match=r"table 'main.shop.orders' already exists"):
        shop.create_view("main.shop.orders", "SELECT 1 AS x")
    with pytest.raises(AlreadyExistsError, match=r"table 'main.shop.orders' already exists"):
        shop.create_volume("main.shop.orders", if_not_exists=True)


def test_case_insensitive_duplicates(shop):
    shop.create_catalog("Dev")
    with pytest.raises(AlreadyExistsError, match="'dev'"):
        shop.create_catalog("DEV")


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda lh: lh.create_schema("nope.shop"), "catalog 'nope' does not exist"),
        (lambda lh: lh.create_table("nope.x.t", schema=SCHEMA), "catalog 'nope' does not exist"),
        (lambda lh: lh.create_table("main.nope.t", schema=SCHEMA), "schema 'main.nope' does not exist"),
        (lambda lh: lh.create_volume("main.nope.v"), "schema 'main.nope' does not exist"),
        (lambda lh: lh.get("main.nope.t"), "schema 'main.nope' does not exist"),
        (lambda lh: lh.get("nope.shop.t"), "catalog 'nope' does not exist"),
        (lambda lh: lh.read("main.nope.t"), "schema 'main.nope' does not exist"),
        (lambda lh: lh.list("nope"), "'nope' does not exist"),
    ],
)
def test_not_found_says_which_level_is_missing(shop, call, fragment):
    with pytest.raises(NotFoundError) as err:
        call(shop)
    assert fragment in str(err.value)


def test_not_found_suggests_a_close_name_of_the_same_level(shop):
    lh = shop
    lh.create_table("main.shop.orders", schema=SCHEMA)
    with pytest.raises(NotFoundError, match=r"'main.shop.ordrs' does not exist. Did you mean 'main.shop.orders'\?"):
        lh.get("main.shop.ordrs")
    with pytest.raises(NotFoundError, match=r"Did you mean 'main.shop'\?"):
        lh.get("main.shoop")
    with pytest.raises(NotFoundError, match=r"Did you mean 'main'\?"):
        lh.get("mian")
    with pytest.raises(NotFoundError, match=r"Did you mean 'main.shop.orders'\?"):
        lh.read("main.shop.order")


def test_not_found_never_suggests_an_object_of_another_level(shop):
    # main.shop is empty: the closest *string* is the schema itself, which is no table.
    with pytest.raises(NotFoundError) as err:
        shop.get("main.shop.shop")
    assert "'main.shop.shop' does not exist" in str(err.value)
    assert "Did you mean" not in str(err.value)


def test_wrong_kind_says_what_the_object_is(shop):
    shop.create_table("main.shop.orders", schema=SCHEMA)
    with pytest.raises(NotFoundError) as err:
        shop.get_file("main.shop.orders", "a.txt")
    message = str(err.value)
    assert "main.shop.orders" in message and "is a table" in message
    assert "Did you mean 'main.shop.orders'" not in message


def test_create_view_checks_the_name_before_building_sql(shop):
    shop.create_table("main.shop.t", schema=SCHEMA)
    with pytest.raises(InvalidNameError, match="'bad name' is not a valid identifier"):
        shop.create_view("main.shop.bad name", "SELECT 1 AS x")
    with pytest.raises(InvalidNameError):
        shop.create_view("main.shop.v AS SELECT email AS id FROM main.shop.t --", "SELECT id FROM main.shop.t")
    assert names(shop.list("main.shop")) == ["main.shop.t"]
    v = shop.create_view("Main.Shop.V", "SELECT id FROM main.shop.t", comment="it's ids")
    assert (v.full_name, v.comment) == ("main.shop.v", "it's ids")


def test_create_with_wrong_number_of_parts(lh):
    with pytest.raises(InvalidNameError, match=r"expected catalog.schema\."):
        lh.create_schema("main")
    with pytest.raises(InvalidNameError, match=r"expected catalog\."):
        lh.create_catalog("main.x")


# -- drop ----------------------------------------------------------------------------------


def test_drop_non_empty_schema_needs_cascade(shop):
    lh = shop
    lh.create_table("main.shop.orders", schema=SCHEMA)
    lh.create_volume("main.shop.files")
    with pytest.raises(InvalidArgumentError) as err:
        lh.drop("main.shop")
    assert "'main.shop' is not empty" in str(err.value)
    assert "CASCADE" in str(err.value)
    assert names(lh.list("main.shop")) == ["main.shop.files", "main.shop.orders"]
    gone = lh.drop("main.shop", cascade=True)
    assert sorted(names(gone)) == ["main.shop", "main.shop.files", "main.shop.orders"]
    with pytest.raises(NotFoundError, match=r"schema 'main.shop' does not exist"):
        lh.get("main.shop.orders")
    assert names(lh.list("main")) == ["main.default"]


def test_drop_non_empty_catalog_needs_cascade(shop):
    with pytest.raises(InvalidArgumentError, match=r"catalog 'main' is not empty .*CASCADE"):
        shop.drop("main")
    shop.create_catalog("dev")
    shop.create_schema("dev.s")
    shop.create_table("dev.s.t", schema=SCHEMA)
    assert sorted(names(shop.drop("dev", cascade=True))) == ["dev", "dev.s", "dev.s.t"]
    assert names(shop.list()) == ["main", "system"]


def test_drop_table_then_recreate_starts_empty(shop):
    lh = shop
    lh.create_table("main.shop.orders", schema=SCHEMA)
    lh.write("main.shop.orders", {"id": [1], "email": ["a@x"]})
    assert names(lh.drop("main.shop.orders")) == ["main.shop.orders"]
    with pytest.raises(NotFoundError):
        lh.read("main.shop.orders")
    lh.create_table("main.shop.orders", schema=SCHEMA)
    assert lh.read("main.shop.orders").num_rows == 0
    assert lh.describe("main.shop.orders").version == 0


def test_drop_missing(shop):
    with pytest.raises(NotFoundError, match=r"'main.shop.nope' does not exist"):
        shop.drop("main.shop.nope")
    assert shop.drop("main.shop.nope", if_exists=True) == []
    assert shop.drop("nope.x.y", if_exists=True) == []


# -- the system catalog ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda lh: lh.create_catalog("system"),
        lambda lh: lh.create_catalog("SYSTEM", if_not_exists=True),
        lambda lh: lh.create_schema("system.mine"),
        lambda lh: lh.create_table("system.access.mine", schema=SCHEMA),
        lambda lh: lh.create_volume("system.access.files"),
        lambda lh: lh.create_view("system.access.v", "SELECT 1 AS x"),
        lambda lh: lh.drop("system", cascade=True),
        lambda lh: lh.drop("system.access", cascade=True),
        lambda lh: lh.drop("system.access.audit"),
        lambda lh: lh.write("system.access.audit", {"event_id": ["x"]}),
        lambda lh: lh.set_comment("system.access.audit", "mine now"),
        lambda lh: lh.set_tags("system", {"owner": "me"}),
        lambda lh: lh.unset_tags("system.access.audit", ["x"]),
        lambda lh: lh.set_properties("system.lineage", {"k": "v"}),
        lambda lh: lh.restore("system.access.audit", version=0),
        lambda lh: lh.vacuum("system.access.audit"),
    ],
)
def test_users_cannot_write_or_drop_the_system_catalog(lh, call):
    before = lh.get("system.access.audit")
    with pytest.raises(InvalidArgumentError) as err:
        call(lh)
    assert "system catalog is written only by Glashaus" in str(err.value)
    after = lh.get("system.access.audit")
    assert (after.comment, after.tags, after.properties) == (before.comment, before.tags, before.properties)
    assert names(lh.list("system")) == ["system.access", "system.lineage"]


# -- comments, tags, properties ---------------------------------------------------------------


def test_comments_tags_and_properties_show_in_describe(shop):
    lh = shop
    lh.create_table(
        "main.shop.customers",
        schema=SCHEMA,
        comment="people who buy",
        tags={"domain": "sales"},
        properties={"team": "growth"},
    )
    lh.set_comment("main.shop.customers", "who bought something")
    lh.set_comment("main.shop.customers", "contact address", column="EMAIL")
    lh.set_tags("main.shop.customers", {"pii": "email"}, column="email")
    lh.set_tags("main.shop.customers", {"tier": "gold", "domain": "shop"})
    lh.set_properties("main.shop.customers", {"sla": 24})
    info = lh.describe("main.shop.customers")
    assert info.comment == "who bought something"
    assert info.tags == {"domain": "shop", "tier": "gold"}
    assert info.properties == {"team": "growth", "sla": "24"}
    email = next(c for c in info.columns if c.name == "email")
    assert email.comment == "contact address"
    assert email.tags == {"pii": "email"}
    id_col = next(c for c in info.columns if c.name == "id")
    assert (id_col.comment, id_col.tags) == (None, {})

    lh.unset_tags("main.shop.customers", ["tier"])
    lh.unset_tags("main.shop.customers", ["pii"], column="email")
    info = lh.describe("main.shop.customers")
    assert info.tags == {"domain": "shop"}
    assert next(c for c in info.columns if c.name == "email").tags == {}


def test_comments_and_tags_on_containers_views_and_volumes(shop):
    lh = shop
    lh.create_table("main.shop.t", schema=SCHEMA)
    lh.create_view("main.shop.v", "SELECT id FROM main.shop.t", comment="ids only")
    lh.create_volume("main.shop.files", comment="images")
    lh.set_tags("main.shop", {"env": "prod"})
    lh.set_comment("main", "the main catalog")
    assert lh.get("main.shop").tags == {"env": "prod"}
    assert lh.get("main").comment == "the main catalog"
    assert lh.describe("main.shop.v").comment == "ids only"
    assert lh.describe("main.shop.v").sql.lower().startswith("select")
    assert lh.describe("main.shop.files").comment == "images"


def test_column_comment_or_tag_on_a_missing_column_is_refused(shop):
    shop.create_table("main.shop.t", schema=SCHEMA)
    with pytest.raises(NotFoundError) as err:
        shop.set_comment("main.shop.t", "x", column="emial")
    assert "'emial'" in str(err.value) and "main.shop.t" in str(err.value) and "email" in str(err.value)
    with pytest.raises(NotFoundError, match="'nope'"):
        shop.set_tags("main.shop.t", {"pii": "x"}, column="nope")
    assert shop.get("main.shop.t").column_tags == {}
    assert shop.get("main.shop.t").column_comments == {}


def test_empty_tag_key_is_refused(shop):
    shop.create_table("main.shop.t", schema=SCHEMA)
    with pytest.raises(InvalidArgumentError, match="tag key may not be empty"):
        shop.set_tags("main.shop.t", {" ": "x", "ok": "y"})
    assert shop.get("main.shop.t").tags == {}

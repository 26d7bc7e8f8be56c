"""Three-level names: what is accepted, what is refused, and what the refusal says."""

from __future__ import annotations

import pyarrow as pa
import pytest

from glashaus.catalog.names import Name, parse_name, validate_part
from glashaus.errors import InvalidNameError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("main.shop.orders", Name("main", "shop", "orders")),
        ("Main.SHOP.Orders", Name("main", "shop", "orders")),
        ("  main.shop.orders  ", Name("main", "shop", "orders")),
        ("_c.s_1.t_2", Name("_c", "s_1", "t_2")),
        ("c.s." + "x" * 128, Name("c", "s", "x" * 128)),
    ],
)
def test_valid_three_part_names_are_lower_cased(text, expected):
    assert parse_name(text) == expected
    assert parse_name(text).full == expected.full


def test_versions_are_parsed_and_printed():
    n = parse_name("main.shop.orders@v3")
    assert (n.full, n.version, str(n)) == ("main.shop.orders", 3, "main.shop.orders@v3")
    assert parse_name("main.shop.orders@v0").version == 0
    # the version suffix is case-insensitive like the rest of the name
    assert parse_name("Main.Shop.Orders@V12") == Name("main", "shop", "orders", version=12)


def test_version_refused_where_not_allowed():
    with pytest.raises(InvalidNameError, match=r"may not carry a version"):
        parse_name("main.shop.orders@v3", allow_version=False)


@pytest.mark.parametrize(
    "text",
    [
        "main.shop.orders@x",
        "main.shop.orders@v",
        "main.shop.orders@v-1",
        "main.shop.orders@champion",
        "main.shop.orders@v1@v2",
        "main.shop@v1.orders",
    ],
)
def test_unknown_at_suffix_is_refused_with_the_fix(text):
    with pytest.raises(InvalidNameError) as err:
        parse_name(text)
    assert repr(text) in str(err.value)
    assert "@v<N>" in str(err.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("main..orders", "empty"),
        (".shop.orders", "empty"),
        ("main.shop.", "empty"),
        ("", "1 part"),
    ],
)
def test_empty_parts_are_refused(text, fragment):
    with pytest.raises(InvalidNameError) as err:
        parse_name(text)
    assert fragment in str(err.value)
    assert "catalog.schema" in str(err.value)  # says what a good name looks like


@pytest.mark.parametrize(
    ("text", "bad_part"),
    [
        ("main.shop.or/ders", "or/ders"),
        ("main.sh/op.orders", "sh/op"),
        ("main.shop.a\\b", "a\\b"),
        ("main.shop.'orders'", "'orders'"),
        ('main.shop."orders"', '"orders"'),
        ("main.shop.`orders`", "`orders`"),
        ("main.shop.1orders", "1orders"),
        ("main.shop.tählé", "tählé"),
        ("main.shop.or ders", "or ders"),
        ("main.shop.orders;drop", "orders;drop"),
        ("main.shop.or-ders", "or-ders"),
        ("main.shop." + "x" * 129, "x" * 129),
    ],
)
def test_forbidden_characters_are_refused_naming_the_part(text, bad_part):
    with pytest.raises(InvalidNameError) as err:
        parse_name(text)
    message = str(err.value)
    assert repr(bad_part) in message
    assert "letters, digits and underscores" in message


@pytest.mark.parametrize(("text", "parts"), [("main", 1), ("main.shop", 2), ("a.b.c.d", 4)])
def test_wrong_number_of_parts_is_refused(text, parts):
    with pytest.raises(InvalidNameError) as err:
        parse_name(text)
    assert f"has {parts} part(s)" in str(err.value)
    assert "catalog.schema.object" in str(err.value)


def test_levels_choose_how_many_parts_are_wanted():
    assert parse_name("Main", levels=1) == Name("main")
    assert parse_name("main.Shop", levels=(1, 2)) == Name("main", "shop")
    with pytest.raises(InvalidNameError, match=r"expected catalog or catalog.schema"):
        parse_name("main.shop.orders", levels=(1, 2))


def test_non_string_names_are_refused():
    with pytest.raises(InvalidNameError, match="must be a string, got int"):
        parse_name(42)  # type: ignore[arg-type]


def test_name_helpers():
    n = parse_name("main.shop.orders")
    assert n.parent == Name("main", "shop")
    assert n.parent.parent == Name("main")
    assert Name("main").parent is None
    assert [n.level, n.parent.level, n.parent.parent.level] == ["object", "schema", "catalog"]
    assert validate_part("Orders") == "orders"
    with pytest.raises(InvalidNameError, match="column is empty"):
        validate_part("", what="column")


# -- through the public API -------------------------------------------------------------


def test_api_names_are_case_insensitive(shop):
    shop.create_table("Main.Shop.Orders", schema=pa.schema([("ID", pa.int64())]))
    assert shop.get("MAIN.shop.ORDERS").full_name == "main.shop.orders"
    shop.write("main.SHOP.orders", {"Id": [1]})
    assert shop.read("MAIN.SHOP.ORDERS").to_pylist() == [{"id": 1}]
    assert shop.sql("SELECT ID FROM MAIN.Shop.Orders").fetchall() == [(1,)]
    assert [s.full_name for s in shop.list("MAIN.SHOP")] == ["main.shop.orders"]


@pytest.mark.parametrize("bad", ["main.shop", "main..orders", "main.shop.or/ders", "main.shop.x@y", "../../etc"])
def test_api_refuses_bad_table_names_before_touching_anything(shop, bad):
    before = [s.full_name for s in shop.list("main.shop")]
    with pytest.raises(InvalidNameError):
        shop.create_table(bad, schema=pa.schema([("id", pa.int64())]))
    assert [s.full_name for s in shop.list("main.shop")] == before


@pytest.mark.parametrize("user", ["bad user", "", "a/b", "x" * 256, "'; DROP"])
def test_bad_user_names_are_refused(tmp_path, user):
    import glashaus

    with pytest.raises(InvalidNameError) as err:
        glashaus.connect(tmp_path / "lh", user=user)
    assert repr(user) in str(err.value) and "alice@example.com" in str(err.value)


def test_user_names_are_lower_cased(tmp_path):
    import glashaus

    with glashaus.connect(tmp_path / "lh", user="Alice@Example.com") as lh:
        assert lh.user == "alice@example.com"


def test_api_read_with_version_suffix(shop):
    shop.create_table("main.shop.t", schema=pa.schema([("id", pa.int64())]))
    shop.write("main.shop.t", {"id": [1]})
    shop.write("main.shop.t", {"id": [2]})
    assert shop.read("main.shop.t@v1").to_pylist() == [{"id": 1}]
    with pytest.raises(InvalidNameError, match="@v<N>"):
        shop.read("main.shop.t@latest")

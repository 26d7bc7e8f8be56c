"""Row filters, column masks and tag policies: no read path around them."""

from __future__ import annotations

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError, UngovernedAccessError
from glashaus.lakehouse import services

EMAILS = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]


@pytest.fixture
def lake(tmp_path):
    """alice (admin) owns main.shop.customers; bob is an analyst; carol an analyst and PII reader."""
    root = tmp_path / "lh"
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_table(
            "main.shop.customers",
            data=pa.table(
                {
                    "id": [1, 2, 3, 4],
                    "region": ["north", "south", "north", "alpine"],
                    "email": EMAILS,
                    "spend": [10.0, 20.0, 30.0, 40.0],
                }
            ),
            primary_key=["id"],
        )
        lh.create_group("analysts")
        lh.create_group("pii_readers")
        for user in ("bob", "carol"):
            lh.create_user(user)
            lh.add_member("analysts", user)
        lh.add_member("pii_readers", "carol")
        lh.grant("USE SCHEMA", on="main.shop", to="analysts")
        lh.grant("SELECT", on="main.shop", to="analysts")
        lh.grant("CREATE TABLE", on="main.shop", to="analysts")
        lh.grant("MODIFY", on="main.shop.customers", to="analysts")
        lh.set_row_filter("main.shop.customers", "region = 'north' OR is_member('pii_readers')")
        lh.set_column_mask(
            "main.shop.customers", "email", "CASE WHEN is_member('pii_readers') THEN email ELSE '***' END"
        )
        lh.create_view("main.shop.by_region", "SELECT region, email, spend FROM main.shop.customers")
    return root


def as_user(root, user):
    return glashaus.connect(root, user=user)


READS = [
    "SELECT id, email FROM main.shop.customers ORDER BY id",
    "SELECT * FROM main.shop.customers ORDER BY id",
    "WITH c AS (SELECT * FROM main.shop.customers) SELECT id, email FROM c ORDER BY id",
    "SELECT id, email FROM (SELECT * FROM main.shop.customers) s ORDER BY id",
    (
        "SELECT id, email FROM main.shop.customers WHERE id IN (1, 3) UNION ALL "
        "SELECT id, email FROM main.shop.customers WHERE id NOT IN (1, 3) ORDER BY id"
    ),
    "SELECT a.id, b.email FROM main.shop.customers a JOIN main.shop.customers b ON a.id = b.id ORDER BY a.id",
    "SELECT id, email FROM main.shop.customers@v1 ORDER BY id",
]


@pytest.mark.parametrize("sql", READS)
def test_every_query_shape_sees_only_filtered_rows_and_masked_values(lake, sql):
    with as_user(lake, "bob") as bob:
        rows = bob.sql(sql).to_pylist()
    assert [(r["id"], r["email"]) for r in rows] == [(1, "***"), (3, "***")]


def test_views_apply_the_readers_filter_and_mask(lake):
    with as_user(lake, "bob") as bob:
        assert bob.sql("SELECT region, email FROM main.shop.by_region ORDER BY spend").fetchall() == [
            ("north", "***"),
            ("north", "***"),
        ]
    with as_user(lake, "carol") as carol:
        assert [
            r[1] for r in carol.sql("SELECT region, email FROM main.shop.by_region ORDER BY spend").fetchall()
        ] == EMAILS


def test_python_reads_and_the_change_feed_are_filtered_and_masked(lake):
    with as_user(lake, "bob") as bob:
        rows = bob.read("main.shop.customers").to_pylist()
        assert [(r["id"], r["email"]) for r in rows] == [(1, "***"), (3, "***")]
        # the filter still holds when the caller asks only for other columns
        assert bob.read("main.shop.customers", columns=["spend"]).column("spend").to_pylist() == [10.0, 30.0]
        changes = bob.changes("main.shop.customers")
        assert sorted(changes.column("email").to_pylist()) == ["***", "***"]
        with pytest.raises(InvalidArgumentError, match="nope"):
            bob.read("main.shop.customers", columns=["nope"])


def test_a_filtered_streamed_read_does_not_count_the_hidden_rows(lake):
    with as_user(lake, "bob") as bob:
        read = services(bob).tables.read_batches(bob.principal, "main.shop.customers")
        assert read.num_rows is None  # the stored count would say how many rows are hidden
        assert read.reader.read_all().column("email").to_pylist() == ["***", "***"]
    with as_user(lake, "alice") as alice:
        alice.set_row_filter("main.shop.customers", None)
        alice.set_column_mask("main.shop.customers", "email", None)
        assert services(alice).tables.read_batches(alice.principal, "main.shop.customers").num_rows == 4


def test_exempt_readers_see_everything(lake):
    with as_user(lake, "carol") as carol:
        assert carol.read("main.shop.customers").sort_by("id").column("email").to_pylist() == EMAILS
        assert carol.sql("SELECT count(*) FROM main.shop.customers").scalar() == 4


def test_a_copy_made_by_a_filtered_reader_holds_only_what_they_saw(lake):
    with as_user(lake, "bob") as bob:
        bob.sql("CREATE TABLE main.shop.bobs_copy AS SELECT * FROM main.shop.customers")
    with as_user(lake, "alice") as alice:
        assert alice.read("main.shop.bobs_copy").column("email").to_pylist() == ["***", "***"]


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE main.shop.customers SET spend = spend + 1 WHERE id = 1",
        "UPDATE main.shop.customers SET spend = 0 WHERE lower(region) = 'north'",
        "DELETE FROM main.shop.customers WHERE region = 'south'",
        (
            "MERGE INTO main.shop.customers t USING (SELECT 2 AS id, 'south' AS region, 'x' AS email, 1.0 AS spend) s "
            "ON t.id = s.id WHEN MATCHED THEN UPDATE SET spend = s.spend"
        ),
    ],
)
def test_a_filtered_writer_may_not_rewrite_rows_it_cannot_see(lake, change):
    with as_user(lake, "bob") as bob:
        with pytest.raises(PermissionDeniedError, match="may only append"):
            bob.sql(change)
        bob.sql("INSERT INTO main.shop.customers VALUES (5, 'north', 'e@example.com', 5.0)")  # appends are fine
    with as_user(lake, "carol") as carol:
        assert carol.sql("SELECT count(*) FROM main.shop.customers").scalar() == 5
        assert carol.read("main.shop.customers").sort_by("id").column("email").to_pylist()[:4] == EMAILS
    with as_user(lake, "alice") as alice:
        assert (
            alice.sql(
                "SELECT count(*) FROM system.access.audit WHERE principal = 'bob' "
                "AND action = 'table.change_filtered' AND decision = 'deny'"
            ).scalar()
            == 1
        )


def test_a_filtered_manager_may_not_replace_the_table(lake):
    # MANAGE lets bob drop the table or lift the filter, openly; a replace computed from
    # what he sees would silently put his view in the table's place.
    with as_user(lake, "alice") as alice:
        alice.grant("MANAGE", on="main.shop.customers", to="bob")
    with as_user(lake, "bob") as bob, pytest.raises(PermissionDeniedError, match="may only append"):
        bob.sql("CREATE OR REPLACE TABLE main.shop.customers AS SELECT * FROM main.shop.customers")
    with as_user(lake, "carol") as carol:
        assert carol.read("main.shop.customers").sort_by("id").column("email").to_pylist() == EMAILS


def test_a_writer_the_filter_and_mask_do_not_apply_to_may_change_any_row(lake):
    with as_user(lake, "carol") as carol:  # a PII reader: the filter is TRUE and the mask is email for her
        carol.sql("UPDATE main.shop.customers SET spend = spend + 1 WHERE region = 'south'")
        carol.sql("DELETE FROM main.shop.customers WHERE lower(region) = 'alpine'")
        carol.write(
            "main.shop.customers",
            pa.table({"id": [2], "region": ["south"], "email": ["b2@example.com"], "spend": [0.0]}),
            mode="merge",
        )
        rows = carol.read("main.shop.customers").sort_by("id").to_pylist()
    assert [(r["id"], r["email"], r["spend"]) for r in rows] == [
        (1, EMAILS[0], 10.0),
        (2, "b2@example.com", 0.0),
        (3, EMAILS[2], 30.0),
    ]


def test_tag_policies_mask_tagged_columns_for_everyone_outside_the_groups(lake):
    with as_user(lake, "alice") as alice:
        alice.set_column_mask("main.shop.customers", "email", None)
        alice.set_row_filter("main.shop.customers", None)
        alice.set_tags("main.shop.customers", {"pii": "email"}, column="email")
        alice.create_tag_policy("hide_pii", tag="pii", mask="'redacted'", except_groups=["pii_readers"])
        assert set(alice.read("main.shop.customers").column("email").to_pylist()) == {"redacted"}
    with as_user(lake, "bob") as bob:
        assert set(bob.sql("SELECT email FROM main.shop.customers").to_arrow().column(0).to_pylist()) == {"redacted"}
    with as_user(lake, "carol") as carol:
        assert carol.sql("SELECT email FROM main.shop.customers ORDER BY id").to_arrow().column(0).to_pylist() == EMAILS
    with as_user(lake, "alice") as alice:
        alice.drop_tag_policy("hide_pii")
        assert alice.read("main.shop.customers").sort_by("id").column("email").to_pylist() == EMAILS


def test_tag_policy_matching_a_tag_value(lake):
    with as_user(lake, "alice") as alice:
        alice.set_column_mask("main.shop.customers", "email", None)
        alice.set_tags("main.shop.customers", {"class": "email"}, column="email")
        alice.set_tags("main.shop.customers", {"class": "money"}, column="spend")
        alice.create_tag_policy(
            "hide_emails", tag="class=email", mask="left(value, 1) || '…'", except_groups=["pii_readers"]
        )
    with as_user(lake, "bob") as bob:
        rows = bob.sql("SELECT email, spend FROM main.shop.customers ORDER BY id").fetchall()
    assert rows == [("a…", 10.0), ("c…", 30.0)]


@pytest.mark.parametrize(
    ("column_tag", "policy_tag"),
    [
        ({"PII": ""}, "pii"),
        ({"pii": ""}, "PII"),
        ({"Class": "EMAIL"}, "class=email"),
        ({"class": "email", "CLASS": "phone"}, "class=Phone"),
    ],
)
def test_tag_policies_match_tags_whatever_their_case(lake, column_tag, policy_tag):
    # A policy that missed 'PII' for being spelled 'pii' would fail open.
    with as_user(lake, "alice") as alice:
        alice.set_column_mask("main.shop.customers", "email", None)
        alice.set_tags("main.shop.customers", column_tag, column="email")
        alice.create_tag_policy("hide", tag=policy_tag, mask="'redacted'", except_groups=["pii_readers"])
    with as_user(lake, "bob") as bob:
        assert set(bob.sql("SELECT email FROM main.shop.customers").to_arrow().column(0).to_pylist()) == {"redacted"}
        assert set(bob.read("main.shop.customers").column("email").to_pylist()) == {"redacted"}
    with as_user(lake, "carol") as carol:
        assert "a@example.com" in carol.read("main.shop.customers").column("email").to_pylist()


def test_a_tag_policy_on_another_value_leaves_the_column_alone(lake):
    with as_user(lake, "alice") as alice:
        alice.set_column_mask("main.shop.customers", "email", None)
        alice.set_tags("main.shop.customers", {"class": "email"}, column="email")
        alice.create_tag_policy("hide", tag="class=phone", mask="'redacted'", except_groups=["pii_readers"])
    with as_user(lake, "bob") as bob:
        assert bob.read("main.shop.customers").column("email").to_pylist() == ["a@example.com", "c@example.com"]


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda lh: lh.set_row_filter("main.shop.customers", "nope = 1"), InvalidArgumentError, "'nope'"),
        (
            lambda lh: lh.set_row_filter("main.shop.customers", "id IN (SELECT 1)"),
            InvalidArgumentError,
            "without queries",
        ),
        (
            lambda lh: lh.set_row_filter("main.shop.customers", "region = (SELECT max(region) FROM main.shop.t)"),
            InvalidArgumentError,
            "without queries",
        ),
        (
            lambda lh: lh.set_row_filter("main.shop.customers", "read_csv('/etc/passwd') IS NULL"),
            UngovernedAccessError,
            "read_csv",
        ),
        (lambda lh: lh.set_row_filter("main.shop.customers", "   "), InvalidArgumentError, "empty"),
        (lambda lh: lh.set_row_filter("main.shop.customers", "region = 'x' OR"), InvalidArgumentError, "not a SQL"),
        (lambda lh: lh.set_column_mask("main.shop.customers", "nope", "'x'"), NotFoundError, "no column 'nope'"),
        (
            lambda lh: lh.set_column_mask("main.shop.customers", "email", "other.email"),
            InvalidArgumentError,
            "other.email",
        ),
        (
            lambda lh: lh.create_tag_policy("p", tag="pii", mask="'x'", except_groups=["ghosts"]),
            NotFoundError,
            "ghosts",
        ),
        (
            lambda lh: lh.create_tag_policy("p", tag="", mask="'x'", except_groups=[]),
            InvalidArgumentError,
            "needs a tag",
        ),
        (lambda lh: lh.set_row_filter("system.access.audit", "true"), InvalidArgumentError, "system catalog"),
        (
            lambda lh: lh.set_row_filter("main.shop.customers", "region = 'x'; DROP TABLE main.shop.customers"),
            InvalidArgumentError,
            "not several statements",
        ),
        (
            lambda lh: lh.set_column_mask("main.shop.customers", "email", "email; SELECT 1"),
            InvalidArgumentError,
            "not several statements",
        ),
        (
            lambda lh: lh.set_row_filter("main.shop.customers", "region = 'x') OR (1=1"),
            InvalidArgumentError,
            "not a SQL",
        ),
    ],
)
def test_bad_policies_are_refused_with_a_clear_error(lake, call, error, fragment):
    with as_user(lake, "alice") as alice:
        with pytest.raises(error) as info:
            call(alice)
        assert fragment in str(info.value)


def test_is_member_needs_one_quoted_group(lake):
    with as_user(lake, "alice") as alice:
        alice.set_row_filter("main.shop.customers", "is_member(region)")
    with as_user(lake, "bob") as bob, pytest.raises(InvalidArgumentError, match="is_member"):
        bob.sql("SELECT * FROM main.shop.customers")


def test_only_managers_set_filters_and_only_admins_tag_policies(lake):
    with as_user(lake, "bob") as bob:
        with pytest.raises(PermissionDeniedError, match="MANAGE"):
            bob.set_row_filter("main.shop.customers", "true")
        with pytest.raises(PermissionDeniedError, match="MANAGE"):
            bob.set_column_mask("main.shop.customers", "email", "email")
        with pytest.raises(PermissionDeniedError, match="admins"):
            bob.create_tag_policy("mine", tag="pii", mask="value", except_groups=["analysts"])


def test_current_user_is_the_reader(lake):
    with as_user(lake, "alice") as alice:
        alice.set_column_mask("main.shop.customers", "email", None)
        alice.set_row_filter("main.shop.customers", "email = current_user() || '@example.com' OR is_member('admins')")
        alice.create_user("a")
        alice.add_member("analysts", "a")
    with as_user(lake, "a") as a:
        assert a.sql("SELECT id FROM main.shop.customers").fetchall() == [(1,)]


def test_semicolons_inside_strings_are_just_text(lake):
    with as_user(lake, "alice") as alice:
        alice.set_row_filter("main.shop.customers", "email <> 'x;y' AND region = 'north'")
    with as_user(lake, "bob") as bob:
        assert bob.sql("SELECT count(*) FROM main.shop.customers").scalar() == 2


def test_listing_tag_policies_is_audited_and_shows_masks_and_groups_to_admins_only(lake):
    """Before, ``lh.tag_policies()`` neither authorized nor audited, and showed everyone each policy's
    mask and exempt groups; now the look is audited (``tag_policy.list``) and, as for a table's filters
    and masks, only the policies' managers (admins) see what a mask says and who is exempt."""
    with as_user(lake, "alice") as alice:
        alice.create_tag_policy("hide_pii", tag="pii=email", mask="'***'", except_groups=["pii_readers"])
        (policy,) = alice.tag_policies()
        assert (policy.name, policy.tag_key, policy.tag_value, policy.mask, policy.except_groups) == (
            "hide_pii",
            "pii",
            "email",
            "'***'",
            ("pii_readers",),
        )
    with as_user(lake, "bob") as bob:
        (seen,) = bob.tag_policies()
        assert (seen.name, seen.tag_key, seen.tag_value, seen.created_by) == ("hide_pii", "pii", "email", "alice")
        assert (seen.mask, seen.except_groups) == ("(hidden)", ("(hidden)",))
    with as_user(lake, "alice") as alice:
        rows = alice.sql(
            "SELECT principal, decision, reason, securable_kind FROM system.access.audit "
            "WHERE action = 'tag_policy.list' ORDER BY event_time"
        ).fetchall()
    assert [(p, d, k) for p, d, _, k in rows] == [("alice", "allow", "metastore"), ("bob", "allow", "metastore")]
    assert "not an admin" in rows[1][2]

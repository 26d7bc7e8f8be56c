"""What a filtered or masked principal may do to a table and learn about it, through every face.

bob reads main.shop.customers through a row filter and a mask (and holds MODIFY); carol is
exempt from both (pii_readers); alice owns the table. Through the embedded API, the REST API
(remote client on a real server), the CLI and the web catalog page: bob may only append
(no restore, overwrite, merge, delete, update, optimize, vacuum, schema change or replace);
he sees no row counts, sizes or operation metrics, and no filter or mask expressions.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from browser import as_user, needs_chromium
from typer.testing import CliRunner

import glashaus
from glashaus.access.policies import HIDDEN
from glashaus.cli.main import app
from glashaus.errors import InvalidArgumentError, PermissionDeniedError
from glashaus.server.app import ServerThread, create_app

T = "main.shop.customers"
FILTER = "region = 'north' OR is_member('pii_readers')"
MASK = "CASE WHEN is_member('pii_readers') THEN email ELSE '***' END"
ROWS = pa.table(
    {
        "id": [1, 2, 3, 4],
        "region": ["north", "south", "north", "alpine"],
        "email": ["a@x.org", "b@x.org", "c@x.org", "d@x.org"],
    }
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("faces") / "lh", user="alice")
    lh.create_schema("main.shop")
    lh.create_table(T, data=ROWS.slice(0, 2), primary_key=["id"])
    lh.write(T, ROWS.slice(2))  # version 2: two more rows
    lh.create_group("pii_readers")
    for user in ("bob", "carol"):
        lh.create_user(user)
    lh.add_member("pii_readers", "carol")
    for user in ("bob", "carol"):
        lh.grant("USE SCHEMA", on="main.shop", to=user)
        lh.grant("SELECT", on=T, to=user)
        lh.grant("MODIFY", on=T, to=user)
    lh.set_row_filter(T, FILTER)
    lh.set_column_mask(T, "email", MASK)
    try:
        yield lh
    finally:
        lh.close()


@pytest.fixture(scope="module")
def server(lake):
    with ServerThread(create_app(lake, max_auth_failures=1000)) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(lake):
    return {user: lake.create_token(user) for user in ("alice", "bob", "carol")}


@pytest.fixture(scope="module", params=["embedded", "remote"])
def face(request, lake, server, tokens):
    """``face(user)``: the lakehouse as ``user``, embedded or through the REST API."""
    opened = []

    def open_as(user: str):
        if request.param == "embedded":
            return lake.as_user(user)
        remote = glashaus.connect(server.url, token=tokens[user])
        opened.append(remote)
        return remote

    yield open_as
    for remote in opened:
        remote.close()


REWRITES = {
    "restore": lambda lh: lh.restore(T, version=1),
    "overwrite": lambda lh: lh.write(T, ROWS.slice(0, 1), mode="overwrite"),
    "merge": lambda lh: lh.write(T, ROWS.slice(0, 1), mode="merge"),
    "schema change": lambda lh: lh.write(T, {"id": [9], "region": ["north"], "extra": [1]}, schema_mode="merge"),
    "optimize": lambda lh: lh.optimize(T),
    "vacuum": lambda lh: lh.vacuum(T, dry_run=False),
    "delete": lambda lh: lh.sql(f"DELETE FROM {T} WHERE id = 2"),
    "delete (rewritten)": lambda lh: lh.sql(f"DELETE FROM {T} WHERE lower(region) = 'south'"),
    "update": lambda lh: lh.sql(f"UPDATE {T} SET region = 'x' WHERE id = 1"),
    "insert overwrite": lambda lh: lh.sql(f"INSERT OVERWRITE {T} SELECT * FROM {T}"),
    "sql merge": lambda lh: lh.sql(
        f"MERGE INTO {T} t USING (SELECT 2 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE"
    ),
}


@pytest.mark.parametrize("operation", sorted(REWRITES))
def test_a_filtered_writer_may_only_append(face, lake, operation):
    bob = face("bob")
    before = lake.history(T, limit=1)[0].version
    with pytest.raises(PermissionDeniedError, match="may only append"):
        REWRITES[operation](bob)
    assert lake.history(T, limit=1)[0].version == before
    assert (
        lake.sql(
            "SELECT count(*) FROM system.access.audit WHERE principal = 'bob' AND decision = 'deny' "
            "AND action = 'table.change_filtered'"
        ).scalar()
        >= 1
    )


def test_a_writer_the_filter_and_mask_do_not_apply_to_may_rewrite(face, lake):
    carol = face("carol")
    v = lake.history(T, limit=1)[0].version
    carol.restore(T, version=1)
    assert len(carol.read(T)) == 2
    carol.restore(T, version=v)  # back to what it was
    assert sorted(carol.read(T).column("email").to_pylist()) == sorted(ROWS.column("email").to_pylist())
    assert [h.principal for h in lake.history(T, limit=2)] == ["carol", "carol"]


def test_a_filtered_reader_learns_no_counts_sizes_metrics_or_policy_sql(face):
    bob = face("bob")
    info = bob.describe(T)
    assert (info.num_rows, info.size_bytes, info.num_files) == (None, None, None)
    assert info.columns and info.version >= 2  # the rest of the description stays
    history = bob.history(T)
    assert all(h.metrics == {} and h.rows_added is None for h in history)
    spec = bob.get(T).spec
    assert spec["row_filter"] == HIDDEN and spec["column_masks"] == {"email": HIDDEN}
    listed = {s.full_name: s for s in bob.list("main.shop")}
    assert listed[T].spec["row_filter"] == HIDDEN
    assert len(bob.read(T)) == 2  # his own view is what he reads


def test_an_unrestricted_reader_sees_counts_but_only_managers_see_policy_sql(face):
    carol, alice = face("carol"), face("alice")
    assert carol.describe(T).num_rows == 4
    assert any(h.rows_added for h in carol.history(T))
    assert carol.get(T).spec["row_filter"] == HIDDEN  # she is exempt, not a manager
    assert alice.describe(T).num_rows == 4  # the filter applies to alice, but she owns the table
    assert alice.get(T).spec["row_filter"] == FILTER
    assert alice.get(T).spec["column_masks"] == {"email": MASK}


def test_unknown_kinds_are_refused_not_answered_with_nothing(face):
    alice = face("alice")
    with pytest.raises(InvalidArgumentError, match="kind='tabel'"):
        alice.list("main.shop", kind="tabel")
    with pytest.raises(InvalidArgumentError, match="kind must be user, group or service_principal"):
        alice.principals(kind="usr")
    assert [s.full_name for s in alice.list("main.shop", kind="table")] == [T]


def test_a_write_without_columns_is_refused_and_commits_nothing(face, lake):
    alice = face("alice")
    before = lake.history(T, limit=1)[0].version
    with pytest.raises(InvalidArgumentError, match="has no columns"):
        alice.write(T, pa.table({}))
    assert lake.history(T, limit=1)[0].version == before


def cli(lake, user: str, *args: str):
    result = CliRunner().invoke(
        app,
        [*args, "--lakehouse", lake.root, "--user", user],
        env={"GLASHAUS_LAKEHOUSE": None, "GLASHAUS_USER": None, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_cli_shows_a_filtered_reader_no_counts_or_row_changes(lake):
    facts = {
        line.strip("│ ").split(maxsplit=1)[0]: line.strip("│ ").split(maxsplit=1)[-1]
        for line in cli(lake, "bob", "tables", "show", T).splitlines()
        if line.startswith("│ ")
    }
    assert (facts["rows"], facts["size"]) == ("—", "— in — file(s)")
    assert cli(lake, "alice", "tables", "show", T).count("4 in ") == 0  # sizes are in bytes, rows on their own
    history = [line for line in cli(lake, "bob", "tables", "history", T).splitlines() if "WRITE append" in line]
    assert history and "+" not in "".join(history)
    full = [line for line in cli(lake, "alice", "tables", "history", T).splitlines() if "WRITE append" in line]
    assert "+2" in "".join(full)


@needs_chromium
def test_the_web_table_page_shows_a_filtered_reader_no_counts(page, server, tokens):
    as_user(page, server, tokens, "bob", f"/catalog/{T}")
    assert "not shown" in page.inner_text("#rows")
    added = [cells[-1] for cells in _rows(page, "#history")]
    assert added and set(added) == {""}
    page.context.clear_cookies()  # sign in again, as the owner
    as_user(page, server, tokens, "alice", f"/catalog/{T}")
    assert page.inner_text("#rows").startswith("4 in ")


def _rows(page, selector: str) -> list[list[str]]:
    return [
        [cell.inner_text() for cell in row.query_selector_all("td")]
        for row in page.query_selector_all(f"{selector} tbody tr")
    ]

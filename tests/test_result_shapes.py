"""One shape for the public API: typed results (with the old dict one release away), vacuum a dry run by default,
one keyword name per argument across layers. Each change shows the old behaviour and the new."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import warnings

import httpx
import pyarrow as pa
import pytest

import glashaus
from glashaus.deprecation import DictShaped, renamed_keywords, warn
from glashaus.errors import NotFoundError
from glashaus.lakehouse import services
from glashaus.server.app import ServerThread, create_app
from glashaus.server.codec import encode_any
from glashaus.tables.results import (
    Column,
    ColumnEdge,
    Description,
    Grant,
    HistoryEntry,
    OptimizeResult,
)

T = "main.shop.t"


@pytest.fixture
def table(shop):
    shop.create_table(
        T, schema=pa.schema([("id", pa.int64()), ("v", pa.string())]), primary_key=["id"], comment="things"
    )
    shop.set_tags(T, {"pii": ""}, column="v")
    shop.write(T, {"id": [1, 2], "v": ["a", "b"]})
    shop.write(T, {"id": [3], "v": ["c"]})
    return shop


def deprecated(call):
    """The value of ``call()`` and the message of the one DeprecationWarning it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(messages) == 1, messages
    return value, messages[0]


# -- the deprecation helper ---------------------------------------------------------------------


def test_the_warning_names_the_replacement_and_points_at_the_callers_line():
    @renamed_keywords(frm="from_")
    def revoke(privilege, *, from_):
        return from_

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert revoke("SELECT", frm="bob") == "bob"
    assert str(caught[0].message) == (
        "revoke(frm=...) is deprecated and will be removed in the next release; use revoke(from_=...)"
    )
    assert caught[0].filename == __file__  # the user's line, not the helper's
    with pytest.raises(TypeError, match="pass only from_="):
        revoke("SELECT", frm="bob", from_="ann")
    _, message = deprecated(lambda: warn("old()", "new()", stacklevel=2))
    assert message.endswith("use new()")


def test_a_dict_shaped_result_reads_like_the_old_dict_with_a_warning_naming_the_attribute():
    @dataclasses.dataclass(frozen=True)
    class Thing(DictShaped):
        name: str
        parts: tuple[Column, ...] = ()

    thing = Thing("x", (Column("a", "int64", True),))
    assert thing.to_dict() == {
        "name": "x",
        "parts": [{"name": "a", "type": "int64", "nullable": True, "comment": None, "tags": {}}],
    }
    value, message = deprecated(lambda: thing["name"])
    assert value == "x" and "Thing['name'] is deprecated" in message and message.endswith("use Thing.name")
    value, message = deprecated(lambda: thing.get("name"))
    assert value == "x" and message.endswith("use Thing.name")
    with pytest.warns(DeprecationWarning, match="is deprecated"):
        assert dict(thing) == thing.to_dict()
    with pytest.raises(KeyError):
        thing["nope"]


# -- typed results, old dicts via to_dict() ------------------------------------------------------


def test_describe_is_a_description_whose_to_dict_is_the_old_dict(table):
    info = table.describe(T)
    assert isinstance(info, Description) and isinstance(info.columns[0], Column)
    assert (info.name, info.kind, info.version, info.primary_key, info.num_rows) == (T, "table", 2, ("id",), 3)
    assert [(c.name, c.tags) for c in info.columns] == [("id", {}), ("v", {"pii": ""})]
    old = info.to_dict()
    assert list(old) == [
        "name",
        "kind",
        "owner",
        "comment",
        "tags",
        "properties",
        "created_at",
        "created_by",
        "location",
        "version",
        "primary_key",
        "partition_by",
        "constraints",
        "num_files",
        "size_bytes",
        "num_rows",
        "columns",
    ]
    assert old["primary_key"] == ["id"] and old["partition_by"] == [] and isinstance(old["created_at"], dt.datetime)
    assert old["columns"][1] == {"name": "v", "type": "string", "nullable": True, "comment": None, "tags": {"pii": ""}}
    # Old: lh.describe(t)["columns"][0]["name"]. Still works for a release, and says what to write instead.
    columns, message = deprecated(lambda: info["columns"])
    assert columns == old["columns"] and message.endswith("use Description.columns")


def test_describe_of_a_view_and_a_volume_keep_their_own_keys(table):
    table.create_view("main.shop.v", f"SELECT id FROM {T}")
    table.create_volume("main.shop.files")
    view = table.describe("main.shop.v")
    assert [c.name for c in view.columns] == ["id"] and view.version is None and "SELECT" in view.sql
    assert list(view.to_dict())[-3:] == ["sql", "column_comments", "columns"]
    volume = table.describe("main.shop.files").to_dict()
    assert list(volume) == [
        "name",
        "kind",
        "owner",
        "comment",
        "tags",
        "properties",
        "created_at",
        "created_by",
        "location",
    ]


def test_history_grants_optimize_and_column_lineage_are_dataclasses(table):
    history = table.history(T)
    assert all(isinstance(h, HistoryEntry) for h in history)
    assert [(h.version, h.principal) for h in history][:1] == [(2, "alice")] and history[0].rows_added == 1
    assert set(history[0].to_dict()) == {"version", "timestamp", "operation", "principal", "rows_added", "metrics"}
    version, message = deprecated(lambda: history[0]["version"])  # old: h[0]["version"]
    assert version == 2 and message.endswith("use HistoryEntry.version")

    table.grant("SELECT", on=T, to="users")
    grants = table.show_grants(T)
    assert all(isinstance(g, Grant) for g in grants)
    mine = next(g for g in grants if g.on == T)
    assert mine.to_dict() == {
        "principal": "users",
        "privilege": "SELECT",
        "on": T,
        "inherited": False,
        "granted_by": "alice",
    }

    result = table.optimize(T)
    assert isinstance(result, OptimizeResult) and (result.files_removed, result.files_added) == (2, 1)
    assert result.to_dict()["numFilesRemoved"] == 2 and result.to_dict() == result.metrics  # delta-rs's report
    removed, message = deprecated(lambda: result["numFilesRemoved"])
    assert removed == 2 and message.endswith("use OptimizeResult.files_removed")
    _, message = deprecated(lambda: result["plannerStrategy"])
    assert message.endswith("use OptimizeResult.metrics['plannerStrategy']")

    table.sql(f"CREATE TABLE main.shop.d AS SELECT id AS key FROM {T}")
    edges = table.column_lineage("main.shop.d")
    assert [(e.source, e.source_column, e.target_column) for e in edges] == [(T, "id", "key")]
    assert isinstance(edges[0], ColumnEdge)
    assert list(edges[0].to_dict()) == [
        "event_time",
        "request_id",
        "source",
        "source_column",
        "source_version",
        "target",
        "target_column",
        "target_version",
    ]


def test_sql_describe_and_show_grants_are_unchanged(table):
    assert table.sql(f"DESCRIBE {T}").to_pylist()[1] == {
        "column": "v",
        "type": "string",
        "nullable": True,
        "comment": None,
    }
    table.grant("SELECT", on=T, to="users")
    rows = table.sql(f"SHOW GRANTS ON TABLE {T}").to_pylist()
    assert {"principal": "users", "privilege": "SELECT", "on": T, "inherited": False, "granted_by": "alice"} in rows


# -- vacuum: a dry run unless told otherwise ------------------------------------------------------


def test_vacuum_lists_by_default_and_deletes_only_when_told(table, monkeypatch):
    monkeypatch.setattr("glashaus.tables.maintenance.MIN_RETENTION_HOURS", 0)
    table.write(T, {"id": [9], "v": ["z"]}, mode="overwrite")
    # Old: lh.vacuum(t) deleted the files at once and version 0 was gone. New: it lists them, nothing goes.
    listed = table.vacuum(T, retention_hours=0)
    assert len(listed) == 2
    assert table.read(T, version=2).num_rows == 3
    assert table.vacuum(T, retention_hours=0, dry_run=True) == listed
    # New: dry_run=False deletes what the dry run listed.
    assert sorted(table.vacuum(T, retention_hours=0, dry_run=False)) == sorted(listed)
    with pytest.raises(NotFoundError, match="vacuumed"):
        table.read(T, version=2)
    assert table.read(T).to_pylist() == [{"id": 9, "v": "z"}]


# -- revoke's keyword, one name through every layer -----------------------------------------------


def test_revoke_takes_from__everywhere_and_the_services_old_frm_still_works(table):
    table.create_user("bob")
    table.grant("SELECT", on=T, to="bob")
    assert table.revoke("SELECT", on=T, from_="bob") is True  # the Lakehouse: unchanged
    table.grant("SELECT", on=T, to="bob")
    # Old: the service's frm=. Still accepted for a release, with a warning naming from_=.
    done, message = deprecated(lambda: services(table).tables.revoke(table.principal, "SELECT", on=T, frm="bob"))
    assert done is True and message.endswith("use revoke(from_=...)")
    assert not [g for g in table.show_grants(T) if g.principal == "bob"]


# -- the wire: REST replies and the remote client ---------------------------------------------------


@pytest.fixture
def served(table):
    token = table.create_token()
    with ServerThread(create_app(table)) as server, glashaus.connect(server.url, token=token) as remote:
        yield server, token, remote


def test_rest_replies_are_the_old_dicts_and_the_client_gets_the_dataclasses(table, served):
    server, token, remote = served
    headers = {"Authorization": f"Bearer {token}"}

    def get(path):
        response = httpx.get(server.url + path, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    # The JSON of a dict[str, Any] reply: each value as encode_any wrote it (datetimes tagged).
    assert get(f"/api/tables/{T}") == json.loads(json.dumps(encode_any(table.describe(T).to_dict())))
    assert get(f"/api/tables/{T}/history") == [encode_any(h.to_dict()) for h in table.history(T)]
    assert get(f"/api/grants?on={T}") == [g.to_dict() for g in table.show_grants(T)]
    assert remote.describe(T) == table.describe(T) and isinstance(remote.describe(T), Description)
    assert remote.history(T) == table.history(T) and isinstance(remote.history(T)[0], HistoryEntry)
    assert remote.show_grants(T) == table.show_grants(T)
    assert isinstance(remote.optimize(T), OptimizeResult)


def test_vacuum_over_rest_is_a_dry_run_unless_dry_run_is_false(table, served, monkeypatch):
    server, token, remote = served
    monkeypatch.setattr("glashaus.tables.maintenance.MIN_RETENTION_HOURS", 0)
    table.write(T, {"id": [9], "v": ["z"]}, mode="overwrite")
    url, headers = f"{server.url}/api/tables/{T}/vacuum", {"Authorization": f"Bearer {token}"}
    listed = httpx.post(url, headers=headers, json={"retention_hours": 0}, timeout=30).json()
    assert len(listed) == 2 and table.read(T, version=2).num_rows == 3
    assert remote.vacuum(T, retention_hours=0) == listed
    removed = httpx.post(url, headers=headers, json={"retention_hours": 0, "dry_run": False}, timeout=30).json()
    assert sorted(removed) == sorted(listed)
    with pytest.raises(NotFoundError):
        table.read(T, version=2)


def test_the_services_other_old_keywords_warn_and_work(table):
    table.create_user("bob")
    # The Lakehouse's names (user=, table=) are the services' now; their old ones still work for a release.
    (_token, info), message = deprecated(lambda: services(table).admin.create_token(table.principal, principal="bob"))
    assert info.principal == "bob" and message.endswith("use create_token(user=...)")
    tokens, message = deprecated(lambda: services(table).admin.list_tokens(table.principal, principal="bob"))
    assert [t.id for t in tokens] == [info.id] and message.endswith("use list_tokens(user=...)")
    _, message = deprecated(lambda: services(table).tables.set_row_filter(table.principal, name=T, expression="id > 1"))
    assert message.endswith("use set_row_filter(table=...)")
    assert table.sql(f"SELECT count(*) FROM {T}").scalar() == 2  # ids 2 and 3
    _, message = deprecated(
        lambda: services(table).tables.set_column_mask(table.principal, name=T, column="v", expression="'***'")
    )
    assert message.endswith("use set_column_mask(table=...)") and table.read(T).column("v").to_pylist() == [
        "***",
        "***",
    ]

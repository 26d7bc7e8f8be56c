"""The one door to commits that remove or rewrite rows, and the principal every commit records.

The storage layer's rewriting commits (overwrite, schema change, merge, delete, update,
restore, optimize, vacuum, replace) need a RewriteGrant, which only the store's RewriteGate
mints after the one rule (a writer whose view is filtered or masked may only append).
These tests enumerate the store's committing methods, so a rewriting operation added later
without a grant fails here, and check that every commit names its principal.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

import glashaus
from glashaus.access import SYSTEM
from glashaus.catalog import parse_name
from glashaus.errors import PermissionDeniedError, StorageError
from glashaus.lakehouse import services
from glashaus.storage.commits import REWRITE_KINDS, CommitBy, RewriteGate, RewriteGrant
from glashaus.storage.delta import DeltaStore

SRC = Path(__file__).resolve().parents[1] / "src" / "glashaus"
T = "main.shop.t"

#: Every public method of DeltaStore, by what it does. A new one must be added here, which
#: means deciding whether it commits and, if it does, whether it can remove or rewrite rows.
READS = {"table", "at_version", "forget", "exists", "read", "history", "changes", "app_transaction_version"}
APPENDS = {"create", "append"}  # take `by: CommitBy`; create takes `replacing: RewriteGrant` to replace a table
REWRITES = {"write", "merge", "delete", "update", "restore", "optimize", "vacuum"}  # take `grant: RewriteGrant`

#: delta-rs calls that make a commit (attribute names on a DeltaTable, its optimizer or alterer).
COMMITTING_CALLS = {
    "write_deltalake",
    "create",
    "merge",
    "delete",
    "update",
    "restore",
    "compact",
    "z_order",
    "vacuum",
    "add_constraint",
    "add_columns",
    "drop_constraint",
    "set_table_properties",
    "set_column_metadata",
    "add_feature",
}


def _method_nodes() -> dict[str, ast.FunctionDef]:
    source = textwrap.dedent(inspect.getsource(DeltaStore))
    cls = ast.parse(source).body[0]
    return {node.name: node for node in cls.body if isinstance(node, ast.FunctionDef)}


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Attribute):
                names.add(call.func.attr)
            elif isinstance(call.func, ast.Name):
                names.add(call.func.id)
    return names


def test_every_public_method_of_the_store_is_classified():
    public = {name for name, _ in inspect.getmembers(DeltaStore, inspect.isfunction) if not name.startswith("_")}
    unknown = public - READS - APPENDS - REWRITES
    assert not unknown, f"classify {unknown} in tests/test_rewrites.py: a read, an append (by=) or a rewrite (grant=)"
    assert public == READS | APPENDS | REWRITES


@pytest.mark.parametrize("method", sorted(REWRITES))
def test_every_rewriting_method_requires_a_grant_and_checks_it(method):
    parameter = inspect.signature(getattr(DeltaStore, method)).parameters["grant"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty
    assert parameter.annotation in ("RewriteGrant", RewriteGrant)
    calls = [
        c for c in ast.walk(_method_nodes()[method]) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
    ]
    checks = [c.lineno for c in calls if ast.unparse(c.func) == "self.rewrites.check"]
    opens = [c.lineno for c in calls if c.func.attr in ("table", "at_version")]
    # The grant is checked before the table is even opened.
    assert checks and min(checks) < min(opens), method


@pytest.mark.parametrize("method", sorted(APPENDS))
def test_every_appending_method_requires_its_principal(method):
    parameter = inspect.signature(getattr(DeltaStore, method)).parameters["by"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty


def test_only_committing_methods_call_delta_rs_commits_and_each_passes_its_author():
    for name, node in _method_nodes().items():
        calls = [
            c
            for c in ast.walk(node)
            if isinstance(c, ast.Call)
            and (getattr(c.func, "attr", None) or getattr(c.func, "id", None)) in COMMITTING_CALLS
        ]
        if name in READS:
            assert not calls, f"DeltaStore.{name} commits ({ast.unparse(calls[0])[:80]}) but is classified as a read"
        for call in calls:
            # Every delta-rs commit carries commit_properties=_props(<the CommitBy or the grant's author>).
            keywords = {k.arg: k.value for k in call.keywords}
            assert "commit_properties" in keywords, f"DeltaStore.{name}: {ast.unparse(call)[:80]}"
            assert ast.unparse(keywords["commit_properties"]).startswith("_props("), name
        if name in REWRITES:
            assert calls, f"DeltaStore.{name} is classified as a rewrite but commits nothing"


def test_grants_are_minted_nowhere_but_the_gate():
    # The seal is private to storage/commits.py; nothing else builds a RewriteGrant or touches the seal.
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "commits.py" and path.parent.name == "storage":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "RewriteGrant"
            ):
                offenders.append(f"{path.relative_to(SRC)} builds a RewriteGrant")
            if isinstance(node, ast.Name | ast.Attribute) and getattr(node, "id", getattr(node, "attr", "")) in (
                "_SEAL",
                "_rule",
                "_gate",
            ):
                offenders.append(f"{path.relative_to(SRC)} reaches {ast.unparse(node)}")
    assert not offenders, offenders


def test_a_grant_cannot_be_forged():
    with pytest.raises(TypeError, match=r"only from RewriteGate.admit"):
        RewriteGrant(object(), RewriteGate(), location="/x", table=T, kind="delete", by=CommitBy("mallory", "DELETE"))


def test_the_rule_is_installed_once_and_without_it_nobody_rewrites(lh):
    gate = RewriteGate()
    table = lh.get("main.default")  # any securable: no rule asks about it
    with pytest.raises(StorageError, match="no rewrite rule is installed"):
        gate.admit(lh.principal, table, kind="delete", operation="DELETE")
    gate.install(lambda who, table, kind: None)
    with pytest.raises(StorageError, match="cannot be replaced"):
        gate.install(lambda who, table, kind: None)
    with pytest.raises(StorageError, match="installed already"):
        services(lh).store.rewrites.install(lambda who, table, kind: None)


@pytest.fixture
def table(shop):
    shop.create_table(T, schema=pa.schema([("id", pa.int64()), ("v", pa.string())]))
    shop.write(T, {"id": [1, 2], "v": ["a", "b"]})
    shop.write(T, {"id": [3], "v": ["c"]})
    return services(shop).tables.table(T)


def _calls(store: DeltaStore, location: str, grant: RewriteGrant) -> dict:
    data = pa.table({"id": [9], "v": ["z"]})
    return {
        "overwrite": lambda: store.write(location, data, grant=grant, mode="overwrite"),
        "schema change": lambda: store.write(
            location, pa.table({"id": [9], "w": [1]}), grant=grant, mode="append", schema_mode="merge"
        ),
        "merge": lambda: store.merge(
            location,
            data,
            grant=grant,
            predicate="target.id = source.id",
            build=lambda m: m.when_not_matched_insert_all(),
        ),
        "delete": lambda: store.delete(location, grant=grant, predicate=None),
        "update": lambda: store.update(location, grant=grant, updates={"v": "'x'"}, predicate=None),
        "restore": lambda: store.restore(location, grant=grant, version=1),
        "optimize": lambda: store.optimize(location, grant=grant),
        "vacuum": lambda: store.vacuum(location, grant=grant, retention_hours=0, dry_run=False),
        "replace": lambda: store.create(
            location + "-new", data.schema, by=CommitBy("alice", "CREATE"), replacing=grant
        ),
    }


@pytest.mark.parametrize("kind", list(REWRITE_KINDS))
def test_the_store_refuses_a_grant_from_another_gate_table_or_kind(shop, table, tmp_path, kind):
    store, location = services(shop).store, table.storage_location
    before = store.table(location).version()
    other_gate = DeltaStore().rewrites
    other_gate.install(lambda who, t, k: None)
    other_table = shop.create_table("main.shop.other", schema=pa.schema([("id", pa.int64())]))
    wrong_kind = "delete" if kind != "delete" else "update"
    grants = [
        other_gate.admit(shop.principal, table, kind=kind, operation="X"),  # another store's gate
        store.rewrites.admit(shop.principal, table, kind=wrong_kind, operation="X"),  # another kind
    ]
    if kind != "replace":  # a replace's grant names the table it replaces; the new one has a new location
        grants.append(store.rewrites.admit(shop.principal, other_table, kind=kind, operation="X"))  # another table
    for grant in grants:
        with pytest.raises(PermissionDeniedError, match="nothing was written"):
            _calls(store, location, grant)[kind]()
    assert store.table(location).version() == before
    # With the right grant it works (the refusals above were the grants', not the calls').
    _calls(store, location, store.rewrites.admit(shop.principal, table, kind=kind, operation="X"))[kind]()


# -- every commit names its principal ---------------------------------------------------------------


def test_every_commit_records_its_principal(shop, monkeypatch):
    monkeypatch.setattr("glashaus.tables.maintenance.MIN_RETENTION_HOURS", 0)
    shop.create_table(
        T,
        schema=pa.schema([("id", pa.int64()), ("v", pa.string())]),
        primary_key=["id"],
        constraints={"id_pos": "id > 0"},
    )
    shop.write(T, {"id": [1, 2], "v": ["a", "b"]})
    shop.write(T, {"id": [3], "v": ["c"]})
    shop.write(T, {"id": [1], "v": ["A"]}, mode="merge")
    shop.write(T, {"id": [4], "v": ["d"], "w": [1]}, schema_mode="merge")
    shop.sql(f"DELETE FROM {T} WHERE id = 4")
    shop.sql(f"UPDATE {T} SET v = 'B' WHERE id = 2")
    shop.sql(f"UPDATE {T} SET v = upper(v) WHERE lower(v) = 'c'")  # rewritten in DuckDB: an overwrite
    shop.sql(
        f"MERGE INTO {T} t USING (SELECT 5 AS id, 'e' AS v, 5 AS w) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *"
    )
    shop.optimize(T)
    shop.restore(T, version=2)
    assert shop.vacuum(T, retention_hours=0, dry_run=False)  # files were removed: VACUUM START and END commits
    history = shop.history(T)
    operations = [h.operation for h in history]
    for expected in (
        "CREATE TABLE",
        "ADD CONSTRAINT",
        "WRITE append",
        "WRITE merge",
        "DELETE",
        "UPDATE",
        "MERGE",
        "RESTORE to 2",
        "OPTIMIZE",
        "VACUUM START",
        "VACUUM END",
    ):
        assert expected in operations, (expected, operations)
    assert [(h.version, h.operation) for h in history if h.principal != "alice"] == []

    shop.sql("CREATE OR REPLACE TABLE main.shop.t AS SELECT 1 AS id")
    assert [(h.operation, h.principal) for h in shop.history(T)] == [
        ("CREATE TABLE AS SELECT", "alice"),
        ("CREATE OR REPLACE TABLE", "alice"),
    ]


def test_system_tables_record_the_system_principal_also_when_compacted(shop, monkeypatch):
    monkeypatch.setattr("glashaus.access.system_tables.COMPACT_EVERY", 2)
    for _i in range(4):  # each flush of the audit journal is one commit to system.access.audit
        shop.get("main.shop")
        shop.flush()
    history = shop.history("system.access.audit")
    assert {h.principal for h in history} == {SYSTEM.name}
    assert "OPTIMIZE" in [h.operation for h in history]


def test_only_the_system_rewrites_system_tables(shop):
    audit = services(shop).tables.table(parse_name("system.access.audit"))
    with pytest.raises(glashaus.errors.InvalidArgumentError, match="written only by Glashaus"):
        services(shop).store.rewrites.admit(shop.principal, audit, kind="optimize", operation="OPTIMIZE")
    with pytest.raises(glashaus.errors.InvalidArgumentError, match="written only by Glashaus"):
        shop.optimize("system.access.audit")

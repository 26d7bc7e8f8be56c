"""Creating managed Delta tables and writing to them: append, overwrite, merge, delete, update.

Each write is one Delta commit naming its principal and operation; a write that can remove
or rewrite rows asks the store's rewrite gate first (the tables service installed the one
rule it asks, :meth:`~glashaus.tables.policies.PolicyRules.rewrite_rule`). Lineage of the
commit is recorded with the versions of its sources.

>>> _ = svc.create_table(alice, "main.shop.plants", schema=pa.schema([("id", pa.int64())]))
>>> svc.write(alice, "main.shop.plants", {"id": [1, 2]})
Commit(table='main.shop.plants', version=1, operation='APPEND', rows=2)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from glashaus.access import Principal
from glashaus.access.guard import Check, Guard
from glashaus.catalog import Catalog, Securable
from glashaus.catalog.names import validate_part
from glashaus.errors import InvalidArgumentError, SchemaMismatchError
from glashaus.frames import to_arrow
from glashaus.lineage import Source
from glashaus.storage.commits import CommitBy, RewriteGrant, RewriteKind
from glashaus.storage.delta import DeltaStore, arrow_schema
from glashaus.storage.layout import Layout
from glashaus.tables.checks import location as _location
from glashaus.tables.lineage import LineageViews

Mode = Literal["append", "overwrite", "merge"]
SchemaMode = Literal["strict", "merge", "overwrite"]

CREATE_TABLE = Check.create("table", "table.create")
#: Replacing a table (``CREATE OR REPLACE``) drops the old one: MANAGE on it, as DROP TABLE needs.
REPLACE_TABLE = Check("MANAGE", "table.drop", kinds=("table",))
WRITE = Check("MODIFY", "table.write", kinds=("table",), system="write to")
DELETE = Check("MODIFY", "table.delete", kinds=("table",), system="delete from")
UPDATE = Check("MODIFY", "table.update", kinds=("table",), system="update")
MERGE = Check("MODIFY", "table.merge", kinds=("table",), system="merge into")


@dataclass(frozen=True)
class Commit:
    """What a write did: the table, its new version, the operation, rows involved."""

    table: str
    version: int
    operation: str
    rows: int | None = None


class TableWrites:
    """create_table, write, delete_rows, update_rows, merge_rows."""

    def __init__(
        self, *, catalog: Catalog, guard: Guard, store: DeltaStore, layout: Layout, lineage: LineageViews
    ) -> None:
        self.catalog = catalog
        self.guard = guard
        self.store = store
        self.layout = layout
        self.lineage = lineage

    def create_table(
        self,
        who: Principal,
        name: str,
        *,
        schema: pa.Schema | None = None,
        data: Any = None,
        primary_key: list[str] | None = None,
        partition_by: list[str] | None = None,
        constraints: dict[str, str] | None = None,
        comment: str | None = None,
        properties: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        if_not_exists: bool = False,
        upstream: list[str] | None = None,
        statement: str | None = None,
        sources: list[Source] | None = None,
        column_lineage: list[tuple[str, str, str]] | None = None,
        replace: bool = False,
        spec: dict[str, Any] | None = None,
    ) -> Securable:
        """Create a managed Delta table from an Arrow schema or from data (written as version 1).

        ``replace`` swaps an existing table for the new one, which is built first: a
        definition that fails leaves the old table as it was. ``spec``: entries a capability
        records about a table it creates (serving marks its inference tables), never a user's.
        """
        n = CREATE_TABLE.parse(name)
        table_data = to_arrow(data) if data is not None else None
        if schema is None:
            if table_data is None:
                raise InvalidArgumentError(f"create_table({n.full!r}) needs schema= or data=.")
            schema = table_data.schema
        schema = _clean_schema(schema, n.full)
        columns = [f.name for f in schema]
        primary_key = [c.lower() for c in (primary_key or [])]
        partition_by = [c.lower() for c in (partition_by or [])]
        for label, cols in (("primary key", primary_key), ("partition", partition_by)):
            missing = [c for c in cols if c not in columns]
            if missing:
                raise InvalidArgumentError(f"{label} column(s) {missing} are not in {n.full}'s columns {columns}.")
        # A primary key is NOT NULL, as in Unity Catalog (informational otherwise).
        schema = pa.schema([f.with_nullable(False) if f.name in primary_key else f for f in schema])
        with self.guard.require(who, CREATE_TABLE, n) as allowed:
            created_by = CommitBy(who.name, "CREATE TABLE")
            existing = self.catalog.get(n) if self.catalog.exists(n) else None
            if if_not_exists and existing is not None and existing.kind == "table":
                return allowed.shown(existing)
            prebuilt = None
            if replace and existing is not None and existing.kind == "table":
                self.guard.allow(who, REPLACE_TABLE, existing)
                # Replacing takes every row of the old table away: a rewrite, by the one rule.
                replacing = self.store.rewrites.admit(
                    who, existing, kind="replace", operation="CREATE OR REPLACE TABLE"
                )
                # Build the new table before the old one goes (a bad CHECK fails here).
                prebuilt = self.layout.table_location(n, uuid.uuid4().hex)
                self.store.create(
                    prebuilt,
                    schema,
                    partition_by=partition_by,
                    constraints=constraints,
                    name=n.full,
                    description=comment,
                    by=CommitBy(who.name, "CREATE OR REPLACE TABLE"),
                    replacing=replacing,
                )
                self.catalog.drop(n)
            securable = self.catalog.create(
                "table",
                n,
                owner=who.name,
                comment=comment,
                properties=properties,
                spec={**(spec or {}), "primary_key": primary_key, "partition_by": partition_by},
            )
            location = prebuilt or self.layout.table_location(n, securable.id)
            try:
                if prebuilt is None:
                    self.store.create(
                        location,
                        schema,
                        partition_by=partition_by,
                        constraints=constraints,
                        name=n.full,
                        description=comment,
                        by=created_by,
                    )
                securable = self.catalog.update(n, storage_location=location)
                if tags:
                    securable = self.catalog.set_tags(n, tags)
                if table_data is not None:
                    # Data that does not fit leaves no table behind: all or nothing.
                    self.write(
                        who,
                        n.full,
                        table_data,
                        mode="append",
                        upstream=upstream,
                        statement=statement,
                        operation="CREATE TABLE AS SELECT" if statement else "CREATE TABLE",
                        sources=sources,
                        column_lineage=column_lineage,
                    )
            except BaseException:
                self.catalog.drop(n)
                self.store.forget(location)
                raise
            return allowed.shown(self.catalog.get(n))

    def write(
        self,
        who: Principal,
        name: str,
        data: Any,
        *,
        mode: Mode = "append",
        on: list[str] | None = None,
        schema_mode: SchemaMode = "strict",
        upstream: list[str] | None = None,
        operation: str | None = None,
        statement: str | None = None,
        sources: list[Source] | None = None,
        column_lineage: list[tuple[str, str, str]] | None = None,
        read_version: int | None = None,
        app_transaction: tuple[str, int] | None = None,
    ) -> Commit:
        """Append, overwrite or merge (upsert on ``on`` or the primary key) in one commit.

        ``upstream`` declares the tables the data was computed from: their current
        versions are recorded as lineage. ``app_transaction=(app_id, n)`` (append and
        overwrite) writes nothing when the table records ``app_id`` at ``n`` or later
        already, and records it with the data otherwise: a writer repeating a batch after a
        crash cannot add its rows twice (``storage.DeltaStore.append``).
        """
        if mode not in ("append", "overwrite", "merge"):
            raise InvalidArgumentError(f"mode must be 'append', 'overwrite' or 'merge', not {mode!r}.")
        if schema_mode not in ("strict", "merge", "overwrite"):
            raise InvalidArgumentError(f"schema_mode must be 'strict', 'merge' or 'overwrite', not {schema_mode!r}.")
        if schema_mode == "overwrite" and mode != "overwrite":
            raise InvalidArgumentError("schema_mode='overwrite' replaces the schema and needs mode='overwrite'.")
        if app_transaction is not None and mode == "merge":
            raise InvalidArgumentError("app_transaction= makes an append or an overwrite idempotent, not a merge.")
        n = WRITE.parse(name)
        table = to_arrow(data)
        if table.num_columns == 0:
            # Arrow and pandas allow a frame without columns; written, it would be an empty commit.
            raise InvalidArgumentError(
                f"the data for {n.full} has no columns; nothing was written. Pass rows with the table's columns."
            )
        table = table.rename_columns([c.lower() for c in table.column_names])
        with self.guard.require(who, WRITE, n, details={"mode": mode, "rows": table.num_rows}) as allowed:
            securable = allowed.found
            by = CommitBy(who.name, operation or f"WRITE {mode}")
            kind: RewriteKind | None = (
                "merge"
                if mode == "merge"
                else "overwrite"
                if mode == "overwrite"
                else "schema change"
                if schema_mode != "strict"
                else None
            )
            grant = (
                None if kind is None else self.store.rewrites.admit(who, securable, kind=kind, operation=by.operation)
            )
            sources = list(sources or []) + [self.lineage.current_source(who, u) for u in (upstream or [])]
            location = _location(securable)
            if grant is None:
                version = self.store.append(location, table, by=by, table_name=n.full, app_transaction=app_transaction)
            elif mode == "merge":
                keys = [c.lower() for c in (on or securable.spec.get("primary_key") or [])]
                if not keys:
                    raise InvalidArgumentError(
                        f"mode='merge' on {n.full} needs on=[key columns] (the table has no primary key)."
                    )
                missing = [k for k in keys if k not in table.column_names]
                if missing:
                    raise SchemaMismatchError(f"merge key column(s) {missing} are not in the data for {n.full}.")
                version = self._merge(location, table, keys, schema_mode, grant, n.full)
            else:
                version = self.store.write(
                    location,
                    table,
                    grant=grant,
                    mode=mode,
                    schema_mode=schema_mode,
                    table_name=n.full,
                    read_version=read_version,
                    app_transaction=app_transaction,
                )
            commit = Commit(n.full, version, operation or mode.upper(), table.num_rows)
            self.lineage.record(
                who,
                table=commit.table,
                version=commit.version,
                operation=commit.operation,
                sources=sources,
                columns=column_lineage,
                statement=statement,
            )
            return commit

    def _merge(
        self, location: str, data: pa.Table, keys: list[str], schema_mode: str, grant: RewriteGrant, table_name: str
    ) -> int:
        from glashaus.storage.schema import conform

        handle = self.store.table(location)
        if schema_mode == "strict":
            data = conform(data, arrow_schema(handle), table_name=table_name)
        dupes = (
            data.group_by(keys)
            .aggregate([([], "count_all")])
            .filter(pa.compute.greater(pa.compute.field("count_all"), 1))
        )
        if dupes.num_rows:
            raise InvalidArgumentError(
                f"merge into {table_name}: {dupes.num_rows} key(s) appear more than once in the data "
                f"(e.g. {dupes.slice(0, 1).drop(['count_all']).to_pylist()[0]}); deduplicate first."
            )
        predicate = " AND ".join(f"target.{_dq(k)} = source.{_dq(k)}" for k in keys)
        return self.store.merge(
            location,
            data,
            predicate=predicate,
            build=lambda m: m.when_matched_update_all().when_not_matched_insert_all(),
            grant=grant,
            table_name=table_name,
            merge_schema=schema_mode == "merge",
        )

    def delete_rows(self, who: Principal, name: str, *, predicate: str | None, statement: str | None = None) -> Commit:
        """Delete rows matching a Delta SQL predicate (all rows when ``None``)."""
        with self.guard.require(who, DELETE, name) as allowed:
            securable = allowed.found
            grant = self.store.rewrites.admit(who, securable, kind="delete", operation="DELETE")
            version, rows = self.store.delete(
                _location(securable), grant=grant, predicate=predicate, table_name=allowed.name.full
            )
            return Commit(allowed.name.full, version, "DELETE", rows)

    def update_rows(self, who: Principal, name: str, *, updates: dict[str, str], predicate: str | None) -> Commit:
        """Update rows with Delta SQL expressions, e.g. ``{"price": "price * 1.1"}``."""
        with self.guard.require(who, UPDATE, name) as allowed:
            securable = allowed.found
            grant = self.store.rewrites.admit(who, securable, kind="update", operation="UPDATE")
            version, rows = self.store.update(
                _location(securable),
                grant=grant,
                updates=updates,
                predicate=predicate,
                table_name=allowed.name.full,
            )
            return Commit(allowed.name.full, version, "UPDATE", rows)

    def merge_rows(
        self,
        who: Principal,
        name: str,
        source: pa.Table,
        *,
        predicate: str,
        build: Any,
        sources: list[Source] | None = None,
        statement: str | None = None,
        column_lineage: list[tuple[str, str, str]] | None = None,
    ) -> Commit:
        """MERGE with explicit clauses (used by SQL ``MERGE INTO``); aliases target/source."""
        with self.guard.require(who, MERGE, name) as allowed:
            securable = allowed.found
            grant = self.store.rewrites.admit(who, securable, kind="merge", operation="MERGE")
            version = self.store.merge(
                _location(securable),
                source,
                grant=grant,
                predicate=predicate,
                build=build,
                table_name=allowed.name.full,
            )
            commit = Commit(allowed.name.full, version, "MERGE", source.num_rows)
            self.lineage.record(
                who,
                table=commit.table,
                version=commit.version,
                operation=commit.operation,
                sources=sources or [],
                columns=column_lineage,
                statement=statement,
            )
            return commit


def _clean_schema(schema: pa.Schema, table: str) -> pa.Schema:
    seen: set[str] = set()
    fields = []
    for f in schema:
        col = validate_part(f.name, what=f"column name in {table}")
        if col in seen:
            raise InvalidArgumentError(f"column {col!r} appears twice in {table}.")
        seen.add(col)
        t = f.type
        if pa.types.is_null(t):
            raise InvalidArgumentError(f"column {col!r} of {table} has no type (all values are NULL); cast it first.")
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        if pa.types.is_timestamp(t) and (t.unit == "ns" or t.tz not in (None, "UTC")):
            # Delta stores instants in UTC (and only the name "UTC"); relabelling keeps the instant.
            t = pa.timestamp("us", tz=t.tz and "UTC")
        fields.append(pa.field(col, t, nullable=f.nullable))
    return pa.schema(fields)


def _dq(identifier: str) -> str:
    """Quote a column for a Delta (DataFusion) SQL predicate."""
    return '"' + identifier.replace('"', '""') + '"'

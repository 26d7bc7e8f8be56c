"""Tables: catalogs, schemas, managed Delta tables and views, governed.

This service is the only way the other capabilities reach table data: each method
asks :class:`~glashaus.access.Access` first (which audits), then works on the
catalog and on storage. The SQL engine, the CLI and (later) the REST API are faces
over these methods.

>>> svc.create_table(alice, "main.shop.orders", schema=pa.schema([("id", pa.int64())]))  # doctest: +SKIP
>>> svc.write(alice, "main.shop.orders", {"id": [1, 2]})                                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import duckdb
import pyarrow as pa
from sqlglot import exp

from glashaus.access import Access, Principal, request
from glashaus.access.policies import Policies, ReadPolicy, policy_select
from glashaus.access.privileges import use_privilege
from glashaus.catalog import Catalog, Name, Securable, parse_name
from glashaus.catalog.names import validate_part
from glashaus.catalog.service import Kind
from glashaus.errors import (
    GlashausError,
    InvalidArgumentError,
    NotFoundError,
    SchemaMismatchError,
)
from glashaus.frames import to_arrow
from glashaus.lineage import Edge, LineageStore, Source
from glashaus.storage.commits import CommitBy, RewriteGrant, RewriteKind
from glashaus.storage.delta import DeltaStore, arrow_schema, constraints_of
from glashaus.storage.layout import Layout
from glashaus.storage.schema import check_names
from glashaus.tables.checks import location as _location
from glashaus.tables.checks import refuse_system as _refuse_system
from glashaus.tables.grants import GrantsMixin
from glashaus.tables.metadata import MetadataMixin
from glashaus.tables.policies import PoliciesMixin

Mode = Literal["append", "overwrite", "merge"]
SchemaMode = Literal["strict", "merge", "overwrite"]

#: What lineage shows in place of a table or view the caller may not read.
RESTRICTED = "(restricted)"

#: The kinds of securable ``list(kind=...)`` takes.
KINDS: tuple[str, ...] = get_args(Kind)

#: Vacuum never removes files younger than this, whatever is asked.
MIN_RETENTION_HOURS = 168


@dataclass(frozen=True)
class Commit:
    """What a write did: the table, its new version, the operation, rows involved."""

    table: str
    version: int
    operation: str
    rows: int | None = None


@dataclass(frozen=True)
class ScanSource:
    """A governed table pinned at one version, ready for the SQL engine to read."""

    securable: Securable
    version: int
    schema: pa.Schema
    files: list[str]
    partitioned: bool
    dataset: Callable[[], Any]
    policy: ReadPolicy


@dataclass(frozen=True)
class BatchRead:
    """A governed table streamed in record batches: the version read and an estimate of its rows."""

    table: str
    version: int
    reader: pa.RecordBatchReader
    num_rows: int | None


class TablesService(GrantsMixin, PoliciesMixin, MetadataMixin):
    """The governed data service; grants, policies and metadata live in their own modules (mixins)."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        store: DeltaStore,
        layout: Layout,
        access: Access,
        lineage: LineageStore,
        policies: Policies,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.layout = layout
        self.access = access
        self.lineage = lineage
        self.policies = policies
        #: Tables computed when SQL names them (``system.ml.runs``): full name -> rows for a reader.
        #: Higher capabilities register here; each provider authorizes what it returns.
        self.virtual_tables: dict[str, Callable[[Principal], pa.Table]] = {}
        # The storage layer's rewriting commits need a grant from its gate; this is the one rule it asks.
        store.rewrites.install(self.rewrite_rule)

    # -- containers ------------------------------------------------------------------

    def create_catalog(
        self, who: Principal, name: str, *, comment: str | None = None, if_not_exists: bool = False
    ) -> Securable:
        n = parse_name(name, levels=1, allow_version=False)
        _refuse_system(n, "create")
        with request():
            self.access.authorize(who, "CREATE CATALOG", None, action="catalog.create", details={"name": n.full})
            return self.catalog.create("catalog", n, owner=who.name, comment=comment, if_not_exists=if_not_exists)

    def create_schema(
        self, who: Principal, name: str, *, comment: str | None = None, if_not_exists: bool = False
    ) -> Securable:
        n = parse_name(name, levels=2, allow_version=False)
        _refuse_system(n, "create")
        with request():
            parent = self._find(who, n.parent, kind="catalog")  # type: ignore[arg-type]
            self.access.authorize(who, "CREATE SCHEMA", parent, action="schema.create", details={"name": n.full})
            return self.catalog.create("schema", n, owner=who.name, comment=comment, if_not_exists=if_not_exists)

    def list(self, who: Principal, parent: str | None = None, *, kind: str | None = None) -> list[Securable]:
        """Catalogs (no parent), schemas of a catalog, or objects of a schema (``kind``: only those)."""
        if kind is not None and kind not in KINDS:
            raise InvalidArgumentError(f"kind={kind!r} is not a kind of securable; use one of {', '.join(KINDS)}.")
        with request():
            if parent is None:
                children = self.catalog.list(kind=kind)
            else:
                n = parse_name(parent, levels=(1, 2), allow_version=False)
                container = self._find(who, n, kind=("catalog", "schema"))
                privilege = "USE CATALOG" if container.kind == "catalog" else "USE SCHEMA"
                self.access.authorize(who, privilege, container, action=f"{container.kind}.list")
                children = self.catalog.list(parent=n, kind=kind)
            # Only what the caller may use or manage is listed.
            visible = self.access.visible_to(who)
            return [self._shown(who, c) for c in children if visible(c)]

    def get(self, who: Principal, name: str, *, kind: str | tuple[str, ...] | None = None) -> Securable:
        n = parse_name(name, levels=(1, 2, 3), allow_version=False)
        with request():
            securable = self._find(who, n, kind=kind)
            self.access.authorize(who, use_privilege(securable.kind), securable, action=f"{securable.kind}.get")
            return self._shown(who, securable)

    def drop(
        self,
        who: Principal,
        name: str,
        *,
        kind: str | tuple[str, ...] | None = None,
        if_exists: bool = False,
        cascade: bool = False,
    ) -> list[Securable]:
        """Remove a securable from the catalog. Data files stay until vacuumed by an admin."""
        n = parse_name(name, levels=(1, 2, 3), allow_version=False)
        _refuse_system(n, "drop")
        with request():
            try:
                securable = self._find(who, n, kind=kind)
            except NotFoundError:
                if if_exists:
                    return []
                raise
            self.access.authorize(who, "MANAGE", securable, action=f"{securable.kind}.drop")
            gone = self.catalog.drop(n, cascade=cascade)
            self.access.forget(gone)
            for s in gone:
                if s.storage_location and s.kind == "table":
                    self.store.forget(s.storage_location)
            return [self._shown(who, s) for s in gone]

    # -- tables ------------------------------------------------------------------------

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
    ) -> Securable:
        """Create a managed Delta table from an Arrow schema or from data (written as version 1).

        ``replace`` swaps an existing table for the new one, which is built first: a
        definition that fails leaves the old table as it was.
        """
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "create")
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
        with request():
            parent = self._find(who, n.parent, kind="schema")  # type: ignore[arg-type]
            self.access.authorize(who, "CREATE TABLE", parent, action="table.create", details={"name": n.full})
            created_by = CommitBy(who.name, "CREATE TABLE")
            existing = self.catalog.get(n) if self.catalog.exists(n) else None
            if if_not_exists and existing is not None and existing.kind == "table":
                return existing
            prebuilt = None
            if replace and existing is not None and existing.kind == "table":
                self.access.authorize(who, "MANAGE", existing, action="table.drop")
                # Replacing takes every row of the old table away: a rewrite, by the one rule.
                replacing = self.store.rewrites.admit(who, existing, kind="replace", operation="CREATE OR REPLACE TABLE")
                # Build the new table before the old one goes (a bad CHECK fails here).
                prebuilt = self.layout.table_location(n, uuid.uuid4().hex)
                self.store.create(prebuilt, schema, partition_by=partition_by, constraints=constraints,
                                  name=n.full, description=comment, by=CommitBy(who.name, "CREATE OR REPLACE TABLE"),
                                  replacing=replacing)
                self.catalog.drop(n)
            spec = {"primary_key": primary_key, "partition_by": partition_by}
            securable = self.catalog.create(
                "table", n, owner=who.name, comment=comment, properties=properties, spec=spec
            )
            location = prebuilt or self.layout.table_location(n, securable.id)
            try:
                if prebuilt is None:
                    self.store.create(
                        location, schema, partition_by=partition_by, constraints=constraints,
                        name=n.full, description=comment, by=created_by,
                    )
                securable = self.catalog.update(n, storage_location=location)
                if tags:
                    securable = self.catalog.set_tags(n, tags)
                if table_data is not None:
                    # Data that does not fit leaves no table behind: all or nothing.
                    self.write(who, n.full, table_data, mode="append", upstream=upstream, statement=statement,
                               operation="CREATE TABLE AS SELECT" if statement else "CREATE TABLE",
                               sources=sources, column_lineage=column_lineage)
            except BaseException:
                self.catalog.drop(n)
                self.store.forget(location)
                raise
            return self.catalog.get(n)

    def table(self, name: str | Name, *, who: Principal | None = None) -> Securable:
        """The catalog entry of a table (no authorization: callers authorize).

        ``who``: the caller, whose visible tables a not-found error may suggest.
        """
        n = name if isinstance(name, Name) else parse_name(name, allow_version=False)
        return self.catalog.get(n, kind="table", visible=None if who is None else self.access.visible_to(who))

    def app_transaction_version(self, name: str, app_id: str) -> int | None:
        """Where application ``app_id`` is in table ``name`` (see ``write(app_transaction=...)``); unchecked.

        For a capability that writes a table idempotently (serving's inference journal), which
        authorizes by writing; the answer is a number, never data.
        """
        return self.store.app_transaction_version(_location(self.table(name)), app_id)

    def _shown(self, who: Principal, securable: Securable) -> Securable:
        """``securable`` as ``who`` may see it: the storage location only for admins and owners,
        filter and mask expressions only for its managers.

        A path in the file system or object store is for those who administer the data;
        everyone else reaches the data through the catalog, where access is governed.
        """
        securable = self._policies_shown(who, securable)
        if securable.storage_location is None or self.access.owns(who, securable):
            return securable
        return dataclasses.replace(securable, storage_location=None)

    def _find(self, who: Principal, name: Name, **options: Any) -> Securable:
        """A catalog lookup for ``who``: a not-found error suggests only names ``who`` may see."""
        return self.catalog.get(name, visible=self.access.visible_to(who), **options)

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
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "write to")
        table = to_arrow(data)
        if table.num_columns == 0:
            # Arrow and pandas allow a frame without columns; written, it would be an empty commit.
            raise InvalidArgumentError(f"the data for {n.full} has no columns; nothing was written. Pass rows with "
                                       "the table's columns.")
        table = table.rename_columns([c.lower() for c in table.column_names])
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MODIFY", securable, action="table.write", details={"mode": mode, "rows": table.num_rows})
            by = CommitBy(who.name, operation or f"WRITE {mode}")
            kind: RewriteKind | None = (
                "merge" if mode == "merge" else "overwrite" if mode == "overwrite"
                else "schema change" if schema_mode != "strict" else None
            )
            grant = None if kind is None else self.store.rewrites.admit(who, securable, kind=kind, operation=by.operation)
            sources = list(sources or []) + [self._current_source(who, u) for u in (upstream or [])]
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
                    location, table, grant=grant, mode=mode, schema_mode=schema_mode, table_name=n.full,
                    read_version=read_version, app_transaction=app_transaction,
                )
            commit = Commit(n.full, version, operation or mode.upper(), table.num_rows)
            self._record_lineage(who, commit, sources, column_lineage, statement)
            return commit

    def _merge(
        self, location: str, data: pa.Table, keys: list[str], schema_mode: str, grant: RewriteGrant, table_name: str
    ) -> int:
        from glashaus.storage.schema import conform

        handle = self.store.table(location)
        if schema_mode == "strict":
            data = conform(data, arrow_schema(handle), table_name=table_name)
        dupes = data.group_by(keys).aggregate([([], "count_all")]).filter(
            pa.compute.greater(pa.compute.field("count_all"), 1)
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
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "delete from")
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MODIFY", securable, action="table.delete")
            grant = self.store.rewrites.admit(who, securable, kind="delete", operation="DELETE")
            version, rows = self.store.delete(_location(securable), grant=grant, predicate=predicate, table_name=n.full)
            return Commit(n.full, version, "DELETE", rows)

    def update_rows(
        self, who: Principal, name: str, *, updates: dict[str, str], predicate: str | None
    ) -> Commit:
        """Update rows with Delta SQL expressions, e.g. ``{"price": "price * 1.1"}``."""
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "update")
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MODIFY", securable, action="table.update")
            grant = self.store.rewrites.admit(who, securable, kind="update", operation="UPDATE")
            version, rows = self.store.update(
                _location(securable), grant=grant, updates=updates, predicate=predicate, table_name=n.full,
            )
            return Commit(n.full, version, "UPDATE", rows)

    def merge_rows(
        self, who: Principal, name: str, source: pa.Table, *, predicate: str, build: Any,
        sources: list[Source] | None = None, statement: str | None = None,
        column_lineage: list[tuple[str, str, str]] | None = None,
    ) -> Commit:
        """MERGE with explicit clauses (used by SQL ``MERGE INTO``); aliases target/source."""
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "merge into")
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MODIFY", securable, action="table.merge")
            grant = self.store.rewrites.admit(who, securable, kind="merge", operation="MERGE")
            version = self.store.merge(
                _location(securable), source, grant=grant, predicate=predicate, build=build, table_name=n.full,
            )
            commit = Commit(n.full, version, "MERGE", source.num_rows)
            self._record_lineage(who, commit, sources or [], column_lineage, statement)
            return commit

    def read(
        self,
        who: Principal,
        name: str,
        *,
        version: int | None = None,
        as_of: dt.datetime | str | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """The table's rows (at a version or time) as a pyarrow Table."""
        n = parse_name(name, allow_version=True)
        if n.version is not None:
            if version is not None and version != n.version:
                raise InvalidArgumentError(f"{name!r} names version {n.version} but version={version} was passed.")
            version = n.version
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "SELECT", securable, action="table.read",
                                  details={"version": version, "as_of": str(as_of) if as_of else None})
            self._flush_if_system(securable)
            location = _location(securable)
            if not self.policies.may_apply(securable):
                return self.store.read(location, version=version, as_of=as_of, columns=columns, table_name=n.full)
            # The filter may need columns the caller did not ask for: apply it to whole rows.
            data = self._as_reader(who, securable, self.store.read(
                location, version=version, as_of=as_of, table_name=n.full))
            if columns is None:
                return data
            missing = [c for c in columns if c not in data.column_names]
            if missing:
                raise InvalidArgumentError(f"cannot read columns {missing}: the table's columns are {data.column_names}.")
            return data.select(columns)

    def scan(
        self, who: Principal, securable: Securable, *, version: int | None = None, as_of: Any = None,
        action: str = "sql.select", reader: Principal | None = None,
    ) -> ScanSource:
        """Authorize a read of a table the caller looked up and pin it at a version, for the SQL engine.

        ``who`` is authorized (a view's owner, inside a view); row filters and masks are
        those of ``reader`` (the person asking), who defaults to ``who``.
        """
        name = securable.name
        if securable.kind != "table":
            raise InvalidArgumentError(f"{name.full} is a {securable.kind}, not a table.")
        # Inside a view the owner is checked and the reader, who asked, is recorded.
        self.access.authorize(who, "SELECT", securable, action=action,
                              details=None if version is None else {"version": version}, reader=reader)
        self._flush_if_system(securable)
        handle = self.store.at_version(_location(securable), version=version, as_of=as_of, table_name=name.full)
        schema = arrow_schema(handle)
        return ScanSource(
            securable, handle.version(), schema, handle.file_uris(),
            bool(handle.metadata().partition_columns), handle.to_pyarrow_dataset,
            self.policies.for_reader(reader or who, securable, schema),
        )

    # -- streaming reads (added for batch scoring, registry/scoring.py) ----------------------

    def read_batches(
        self, who: Principal, name: str, *, version: int | None = None, as_of: dt.datetime | str | None = None,
        columns: list[str] | None = None, batch_size: int = 262_144, action: str = "table.read",
    ) -> BatchRead:
        """Stream a table (``name`` may carry ``@v3``) in record batches of at most ``batch_size`` rows.

        Authorized and pinned like :meth:`scan`; the reader's row filters and masks are applied
        to each batch by the one :func:`policy_select` (DuckDB streams the Delta files through it).
        """
        n = parse_name(name, allow_version=True)
        if n.version is not None and version is not None and version != n.version:
            raise InvalidArgumentError(f"{name!r} names version {n.version} but version={version} was passed.")
        if batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be at least 1, not {batch_size}.")
        with request():
            source = self.scan(who, self.table(n), version=n.version if version is None else version, as_of=as_of,
                               action=action)
        missing = [c for c in columns or [] if c not in source.schema.names]
        if missing:
            raise InvalidArgumentError(f"cannot read columns {missing}: {n.full}'s columns are {source.schema.names}.")
        schema = pa.schema([source.schema.field(c) for c in columns]) if columns else source.schema
        dataset = source.dataset()
        # Under a filter the stored count is not the reader's: it would tell them how many rows are hidden.
        total = None if source.policy else dataset.count_rows()
        if not source.policy:
            # At most 4 decoded batches wait ahead of the reader (Arrow's default is 16): bounded memory.
            reader = dataset.scanner(columns=schema.names, batch_size=batch_size, batch_readahead=4).to_reader()
            return BatchRead(n.full, source.version, reader, total)

        def filtered() -> Any:
            con = duckdb.connect()
            try:
                con.execute("SET enable_external_access = false")
                con.register("__glashaus_rows", dataset)
                query = policy_select(source.policy, source.schema, exp.to_identifier("__glashaus_rows", quoted=True))
                query = exp.select(*[exp.column(c, quoted=True) for c in schema.names]).from_(query.subquery("t"))
                for batch in con.sql(query.sql(dialect="duckdb")).to_arrow_reader(batch_size):
                    yield batch.cast(schema)
            finally:
                con.close()

        return BatchRead(n.full, source.version, pa.RecordBatchReader.from_batches(schema, filtered()), total)

    def version(self, who: Principal, name: str) -> int:
        """The table's current version."""
        n = parse_name(name, allow_version=False)
        securable = self.table(n, who=who)
        self.access.authorize(who, "SELECT", securable, action="table.version")
        return self.store.table(_location(securable)).version()

    def history(self, who: Principal, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits newest first: version, time, operation, who, metrics."""
        n = parse_name(name, allow_version=False)
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "SELECT", securable, action="table.history")
            # Row counts and operation metrics would tell a filtered reader about the rows hidden from them.
            restricted = self.restricted(who, securable)
            rows = []
            for entry in self.store.history(_location(securable), limit=limit):
                info = entry  # delta-rs puts custom commit metadata at the top level
                metrics = {} if restricted else entry.get("operationMetrics") or {}
                operation, delta_operation = info.get("glashaus.operation"), entry.get("operation") or ""
                if operation and delta_operation.startswith(operation + " "):
                    operation = delta_operation  # VACUUM START and VACUUM END say more than VACUUM twice
                rows.append(
                    {
                        "version": entry.get("version"),
                        "timestamp": dt.datetime.fromtimestamp(entry["timestamp"] / 1000, dt.UTC),
                        "operation": operation or delta_operation or None,
                        "principal": info.get("glashaus.principal"),
                        "rows_added": metrics.get("num_added_rows", metrics.get("num_target_rows_inserted")),
                        "metrics": metrics,
                    }
                )
            return rows

    def describe(self, who: Principal, name: str) -> dict[str, Any]:
        """Everything known about a table or view: columns, keys, constraints, version, size."""
        n = parse_name(name, allow_version=False)
        with request():
            securable = self._find(who, n, kind=("table", "view", "volume"))
            self.access.authorize(who, "SELECT" if securable.kind != "volume" else "READ VOLUME", securable,
                                  action=f"{securable.kind}.describe")
            info: dict[str, Any] = {
                "name": n.full,
                "kind": securable.kind,
                "owner": securable.owner,
                "comment": securable.comment,
                "tags": securable.tags,
                "properties": securable.properties,
                "created_at": securable.created_at,
                "created_by": securable.created_by,
                "location": self._shown(who, securable).storage_location,
            }
            if securable.kind == "view":
                info["sql"] = securable.spec.get("sql")
                info["column_comments"] = securable.column_comments
            if securable.kind != "table":
                return info
            handle = self.store.table(_location(securable))
            adds = handle.get_add_actions(flatten=True)
            # Counts and sizes of the whole table would tell a filtered reader about the rows hidden from them.
            restricted = self.restricted(who, securable)
            info.update(
                version=handle.version(),
                primary_key=securable.spec.get("primary_key", []),
                partition_by=handle.metadata().partition_columns,
                constraints=constraints_of(handle),
                num_files=None if restricted else adds.num_rows,
                size_bytes=None if restricted else sum(adds["size_bytes"].to_pylist()) if adds.num_rows else 0,
                num_rows=None if restricted else sum(v or 0 for v in adds["num_records"].to_pylist()) if adds.num_rows else 0,
                columns=[
                    {
                        "name": f.name,
                        "type": str(f.type),
                        "nullable": f.nullable,
                        "comment": securable.column_comments.get(f.name),
                        "tags": securable.column_tags.get(f.name, {}),
                    }
                    for f in arrow_schema(handle)
                ],
            )
            return info

    def schema(self, who: Principal, name: Name) -> pa.Schema:
        securable = self.table(name, who=who)
        self.access.authorize(who, "SELECT", securable, action="table.schema")
        return arrow_schema(self.store.table(_location(securable)))

    def restore(self, who: Principal, name: str, *, version: int) -> Commit:
        """Make an old version current again (a new commit; history is kept)."""
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "restore")
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MODIFY", securable, action="table.restore", details={"version": version})
            grant = self.store.rewrites.admit(who, securable, kind="restore", operation=f"RESTORE to {version}")
            new = self.store.restore(_location(securable), grant=grant, version=version, table_name=n.full)
            return Commit(n.full, new, f"RESTORE to {version}")

    def optimize(self, who: Principal, name: str, *, zorder_by: list[str] | None = None) -> dict[str, Any]:
        """Compact the table's small files (``zorder_by``: cluster them by these columns); rows stay as they are."""
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "optimize")
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MODIFY", securable, action="table.optimize")
            operation = "OPTIMIZE" + (f" ZORDER BY {', '.join(zorder_by)}" if zorder_by else "")
            grant = self.store.rewrites.admit(who, securable, kind="optimize", operation=operation)
            return self.store.optimize(_location(securable), grant=grant, zorder_by=zorder_by)

    def vacuum(
        self, who: Principal, name: str, *, retention_hours: int | None = None, dry_run: bool = False
    ) -> list[str]:
        """Remove data files no longer needed, keeping every version lineage points at.

        Retention is at least :data:`MIN_RETENTION_HOURS` and is stretched so that the
        oldest version any recorded write read stays readable.
        """
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "vacuum")
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MODIFY", securable, action="table.vacuum")
            grant = self.store.rewrites.admit(who, securable, kind="vacuum", operation="VACUUM")
            location = _location(securable)
            hours = max(30 * 24 if retention_hours is None else retention_hours, MIN_RETENTION_HOURS)
            pinned = self.lineage.pinned_versions(n.full)
            if pinned:
                oldest = pinned[0]
                for entry in self.store.history(location):
                    if entry.get("version") == oldest + 1 or entry.get("version") == oldest:
                        age = dt.datetime.now(dt.UTC) - dt.datetime.fromtimestamp(entry["timestamp"] / 1000, dt.UTC)
                        hours = max(hours, int(age.total_seconds() // 3600) + 1)
            return self.store.vacuum(location, grant=grant, retention_hours=hours, dry_run=dry_run)

    def changes(
        self, who: Principal, name: str, *, starting_version: int = 0, ending_version: int | None = None
    ) -> pa.Table:
        """The change data feed: inserted, deleted and updated rows per version."""
        n = parse_name(name, allow_version=False)
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "SELECT", securable, action="table.changes")
            return self._as_reader(who, securable, self.store.changes(
                _location(securable), starting_version=starting_version, ending_version=ending_version
            ))

    # -- views -----------------------------------------------------------------------------

    def create_view(
        self, who: Principal, name: str, *, sql: str, sources: list[str], schema: pa.Schema,
        comment: str | None = None, replace: bool = False,
    ) -> Securable:
        """Register a view; the SQL engine has validated ``sql``, listed its ``sources`` and found its ``schema``.

        The view's column names pass the same check as a table's (a name SQL cannot write,
        such as ``''``, would make every read of the view fail).
        """
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "create")
        check_names(schema, table_name=f"view {n.full}")
        with request():
            parent = self._find(who, n.parent, kind="schema")  # type: ignore[arg-type]
            self.access.authorize(who, "CREATE TABLE", parent, action="view.create", details={"name": n.full})
            if replace and self.catalog.exists(n):
                existing = self.catalog.get(n, kind="view")
                # Replacing drops the old view: that needs MANAGE on it, as DROP VIEW does.
                self.access.authorize(who, "MANAGE", existing, action="view.drop")
                self.access.forget(self.catalog.drop(n, kind="view"))
            return self.catalog.create(
                "view", n, owner=who.name, comment=comment, spec={"sql": sql, "sources": sources}
            )

    # -- volumes ----------------------------------------------------------------------------

    def create_volume(
        self, who: Principal, name: str, *, comment: str | None = None, if_not_exists: bool = False
    ) -> Securable:
        """Register a managed volume: a governed folder for files (images, text, models)."""
        n = parse_name(name, allow_version=False)
        _refuse_system(n, "create")
        with request():
            parent = self._find(who, n.parent, kind="schema")  # type: ignore[arg-type]
            self.access.authorize(who, "CREATE VOLUME", parent, action="volume.create", details={"name": n.full})
            if if_not_exists and self.catalog.exists(n) and self.catalog.get(n).kind == "volume":
                return self.catalog.get(n, kind="volume")
            securable = self.catalog.create("volume", n, owner=who.name, comment=comment)
            return self.catalog.update(n, storage_location=self.layout.volume_location(n, securable.id))

    # -- lineage -----------------------------------------------------------------------------

    def lineage_of(self, who: Principal, name: str, *, direction: str = "upstream", depth: int = 10) -> list[Edge]:
        """Lineage edges around a table or view; nodes the caller may not read show as RESTRICTED.

        As in Unity Catalog, the graph keeps its shape but hides the names (and versions)
        of what the caller cannot see.
        """
        securable = self._lineage_node(who, name)
        visible = self._visibility(who)
        edges = []
        for e in self.lineage.walk(securable.full_name, direction=direction, depth=depth):  # type: ignore[arg-type]
            source_ok, target_ok = visible(e.source), visible(e.target)
            edges.append(dataclasses.replace(
                e,
                source=e.source if source_ok else RESTRICTED, source_version=e.source_version if source_ok else None,
                target=e.target if target_ok else RESTRICTED, target_version=e.target_version if target_ok else None,
            ))
        return edges

    def column_lineage_of(self, who: Principal, name: str, *, direction: str = "upstream") -> list[dict[str, Any]]:
        securable = self._lineage_node(who, name)
        visible = self._visibility(who)
        rows = []
        for row in self.lineage.columns(securable.full_name, direction=direction):  # type: ignore[arg-type]
            for side in ("source", "target"):
                if not visible(row[side]):
                    row = {**row, side: RESTRICTED, f"{side}_column": RESTRICTED, f"{side}_version": None}
            rows.append(row)
        return rows

    def _lineage_node(self, who: Principal, name: str) -> Securable:
        securable = self.get(who, name)
        if securable.kind not in ("table", "view", "model"):
            raise InvalidArgumentError(f"lineage is kept for tables and views; {name} is a {securable.kind} "
                                       "(models have lineage too).")
        return securable

    def _visibility(self, who: Principal) -> Callable[[str], bool]:
        seen: dict[str, bool] = {}

        def visible(full_name: str) -> bool:
            if full_name not in seen:
                try:
                    node = self.catalog.get(parse_name(full_name), details=False)
                    seen[full_name] = self.access.allows(who, use_privilege(node.kind), node)  # EXECUTE for models
                except GlashausError:
                    seen[full_name] = False  # dropped since, or not a name any more
            return seen[full_name]

        return visible

    def _current_source(self, who: Principal, name: str) -> Source:
        n = parse_name(name, allow_version=True)
        securable = self._find(who, n, kind=("table", "view"))
        self.access.authorize(who, "SELECT", securable, action="lineage.declare")
        if securable.kind == "view":
            return Source(n.full, "view", None)
        latest = self.store.table(_location(securable)).version()
        if n.version is not None and n.version > latest:
            raise NotFoundError(f"upstream {name!r}: version {n.version} does not exist; versions run from 0 to {latest}.")
        return Source(n.full, "table", latest if n.version is None else n.version)

    def _record_lineage(
        self, who: Principal, commit: Commit, sources: list[Source],
        columns: list[tuple[str, str, str]] | None, statement: str | None,
    ) -> None:
        self.lineage.record(
            principal=who.name, target=commit.table, target_kind="table", target_version=commit.version,
            sources=sources, columns=columns, operation=commit.operation, statement=statement,
        )

    def _flush_if_system(self, securable: Securable) -> None:
        if securable.name.catalog == "system":
            self.access.audit.flush()


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

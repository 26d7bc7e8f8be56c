"""Reading governed tables: rows, batches, scans for the SQL engine, versions, history, description.

Every read is authorized (SELECT, audited) and goes through the reader's row filter and
column masks; what a filtered reader learns *about* a table (row counts, sizes, operation
metrics) is narrowed the same way (:meth:`~glashaus.tables.policies.PolicyRules.restricted`).

>>> svc.read(alice, "main.shop.orders", version=1).num_rows
4
>>> svc.read(bob, "main.shop.orders")
Traceback (most recent call last):
glashaus.errors.PermissionDeniedError: bob lacks USE SCHEMA on schema main.shop; its owner (alice) or an admin can run GRANT USE SCHEMA ON SCHEMA main.shop TO bob.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from glashaus.access import Access, Principal
from glashaus.access.guard import USE, Check, Guard
from glashaus.access.policies import ReadPolicy
from glashaus.catalog import Catalog, Name, Securable, parse_name
from glashaus.errors import InvalidArgumentError
from glashaus.storage.delta import DeltaStore, arrow_schema, constraints_of
from glashaus.tables.checks import location as _location
from glashaus.tables.policies import PolicyRules
from glashaus.tables.results import Column, Description, HistoryEntry

READ = Check("SELECT", "table.read", kinds=("table",), versions=True)
VERSION = Check("SELECT", "table.version", kinds=("table",))
HISTORY = Check("SELECT", "table.history", kinds=("table",))
SCHEMA = Check("SELECT", "table.schema", kinds=("table",))
CHANGES = Check("SELECT", "table.changes", kinds=("table",))
DESCRIBE = Check(USE, "{kind}.describe", kinds=("table", "view", "volume"))


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


class TableReads:
    """table, read, scan, read_batches, version, history, describe, schema, changes."""

    def __init__(
        self, *, catalog: Catalog, access: Access, guard: Guard, store: DeltaStore, policies: PolicyRules
    ) -> None:
        self.catalog = catalog
        self.access = access
        self.guard = guard
        self.store = store
        self.policies = policies

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

    def read(
        self,
        who: Principal,
        name: str,
        *,
        version: int | None = None,
        as_of: dt.datetime | str | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """Rows of a table, now or at a version/time, as a pyarrow Table (your row filter and column masks applied).

        >>> lh.read("main.shop.orders", version=1).num_rows
        4
        """
        n = READ.parse(name)
        if n.version is not None:
            if version is not None and version != n.version:
                raise InvalidArgumentError(f"{name!r} names version {n.version} but version={version} was passed.")
            version = n.version
        details = {"version": version, "as_of": str(as_of) if as_of else None}
        with self.guard.require(who, READ, n, details=details) as allowed:
            securable = allowed.found
            self._flush_if_system(securable)
            location = _location(securable)
            if not self.policies.may_apply(securable):
                return self.store.read(location, version=version, as_of=as_of, columns=columns, table_name=n.full)
            # The filter may need columns the caller did not ask for: apply it to whole rows.
            data = self.policies.as_reader(
                who, securable, self.store.read(location, version=version, as_of=as_of, table_name=n.full)
            )
            if columns is None:
                return data
            missing = [c for c in columns if c not in data.column_names]
            if missing:
                raise InvalidArgumentError(
                    f"cannot read columns {missing}: the table's columns are {data.column_names}."
                )
            return data.select(columns)

    def scan(
        self,
        who: Principal,
        securable: Securable,
        *,
        version: int | None = None,
        as_of: Any = None,
        action: str = "sql.select",
        reader: Principal | None = None,
    ) -> ScanSource:
        """Authorize a read of a table the caller looked up and pin it at a version, for the SQL engine.

        ``who`` is authorized (a view's owner, inside a view); row filters and masks are
        those of ``reader`` (the person asking), who defaults to ``who``.
        """
        if securable.kind != "table":
            raise InvalidArgumentError(f"{securable.full_name} is a {securable.kind}, not a table.")
        # Inside a view the owner is checked and the reader, who asked, is recorded.
        self.guard.allow(
            who,
            Check("SELECT", action),
            securable,
            details=None if version is None else {"version": version},
            reader=reader,
        )
        return self._pin(who, securable, version=version, as_of=as_of, reader=reader)

    def _pin(
        self,
        who: Principal,
        securable: Securable,
        *,
        version: int | None,
        as_of: Any,
        reader: Principal | None,
    ) -> ScanSource:
        self._flush_if_system(securable)
        handle = self.store.at_version(
            _location(securable), version=version, as_of=as_of, table_name=securable.full_name
        )
        schema = arrow_schema(handle)
        return ScanSource(
            securable,
            handle.version(),
            schema,
            handle.file_uris(),
            bool(handle.metadata().partition_columns),
            handle.to_pyarrow_dataset,
            self.policies.for_reader(reader or who, securable, schema),
        )

    def read_batches(
        self,
        who: Principal,
        name: str,
        *,
        version: int | None = None,
        as_of: dt.datetime | str | None = None,
        columns: list[str] | None = None,
        batch_size: int = 262_144,
        action: str = "table.read",
    ) -> BatchRead:
        """Stream a table (``name`` may carry ``@v3``) in record batches of at most ``batch_size`` rows.

        Authorized and pinned like :meth:`scan`; the reader's row filters and masks are applied
        to each batch by the one :func:`~glashaus.access.policies.policy_select` (DuckDB streams
        the Delta files through it, :meth:`~glashaus.tables.policies.PolicyRules.apply`).
        """
        n = READ.parse(name)
        if n.version is not None and version is not None and version != n.version:
            raise InvalidArgumentError(f"{name!r} names version {n.version} but version={version} was passed.")
        if batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be at least 1, not {batch_size}.")
        version = n.version if version is None else version
        check = dataclasses.replace(READ, action=action)
        with self.guard.require(who, check, n, details=None if version is None else {"version": version}) as allowed:
            source = self._pin(who, allowed.found, version=version, as_of=as_of, reader=None)
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
        batches = PolicyRules.apply(source.policy, dataset, source.schema, columns=schema.names, batch_size=batch_size)
        return BatchRead(n.full, source.version, pa.RecordBatchReader.from_batches(schema, batches), total)

    def version(self, who: Principal, name: str) -> int:
        """The table's current version."""
        with self.guard.require(who, VERSION, name) as allowed:
            return self.store.table(_location(allowed.found)).version()

    def history(self, who: Principal, name: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """The table's commits, newest first: version, time, operation, who, metrics.

        >>> [(h.version, h.operation) for h in lh.history("main.shop.orders")]
        [(1, 'CREATE TABLE'), (0, 'CREATE TABLE')]
        """
        with self.guard.require(who, HISTORY, name) as allowed:
            securable = allowed.found
            # Row counts and operation metrics would tell a filtered reader about the rows hidden from them.
            restricted = self.policies.restricted(who, securable)
            rows = []
            for entry in self.store.history(_location(securable), limit=limit):
                info = entry  # delta-rs puts custom commit metadata at the top level
                metrics = {} if restricted else entry.get("operationMetrics") or {}
                operation, delta_operation = info.get("glashaus.operation"), entry.get("operation") or ""
                if operation and delta_operation.startswith(operation + " "):
                    operation = delta_operation  # VACUUM START and VACUUM END say more than VACUUM twice
                rows.append(
                    HistoryEntry(
                        version=entry["version"],
                        timestamp=dt.datetime.fromtimestamp(entry["timestamp"] / 1000, dt.UTC),
                        operation=operation or delta_operation or None,
                        principal=info.get("glashaus.principal"),
                        rows_added=metrics.get("num_added_rows", metrics.get("num_target_rows_inserted")),
                        metrics=metrics,
                    )
                )
            return rows

    def describe(self, who: Principal, name: str) -> Description:
        """Everything known about a table or view: columns, keys, constraints, version, size."""
        with self.guard.require(who, DESCRIBE, name) as allowed:
            securable = allowed.found
            common = Description(
                name=allowed.name.full,
                kind=securable.kind,
                owner=securable.owner,
                comment=securable.comment,
                tags=securable.tags,
                properties=securable.properties,
                created_at=securable.created_at,
                created_by=securable.created_by,
                location=allowed.shown().storage_location,
            )
            if securable.kind == "view":
                return dataclasses.replace(
                    common, sql=securable.spec.get("sql"), column_comments=securable.column_comments
                )
            if securable.kind != "table":
                return common
            handle = self.store.table(_location(securable))
            adds = handle.get_add_actions(flatten=True)
            # Counts and sizes of the whole table would tell a filtered reader about the rows hidden from them.
            restricted = self.policies.restricted(who, securable)
            return dataclasses.replace(
                common,
                version=handle.version(),
                primary_key=tuple(securable.spec.get("primary_key", [])),
                partition_by=tuple(handle.metadata().partition_columns),
                constraints=constraints_of(handle),
                num_files=None if restricted else adds.num_rows,
                size_bytes=None if restricted else sum(adds["size_bytes"].to_pylist()) if adds.num_rows else 0,
                num_rows=None
                if restricted
                else sum(v or 0 for v in adds["num_records"].to_pylist())
                if adds.num_rows
                else 0,
                columns=tuple(
                    Column(
                        name=f.name,
                        type=str(f.type),
                        nullable=f.nullable,
                        comment=securable.column_comments.get(f.name),
                        tags=securable.column_tags.get(f.name, {}),
                    )
                    for f in arrow_schema(handle)
                ),
            )

    def schema(self, who: Principal, name: str | Name) -> pa.Schema:
        with self.guard.require(who, SCHEMA, name) as allowed:
            return arrow_schema(self.store.table(_location(allowed.found)))

    def changes(
        self, who: Principal, name: str, *, starting_version: int = 0, ending_version: int | None = None
    ) -> pa.Table:
        """The change data feed: rows inserted, deleted and updated per version."""
        with self.guard.require(who, CHANGES, name) as allowed:
            securable = allowed.found
            return self.policies.as_reader(
                who,
                securable,
                self.store.changes(
                    _location(securable), starting_version=starting_version, ending_version=ending_version
                ),
            )

    def _flush_if_system(self, securable: Securable) -> None:
        if securable.name.catalog == "system":
            self.access.audit.flush()

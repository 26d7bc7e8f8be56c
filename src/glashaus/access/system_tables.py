"""The platform's own append-only Delta tables in the ``system`` catalog.

Audit events and lineage edges are data like any other: Delta tables that users
query with plain SQL under the same grants. The platform writes them as ``system``;
those writes are not themselves audited (that would never end).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import pyarrow as pa

from glashaus.access.principal import SYSTEM
from glashaus.catalog import Catalog, Name
from glashaus.errors import GlashausError
from glashaus.storage.commits import CommitBy
from glashaus.storage.delta import DeltaStore
from glashaus.storage.layout import Layout

_TS = pa.timestamp("us", tz="UTC")
_log = logging.getLogger(__name__)

#: Compact a system table after this many commits.
COMPACT_EVERY = 100


@dataclass(frozen=True)
class SystemTable:
    schema_name: str
    table: str
    arrow_schema: pa.Schema
    comment: str

    @property
    def name(self) -> Name:
        return Name("system", self.schema_name, self.table)


AUDIT = SystemTable(
    "access",
    "audit",
    pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("event_time", _TS, nullable=False),
            pa.field("request_id", pa.string()),
            pa.field("principal", pa.string(), nullable=False),
            pa.field("action", pa.string(), nullable=False),
            pa.field("privilege", pa.string()),
            pa.field("securable", pa.string()),
            pa.field("securable_kind", pa.string()),
            pa.field("decision", pa.string(), nullable=False),
            pa.field("reason", pa.string()),
            pa.field("client", pa.string()),
            pa.field("details", pa.string()),
        ]
    ),
    "Every authorization decision: who did what to which securable, allowed or denied.",
)

TABLE_LINEAGE = SystemTable(
    "lineage",
    "table_lineage",
    pa.schema(
        [
            pa.field("event_time", _TS, nullable=False),
            pa.field("request_id", pa.string()),
            pa.field("principal", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("source_kind", pa.string()),
            pa.field("source_version", pa.int64()),
            pa.field("target", pa.string(), nullable=False),
            pa.field("target_kind", pa.string()),
            pa.field("target_version", pa.int64()),
            pa.field("operation", pa.string()),
            pa.field("statement", pa.string()),
        ]
    ),
    "Table-level lineage: each write's sources with the exact versions read.",
)

COLUMN_LINEAGE = SystemTable(
    "lineage",
    "column_lineage",
    pa.schema(
        [
            pa.field("event_time", _TS, nullable=False),
            pa.field("request_id", pa.string()),
            pa.field("source", pa.string(), nullable=False),
            pa.field("source_column", pa.string(), nullable=False),
            pa.field("source_version", pa.int64()),
            pa.field("target", pa.string(), nullable=False),
            pa.field("target_column", pa.string(), nullable=False),
            pa.field("target_version", pa.int64()),
        ]
    ),
    "Column-level lineage: which source columns each target column was computed from.",
)

ALL = (AUDIT, TABLE_LINEAGE, COLUMN_LINEAGE)


class SystemTables:
    """Creates the system catalog on first use and appends rows to its tables."""

    def __init__(self, catalog: Catalog, store: DeltaStore, layout: Layout) -> None:
        self.catalog = catalog
        self.store = store
        self.layout = layout
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Create the ``system`` catalog, its schemas and tables if missing."""
        cat = Name("system")
        self.catalog.create(
            "catalog",
            cat,
            owner=SYSTEM.name,
            if_not_exists=True,
            comment="Tables the platform writes about itself: audit, lineage, ...",
        )
        for table in ALL:
            self._ensure_table(table)

    def _ensure_table(self, table: SystemTable) -> str:
        key = table.name.full
        with self._lock:
            if key in self._ready:
                return self.layout.system_location(table.name)
            schema = Name("system", table.schema_name)
            self.catalog.create("schema", schema, owner=SYSTEM.name, if_not_exists=True)
            location = self.layout.system_location(table.name)
            if not self.store.exists(location):
                try:
                    self.store.create(
                        location,
                        table.arrow_schema,
                        name=key,
                        description=table.comment,
                        by=CommitBy(SYSTEM.name, "CREATE TABLE"),
                    )
                except Exception:  # another process created it first
                    if not self.store.exists(location):
                        raise
            self.catalog.create(
                "table",
                table.name,
                owner=SYSTEM.name,
                comment=table.comment,
                storage_location=location,
                if_not_exists=True,
                spec={"system": True},
            )
            self._ready.add(key)
            return location

    def append(self, table: SystemTable, rows: list[dict]) -> None:
        if not rows:
            return
        location = self._ensure_table(table)
        data = pa.Table.from_pylist(rows, schema=table.arrow_schema)
        version = self.store.append(
            location, data, by=CommitBy(SYSTEM.name, "WRITE append"), table_name=table.name.full
        )
        if version % COMPACT_EVERY == 0:
            # Batches are small files; compact them now and then so reads stay quick. Compaction
            # rewrites files, so it passes the store's rewrite gate like anyone's; the rows are
            # committed already, so a compaction that fails is skipped, not the append's failure.
            try:
                grant = self.store.rewrites.admit(
                    SYSTEM, self.catalog.get(table.name), kind="optimize", operation="OPTIMIZE"
                )
                self.store.optimize(location, grant=grant)
            except GlashausError as exc:
                _log.warning("compacting %s skipped: %s", table.name.full, exc)

"""What the tables service answers with: descriptions, history, grants, optimize metrics, column lineage.

Frozen dataclasses, each with ``to_dict()`` giving the dict earlier releases returned (that
dict is also their JSON on the REST API). Indexing one like that dict still works for one
release, with a DeprecationWarning naming the attribute (:class:`~glashaus.deprecation.DictShaped`).

>>> info = lh.describe("main.shop.orders")
>>> [c.name for c in info.columns], info.version
(['order_id', 'customer_id', 'region', 'quantity', 'price'], 1)
>>> [(h.version, h.operation) for h in lh.history("main.shop.orders", limit=2)]
[(1, 'CREATE TABLE'), (0, 'CREATE TABLE')]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar

from glashaus.deprecation import DictShaped

__all__ = ["Column", "ColumnEdge", "Description", "Grant", "HistoryEntry", "OptimizeResult"]


@dataclass(frozen=True)
class Column(DictShaped):
    """A column of a table or view: its Arrow type (as text), comment and tags."""

    name: str
    type: str
    nullable: bool
    comment: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


# The keys every description has; tables and views add theirs (see Description.to_dict).
_COMMON = ("name", "kind", "owner", "comment", "tags", "properties", "created_at", "created_by", "location")
_VIEW = ("sql", "column_comments")
_TABLE = ("version", "primary_key", "partition_by", "constraints", "num_files", "size_bytes", "num_rows")


@dataclass(frozen=True)
class Description(DictShaped):
    """Everything known about a table, view or volume (``lh.describe``).

    Fields that do not apply to the kind are None (a volume has no columns, a view no version);
    ``num_files``, ``size_bytes`` and ``num_rows`` are None too for a reader whose view of the
    table is filtered or masked.
    """

    name: str
    kind: str
    owner: str | None = None
    comment: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    created_by: str | None = None
    location: str | None = None
    columns: tuple[Column, ...] | None = None
    # tables
    version: int | None = None
    primary_key: tuple[str, ...] | None = None
    partition_by: tuple[str, ...] | None = None
    constraints: dict[str, str] | None = None
    num_files: int | None = None
    size_bytes: int | None = None
    num_rows: int | None = None
    # views
    sql: str | None = None
    column_comments: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The dict of earlier releases: the common keys, then the kind's (tables: columns last)."""
        keys = list(_COMMON)
        if self.kind == "view":
            keys += _VIEW
        elif self.kind == "table":
            keys += _TABLE
        if self.columns is not None:
            keys.append("columns")
        every = super().to_dict()
        return {k: every[k] for k in keys}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Description:
        """The description a :meth:`to_dict` dict stands for (the remote client reads replies with it)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if values.get("columns") is not None:
            values["columns"] = tuple(Column(**c) for c in values["columns"])
        for key in ("primary_key", "partition_by"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


@dataclass(frozen=True)
class HistoryEntry(DictShaped):
    """One commit of a table (``lh.history``): its version, time, operation, who made it, metrics.

    ``rows_added`` and ``metrics`` are empty for a reader whose view of the table is filtered or masked.
    """

    version: int
    timestamp: dt.datetime
    operation: str | None
    principal: str | None
    rows_added: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryEntry:
        return cls(**data)


@dataclass(frozen=True)
class Grant(DictShaped):
    """A grant on a securable (``lh.show_grants``): ``inherited`` when it is on a container (``on``)."""

    principal: str
    privilege: str
    on: str
    inherited: bool
    granted_by: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grant:
        return cls(**data)


@dataclass(frozen=True)
class OptimizeResult(DictShaped):
    """What ``lh.optimize`` did: files written and removed; ``metrics`` is delta-rs's full report.

    ``to_dict()`` is that report, as earlier releases returned it.
    """

    files_added: int
    files_removed: int
    partitions_optimized: int
    batches: int
    considered_files: int
    skipped_files: int
    metrics: dict[str, Any] = field(default_factory=dict)

    _KEYS: ClassVar[dict[str, str]] = {
        "numFilesAdded": ".files_added",
        "numFilesRemoved": ".files_removed",
        "partitionsOptimized": ".partitions_optimized",
        "numBatches": ".batches",
        "totalConsideredFiles": ".considered_files",
        "totalFilesSkipped": ".skipped_files",
    }

    def _attribute(self, key: str) -> str:
        return self._KEYS.get(key, f".metrics[{key!r}]")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.metrics)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizeResult:
        """From delta-rs's report (the dict :meth:`to_dict` gives)."""
        return cls(
            files_added=data.get("numFilesAdded", 0),
            files_removed=data.get("numFilesRemoved", 0),
            partitions_optimized=data.get("partitionsOptimized", 0),
            batches=data.get("numBatches", 0),
            considered_files=data.get("totalConsideredFiles", 0),
            skipped_files=data.get("totalFilesSkipped", 0),
            metrics=dict(data),
        )


@dataclass(frozen=True)
class ColumnEdge(DictShaped):
    """One column computed from another (``lh.column_lineage``), by the latest write of the target.

    Columns of a table the caller may not read show as ``"(restricted)"``, their version as None.
    """

    source: str
    source_column: str
    source_version: int | None
    target: str
    target_column: str
    target_version: int | None
    event_time: dt.datetime | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # The order of the system table's columns (system.lineage.column_lineage), as the rows were.
        return {
            k: getattr(self, k)
            for k in (
                "event_time",
                "request_id",
                "source",
                "source_column",
                "source_version",
                "target",
                "target_column",
                "target_version",
            )
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnEdge:
        return cls(**data)

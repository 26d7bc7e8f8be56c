"""Lineage: which table versions each write read, kept in ``system.lineage.*``.

Table-level edges carry the exact source and target versions; column-level edges
say which source columns each target column was computed from. Both are appended
by the platform at write time (parsed from SQL, declared for Python writes) and
walked here upstream or downstream.

>>> _ = lh.sql("CREATE TABLE main.shop.kpis AS SELECT region, count(*) AS n FROM main.shop.orders GROUP BY 1")
>>> from glashaus.lakehouse import services
>>> store = LineageStore(services(lh).system)
>>> [(e.source, e.target, e.operation) for e in store.walk("main.shop.kpis", direction="upstream")]
[('main.shop.orders', 'main.shop.kpis', ...)]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, cast, get_args

import pyarrow as pa
import pyarrow.compute as pc

from glashaus.access.audit import current_request_id
from glashaus.access.system_tables import COLUMN_LINEAGE, TABLE_LINEAGE, SystemTables
from glashaus.errors import InvalidArgumentError

Direction = Literal["upstream", "downstream"]


def check_direction(direction: str) -> Direction:
    """``direction`` if it is one, else InvalidArgumentError.

    >>> check_direction("upstream")
    'upstream'
    """
    if direction not in get_args(Direction):
        raise InvalidArgumentError(f"direction must be 'upstream' or 'downstream', not {direction!r}.")
    return cast(Direction, direction)


@dataclass(frozen=True)
class Source:
    """A securable read by a write, at the version that was read (None for views)."""

    name: str
    kind: str
    version: int | None


@dataclass(frozen=True)
class Edge:
    source: str
    source_version: int | None
    target: str
    target_version: int | None
    operation: str
    depth: int


class LineageStore:
    def __init__(self, system: SystemTables) -> None:
        self.system = system

    def record(
        self,
        *,
        principal: str,
        target: str,
        target_kind: str,
        target_version: int | None,
        sources: list[Source],
        columns: list[tuple[str, str, str]] | None = None,
        operation: str,
        statement: str | None = None,
    ) -> None:
        """Append the edges of one write: ``columns`` holds (source, source_column, target_column)."""
        if not sources:
            return
        now = dt.datetime.now(dt.UTC)
        request_id = current_request_id()
        versions = {s.name: s.version for s in sources}
        self.system.append(
            TABLE_LINEAGE,
            [
                {
                    "event_time": now,
                    "request_id": request_id,
                    "principal": principal,
                    "source": s.name,
                    "source_kind": s.kind,
                    "source_version": s.version,
                    "target": target,
                    "target_kind": target_kind,
                    "target_version": target_version,
                    "operation": operation,
                    "statement": statement,
                }
                for s in sources
            ],
        )
        if columns:
            self.system.append(
                COLUMN_LINEAGE,
                [
                    {
                        "event_time": now,
                        "request_id": request_id,
                        "source": source,
                        "source_column": source_column,
                        "source_version": versions.get(source),
                        "target": target,
                        "target_column": target_column,
                        "target_version": target_version,
                    }
                    for source, source_column, target_column in sorted(set(columns))
                ],
            )

    def _table(self, which) -> pa.Table:
        location = self.system._ensure_table(which)
        return self.system.store.read(location)

    def walk(self, name: str, *, direction: Direction = "upstream", depth: int = 10) -> list[Edge]:
        """Edges reachable from ``name``, breadth first, latest write per pair.

        Each (source, target) pair is reported once, with the versions of its most
        recent write.
        """
        check_direction(direction)
        edges = self._table(TABLE_LINEAGE)
        if edges.num_rows == 0:
            return []
        edges = edges.sort_by([("event_time", "descending")])
        key, other = ("target", "source") if direction == "upstream" else ("source", "target")
        found: list[Edge] = []
        seen_pairs: set[tuple[str, str]] = set()
        frontier, visited = [name], {name}
        for level in range(1, depth + 1):
            if not frontier:
                break
            hits = edges.filter(pc.is_in(edges[key], value_set=pa.array(frontier)))
            next_frontier = []
            for row in hits.to_pylist():
                pair = (row["source"], row["target"])
                if pair in seen_pairs:
                    continue
                seen_pairs.add(pair)
                found.append(
                    Edge(
                        row["source"],
                        row["source_version"],
                        row["target"],
                        row["target_version"],
                        row["operation"],
                        level,
                    )
                )
                if row[other] not in visited:
                    visited.add(row[other])
                    next_frontier.append(row[other])
            frontier = next_frontier
        return found

    def columns(self, name: str, *, direction: Direction = "upstream") -> list[dict]:
        """Column edges into (upstream) or out of (downstream) ``name``, latest write only."""
        check_direction(direction)  # anything but "upstream" once read as downstream
        table = self._table(COLUMN_LINEAGE)
        key = "target" if direction == "upstream" else "source"
        hits = table.filter(pc.equal(table[key], name)).sort_by([("event_time", "descending")])
        latest: dict[tuple, dict] = {}
        for row in hits.to_pylist():
            latest.setdefault((row["source"], row["source_column"], row["target"], row["target_column"]), row)
        return sorted(latest.values(), key=lambda r: (r["target_column"], r["source"], r["source_column"]))

    def pinned_versions(self, name: str) -> list[int]:
        """Versions of ``name`` that some recorded write read (vacuum must keep them)."""
        table = self._table(TABLE_LINEAGE)
        hits = table.filter(pc.equal(table["source"], name))
        return sorted({v for v in hits["source_version"].to_pylist() if v is not None})

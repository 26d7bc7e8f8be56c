"""Lineage as a caller may see it, and the sources a write declares (the tables service's part).

The edges themselves are kept by :class:`~glashaus.lineage.LineageStore`; here they are
shown the way Unity Catalog does: the graph keeps its shape, but a node the caller may
not read shows as :data:`RESTRICTED`, without its name or version.

>>> _ = lh.sql("CREATE TABLE main.shop.daily AS SELECT region, sum(quantity) AS qty FROM main.shop.orders GROUP BY 1")
>>> [(e.source, e.target) for e in svc.lineage_of(alice, "main.shop.daily", direction="upstream")]
[('main.shop.orders', 'main.shop.daily')]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from glashaus.access import Access, Principal, request
from glashaus.access.guard import Check, Guard
from glashaus.access.privileges import use_privilege
from glashaus.catalog import Catalog, Securable, parse_name
from glashaus.errors import GlashausError, InvalidArgumentError, NotFoundError
from glashaus.lineage import Edge, LineageStore, Source, check_direction
from glashaus.storage.delta import DeltaStore
from glashaus.tables.checks import location
from glashaus.tables.containers import GET
from glashaus.tables.results import ColumnEdge

#: What lineage shows in place of a table or view the caller may not read.
RESTRICTED = "(restricted)"

DECLARE_SOURCE = Check("SELECT", "lineage.declare", kinds=("table", "view"), versions=True)


class LineageViews:
    """lineage_of, column_lineage_of; the sources of a write (``upstream=``) and their recording."""

    def __init__(
        self, *, catalog: Catalog, access: Access, guard: Guard, store: DeltaStore, lineage: LineageStore
    ) -> None:
        self.catalog = catalog
        self.access = access
        self.guard = guard
        self.store = store
        self.lineage = lineage

    def lineage_of(self, who: Principal, name: str, *, direction: str = "upstream", depth: int = 10) -> list[Edge]:
        """Edges from (downstream) or into (upstream) ``name``, with the versions involved.

        Nodes you may not read show as RESTRICTED: as in Unity Catalog, the graph keeps its
        shape but hides the names (and versions) of what the caller cannot see.

        >>> _ = lh.sql("CREATE TABLE main.shop.gold AS SELECT region, sum(price) AS revenue FROM main.shop.orders GROUP BY 1")
        >>> [(e.source, e.source_version) for e in lh.lineage("main.shop.gold")]
        [('main.shop.orders', 1)]
        """
        with request():
            securable = self._node(who, name)
            visible = self._visibility(who)
            edges = []
            for e in self.lineage.walk(securable.full_name, direction=check_direction(direction), depth=depth):
                source_ok, target_ok = visible(e.source), visible(e.target)
                edges.append(
                    dataclasses.replace(
                        e,
                        source=e.source if source_ok else RESTRICTED,
                        source_version=e.source_version if source_ok else None,
                        target=e.target if target_ok else RESTRICTED,
                        target_version=e.target_version if target_ok else None,
                    )
                )
            return edges

    def column_lineage_of(self, who: Principal, name: str, *, direction: str = "upstream") -> list[ColumnEdge]:
        """Column-level edges from (downstream) or into (upstream) ``name``; what you may not read is RESTRICTED.

        >>> _ = lh.sql("CREATE TABLE main.shop.gold AS SELECT region, sum(price) AS revenue FROM main.shop.orders GROUP BY 1")
        >>> sorted((e.source_column, e.target_column) for e in lh.column_lineage("main.shop.gold"))
        [('price', 'revenue'), ('region', 'region')]
        """
        with request():
            securable = self._node(who, name)
            visible = self._visibility(who)
            rows = []
            for row in self.lineage.columns(securable.full_name, direction=check_direction(direction)):
                for side in ("source", "target"):
                    if not visible(row[side]):
                        row = {**row, side: RESTRICTED, f"{side}_column": RESTRICTED, f"{side}_version": None}
                rows.append(ColumnEdge(**row))
            return rows

    def current_source(self, who: Principal, name: str) -> Source:
        """A table or view a write declares it was computed from, at its current (or named) version."""
        with self.guard.require(who, DECLARE_SOURCE, name) as allowed:
            n, securable = allowed.name, allowed.found
            if securable.kind == "view":
                return Source(n.full, "view", None)
            latest = self.store.table(location(securable)).version()
            if n.version is not None and n.version > latest:
                raise NotFoundError(
                    f"upstream {name!r}: version {n.version} does not exist; versions run from 0 to {latest}."
                )
            return Source(n.full, "table", latest if n.version is None else n.version)

    def record(
        self,
        who: Principal,
        *,
        table: str,
        version: int,
        operation: str,
        sources: list[Source],
        columns: list[tuple[str, str, str]] | None,
        statement: str | None,
    ) -> None:
        """The edges of one commit to ``table``: from each source to the version written."""
        self.lineage.record(
            principal=who.name,
            target=table,
            target_kind="table",
            target_version=version,
            sources=sources,
            columns=columns,
            operation=operation,
            statement=statement,
        )

    def _node(self, who: Principal, name: str) -> Securable:
        with self.guard.require(who, GET, name) as allowed:
            securable = allowed.found
        if securable.kind not in ("table", "view", "model"):
            raise InvalidArgumentError(
                f"lineage is kept for tables and views; {name} is a {securable.kind} (models have lineage too)."
            )
        return securable

    def _visibility(self, who: Principal) -> Callable[[str], bool]:
        """Whether ``who`` may read a node (EXECUTE for models), remembered per node for one walk."""
        seen: dict[str, bool] = {}

        def visible(full_name: str) -> bool:
            if full_name not in seen:
                try:
                    node = self.catalog.get(parse_name(full_name), details=False)
                    seen[full_name] = self.access.allows(who, use_privilege(node.kind), node)
                except GlashausError:
                    seen[full_name] = False  # dropped since, or not a name any more
            return seen[full_name]

        return visible

"""``glashaus lineage``: where a table's data came from (or went), as a tree with versions.

Each node is ``name@vN``: the version that was read. After it, in grey, the operation
that read it and the version it produced one level up (upstream) or the version of
the table it wrote (downstream).

>>> # glashaus lineage main.plant_shop.daily_kpis
>>> # glashaus lineage main.plant_shop.events_bronze --direction downstream
>>> # glashaus lineage main.plant_shop.daily_kpis --columns
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer
from rich.text import Text
from rich.tree import Tree

from glashaus import Lakehouse
from glashaus.cli.common import (
    DEFAULT_LAKEHOUSE,
    LakehouseOption,
    MetastoreOption,
    UserOption,
    console,
    open_lakehouse,
)


class Direction(str, Enum):
    upstream = "upstream"
    downstream = "downstream"


def lineage(
    name: Annotated[str, typer.Argument(metavar="NAME", help="catalog.schema.table (or view).")],
    direction: Annotated[
        Direction,
        typer.Option("--direction", "-d", help="upstream: what it was built from; downstream: what reads it."),
    ] = Direction.upstream,
    columns: Annotated[bool, typer.Option("--columns", help="Column-level lineage (one hop) instead.")] = False,
    depth: Annotated[int, typer.Option("--depth", min=1, help="How many hops to follow.")] = 10,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Show the lineage of a table or view as a tree, with the exact versions read."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        if columns:
            tree = column_tree(lh, name, direction=direction.value)
        else:
            tree = lineage_tree(lh, name, direction=direction.value, depth=depth)
    console().print(tree)


def _node(name: str, version: int | None) -> Text:
    return Text(name if version is None else f"{name}@v{version}", style="bold")


def lineage_tree(lh: Lakehouse, name: str, *, direction: str = "upstream", depth: int = 10) -> Tree:
    """A Rich tree of ``lh.lineage(name)``; shared by ``glashaus lineage`` and the demo summary."""
    edges = lh.lineage(name, direction=direction, depth=depth)
    securable = lh.get(name)
    full, kind = securable.full_name, securable.kind
    if kind == "model":
        version = lh.models.get(full).latest_version
    else:
        version = lh.describe(full).version if kind in ("table", "view") else None
    root = Tree(_node(full, version) + Text(f" ({kind})", style="dim"))
    upstream = direction == "upstream"
    by_node: dict[str, list[Any]] = {}
    for e in edges:
        by_node.setdefault(e.target if upstream else e.source, []).append(e)

    def grow(tree: Tree, node: str, path: frozenset[str]) -> None:
        for e in sorted(by_node.get(node, []), key=lambda e: e.source if upstream else e.target):
            if upstream:
                label = _node(e.source, e.source_version)
                produced = "" if e.target_version is None else f" → v{e.target_version}"
                label.append(f"  ({e.operation}{produced})", style="dim")
                other = e.source
            else:
                label = _node(e.target, e.target_version)
                read = "" if e.source_version is None else f" read v{e.source_version}"
                label.append(f"  ({e.operation}{read})", style="dim")
                other = e.target
            branch = tree.add(label)
            if other in path:
                branch.add(Text("… (cycle)", style="dim"))
            else:
                grow(branch, other, path | {other})

    grow(root, full, frozenset({full}))
    if not edges:
        root.add(Text(f"no {direction} lineage recorded", style="dim italic"))
    return root


def column_tree(lh: Lakehouse, name: str, *, direction: str = "upstream") -> Tree:
    """Column-level lineage: each column of ``name`` and the columns it came from (or feeds)."""
    rows = lh.column_lineage(name, direction=direction)
    full = lh.describe(name).name
    root = Tree(Text(f"{full}", style="bold") + Text(f" (columns, {direction})", style="dim"))
    upstream = direction == "upstream"
    branches: dict[str, Tree] = {}
    for r in sorted(
        rows,
        key=lambda r: (
            (r.target_column, r.source, r.source_column) if upstream else (r.source_column, r.target, r.target_column)
        ),
    ):
        mine = r.target_column if upstream else r.source_column
        if mine not in branches:
            branches[mine] = root.add(Text(mine, style="bold"))
        if upstream:
            label = f"{r.source}.{r.source_column}" + _at(r.source_version)
        else:
            label = f"{r.target}.{r.target_column}" + _at(r.target_version)
        branches[mine].add(Text(label))
    if not rows:
        root.add(Text(f"no {direction} column lineage recorded", style="dim italic"))
    return root


def _at(version: int | None) -> str:
    return "" if version is None else f"@v{version}"

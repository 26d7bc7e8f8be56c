"""``glashaus tables``: list catalogs, schemas and tables; describe one; show its history.

>>> # glashaus tables ls main.plant_shop
>>> # glashaus tables show main.plant_shop.events_silver
>>> # glashaus tables history main.plant_shop.events_silver
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from glashaus.cli.common import (
    DEFAULT_LAKEHOUSE,
    LakehouseOption,
    MetastoreOption,
    UserOption,
    cell,
    console,
    count,
    human_size,
    open_lakehouse,
    timestamp,
)
from glashaus.tables.results import Description, HistoryEntry

app = typer.Typer(help="List, describe and inspect the history of tables.", no_args_is_help=True)


@app.command("ls")
def ls(
    parent: Annotated[
        str | None,
        typer.Argument(
            metavar="[CATALOG[.SCHEMA]]",
            help="Nothing: catalogs; a catalog: its schemas; catalog.schema: its tables, views and volumes.",
        ),
    ] = None,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """List catalogs, the schemas of a catalog, or the tables, views and volumes of a schema."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        items = lh.list(parent)
    what = "catalogs" if parent is None else ("schemas" if "." not in parent else "objects")
    title = what if parent is None else f"{what} in {parent.lower()}"
    out = console()
    if not items:
        out.print(f"no {what} in {parent}" if parent else "no catalogs", markup=False)
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("name", "kind", "owner", "comment"):
        table.add_column(column, overflow="fold")
    for s in items:
        table.add_row(cell(s.full_name), cell(s.kind), cell(s.owner), cell(s.comment or ""))
    out.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="catalog.schema.table (or view, volume).")],
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Describe a table: columns, types, comments, tags, key, constraints, version, rows, size, owner."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        info = lh.describe(name)
    console().print(render_description(info))


def render_description(info: Description) -> Group:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")

    def fact(label: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            facts.add_row(label, value if isinstance(value, Text) else Text(str(value)))

    fact("comment", info.comment)
    fact("owner", info.owner)
    fact("created", f"{timestamp(info.created_at)} by {info.created_by}")
    fact("tags", _tags(info.tags))
    if info.kind == "table":
        fact("primary key", ", ".join(info.primary_key or []))
        fact("partitioned by", ", ".join(info.partition_by or []))
        fact("constraints", "\n".join(f"{k}: {v}" for k, v in (info.constraints or {}).items()))
        fact("version", info.version)
        fact("rows", count(info.num_rows))
        fact("size", f"{human_size(info.size_bytes)} in {count(info.num_files)} file(s)")
    fact("properties", _tags(info.properties))
    fact("location", info.location)
    parts: list[Any] = [
        Panel(facts, title=f"[bold]{escape(info.name)}[/] ({info.kind})", title_align="left", expand=False)
    ]
    columns = info.columns or ()
    if columns:
        table = Table(title="columns", title_justify="left", header_style="bold")
        for column in ("#", "column", "type", "nullable", "comment", "tags"):
            table.add_column(column, overflow="fold", justify="right" if column == "#" else "left")
        for i, c in enumerate(columns, 1):
            table.add_row(
                str(i),
                cell(c.name),
                cell(c.type),
                "yes" if c.nullable else "no",
                cell(c.comment or ""),
                cell(_tags(c.tags)),
            )
        parts.append(table)
    if info.sql:
        parts.append(Panel(Syntax(info.sql, "sql", word_wrap=True), title="view SQL", title_align="left", expand=False))
    return Group(*parts)


@app.command("history")
def history(
    name: Annotated[str, typer.Argument(metavar="NAME", help="catalog.schema.table")],
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Newest N commits only.")] = None,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Commits of a table, newest first: version, time, operation, user, rows changed."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        commits = lh.history(name, limit=limit)
    table = Table(title=f"history of {name.lower()}", title_justify="left", header_style="bold")
    for column in ("version", "time", "operation", "user", "rows"):
        table.add_column(column, justify="right" if column == "version" else "left", overflow="fold")
    for c in commits:
        table.add_row(str(c.version), timestamp(c.timestamp), cell(c.operation), cell(c.principal or ""), _changes(c))
    console().print(table)


def _tags(tags: dict[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" if v else k for k, v in sorted((tags or {}).items()))


def _changes(commit: HistoryEntry) -> str:
    """What a commit did to rows, from Delta's operation metrics: '+3', '~1', '-2'."""
    m = commit.metrics or {}
    added = m.get("num_target_rows_inserted", m.get("num_added_rows"))
    updated = m.get("num_target_rows_updated", m.get("num_updated_rows"))
    deleted = m.get("num_target_rows_deleted", m.get("num_deleted_rows"))
    parts = [f"{sign}{n:,}" for sign, n in (("+", added), ("~", updated), ("-", deleted)) if n]
    return " ".join(parts)

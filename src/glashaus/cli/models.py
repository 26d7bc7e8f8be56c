"""``glashaus models``: list and inspect registered models, move aliases, roll back, batch-score.

Thin commands over ``lh.models``; errors print one ``error:`` line and exit 1.

>>> # glashaus models ls main.shop
>>> # glashaus models show main.shop.reco
>>> # glashaus models versions main.shop.reco
>>> # glashaus models alias main.shop.reco champion 3 --reason "AUC 0.81 > 0.78"
>>> # glashaus models alias main.shop.reco champion          (its history)
>>> # glashaus models rollback main.shop.reco champion --reason "conversion dropped"
>>> # glashaus models score main.shop.reco@champion --table main.shop.candidates --output main.shop.scores
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
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
    facts,
    listing,
    open_lakehouse,
    timestamp,
)

app = typer.Typer(help="Registered models: versions, aliases, rollback and batch scoring.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="catalog.schema.model")]
ReasonOption = Annotated[str | None, typer.Option("--reason", "-r", help="Why (kept in the alias history).")]


class Mode(str, Enum):
    overwrite = "overwrite"
    append = "append"


@app.command("ls")
def ls(
    parent: Annotated[
        str | None, typer.Argument(metavar="[CATALOG.SCHEMA]", help="A schema; nothing: every model you may use.")
    ] = None,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """List registered models with their latest version and aliases."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        models = lh.models.list(parent)
    out = console()
    if not models:
        out.print(f"no models in {parent}" if parent else "no models", markup=False)
        return
    table = listing(
        "models" + (f" in {parent.lower()}" if parent else ""),
        ("name", "latest", "aliases", "owner", "description"),
        right=("latest",),
    )
    for m in models:
        table.add_row(
            cell(m.name),
            cell(m.latest_version if m.latest_version is not None else "—"),
            cell(_aliases(m.aliases)),
            cell(m.owner),
            cell(m.description or ""),
        )
    out.print(table)


@app.command("show")
def show(
    name: NameArgument,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Describe a model: owner, description, tags, aliases, versions and the latest alias moves."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        model = lh.models.get(name)
        versions = lh.models.versions(name)
        moves = lh.models.alias_history(name)
    about = facts()
    for label, value in (
        ("description", model.description),
        ("owner", model.owner),
        ("created", f"{timestamp(model.created_at)} by {model.created_by}"),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(model.tags.items()))),
        ("aliases", _aliases(model.aliases)),
        ("latest version", model.latest_version),
        ("location", model.storage_location),
    ):
        if value not in (None, ""):
            about.add_row(label, Text(str(value)))
    parts: list[Any] = [
        Panel(about, title=f"[bold]{escape(model.name)}[/] (model)", title_align="left", expand=False),
        _versions_table(versions[:10], f"versions of {model.name}"),
    ]
    if moves:
        parts.append(_moves_table(moves[:10], "latest alias moves"))
    console().print(Group(*parts))


@app.command("versions")
def versions(
    name: NameArgument,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Every version of a model, newest first: status, format, who registered it, aliases, training data."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        found = lh.models.versions(name)
    console().print(_versions_table(found, f"versions of {name.lower()}"))


@app.command("alias")
def alias(
    name: NameArgument,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. champion")],
    version: Annotated[
        int | None,
        typer.Argument(metavar="[VERSION]", min=1, help="Point the alias here; leave out to show its history."),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    reason: ReasonOption = None,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Set (with VERSION) or delete an alias, or show the history of its moves."""
    if delete and version is not None:
        raise typer.BadParameter("give a VERSION to move the alias, or --delete to remove it, not both.")
    with open_lakehouse(lakehouse, user, metastore) as lh:
        if delete:
            move = lh.models.delete_alias(name, alias_name, reason=reason)
        elif version is not None:
            move = lh.models.set_alias(name, alias_name, version, reason=reason)
        else:
            moves = lh.models.alias_history(name, alias=alias_name)
            console().print(_moves_table(moves, f"history of {name.lower()}@{alias_name}"))
            return
    console().print(_said(move), markup=False)


@app.command("rollback")
def rollback(
    name: NameArgument,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. champion")],
    reason: ReasonOption = None,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Move an alias back to the version it pointed at before its last move."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        move = lh.models.rollback(name, alias_name, reason=reason)
    console().print(_said(move), markup=False)


@app.command("score")
def score(
    ref: Annotated[str, typer.Argument(metavar="MODEL", help="main.shop.reco@champion, main.shop.reco/3, ...")],
    table: Annotated[str, typer.Option("--table", "-t", metavar="NAME", help="The table to score (@vN pins one).")],
    output: Annotated[str, typer.Option("--output", "-o", metavar="NAME", help="The table to write scores to.")],
    mode: Annotated[Mode, typer.Option("--mode", help="Replace the output's rows or add to them.")] = Mode.overwrite,
    keep: Annotated[
        str | None,
        typer.Option("--keep", metavar="COLS", help="Input columns to copy beside the scores (default: all)."),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per batch.")] = 65_536,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Score every row of a table with a model version into an output table (one Delta commit)."""
    columns = [c.strip() for c in keep.split(",") if c.strip()] if keep else None
    with open_lakehouse(lakehouse, user, metastore) as lh:
        result = lh.models.score(
            ref,
            table=table,
            output=output,
            mode=mode.value,
            keep=columns,
            batch_size=batch_size,
            progress=sys.stderr.isatty(),
        )
    console().print(
        f"scored {count(result.rows)} rows of {result.table}@v{result.table_version} with "
        f"{result.model}/{result.model_version} into {result.output}@v{result.output_version}",
        markup=False,
    )


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"@{a} → {v}" for a, v in sorted(aliases.items()))


def _versions_table(found: list[Any], title: str) -> Table:
    table = listing(
        title,
        ("version", "status", "registered", "by", "format", "aliases", "trained on", "description"),
        right=("version",),
    )
    for v in found:
        trained = ", ".join(
            f"{t['name']}@v{t['version']}" if t.get("version") is not None else t["name"] for t in v.training_set
        )
        file_format = v.file_format + (" (trusted)" if v.trusted else "")
        table.add_row(
            str(v.version),
            cell(v.status),
            timestamp(v.created_at),
            cell(v.created_by),
            cell(file_format),
            cell(", ".join(f"@{a}" for a in v.aliases)),
            cell(trained),
            cell(v.description or ""),
        )
    return table


def _moves_table(moves: list[Any], title: str) -> Table:
    table = listing(title, ("time", "alias", "action", "from", "to", "who", "reason"))
    for m in moves:
        table.add_row(
            timestamp(m.event_time),
            cell(m.alias),
            cell(m.action),
            cell(m.from_version),
            cell(m.to_version),
            cell(m.principal),
            cell(m.reason or ""),
        )
    return table


def _said(move: Any) -> str:
    where = "removed" if move.to_version is None else f"→ version {move.to_version}"
    before = "" if move.from_version is None else f" (was version {move.from_version})"
    return f"{move.model}@{move.alias} {where}{before}"

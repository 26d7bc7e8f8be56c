"""``glashaus grant``, ``glashaus revoke``, ``glashaus grants``: privileges on securables.

Privileges use Unity Catalog's names (``SELECT``, ``USE SCHEMA``, ``ALL PRIVILEGES``,
...); several may be given separated by commas. ``--on metastore`` names the
metastore (where ``CREATE CATALOG`` is granted).

>>> # glashaus grant SELECT --on main.shop.orders --to analysts
>>> # glashaus grant "USE SCHEMA, CREATE TABLE" --on main.shop --to bob@example.com
>>> # glashaus revoke SELECT --on main.shop.orders --from analysts
>>> # glashaus grants main.shop.orders --format json
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated

import typer

from glashaus.access.privileges import check_privilege
from glashaus.cli.common import (
    DEFAULT_LAKEHOUSE,
    LakehouseOption,
    MetastoreOption,
    UserOption,
    cell,
    console,
    listing,
    open_lakehouse,
)

Privileges = Annotated[
    list[str],
    typer.Argument(
        metavar="PRIVILEGE...",
        help='e.g. SELECT, or USE SCHEMA (quoted or not); several separated by commas: "SELECT, MODIFY".',
    ),
]
OnOption = Annotated[str, typer.Option("--on", metavar="NAME", help="catalog[.schema[.object]], or 'metastore'.")]


class Format(str, Enum):
    table = "table"
    json = "json"


def grant(
    privilege: Privileges,
    on: OnOption,
    to: Annotated[str, typer.Option("--to", metavar="PRINCIPAL", help="User, service principal or group.")],
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Grant privileges on a catalog, schema, table, view, volume or the metastore."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        privileges = _privileges(privilege)
        done = {p: lh.grant(p, on=_on(on), to=to) for p in privileges}
    _report(done, "granted", "to", "already held", on, to)


def revoke(
    privilege: Privileges,
    on: OnOption,
    from_: Annotated[str, typer.Option("--from", metavar="PRINCIPAL", help="User, service principal or group.")],
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Revoke privileges granted directly on a securable."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        privileges = _privileges(privilege)
        done = {p: lh.revoke(p, on=_on(on), from_=from_) for p in privileges}
    _report(done, "revoked", "from", "held no direct grant of", on, from_)


def grants(
    name: Annotated[str, typer.Argument(metavar="NAME", help="catalog[.schema[.object]], or 'metastore'.")],
    principal: Annotated[
        str | None, typer.Option("--principal", "-p", metavar="PRINCIPAL", help="Only this principal's grants.")
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="table (default) or json.")] = Format.table,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Show the grants on a securable, including those inherited from its catalog and schema."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        rows = lh.show_grants(_on(name))
    if principal is not None:
        rows = [r for r in rows if r.principal == principal.lower()]
    if format is Format.json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=1))
        return
    title = "grants on the metastore" if _on(name) is None else f"grants on {name.lower()}"
    out = console()
    if not rows:
        out.print(f"no {title}", markup=False)
        return
    table = listing(title, ("principal", "privilege", "on", "inherited", "granted by"))
    for r in rows:
        table.add_row(
            cell(r.principal), cell(r.privilege), cell(r.on), "yes" if r.inherited else "no", cell(r.granted_by)
        )
    out.print(table)


def _on(name: str) -> str | None:
    return None if name.strip().lower() == "metastore" else name


def _privileges(words: list[str]) -> list[str]:
    """``['USE', 'SCHEMA,', 'SELECT']`` -> ``['USE SCHEMA', 'SELECT']``, each checked before any is granted."""
    found: list[str] = []
    for part in " ".join(words).split(","):
        privilege = check_privilege(part.strip())
        if privilege not in found:
            found.append(privilege)
    return found


def _report(done: dict[str, bool], verb: str, prep: str, unchanged: str, on: str, who: str) -> None:
    target = "the metastore" if _on(on) is None else on.lower()
    changed = [p for p, d in done.items() if d]
    same = [p for p, d in done.items() if not d]
    if changed:
        typer.echo(f"{verb} {', '.join(changed)} on {target} {prep} {who.lower()}")
    if same:
        typer.echo(f"{who.lower()} {unchanged} {', '.join(same)} on {target}")

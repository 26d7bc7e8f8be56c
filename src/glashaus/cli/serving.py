"""``glashaus serving``: serving endpoints (create, list, show, change the traffic split, delete).

Thin commands over ``lh.serving``; the endpoints answer on ``glashaus serve`` at
``POST /serving/<name>/invocations``. Errors print one ``error:`` line and exit 1.

>>> # glashaus serving create reco main.shop.recommender@champion
>>> # glashaus serving create reco main.shop.recommender --traffic champion=90 --traffic challenger=10
>>> # glashaus serving update reco --traffic champion=100 --shadow challenger
>>> # glashaus serving ls
>>> # glashaus serving delete reco
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from glashaus.cli.common import (
    DEFAULT_LAKEHOUSE,
    LakehouseOption,
    MetastoreOption,
    UserOption,
    cell,
    console,
    fail,
    listing,
    open_lakehouse,
)
from glashaus.serving.service import DEFAULT

app = typer.Typer(help="Serving endpoints: traffic split, shadow, inference tables.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(metavar="ENDPOINT", help="Endpoint name (its URL path part).")]
TrafficOption = Annotated[
    list[str] | None,
    typer.Option("--traffic", "-t", help="VARIANT=PERCENT, repeated (aliases or versions; together 100)."),
]


def _traffic(pairs: list[str] | None) -> dict[str, int] | None:
    if not pairs:
        return None
    out: dict[str, int] = {}
    for pair in pairs:
        variant, sep, share = pair.partition("=")
        if not sep or not share.strip().isdigit():
            raise fail(f"--traffic {pair!r}: write VARIANT=PERCENT, e.g. --traffic champion=90.")
        out[variant.strip()] = int(share)
    return out


def _table(endpoints: list[Any]) -> Table:
    table = listing("serving endpoints", ("name", "model", "traffic", "shadow", "inference table", "owner", "url"))
    for e in endpoints:
        table.add_row(
            cell(e.name),
            cell(e.model),
            cell(", ".join(f"{r.variant} {r.traffic}%" for r in e.routes)),
            cell(e.shadow or "—"),
            cell(e.inference_table or "—"),
            cell(e.owner),
            cell(e.url_path),
        )
    return table


@app.command("create")
def create(
    name: NameArgument,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="catalog.schema.model@alias (or the name + --traffic)")],
    traffic: TrafficOption = None,
    shadow: Annotated[
        str | None, typer.Option("--shadow", help="A variant that scores a copy of each request.")
    ] = None,
    inference_table: Annotated[
        str | None, typer.Option("--inference-table", help="Where requests go (default <schema>.<name>_inference).")
    ] = None,
    no_inference_table: Annotated[bool, typer.Option("--no-inference-table", help="Log nothing.")] = False,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Create an endpoint serving a model (needs EXECUTE on it)."""
    table: Any = None if no_inference_table else (inference_table or DEFAULT)
    with open_lakehouse(lakehouse, user, metastore) as lh:
        endpoint = lh.serving.create_endpoint(
            name, model=model, traffic=_traffic(traffic), shadow=shadow, inference_table=table
        )
    console().print(_table([endpoint]))


@app.command("update")
def update(
    name: NameArgument,
    traffic: TrafficOption = None,
    shadow: Annotated[str | None, typer.Option("--shadow", help="Shadow variant; '' removes it.")] = None,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Change the traffic split or the shadow variant (owner or admin)."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        endpoint = lh.serving.update_endpoint(
            name, traffic=_traffic(traffic), shadow=DEFAULT if shadow is None else (shadow or None)
        )
    console().print(_table([endpoint]))


@app.command("ls")
def ls(
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE, user: UserOption = None, metastore: MetastoreOption = None
) -> None:
    """Endpoints whose model you may execute."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        endpoints = lh.serving.list_endpoints()
    if not endpoints:
        console().print("no serving endpoints", markup=False)
        return
    console().print(_table(endpoints))


@app.command("show")
def show(
    name: NameArgument,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """One endpoint's configuration."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        endpoint = lh.serving.get_endpoint(name)
    console().print(_table([endpoint]))


@app.command("delete")
def delete(
    name: NameArgument,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Delete an endpoint (its inference table stays)."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        lh.serving.delete_endpoint(name)
    console().print(f"deleted endpoint {name}", markup=False)

"""The ``glashaus`` command: thin Typer commands over :class:`glashaus.Lakehouse`.

Each command group lives in its own module (``demo``, ``sql``, ``tables``, ``models``, ``lineage``,
``principals`` for users/groups/tokens, ``grants`` for grant/revoke/grants, ``serve``)
and only calls Lakehouse methods; this module mounts them. Every command takes
``--lakehouse``, ``--user`` and ``--metastore``; a :class:`~glashaus.errors.GlashausError`
prints one line ``error: <message>`` and exits 1, usage errors exit 2.

>>> # glashaus sql "SELECT 42 AS answer" --format json --lakehouse /tmp/lh
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

import glashaus
from glashaus.cli import demo, grants, lineage, models, principals, serve, serving, sql, tables

app = typer.Typer(
    name="glashaus",
    help="Glashaus: a data-centric machine-learning lakehouse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo.demo)
app.command("sql")(sql.sql)
app.add_typer(tables.app, name="tables")
app.add_typer(models.app, name="models")
app.add_typer(serving.app, name="serving")
app.command("lineage")(lineage.lineage)
app.add_typer(principals.users, name="users")
app.add_typer(principals.groups, name="groups")
app.add_typer(principals.tokens, name="tokens")
app.command("grant")(grants.grant)
app.command("revoke")(grants.revoke)
app.command("grants")(grants.grants)
app.command("serve")(serve.serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"glashaus {glashaus.__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Glashaus: a data-centric machine-learning lakehouse."""
    # Library warnings (e.g. sqlglot's dialect notes) are not for the command line.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)


if __name__ == "__main__":
    app()

"""What every command shares: the connection options, error handling, and output helpers.

Every command takes ``--lakehouse``, ``--user`` and ``--metastore`` and opens the
lakehouse with :func:`open_lakehouse`, which turns any
:class:`~glashaus.errors.GlashausError` into one line ``error: <message>`` on stderr
and exit code 1. Usage errors stay Typer's (exit code 2).

>>> import tempfile
>>> with open_lakehouse(tempfile.mkdtemp(), "alice", None) as lh:
...     [s.full_name for s in lh.list()]
['main', 'system']
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

import glashaus
from glashaus.errors import GlashausError

LakehouseOption = Annotated[
    str,
    typer.Option(
        "--lakehouse",
        "-L",
        envvar="GLASHAUS_LAKEHOUSE",
        metavar="PATH",
        help="Lakehouse folder or object-store URI.",
    ),
]
UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        envvar="GLASHAUS_USER",
        metavar="NAME",
        show_default="the OS user",
        help="Act as this user.",
    ),
]
MetastoreOption = Annotated[
    str | None,
    typer.Option(
        "--metastore",
        envvar="GLASHAUS_METASTORE",
        metavar="URL",
        show_default="SQLite inside the lakehouse",
        help="SQLAlchemy URL of the metastore (PostgreSQL for teams).",
    ),
]
DEFAULT_LAKEHOUSE = "./lakehouse"

#: Width for tables when stdout is not a terminal: wide enough that pipes and logs
#: get whole names, not ellipses.
_PIPE_WIDTH = 200


def fail(message: str) -> typer.Exit:
    """Print ``error: <message>`` (one line) to stderr; return the exit to raise."""
    typer.secho("error: ", err=True, fg=typer.colors.RED, bold=True, nl=False)
    typer.echo(message, err=True)
    return typer.Exit(1)


def one_line(exc: BaseException) -> str:
    """The first line of an error's message (some carry a table of offending rows below)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0]
    return first.rstrip(":").rstrip() if len(lines) > 1 else first


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn a :class:`GlashausError` into ``error: ...`` and exit code 1, without a traceback."""
    try:
        yield
    except GlashausError as exc:
        raise fail(one_line(exc)) from None


@contextmanager
def open_lakehouse(
    lakehouse: str, user: str | None, metastore: str | None, **options: Any
) -> Iterator[glashaus.Lakehouse]:
    """Connect for one command (``options``: more of ``connect``'s, e.g. query limits); flush and close
    afterwards; errors become one line."""
    with errors_as_exit():
        lh = glashaus.open_embedded(lakehouse, user=user, metastore=metastore, **options)
        try:
            yield lh
        finally:
            lh.close()


def console(*, stderr: bool = False) -> Console:
    """A Rich console for this invocation (created late: tests swap sys.stdout)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def listing(title: str, columns: tuple[str, ...] | list[str], *, right: tuple[str, ...] = ()) -> Table:
    """An empty table with the CLI's look (title on the left, bold header, long values folded).

    >>> listing("models", ("name", "latest"), right=("latest",)).columns[1].justify
    'right'
    """
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold", justify="right" if column in right else "left")
    return table


def facts() -> Table:
    """An empty two-column grid for one object's facts (bold label, folded value)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    return grid


def cell(value: Any) -> Text:
    """A data value as table text: never interpreted as Rich markup; NULL shown dimmed."""
    if value is None:
        return Text("NULL", style="dim")
    if isinstance(value, dt.datetime):
        return Text(value.isoformat(sep=" "))
    if isinstance(value, float):
        return Text(repr(value))
    if isinstance(value, bytes):
        return Text(value.hex())
    return Text(str(value))


def human_size(size: int | None) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def count(n: int | None) -> str:
    """``1234567`` -> ``'1,234,567'``; ``None`` -> ``'—'``."""
    return "—" if n is None else f"{n:,}"


def timestamp(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

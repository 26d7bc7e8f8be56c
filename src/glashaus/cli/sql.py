"""``glashaus sql``: run governed SQL; print a table, or CSV / JSON / Parquet.

>>> # glashaus sql "SELECT region, sum(revenue) FROM main.plant_shop.daily_kpis GROUP BY 1" --format csv
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import json
import sys
from enum import Enum
from pathlib import Path
from typing import IO, Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.table import Table

from glashaus import Result
from glashaus.cli.common import (
    DEFAULT_LAKEHOUSE,
    LakehouseOption,
    MetastoreOption,
    UserOption,
    cell,
    console,
    count,
    open_lakehouse,
)

_STATUS_COLUMNS = ["status", "table", "version", "rows"]


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def sql(
    query: Annotated[str, typer.Argument(help="SQL to run (DuckDB dialect); '-' reads it from stdin.")],
    format: Annotated[
        Format, typer.Option("--format", "-f", help="table (pretty, default), csv, json or parquet.")
    ] = Format.table,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            dir_okay=False,
            help="Write csv/json/parquet here instead of stdout (parquet needs it).",
        ),
    ] = None,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1, help="Rows shown by --format table (the others write all).")
    ] = 1000,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Run SQL against the lakehouse: SELECT, DDL, INSERT, MERGE, UPDATE, DELETE, SHOW, DESCRIBE."""
    if format is Format.parquet and output is None:
        raise typer.BadParameter("parquet is binary: pass --output FILE.", param_hint="'--format parquet'")
    if format is Format.table and output is not None:
        raise typer.BadParameter("--output needs --format csv, json or parquet.", param_hint="'--output'")
    if query == "-":
        query = sys.stdin.read()
    with open_lakehouse(lakehouse, user, metastore) as lh:
        result = lh.sql(query)
    if format is Format.table:
        _print_table(result, max_rows)
        return
    table = result.to_arrow()
    if format is Format.parquet:
        pq.write_table(table, output)
    elif output is not None:
        with open(output, "w", encoding="utf-8", newline="") as f:
            _WRITERS[format](table, f)
    else:
        _WRITERS[format](table, sys.stdout)
    if output is not None:
        typer.echo(f"wrote {table.num_rows:,} row(s) to {output}", err=True)


def _print_table(result: Result, max_rows: int) -> None:
    out = console()
    if result.statement != "SELECT" and result.columns == _STATUS_COLUMNS:
        row = result.to_pylist()[0]
        line = row["status"]
        if row["rows"] is not None and "row" not in line:
            line += f", {row['rows']:,} row(s)"
        if row["version"] is not None:
            line += f" (version {row['version']})"
        out.print(line, markup=False)
        return
    arrow = result.to_arrow()
    shown = arrow.slice(0, max_rows)
    table = Table(show_lines=False, header_style="bold")
    for field in arrow.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)
        table.add_column(field.name, justify="right" if numeric else "left", overflow="fold")
    for values in zip(*(c.to_pylist() for c in shown.columns), strict=True) if shown.num_columns else []:
        table.add_row(*(cell(v) for v in values))
    out.print(table)
    # Below the table, not as its caption: a caption wraps to the table's width.
    if arrow.num_rows > shown.num_rows:
        out.print(
            f"first {shown.num_rows:,} of {arrow.num_rows:,} rows (raise --max-rows, or use --format csv for all)",
            style="dim",
            markup=False,
        )
    else:
        out.print(f"{count(arrow.num_rows)} row(s)", style="dim", markup=False)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list | dict):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def _write_csv(table: pa.Table, f: IO[str]) -> None:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(table.column_names)
    for batch in table.to_batches(max_chunksize=65_536):
        columns = [c.to_pylist() for c in batch.columns]
        writer.writerows([_text(v) for v in row] for row in zip(*columns, strict=True))


def _write_json(table: pa.Table, f: IO[str]) -> None:
    """A JSON array of row objects, one row per line."""
    f.write("[")
    first = True
    for batch in table.to_batches(max_chunksize=65_536):
        for row in batch.to_pylist():
            f.write("\n" if first else ",\n")
            f.write(json.dumps(row, default=_json_default, ensure_ascii=False))
            first = False
    f.write("\n]\n" if not first else "]\n")


_WRITERS = {Format.csv: _write_csv, Format.json: _write_json}

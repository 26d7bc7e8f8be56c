"""``glashaus demo``: build the plant shop (bronze, silver, gold) and show what was built.

The work is :func:`glashaus.examples.plant_shop.pipeline.run_pipeline` (and ``ml.py``
beside it for the recommender), shipped in the package so the demo runs from a plain
``pip install "glashaus[demo]"``; this command adds progress bars, a summary of the
tables and their lineage, and the time taken.

>>> # glashaus demo --events 100000 --lakehouse /tmp/lh
"""

from __future__ import annotations

import importlib.util
import shlex
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

import glashaus
from glashaus.cli.common import (
    DEFAULT_LAKEHOUSE,
    LakehouseOption,
    MetastoreOption,
    UserOption,
    console,
    count,
    human_size,
    open_lakehouse,
)
from glashaus.cli.lineage import lineage_tree
from glashaus.examples.plant_shop import ml, pipeline


def demo(
    events: Annotated[int, typer.Option("--events", "-n", min=1, help="Raw events to generate.")] = 1_000_000,
    customers: Annotated[int, typer.Option("--customers", min=1, help="Customers to generate.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the data generator.")] = 7,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
    ml_: Annotated[bool, typer.Option("--ml/--no-ml", help="Train, track, register and serve the recommender.")] = True,
    requests: Annotated[int, typer.Option("--requests", min=1, help="Requests sent to the served model.")] = 200,
) -> None:
    """Build the plant-shop example: bronze from generated data, silver and gold in SQL, then the recommender.

    Re-running replaces main.plant_shop.
    """
    started = time.perf_counter()
    out, err = console(), console(stderr=True)
    with open_lakehouse(lakehouse, user, metastore) as lh:
        out.print(
            f"Building the plant shop in [bold]{escape(lh.root)}[/] as [bold]{escape(lh.user)}[/] "
            f"({events:,} events, {customers:,} customers, seed {seed})"
        )
        bars = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.fields[phase]:<9}"),
            TextColumn("{task.description:<18}"),
            BarColumn(bar_width=24),
            TimeElapsedColumn(),
            console=err,
        )
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, step: str, finished: bool) -> None:
            key = f"{phase}/{step}"
            if not finished:
                tasks[key] = bars.add_task(step, phase=phase, total=1)
            else:
                bars.update(tasks[key], completed=1)

        with bars:
            run = pipeline.run_pipeline(lh, events=events, seed=seed, customers=customers, progress=progress)

        summary = Table(title=f"tables in {run.schema}", title_justify="left", header_style="bold")
        for column in ("layer", "name", "kind", "rows", "version", "size"):
            summary.add_column(column, justify="right" if column in ("rows", "version", "size") else "left")
        for layer, name in run.tables:
            info = lh.describe(name)
            summary.add_row(
                layer,
                name,
                info.kind,
                count(info.num_rows),
                "—" if info.version is None else str(info.version),
                human_size(info.size_bytes) if info.kind == "table" else "—",
            )
        out.print(summary)
        out.print(
            "[bold]lineage[/] (each node: the version read; in brackets, the operation and the version it produced)"
        )
        for name in run.names("gold"):
            out.print(lineage_tree(lh, name, direction="upstream"))
        out.print(_who_sees_what(lh))
        out.print(f"[bold]denied[/]: ana reads events_bronze -> {escape(pipeline.denied_attempt(lh))}")
        decisions = dict(lh.sql("SELECT decision, count(*) FROM system.access.audit GROUP BY decision").fetchall())
        out.print(
            f"[bold]audit[/]: {count(decisions.get('allow', 0))} allowed and "
            f"{count(decisions.get('deny', 0))} denied decisions in system.access.audit"
        )
        if not ml_:
            out.print("[bold]ml[/]: skipped (--no-ml)")
        elif missing := _missing_ml_packages():
            out.print(
                f"[bold]ml[/]: skipped: {', '.join(missing)} not installed "
                "(pip install 'glashaus[demo]' for the recommender, MLflow tracking and serving)"
            )
        else:
            with err.status("training, tracking, registering and serving the recommender ..."):
                report = ml.train_and_serve(lh, requests=requests, say=lambda line: out.print(f"  {escape(line)}"))
            out.print(
                f"[bold]model[/]: {ml.MODEL} v{report.version} @champion, MLflow run {report.run_id}, "
                f"accuracy {report.accuracy:.3f}"
            )
            out.print(lineage_tree(lh, ml.MODEL, direction="upstream"))
            out.print(
                f"[bold]serving[/]: {report.requests} requests -> {report.inference_rows} rows in {ml.INFERENCE_TABLE}"
            )
        root = lh.root
    elapsed = time.perf_counter() - started
    out.print(f"Done in [bold]{elapsed:.1f} s[/] (pipeline {run.seconds:.1f} s). Try:")
    where = "" if lakehouse == DEFAULT_LAKEHOUSE else f" --lakehouse {shlex.quote(root)}"
    out.print(f'  glashaus sql "SELECT * FROM main.plant_shop.revenue_by_region"{where}', markup=False)
    out.print(f"  glashaus lineage main.plant_shop.customer_features --columns{where}", markup=False)


def _who_sees_what(lh: glashaus.Lakehouse) -> Table:
    """The same two queries as different people: filters and masks at work."""
    table = Table(
        title="who sees what (row filter on daily_kpis, tag policy on pii columns)",
        title_justify="left",
        header_style="bold",
    )
    for column in ("user", "groups", "regions in daily_kpis", "customer e-mails"):
        table.add_column(column)
    for user in ("ana", "pia", "dani"):
        seen = pipeline.seen_by(lh, user)
        table.add_row(user, ", ".join(seen["groups"]), ", ".join(seen["regions"]), ", ".join(seen["emails"]))
    return table


def _missing_ml_packages() -> list[str]:
    """The packages of the demo's ML part (the ``demo`` extra) that are not installed."""
    wanted = {
        "mlflow": "mlflow-skinny",
        "sklearn": "scikit-learn",
        "skops": "skops",
        "fastapi": "fastapi",
        "uvicorn": "uvicorn",
        "httpx": "httpx",
        "prometheus_client": "prometheus-client",
    }
    return [package for module, package in wanted.items() if importlib.util.find_spec(module) is None]

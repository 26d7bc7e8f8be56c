"""Governed SQL overhead: ``lh.sql`` versus raw DuckDB over the same Parquet files.

Five queries (group-by, point lookup, join, filter-scan, window) over a seeded orders
table (default 10M rows) and a customers dimension (rows/10). The glashaus side runs
``lh.sql("... FROM main.bench.orders ...")``; the raw side is what an expert would do by
hand: ``duckdb.connect()`` and a view over ``read_parquet(<the table's current Delta
file list>, union_by_name=true)``, file list taken once from ``deltalake``. Both sides
fetch the result as an Arrow table.

Per query: one warm-up each, then ``--repeat`` timed runs, alternating which side goes
first; the median of each side is reported, with the ratio glashaus / raw. Target:
median of the five ratios <= 1.15.

    .venv/bin/python benchmarks/sql_overhead.py --rows 10000000
    .venv/bin/python benchmarks/sql_overhead.py --rows 100000 --repeat 2     # quick check

The lakehouse is built once under ``benchmarks/.work/`` (or ``--workdir``) and reused
by later runs with the same ``--rows``/``--seed``/``--chunk-rows``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb
from deltalake import DeltaTable
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import glashaus
from _common import (
    CUSTOMERS_SCHEMA,
    DEFAULT_WORK,
    build_orders,
    generate_customers,
    make_console,
    median,
    orders_parser,
    parse_orders_args,
    progress_bar,
)

TARGET = 1.15
SCHEMA = "main.bench"
ORDERS = f"{SCHEMA}.orders"
CUSTOMERS = f"{SCHEMA}.customers"
LAYOUT_VERSION = 1  # bump when the generated data or table layout changes


def queries(rows: int) -> dict[str, str]:
    """Query templates; ``{orders}`` / ``{customers}`` become catalog names or raw views."""
    point = (rows * 7) // 10 + 123 if rows > 200 else rows // 2
    return {
        "group-by": (
            "SELECT region, plant_id, count(*) AS n, sum(quantity) AS qty, avg(price) AS avg_price "
            "FROM {orders} GROUP BY region, plant_id"
        ),
        "point lookup": f"SELECT * FROM {{orders}} WHERE order_id = {point}",
        "join": (
            "SELECT c.segment, c.country, count(*) AS orders, sum(o.quantity * o.price) AS revenue "
            "FROM {orders} o JOIN {customers} c ON o.customer_id = c.customer_id "
            "GROUP BY c.segment, c.country"
        ),
        "filter-scan": (
            "SELECT order_id, customer_id, price, ts FROM {orders} "
            "WHERE region = 'alpine' AND quantity >= 9 AND price > 190.0"
        ),
        "window": (
            "SELECT region, order_id, price, rn FROM ("
            "SELECT region, order_id, price, "
            "row_number() OVER (PARTITION BY region ORDER BY price DESC, order_id) AS rn "
            "FROM {orders}) AS ranked WHERE rn <= 100"
        ),
    }


# -- building the lakehouse --------------------------------------------------------------


def build(args: argparse.Namespace, workdir: Path, console: Console) -> Path:
    """The orders lakehouse (``_common.build_orders``) with the customers table besides."""

    def customers(lh: glashaus.Lakehouse, progress: Progress) -> None:
        task = progress.add_task("writing customers", total=1)
        lh.create_table(CUSTOMERS, schema=CUSTOMERS_SCHEMA, primary_key=["customer_id"])
        lh.write(CUSTOMERS, generate_customers(args.rows, seed=args.seed))
        progress.advance(task)

    return build_orders(args, workdir, console, schema=SCHEMA, layout=LAYOUT_VERSION, then=customers)


# -- the two sides -------------------------------------------------------------------------


def raw_connection(lh: glashaus.Lakehouse) -> tuple[duckdb.DuckDBPyConnection, dict[str, int]]:
    """What an expert does by hand: a plain DuckDB over the tables' current Parquet files."""
    con = duckdb.connect()
    files: dict[str, int] = {}
    for full, view in ((ORDERS, "orders"), (CUSTOMERS, "customers")):
        uris = DeltaTable(lh.get(full).storage_location).file_uris()
        files[view] = len(uris)
        listing = ", ".join("'" + u.replace("'", "''") + "'" for u in uris)
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{listing}], union_by_name=true)")
    return con, files


def breakdown(lh: glashaus.Lakehouse, sqls: dict[str, str], runs: int, console: Console) -> None:
    """Time the phases of ``lh.sql(...).to_arrow()`` by wrapping its seams (a separate pass: wrappers add a little).

    DuckDB runs in the sandbox's lazy query path: ``Sandbox.query`` plans the statement and
    reads the first batch, the rest is read by ``Result.to_arrow``; both count as DuckDB.
    ``Sandbox.sql_of`` (bounding values and generating the rewritten SQL) runs inside
    ``Sandbox.query`` and is taken out of it, so parse + resolve + gen + duck + other is the total.
    Only time spent on this thread counts: the audit log moves events to Delta on a thread of
    its own, which is not part of a query's time.
    """
    import threading

    import glashaus.sql.engine as engine_mod
    from glashaus.lakehouse import services
    from glashaus.sql.resolve import Resolver

    svc = services(lh)
    sandbox = svc.engine.sandbox
    caller = threading.get_ident()

    acc: dict[str, float] = {}
    restore: list[tuple[object, str, object, bool]] = []

    def add(label: str, seconds: float) -> None:
        acc[label] = acc.get(label, 0.0) + seconds

    def wrap(owner: object, attr: str, label: str) -> None:
        fn = getattr(owner, attr, None)
        if fn is None:
            raise SystemExit(f"breakdown: {type(owner).__name__}.{attr} not found; update the breakdown's seams")

        def wrapper(*a, **k):
            if threading.get_ident() != caller:
                return fn(*a, **k)
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                add(label, time.perf_counter() - t0)

        restore.append((owner, attr, fn, attr in vars(owner)))
        setattr(owner, attr, wrapper)

    wrap(engine_mod, "parse", "parse")
    wrap(Resolver, "resolve", "resolve")
    wrap(svc.catalog, "get", "lookups")
    wrap(svc.store, "table", "refresh")
    wrap(svc.audit, "record", "audit")
    wrap(sandbox, "sql_of", "gen")
    wrap(sandbox, "query", "query")
    rows: dict[str, dict[str, float]] = {}
    try:
        for q, sql in sqls.items():
            for _ in range(2):
                lh.sql(sql).to_arrow()
            acc.clear()
            elapsed = 0.0
            for _ in range(runs):
                t0 = time.perf_counter()
                result = lh.sql(sql)
                t1 = time.perf_counter()
                result.to_arrow()  # the batches after the first: DuckDB still running the query
                t2 = time.perf_counter()
                add("fetch", t2 - t1)
                elapsed += t2 - t0
            ms = {k: v / runs * 1000 for k, v in acc.items()}
            total = elapsed / runs * 1000
            duck = ms.get("query", 0.0) - ms.get("gen", 0.0) + ms.get("fetch", 0.0)
            accounted = ms.get("parse", 0.0) + ms.get("resolve", 0.0) + ms.get("gen", 0.0) + duck
            ms.update(total=total, duck=duck, other=total - accounted)
            if ms.get("query", 0.0) == 0.0:
                console.print(f"[red]breakdown: {q!r} never reached Sandbox.query; its DuckDB time is unknown[/]")
            rows[q] = ms
    finally:
        for owner, attr, fn, own in reversed(restore):
            if own:
                setattr(owner, attr, fn)
            else:
                delattr(owner, attr)
    labels = [
        ("total", "lh.sql(...).to_arrow() total"),
        ("parse", "  parse user SQL (sqlglot)"),
        ("resolve", "  resolve: check, authorize, pin files"),
        ("lookups", "    metastore lookups (Catalog.get)"),
        ("refresh", "    Delta handle refresh (DeltaStore.table)"),
        ("audit", "    audit journal write (AuditLog.record)"),
        ("gen", "  bound values, generate rewritten SQL"),
        ("duck", "  DuckDB plan, run, fetch"),
        ("fetch", "    of which after lh.sql returned (to_arrow)"),
        ("other", "  other"),
    ]
    table = Table(title=f"Where lh.sql spends its time: ms per query, mean of {runs} runs (separate pass)")
    table.add_column("phase")
    for q in sqls:
        table.add_column(q, justify="right")
    for key, label in labels:
        table.add_row(label, *[f"{rows[q].get(key, 0.0):.2f}" for q in sqls])
    console.print(table)


def run(args: argparse.Namespace) -> int:
    console = make_console()
    workdir = Path(args.workdir) if args.workdir else DEFAULT_WORK / f"sql_overhead-{args.rows}-s{args.seed}"
    root = build(args, workdir, console)

    lh = glashaus.connect(root, user="bench")
    raw, files = raw_connection(lh)
    templates = queries(args.rows)
    if args.only:
        templates = {k: v for k, v in templates.items() if k in args.only}
    gl_sql = {k: v.format(orders=ORDERS, customers=CUSTOMERS) for k, v in templates.items()}
    raw_sql = {k: v.format(orders="orders", customers="customers") for k, v in templates.items()}

    def glashaus_side(name: str):
        return lh.sql(gl_sql[name]).to_arrow()

    def raw_side(name: str):
        return raw.sql(raw_sql[name]).to_arrow_table()

    profiler = cProfile.Profile() if args.profile else None
    times: dict[str, dict[str, list[float]]] = {q: {"glashaus": [], "raw": []} for q in templates}
    shapes: dict[str, dict[str, tuple]] = {q: {} for q in templates}
    console.print(
        f"orders: {args.rows:,} rows in {files['orders']} file(s); customers: {args.rows // 10 or 1:,} rows "
        f"in {files['customers']} file(s); duckdb {duckdb.__version__}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    sides = {"glashaus": glashaus_side, "raw": raw_side}
    with progress_bar(console) as progress:
        task = progress.add_task("queries", total=len(templates) * (args.repeat + 1) * 2)
        for q in templates:
            progress.update(task, description=f"{q}")
            for side, fn in sides.items():  # warm-up: file metadata, caches, first DuckDB plan
                result = fn(q)
                shapes[q][side] = (result.num_rows, tuple(result.column_names))
                progress.advance(task)
            for i in range(args.repeat):
                order = ("glashaus", "raw") if i % 2 == 0 else ("raw", "glashaus")
                for side in order:
                    if side == "glashaus" and profiler is not None:
                        profiler.enable()
                    t0 = time.perf_counter()
                    sides[side](q)
                    elapsed = time.perf_counter() - t0
                    if side == "glashaus" and profiler is not None:
                        profiler.disable()
                    times[q][side].append(elapsed)
                    progress.advance(task)
    raw.close()

    table = Table(title=f"lh.sql vs raw DuckDB — {args.rows:,} rows, median of {args.repeat} run(s)")
    table.add_column("query")
    table.add_column("glashaus ms", justify="right")
    table.add_column("raw ms", justify="right")
    table.add_column("overhead ms", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("rows out", justify="right")
    ratios = []
    report = {"rows": args.rows, "repeat": args.repeat, "queries": {}}
    for q in templates:
        g, r = median(times[q]["glashaus"]), median(times[q]["raw"])
        ratio = g / r if r > 0 else float("inf")
        ratios.append(ratio)
        same = shapes[q]["glashaus"] == shapes[q]["raw"]
        table.add_row(
            q,
            f"{g * 1000:.1f}",
            f"{r * 1000:.1f}",
            f"{(g - r) * 1000:+.1f}",
            f"{ratio:.3f}",
            f"{shapes[q]['glashaus'][0]:,}" + ("" if same else " [red](differs from raw!)[/]"),
        )
        report["queries"][q] = {
            "glashaus_s": times[q]["glashaus"],
            "raw_s": times[q]["raw"],
            "ratio": ratio,
            "same_shape": same,
        }
    console.print(table)
    med = median(ratios)
    met = med <= TARGET
    report.update(median_ratio=med, target=TARGET, met=met)
    console.print(
        f"median ratio: [bold]{med:.3f}[/] (target <= {TARGET}): "
        + ("[green]target met[/]" if met else "[red]target NOT met[/]")
    )
    if any(shapes[q]["glashaus"] != shapes[q]["raw"] for q in templates):
        console.print("[red]Some results differ in shape between glashaus and raw.[/]")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.breakdown:
        breakdown(lh, gl_sql, args.breakdown, console)
    lh.close()
    if profiler is not None:
        profiler.dump_stats(args.profile)
        console.print(f"cProfile of the timed glashaus runs written to {args.profile}; top 25 by cumulative time:")
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
    console.print(f"load average at the end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    return 1 if args.check and not met else 0


def main(argv: list[str] | None = None) -> int:
    p = orders_parser(__doc__, name="sql_overhead", unit="query")
    p.add_argument("--only", nargs="+", metavar="QUERY", help="run only these queries (e.g. 'point lookup')")
    p.add_argument("--profile", metavar="PATH", help="cProfile the timed glashaus runs into PATH")
    p.add_argument(
        "--breakdown",
        type=int,
        default=0,
        metavar="N",
        help="after timing, run each query N more times with the phases of lh.sql timed",
    )
    args = parse_orders_args(p, argv)
    unknown = set(args.only or []) - set(queries(args.rows))
    if unknown:
        p.error(f"unknown query name(s) {sorted(unknown)}; choose from {list(queries(args.rows))}")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

"""Ingest overhead: appending rows through ``lh.write`` versus a bare ``write_deltalake``.

The same seeded orders table (default 10M rows) is appended in one call to a fresh,
empty table on each side: ``lh.write("main.bench.orders", data)`` on a table made
with ``lh.create_table(..., primary_key=["order_id"])``, and
``deltalake.write_deltalake(path, data, mode="append")`` on a table made with
``DeltaTable.create(path, <the same schema>)``. Every run is a separate subprocess, so
peak memory is measured per side; the sides alternate. Only the write call is timed;
creating the table (and, for glashaus, opening the lakehouse) is not.

The data is generated once into an uncompressed Arrow IPC file under the work folder;
each child reads it fully into memory before the write (no generator temporaries in
the peak). Per run the child reports the write time, its peak RSS over the whole life
of the process (VmHWM, = ru_maxrss) and the extra RSS the write itself needed (VmHWM
reset just before the write, minus VmRSS at that point).

Targets: median time ratio (glashaus / bare) <= 1.10, peak-memory ratio <= 1.2.

    .venv/bin/python benchmarks/ingest.py --rows 10000000
    .venv/bin/python benchmarks/ingest.py --rows 100000 --repeat 2     # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa

from _common import DEFAULT_WORK, ORDERS_SCHEMA, iter_orders, median, proc_status, reset_peak_rss

TIME_TARGET = 1.10
MEMORY_TARGET = 1.20
TABLE = "main.bench.orders"
SIDES = ("glashaus", "bare")


# -- child: one write, measured ------------------------------------------------------------


def _table_schema() -> pa.Schema:
    """The schema both tables get: what lh.create_table(primary_key=["order_id"]) makes."""
    return pa.schema([f.with_nullable(False) if f.name == "order_id" else f for f in ORDERS_SCHEMA])


def child(args: argparse.Namespace) -> int:
    target = Path(args.target)
    if args.child == "glashaus":
        import glashaus

        lh = glashaus.connect(target / "lakehouse", user="bench")
        lh.create_schema("main.bench", if_not_exists=True)
        lh.create_table(TABLE, schema=ORDERS_SCHEMA, primary_key=["order_id"])

        def write(data: pa.Table) -> None:
            lh.write(TABLE, data)

        def close() -> None:
            lh.close()
    else:
        from deltalake import DeltaTable, write_deltalake

        path = str(target / "orders")
        DeltaTable.create(path, _table_schema())

        def write(data: pa.Table) -> None:
            write_deltalake(path, data, mode="append")

        def close() -> None:
            pass

    with pa.OSFile(args.data, "rb") as f:
        data = pa.ipc.open_file(f).read_all()
    before = proc_status()
    reset = reset_peak_rss()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    write(data)
    seconds = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    after = proc_status()
    close()
    peak_write = after.get("VmHWM", 0)
    print(
        json.dumps(
            {
                "side": args.child,
                "rows": data.num_rows,
                "seconds": seconds,
                "peak_kib": max(before.get("VmHWM", 0), peak_write),
                "rss_before_write_kib": before.get("VmRSS", 0),
                "write_extra_kib": (peak_write - before.get("VmRSS", 0)) if reset else None,
            }
        )
    )
    return 0


# -- parent ----------------------------------------------------------------------------------


def make_data(path: Path, rows: int, seed: int) -> None:
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, ORDERS_SCHEMA) as writer:
        for _, chunk in iter_orders(rows, seed=seed):
            writer.write_table(chunk)
    tmp.rename(path)


def run_child(side: str, data: Path, target: Path, profile: str | None) -> dict:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", side, "--data", str(data), "--target", str(target)]
    if profile:
        cmd += ["--profile", profile]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    # The child reports its own peak (VmHWM): RUSAGE_CHILDREN would only give the
    # largest child so far, not this one.
    if proc.returncode != 0:
        raise RuntimeError(f"{side} child failed ({proc.returncode}):\n{err}")
    result = json.loads(out.strip().splitlines()[-1])
    shutil.rmtree(target, ignore_errors=True)
    return result


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)
    workdir = Path(args.workdir) if args.workdir else DEFAULT_WORK / f"ingest-{args.rows}-s{args.seed}"
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "orders.arrow"
    if not data.exists():
        with console.status(f"generating {args.rows:,} orders into {data}"):
            make_data(data, args.rows, args.seed)
    else:
        console.print(f"[green]Reusing[/] {data}")
    console.print(
        f"data: {args.rows:,} rows, {data.stat().st_size / 2**20:,.0f} MiB as Arrow IPC; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )

    results: dict[str, list[dict]] = {s: [] for s in SIDES}
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("writes", total=args.repeat * 2)
        for i in range(args.repeat):
            order = SIDES if i % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                progress.update(task, description=f"run {i + 1}/{args.repeat}: {side}")
                profile = None
                if args.profile and side == "glashaus":
                    profile = f"{args.profile}.{i}" if args.repeat > 1 else args.profile
                results[side].append(run_child(side, data, workdir / f"target-{side}", profile))
                progress.advance(task)

    table = Table(title=f"lh.write vs write_deltalake — append {args.rows:,} rows, median of {args.repeat} run(s)")
    table.add_column("side")
    table.add_column("write s, each run", justify="right")
    table.add_column("median s", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("peak RSS MiB", justify="right")
    table.add_column("write extra MiB", justify="right")
    med: dict[str, dict[str, float]] = {}
    for side in SIDES:
        runs = results[side]
        extra = [r["write_extra_kib"] for r in runs if r["write_extra_kib"] is not None]
        med[side] = {
            "seconds": median([r["seconds"] for r in runs]),
            "peak_kib": median([r["peak_kib"] for r in runs]),
            "extra_kib": median(extra) if extra else float("nan"),
        }
        table.add_row(
            side,
            " ".join(f"{r['seconds']:.2f}" for r in runs),
            f"{med[side]['seconds']:.2f}",
            f"{args.rows / med[side]['seconds']:,.0f}",
            f"{med[side]['peak_kib'] / 1024:,.0f}",
            f"{med[side]['extra_kib'] / 1024:,.0f}",
        )
    console.print(table)
    g, b = med["glashaus"], med["bare"]
    time_ratio = g["seconds"] / b["seconds"]
    mem_ratio = g["peak_kib"] / b["peak_kib"]
    extra_ratio = g["extra_kib"] / b["extra_kib"] if b["extra_kib"] else float("nan")
    time_ok, mem_ok = time_ratio <= TIME_TARGET, mem_ratio <= MEMORY_TARGET
    console.print(
        f"time ratio:   [bold]{time_ratio:.3f}[/] (target <= {TIME_TARGET}): "
        + ("[green]met[/]" if time_ok else "[red]NOT met[/]")
    )
    console.print(
        f"memory ratio: [bold]{mem_ratio:.3f}[/] peak RSS (target <= {MEMORY_TARGET}): "
        + ("[green]met[/]" if mem_ok else "[red]NOT met[/]")
        + f"; write's own extra memory ratio {extra_ratio:.3f}"
    )
    console.print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "rows": args.rows,
                    "repeat": args.repeat,
                    "runs": results,
                    "time_ratio": time_ratio,
                    "memory_ratio": mem_ratio,
                    "write_extra_ratio": extra_ratio,
                    "time_target": TIME_TARGET,
                    "memory_target": MEMORY_TARGET,
                },
                indent=2,
            )
        )
    if args.keep_data is False:
        data.unlink(missing_ok=True)
    return 1 if args.check and not (time_ok and mem_ok) else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="rows appended per write (default 10,000,000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per side (default 3)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workdir", help="work folder (default benchmarks/.work/ingest-<rows>-s<seed>)")
    p.add_argument(
        "--no-keep-data",
        dest="keep_data",
        action="store_false",
        help="delete the generated Arrow file at the end (kept for reuse by default)",
    )
    p.add_argument("--json", help="also write the measurements to this JSON file")
    p.add_argument("--profile", metavar="PATH", help="cProfile the glashaus lh.write call(s) into PATH[.run]")
    p.add_argument("--check", action="store_true", help="exit with status 1 when a target is missed")
    p.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--target", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)
    if args.rows < 1 or args.repeat < 1:
        p.error("--rows and --repeat must be positive")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

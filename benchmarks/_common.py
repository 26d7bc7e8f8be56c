"""Shared pieces of the Glashaus benchmarks: seeded data, timing helpers, memory probes.

The data is generated with numpy + pyarrow only (no per-row Python), fully determined
by ``seed`` and ``rows``:

* ``orders`` -- the fact table: ``order_id`` int64 (0..rows-1, in order), ``customer_id``
  int64 (about rows/10 distinct: 1M at 10M rows), ``region`` string (5 values),
  ``plant_id`` int64 (500 values), ``quantity`` int32 (1..10), ``price`` float64 and
  ``ts`` timestamp[us, UTC] (one year, rising with ``order_id``, with jitter).
* ``customers`` -- the dimension table: one row per ``customer_id`` with ``segment``
  (4 values), ``country`` (12 values) and ``signup_date`` (date32).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_WORK = BENCH_DIR / ".work"

REGIONS = ("north", "south", "east", "west", "alpine")
SEGMENTS = ("consumer", "pro", "wholesale", "staff")
COUNTRIES = ("DE", "AT", "CH", "FR", "IT", "NL", "BE", "PL", "CZ", "DK", "SE", "ES")
N_PLANTS = 500

ORDERS_SCHEMA = pa.schema(
    [
        pa.field("order_id", pa.int64()),
        pa.field("customer_id", pa.int64()),
        pa.field("region", pa.string()),
        pa.field("plant_id", pa.int64()),
        pa.field("quantity", pa.int32()),
        pa.field("price", pa.float64()),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
    ]
)
CUSTOMERS_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.int64()),
        pa.field("segment", pa.string()),
        pa.field("country", pa.string()),
        pa.field("signup_date", pa.date32()),
    ]
)

_START_US = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
_YEAR_US = 365 * 24 * 3600 * 1_000_000


def n_customers(rows: int) -> int:
    return max(1, rows // 10)


def _labels(values: tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return pc.take(pa.array(values, pa.string()), pa.array(idx, pa.int32()))


def orders_chunk(rows: int, start: int, count: int, *, seed: int = 42) -> pa.Table:
    """Orders ``start`` .. ``start + count - 1`` of a ``rows``-row table (same rows whatever the chunking)."""
    rng = np.random.default_rng([seed, 1, start])
    order_id = np.arange(start, start + count, dtype=np.int64)
    customers = n_customers(rows)
    # Spread rows over a year, rising with order_id, +-1 hour of jitter.
    jitter = rng.integers(-3_600_000_000, 3_600_000_000, count, dtype=np.int64)
    ts = _START_US + (order_id * (_YEAR_US // max(rows, 1))) + jitter
    return pa.Table.from_arrays(
        [
            pa.array(order_id),
            pa.array(rng.integers(0, customers, count, dtype=np.int64)),
            _labels(REGIONS, rng.choice(len(REGIONS), count, p=[0.3, 0.25, 0.2, 0.15, 0.1]).astype(np.int32)),
            pa.array(rng.integers(1, N_PLANTS + 1, count, dtype=np.int64)),
            pa.array(rng.integers(1, 11, count, dtype=np.int32)),
            pa.array(np.round(rng.uniform(1.0, 200.0, count), 2)),
            pa.array(ts, pa.timestamp("us", tz="UTC")),
        ],
        schema=ORDERS_SCHEMA,
    )


def generate_orders(rows: int, *, seed: int = 42, chunk_rows: int = 1_000_000) -> pa.Table:
    return pa.concat_tables(
        [c for _, c in iter_orders(rows, seed=seed, chunk_rows=chunk_rows)] or [ORDERS_SCHEMA.empty_table()]
    )


def iter_orders(rows: int, *, seed: int = 42, chunk_rows: int = 1_000_000) -> Iterator[tuple[int, pa.Table]]:
    for start in range(0, rows, chunk_rows):
        count = min(chunk_rows, rows - start)
        yield count, orders_chunk(rows, start, count, seed=seed)


def generate_customers(rows: int, *, seed: int = 42) -> pa.Table:
    n = n_customers(rows)
    rng = np.random.default_rng([seed, 2])
    signup = np.datetime64("2020-01-01") + rng.integers(0, 6 * 365, n).astype("timedelta64[D]")
    return pa.Table.from_arrays(
        [
            pa.array(np.arange(n, dtype=np.int64)),
            _labels(SEGMENTS, rng.choice(len(SEGMENTS), n, p=[0.7, 0.2, 0.08, 0.02]).astype(np.int32)),
            _labels(COUNTRIES, rng.integers(0, len(COUNTRIES), n).astype(np.int32)),
            pa.array(signup.astype("datetime64[D]"), pa.date32()),
        ],
        schema=CUSTOMERS_SCHEMA,
    )


# -- measuring ----------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def proc_status() -> dict[str, int]:
    """VmRSS / VmHWM of this process in KiB (Linux)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def fmt_bytes(kib: float) -> str:
    return f"{kib / 1024:,.0f} MiB"


def venv_hint() -> str:
    return f"{Path(sys.executable).name} {os.path.relpath(sys.argv[0])}"


def orders_parser(doc: str, *, name: str, unit: str) -> argparse.ArgumentParser:
    """The options of a benchmark over the seeded orders lakehouse (``--rows``, ``--repeat``, ``--seed``,
    ``--chunk-rows``, ``--workdir``, ``--rebuild``, ``--json``, ``--check``); ``unit`` is what one timed run times."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="orders rows (default 10,000,000)")
    p.add_argument("--repeat", type=int, default=5, help=f"timed runs per {unit} and side (default 5)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--chunk-rows",
        type=int,
        default=1_000_000,
        help="rows per lh.write append when building (default 1,000,000: 10 files at 10M)",
    )
    p.add_argument("--workdir", help=f"where the lakehouse lives (default benchmarks/.work/{name}-<rows>-s<seed>)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the lakehouse even if one is there")
    p.add_argument("--json", help="also write the timings to this JSON file")
    p.add_argument("--check", action="store_true", help="exit with status 1 when the target is missed")
    return p


def parse_orders_args(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse, refusing non-positive sizes."""
    args = p.parse_args(argv)
    if args.rows < 1 or args.repeat < 1 or args.chunk_rows < 1:
        p.error("--rows, --repeat and --chunk-rows must be positive")
    return args


def make_console() -> Any:
    """A rich Console; piped output gets 120 columns rather than rich's 80, so the tables stay readable."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)


def progress_bar(console: Any) -> Any:
    """The progress bar the benchmarks show (description, bar, done/total, elapsed)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def build_orders(
    args: argparse.Namespace, workdir: Path, console: Any, *, schema: str, layout: int, then: Any = None
) -> Path:
    """``workdir/lakehouse`` with ``<schema>.orders`` (``--rows`` seeded rows in ``--chunk-rows`` appends,
    as user ``bench``), reused when a previous build had the same rows, seed, chunking and ``layout``
    (unless ``--rebuild``). ``then(lh, progress)`` adds what else a benchmark needs before the build is
    marked complete. Imports glashaus only here: ``ingest.py``'s bare side measures its own memory."""
    import json
    import shutil

    import glashaus

    root = workdir / "lakehouse"
    marker_path = workdir / "ready.json"
    marker = {"rows": args.rows, "seed": args.seed, "chunk_rows": args.chunk_rows, "layout": layout}
    if not args.rebuild and marker_path.exists():
        try:
            if json.loads(marker_path.read_text()) == marker:
                console.print(f"[green]Reusing[/] the lakehouse at {root}")
                return root
        except (OSError, ValueError):
            pass
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    orders = f"{schema}.orders"
    chunks = -(-args.rows // args.chunk_rows)
    with progress_bar(console) as progress:
        task = progress.add_task(f"writing {args.rows:,} orders ({chunks} appends)", total=args.rows)
        with glashaus.connect(root, user="bench") as lh:
            lh.create_schema(schema, if_not_exists=True)
            lh.create_table(orders, schema=ORDERS_SCHEMA, primary_key=["order_id"])
            for count, chunk in iter_orders(args.rows, seed=args.seed, chunk_rows=args.chunk_rows):
                lh.write(orders, chunk)
                progress.advance(task, count)
            if then is not None:
                then(lh, progress)
    marker_path.write_text(json.dumps(marker))
    return root

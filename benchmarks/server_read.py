"""Server-mode reads: a table through ``glashaus serve`` (Arrow IPC over HTTP) versus embedded.

The same seeded orders table (default 10M rows) read two ways, in the same run on the
same machine:

* **read** -- ``glashaus.connect(url, token=...).read(name)`` against a ``glashaus serve``
  running in its own process (its own interpreter, as in production) versus
  ``glashaus.connect(path).read(name)`` in this process;
* **SELECT \\*** -- ``.sql("SELECT * FROM name").to_arrow()``, remote versus embedded
  (the server streams DuckDB's record batches as they come).

Both sides return a whole pyarrow Table; the remote side includes the HTTP request, the
token check, the audit event, the server's read, the IPC encoding, the transfer over
loopback and the decoding. Per operation: one warm-up per side, then ``--repeat`` timed
runs, alternating which side goes first; medians and the ratio remote / embedded are
printed. Target: read ratio <= 1.5.

    .venv/bin/python benchmarks/server_read.py --rows 10000000
    .venv/bin/python benchmarks/server_read.py --rows 100000 --repeat 2     # quick check

The lakehouse is built once under ``benchmarks/.work/`` (or ``--workdir``) and reused
by later runs with the same ``--rows``/``--seed``/``--chunk-rows``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import pyarrow as pa
from rich.console import Console
from rich.table import Table

import glashaus
from _common import (
    DEFAULT_WORK,
    build_orders,
    make_console,
    median,
    orders_parser,
    parse_orders_args,
    progress_bar,
)

TARGET = 1.5
SCHEMA = "main.bench"
ORDERS = f"{SCHEMA}.orders"
LAYOUT_VERSION = 1  # bump when the generated data or table layout changes
USER = "bench"


# -- the lakehouse -----------------------------------------------------------------------


# -- the server, in a process of its own -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, console: Console) -> tuple[subprocess.Popen, str]:
    """``glashaus serve`` on a free loopback port, as its own process; waits for /health."""
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from glashaus.cli.main import app; app()",
        "serve",
        "--lakehouse",
        str(root),
        "--user",
        USER,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            error = server.stderr.read().decode() if server.stderr else ""
            console.print(f"[red]the server did not start:[/] {error[-2000:]}")
            raise SystemExit(1)
        time.sleep(0.1)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


# -- running ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    console = make_console()
    workdir = Path(args.workdir) if args.workdir else DEFAULT_WORK / f"server_read-{args.rows}-s{args.seed}"
    root = build_orders(args, workdir, console, schema=SCHEMA, layout=LAYOUT_VERSION)

    lh = glashaus.connect(root, user=USER)
    token = lh.create_token(expires_in=None, comment="server_read benchmark")
    server, url = start_server(root, console)
    remote = glashaus.connect(url, token=token)
    select = f"SELECT * FROM {ORDERS}"
    ops = {
        "read": {"embedded": lambda: lh.read(ORDERS), "remote": lambda: remote.read(ORDERS)},
        "SELECT *": {"embedded": lambda: lh.sql(select).to_arrow(), "remote": lambda: remote.sql(select).to_arrow()},
    }
    if args.only:
        ops = {k: v for k, v in ops.items() if k in args.only}
    times: dict[str, dict[str, list[float]]] = {op: {"embedded": [], "remote": []} for op in ops}
    shapes: dict[str, dict[str, tuple[int, int]]] = {op: {} for op in ops}
    console.print(
        f"orders: {args.rows:,} rows; server {url} (pid {server.pid}); pyarrow {pa.__version__}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    try:
        with progress_bar(console) as progress:
            task = progress.add_task("reads", total=len(ops) * (args.repeat + 1) * 2)
            for op, sides in ops.items():
                progress.update(task, description=op)
                for side, fn in sides.items():  # warm-up: file metadata, caches, connections
                    table = fn()
                    shapes[op][side] = (table.num_rows, table.nbytes)
                    del table
                    progress.advance(task)
                for i in range(args.repeat):
                    order = ("embedded", "remote") if i % 2 == 0 else ("remote", "embedded")
                    for side in order:
                        t0 = time.perf_counter()
                        table = sides[side]()
                        times[op][side].append(time.perf_counter() - t0)
                        del table
                        progress.advance(task)
    finally:
        remote.close()
        stop_server(server)
        lh.close()

    table = Table(
        title=f"remote (glashaus serve, Arrow IPC over HTTP) vs embedded — {args.rows:,} rows, "
        f"median of {args.repeat} run(s)"
    )
    for column, justify in (
        ("operation", "left"),
        ("embedded ms", "right"),
        ("remote ms", "right"),
        ("ratio", "right"),
        ("remote MiB/s", "right"),
        ("rows", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    report: dict = {"rows": args.rows, "repeat": args.repeat, "target": TARGET, "operations": {}}
    for op in ops:
        e, r = median(times[op]["embedded"]), median(times[op]["remote"])
        ratio = r / e if e > 0 else float("inf")
        rows, nbytes = shapes[op]["remote"]
        same = shapes[op]["remote"][0] == shapes[op]["embedded"][0]
        table.add_row(
            op,
            f"{e * 1000:.0f}",
            f"{r * 1000:.0f}",
            f"{ratio:.2f}",
            f"{nbytes / 2**20 / r:,.0f}",
            f"{rows:,}" + ("" if same else " [red](differs from embedded!)[/]"),
        )
        report["operations"][op] = {
            "embedded_s": times[op]["embedded"],
            "remote_s": times[op]["remote"],
            "ratio": ratio,
            "bytes": nbytes,
            "same_rows": same,
        }
    console.print(table)
    met = "read" not in ops or report["operations"]["read"]["ratio"] <= TARGET
    report["met"] = met
    if "read" in ops:
        console.print(
            f"read ratio: [bold]{report['operations']['read']['ratio']:.2f}[/] (target <= {TARGET}): "
            + ("[green]target met[/]" if met else "[red]target NOT met[/]")
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    console.print(f"load average at the end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    return 1 if args.check and not met else 0


def main(argv: list[str] | None = None) -> int:
    p = orders_parser(__doc__, name="server_read", unit="operation")
    p.add_argument("--only", nargs="+", metavar="OP", choices=["read", "SELECT *"], help="run only these operations")
    args = parse_orders_args(p, argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

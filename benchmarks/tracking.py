"""Experiment tracking: the same MLflow client workload against a stock MLflow server and glashaus.

Both servers are driven by the *same* client (the real ``mlflow`` package from the
peer's virtual environment, which this script creates under ``benchmarks/.venvs/``):

1. logging: ``--runs`` runs (default 1,000), each ``create_run`` + one ``log_batch``
   of ``--params`` params (20) and ``--metrics`` metrics (50) + ``set_terminated``;
2. search: ``search_runs`` over all of them with a filter on a metric and a param and
   an order-by on a metric, ``--repeat`` times (median). The target is on the whole
   call; the table also splits it into the server's answer (the client's HTTP round trip)
   and the client's own parsing of it (JSON to protobuf to entities: the same work for
   both servers, since both answer the same runs).

* peer: ``mlflow server`` with its SQLite backend store and a local artifact root;
* glashaus: ``glashaus serve`` on a fresh lakehouse (SQLite metastore), the client
  authenticated with ``MLFLOW_TRACKING_TOKEN``.

Targets (issue: model registry and tracking): logging throughput >= 1.0x MLflow's;
search >= 5x faster.

    .venv/bin/python benchmarks/tracking.py                     # full size
    .venv/bin/python benchmarks/tracking.py --runs 100 --repeat 3    # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console
from rich.table import Table

from _common import BENCH_DIR, DEFAULT_WORK, venv_hint

LOG_TARGET = 1.0
SEARCH_TARGET = 5.0
MLFLOW_VERSION = "3.17.2"
REPO = BENCH_DIR.parent

# The workload, run by the peer venv's Python against MLFLOW_TRACKING_URI; prints one JSON line.
CLIENT = textwrap.dedent(
    """
    import json, random, sys, time
    import mlflow.utils.rest_utils as rest_utils
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    # The server's part of each call: the HTTP round trip, before the client parses the answer.
    answers = []
    _http_request = rest_utils.http_request

    def timed_request(*args, **kwargs):
        t = time.perf_counter()
        try:
            return _http_request(*args, **kwargs)
        finally:
            answers.append(time.perf_counter() - t)

    rest_utils.http_request = timed_request

    runs, n_params, n_metrics, repeat, experiment = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                                     int(sys.argv[4]), sys.argv[5])
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
    rng = random.Random(7)
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    for i in range(runs):
        run = client.create_run(exp_id, run_name=f"run-{i}")
        params = [Param(f"p{k}", f"v{rng.randrange(5)}") for k in range(n_params)]
        metrics = [Metric(f"m{j}", rng.random(), now, 0) for j in range(n_metrics)]
        client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=[RunTag("bench", "yes")])
        client.set_terminated(run.info.run_id)
        if (i + 1) % max(1, runs // 20) == 0:
            print(json.dumps({"progress": i + 1}), flush=True)
    logging = time.perf_counter() - t0
    searches, served, found = [], [], 0
    for _ in range(repeat + 1):
        answers.clear()
        t0 = time.perf_counter()
        result, token = [], None
        while True:
            page = client.search_runs([exp_id], filter_string="metrics.m0 > 0.5 and params.p1 = 'v3'",
                                      order_by=["metrics.m1 DESC"], max_results=1000, page_token=token)
            result += page
            token = page.token
            if not token:
                break
        searches.append(time.perf_counter() - t0)
        served.append(sum(answers))
        found = len(result)
    median = lambda xs: sorted(xs[1:])[len(xs[1:]) // 2]
    print(json.dumps({"logging": logging, "search": median(searches), "served": median(served), "found": found}))
    """
)


def peer_python(console: Console, *, extra: list[str] | None = None) -> Path:
    """The peer venv's python, creating the venv (``pip install mlflow`` + ``extra``) on first use."""
    venv = BENCH_DIR / ".venvs" / f"mlflow-{MLFLOW_VERSION}"
    python = venv / "bin" / "python"
    wanted = [f"mlflow=={MLFLOW_VERSION}", "scikit-learn", "skops", *(extra or [])]
    if (venv / ".complete").exists() and (venv / ".complete").read_text().split() == wanted:
        return python
    if not python.exists():
        with console.status(f"creating the peer environment {venv} ..."):
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    with console.status(f"installing {' '.join(wanted)} into {venv} ..."):
        subprocess.run([str(python), "-m", "pip", "install", "-q", *wanted], check=True)
    (venv / ".complete").write_text(" ".join(wanted))
    return python


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{what} did not answer {url} within {timeout:.0f} s")


def run_client(
    python: Path, env: dict[str, str], args: argparse.Namespace, experiment: str, console: Console, label: str
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(CLIENT)
    cmd = [str(python), f.name, str(args.runs), str(args.params), str(args.metrics), str(args.repeat), experiment]
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env, "MLFLOW_DISABLE_TELEMETRY": "true"}, stdout=subprocess.PIPE, text=True
    )
    result: dict[str, float] = {}
    with console.status(f"{label}: logging {args.runs} runs ...") as status:
        for line in proc.stdout:  # type: ignore[union-attr]
            if not line.startswith("{"):
                continue  # the mlflow client's own messages ("View run ...")
            data = json.loads(line)
            if "progress" in data:
                status.update(f"{label}: logged {data['progress']}/{args.runs} runs ...")
            else:
                result = data
    if proc.wait() != 0 or not result:
        raise SystemExit(f"the client workload against {label} failed (exit {proc.returncode})")
    os.unlink(f.name)
    return result


def bench_mlflow(python: Path, work: Path, args: argparse.Namespace, console: Console) -> dict[str, float]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    port = free_port()
    mlflow_bin = python.parent / "mlflow"
    server = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            f"sqlite:///{work / 'mlflow.db'}",
            "--artifacts-destination",
            str(work / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", server, "mlflow server")
        return run_client(
            python,
            {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"},
            args,
            "bench-tracking",
            console,
            "mlflow server",
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_glashaus(python: Path, work: Path, args: argparse.Namespace, console: Console) -> dict[str, float]:
    import glashaus

    shutil.rmtree(work, ignore_errors=True)
    root = work / "lakehouse"
    with glashaus.connect(root, user="bench") as lh:
        token = lh.create_token("bench")
    port = free_port()
    glashaus_bin = Path(sys.executable).parent / "glashaus"
    server = subprocess.Popen(
        [
            str(glashaus_bin),
            "serve",
            "--lakehouse",
            str(root),
            "--user",
            "bench",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", server, "glashaus serve")
        env = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}", "MLFLOW_TRACKING_TOKEN": token}
        return run_client(python, env, args, "main.default.bench_tracking", console, "glashaus serve")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5, help="timed searches per side (median)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--peer-python", type=Path, help="a python that has mlflow installed (default: create a venv)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    console = Console()
    console.print(f"load average: {os.getloadavg()}  {venv_hint()}")
    python = args.peer_python or peer_python(console)
    peer = bench_mlflow(python, args.workdir / "tracking-mlflow", args, console)
    ours = bench_glashaus(python, args.workdir / "tracking-glashaus", args, console)
    if peer["found"] != ours["found"]:
        console.print(
            f"[red]the searches found different run counts: mlflow {peer['found']}, glashaus {ours['found']}[/red]"
        )
    log_ratio = peer["logging"] / ours["logging"]  # throughput ratio: > 1 means glashaus logs faster
    search_ratio = peer["search"] / ours["search"]  # speed-up: > 1 means glashaus searches faster
    table = Table(
        title=f"{args.runs} runs x {args.params} params x {args.metrics} metrics (log_batch), "
        f"search_runs with a filter, same client (mlflow {MLFLOW_VERSION})"
    )
    table.add_column("measure")
    table.add_column("mlflow server", justify="right")
    table.add_column("glashaus serve", justify="right")
    table.add_column("glashaus vs mlflow", justify="right")
    table.add_column("target", justify="right")
    table.add_row(
        "logging (runs/s)",
        f"{args.runs / peer['logging']:.1f}",
        f"{args.runs / ours['logging']:.1f}",
        f"{log_ratio:.2f}x throughput",
        f">= {LOG_TARGET:.1f}x",
    )
    table.add_row(
        "search (ms, median)",
        f"{peer['search'] * 1000:.1f}",
        f"{ours['search'] * 1000:.1f}",
        f"{search_ratio:.2f}x faster",
        f">= {SEARCH_TARGET:.1f}x",
    )
    served_ratio = peer["served"] / ours["served"]
    table.add_row(
        "  of which the server's answer (ms)",
        f"{peer['served'] * 1000:.1f}",
        f"{ours['served'] * 1000:.1f}",
        f"{served_ratio:.2f}x faster",
        "",
    )
    table.add_row(
        "  of which the client's own parsing (ms)",
        f"{(peer['search'] - peer['served']) * 1000:.1f}",
        f"{(ours['search'] - ours['served']) * 1000:.1f}",
        "",
        "",
    )
    table.add_row("runs found", str(peer["found"]), str(ours["found"]), "", "")
    console.print(table)
    met = log_ratio >= LOG_TARGET and search_ratio >= SEARCH_TARGET
    console.print("[green]targets met[/green]" if met else "[red]a target was missed[/red]")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "mlflow": peer,
                    "glashaus": ours,
                    "log_ratio": log_ratio,
                    "search_ratio": search_ratio,
                    "served_ratio": served_ratio,
                },
                indent=2,
            )
        )
    if args.check and not met:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

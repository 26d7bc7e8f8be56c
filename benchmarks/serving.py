"""Online serving: one-row predictions against ``glashaus serve`` and ``mlflow models serve``.

The same scikit-learn model (the plant-shop style classifier, trained here on seeded
data) is registered in a fresh lakehouse and served by an endpoint with inference
logging on (every request and response appended to ``main.bench.reco_inference``; each
answered request's row is committed to the metastore's journal with its audit event
before the answer leaves, so the figures include that commit).
The peer serves *the same model folder* (the registry's files, in MLflow's format)
with ``mlflow models serve --env-manager local`` from its own virtual environment
(created under ``benchmarks/.venvs/``, as for ``tracking.py``).

A load generator (threads with keep-alive HTTP clients) sends ``--requests`` one-row
``dataframe_split`` requests at concurrency 1 and 8 to each side and records every
latency; the table prints p50 and p99 and the ratios glashaus / mlflow.

Target (issue: model registry and tracking): p99 <= 0.5x MLflow's at concurrency 8,
with inference logging on.

    .venv/bin/python benchmarks/serving.py
    .venv/bin/python benchmarks/serving.py --requests 300     # quick check
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from _common import DEFAULT_WORK, venv_hint
from tracking import MLFLOW_VERSION, free_port, peer_python, wait_ready

P99_TARGET = 0.5
MODEL = "main.bench.reco"
FEATURES = ["light", "water", "temperature", "humidity", "price", "age_days"]


def train() -> tuple[object, pd.DataFrame]:
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(42)
    X = pd.DataFrame(rng.normal(size=(5000, len(FEATURES))), columns=FEATURES)
    y = ((X["light"] * 0.8 + X["water"] - 0.3 * X["price"] + rng.normal(scale=0.5, size=len(X))) > 0).astype(int)
    return RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0, n_jobs=1).fit(X, y), X


def load(url: str, headers: dict[str, str], bodies: list[bytes], concurrency: int) -> list[float]:
    """Send every body once, ``concurrency`` at a time; each request's latency in seconds."""
    chunks = [bodies[i::concurrency] for i in range(concurrency)]

    def worker(chunk: list[bytes]) -> list[float]:
        out = []
        with httpx.Client(timeout=60, headers={**headers, "Content-Type": "application/json"}) as client:
            for body in chunk:
                t0 = time.perf_counter()
                r = client.post(url, content=body)
                out.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise SystemExit(f"{url} answered {r.status_code}: {r.text[:300]}")
        return out

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return [t for part in pool.map(worker, chunks) for t in part]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per side and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--peer-python", type=Path, help="a python with mlflow, scikit-learn and skops installed")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args()
    console = Console()
    console.print(f"load average: {os.getloadavg()}  {venv_hint()}")
    python = args.peer_python or peer_python(console)

    import glashaus
    from glashaus.lakehouse import services

    work = args.workdir / "serving"
    shutil.rmtree(work, ignore_errors=True)
    root = work / "lakehouse"
    model, X = train()
    with glashaus.connect(root, user="bench") as lh:
        lh.create_schema("main.bench")
        version = lh.models.register(model, MODEL, input_example=X.head(5))
        lh.models.set_alias(MODEL, "champion", version.version)
        lh.serving.create_endpoint("reco", model=f"{MODEL}@champion", inference_table="main.bench.reco_inference")
        token = lh.create_token("bench")
        _, folder = services(lh).registry.local_path(lh.principal, f"{MODEL}@champion")
    rng = np.random.default_rng(7)
    sample = X.sample(n=min(len(X), 1000), random_state=1).reset_index(drop=True)
    bodies = [
        json.dumps({"dataframe_split": sample.iloc[[int(i)]].to_dict(orient="split", index=False)}).encode()
        for i in rng.integers(0, len(sample), size=args.requests)
    ]

    results: dict[str, dict[int, list[float]]] = {}
    ours_port, peer_port = free_port(), free_port()
    servers = {
        "mlflow models serve": (
            [
                str(python.parent / "mlflow"),
                "models",
                "serve",
                "-m",
                folder,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(peer_port),
            ],
            f"http://127.0.0.1:{peer_port}",
            "/ping",
            {},
        ),
        "glashaus serve": (
            [
                str(Path(sys.executable).parent / "glashaus"),
                "serve",
                "--lakehouse",
                str(root),
                "--user",
                "bench",
                "--port",
                str(ours_port),
                "--log-level",
                "warning",
            ],
            f"http://127.0.0.1:{ours_port}",
            "/health",
            {"Authorization": f"Bearer {token}"},
        ),
    }
    for label, (cmd, base, ping, headers) in servers.items():
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "PATH": f"{Path(cmd[0]).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            },
        )
        try:
            wait_ready(base + ping, proc, label)
            url = base + ("/invocations" if label.startswith("mlflow") else "/serving/reco/invocations")
            load(url, headers, bodies[:50], 2)  # warm-up: imports, model load, connections
            results[label] = {}
            for c in args.concurrency:
                with console.status(f"{label}: {args.requests} requests at concurrency {c} ..."):
                    results[label][c] = load(url, headers, bodies, c)
        finally:
            proc.terminate()
            proc.wait(timeout=60)

    with glashaus.connect(root, user="bench") as lh:
        logged = lh.sql("SELECT count(*) FROM main.bench.reco_inference").scalar()
    table = Table(
        title=f"one-row predictions, {args.requests} requests per concurrency level "
        f"(mlflow {MLFLOW_VERSION}; glashaus with inference logging)"
    )
    for col in (
        "concurrency",
        "mlflow p50 ms",
        "mlflow p99 ms",
        "glashaus p50 ms",
        "glashaus p99 ms",
        "p50 ratio",
        "p99 ratio",
    ):
        table.add_column(col, justify="right")
    figures = {}
    for c in args.concurrency:
        peer, ours = results["mlflow models serve"][c], results["glashaus serve"][c]
        row = {
            "mlflow_p50": pct(peer, 50),
            "mlflow_p99": pct(peer, 99),
            "glashaus_p50": pct(ours, 50),
            "glashaus_p99": pct(ours, 99),
        }
        row["p50_ratio"] = row["glashaus_p50"] / row["mlflow_p50"]
        row["p99_ratio"] = row["glashaus_p99"] / row["mlflow_p99"]
        figures[c] = row
        table.add_row(
            str(c),
            *(
                f"{row[k]:.2f}"
                for k in ("mlflow_p50", "mlflow_p99", "glashaus_p50", "glashaus_p99", "p50_ratio", "p99_ratio")
            ),
        )
    console.print(table)
    sent = 50 + len(args.concurrency) * args.requests  # warm-up + timed
    console.print(f"inference rows written by glashaus: {logged} (requests sent: {sent})")
    top = max(args.concurrency)
    met = figures[top]["p99_ratio"] <= P99_TARGET
    console.print(
        f"target p99 ratio at concurrency {top} <= {P99_TARGET}: "
        + ("[green]met[/green]" if met else "[red]missed[/red]")
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.check and not met:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""`glashaus serve` killed with SIGKILL in the middle of a burst of requests, then started again:
every request that was answered has exactly one row in the inference table (its row was journaled
with its audit event before the answer left; the restarted server moves the rows the dead one left)."""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import glashaus
from glashaus.server.app import free_port

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MODEL = "main.shop.reco"
TABLE = "main.shop.reco_inference"


def serve(root: Path, port: int) -> subprocess.Popen:
    """``glashaus serve`` in a process of its own, importing this checkout's glashaus."""
    src = str(Path(glashaus.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    script = shutil.which("glashaus", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-c", "from glashaus.cli.main import app; app()"]
    return subprocess.Popen(
        [*command, "serve", "--lakehouse", str(root), "--user", "alice", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_healthy(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120  # a hang guard, not a measurement
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"glashaus serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("glashaus serve did not start")


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lh"
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["light", "water"])
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.models.register(LogisticRegression().fit(X, (X["light"] > 0).astype(int)), MODEL, input_example=X.head(3))
        lh.models.set_alias(MODEL, "champion", 1)
        lh.serving.create_endpoint("reco", model=f"{MODEL}@champion")
        token = lh.create_token("alice")
    return root, token, X


def test_every_answered_request_keeps_exactly_one_inference_row_across_a_sigkill(lake):
    root, token, X = lake
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = serve(root, port)
    answered: list[str] = []
    killed = threading.Event()
    try:
        wait_healthy(url, proc)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({"dataframe_split": X.head(1).to_dict(orient="split", index=False)})
        warm = httpx.post(f"{url}/serving/reco/invocations", content=body, timeout=120, headers=headers)
        assert warm.status_code == 200
        answered.append(warm.headers["X-Request-Id"])  # the server's id: the inference row's request_id

        def client(worker: int) -> None:
            with httpx.Client(timeout=60, headers=headers) as http:
                for _ in range(10_000):
                    try:
                        r = http.post(f"{url}/serving/reco/invocations", content=body)
                    except httpx.HTTPError:
                        return  # the server is gone: this request was not answered
                    if r.status_code == 200:
                        answered.append(r.headers["X-Request-Id"])
                    if killed.is_set():
                        return

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            burst = [pool.submit(client, w) for w in range(8)]
            while len(answered) < 300 and not any(f.done() for f in burst):
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)  # mid-burst: requests in flight, rows not yet in the table
            killed.set()
            for f in burst:
                f.result()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    assert len(answered) >= 300  # the kill comes once 300 were answered; those in flight may die with it

    restarted = serve(root, port)  # moves what the dead server left in the journal, then stops cleanly
    try:
        wait_healthy(url, restarted)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=120)

    with glashaus.connect(root, user="alice") as lh:
        logged = collections.Counter(lh.read(TABLE)["request_id"].to_pylist())
    missing = [r for r in answered if logged[r] == 0]
    assert not missing, f"{len(missing)} of {len(answered)} answered requests have no inference row"
    assert [r for r, n in logged.items() if n > 1] == []  # none twice, answered or not

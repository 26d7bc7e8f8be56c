"""Server-side work per logged run of the tracking benchmark: counts and CPU time, not wall-clock.

On a shared machine the runs/s of ``tracking.py`` moves by 20% from one run to the next;
what the server does per run does not. This script serves a fresh lakehouse in-process
(``ServerThread``), drives it with the tracking benchmark's logging workload (the real
``mlflow`` client from the peer venv: per run ``create_run``, one ``log_batch`` of
``--params`` params and ``--metrics`` metrics and a tag, ``set_terminated``), and prints per
logged run, after ``--warm`` untimed runs:

* SQL statements sent to the metastore, by kind and table, and commits;
* calls of ``Access.authorize`` (every decision), ``AuditLog.record`` (every audit event)
  and of the ``Guard`` and ``Directory`` methods (token and principal lookups);
* the server process's CPU time (all threads; the client runs in its own process);
* with ``--profile PATH``, a cProfile of every server thread (``pstats`` can read it).

To compare two checkouts, run this script with each checkout's source first::

    cd /work/wt/before && PYTHONPATH=src .venv/bin/python /path/to/benchmarks/tracking_counts.py --runs 200
    cd /work/wt/after  && PYTHONPATH=src .venv/bin/python /path/to/benchmarks/tracking_counts.py --runs 200

The counting wrappers add a little CPU time; compare counts with counts, CPU with CPU.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The logging workload of tracking.py, with a pause after the warm-up so that only the timed runs are counted.
CLIENT = textwrap.dedent(
    """
    import random, sys, time
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    runs, warm, n_params, n_metrics = (int(a) for a in sys.argv[1:5])
    client = MlflowClient()
    exp = client.get_experiment_by_name("main.default.bench_tracking")
    exp_id = exp.experiment_id if exp else client.create_experiment("main.default.bench_tracking")
    rng = random.Random(7)
    now = int(time.time() * 1000)

    def one(i):
        run = client.create_run(exp_id, run_name=f"run-{i}")
        params = [Param(f"p{k}", f"v{rng.randrange(5)}") for k in range(n_params)]
        metrics = [Metric(f"m{j}", rng.random(), now, 0) for j in range(n_metrics)]
        client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=[RunTag("bench", "yes")])
        client.set_terminated(run.info.run_id)

    for i in range(warm):
        one(i)
    print("WARM", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    for i in range(runs):
        one(warm + i)
    print("DONE", time.perf_counter() - t0, flush=True)
    """
)

_VERB = re.compile(r"(SELECT|WITH RECURSIVE|WITH|INSERT(?: OR \w+)? INTO|UPDATE|DELETE FROM)\b", re.IGNORECASE)
_TABLE = re.compile(r"(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


class Counts:
    """What the server did while ``active``: statements by kind and table, and calls by name."""

    def __init__(self) -> None:
        self.active = False
        self.calls: collections.Counter[str] = collections.Counter()
        self.statements: collections.Counter[str] = collections.Counter()

    def statement(self, text: str) -> None:
        if not self.active:
            return
        flat = " ".join(text.split())
        verb = _VERB.match(flat)
        table = _TABLE.search(flat)
        self.statements[
            f"{verb.group(1).upper() if verb else flat[:20]} {table.group(1) if table else ''}".strip()
        ] += 1
        self.calls["SQL statements"] += 1

    def count_calls(self, owner: type, names: list[str], prefix: str) -> None:
        """Wrap ``owner``'s methods (our own classes) so each call while active is counted."""
        for name in names:
            setattr(owner, name, self._counted(vars(owner)[name], f"{prefix}.{name}"))

    def _counted(self, fn: Any, label: str) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            if self.active:
                self.calls[label] += 1
            return fn(*a, **k)

        return wrapper

    def commit(self, *_: Any) -> None:
        if self.active:
            self.calls["commits"] += 1


def methods(owner: type) -> list[str]:
    return [n for n, v in vars(owner).items() if callable(v) and not n.startswith("__")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warm", type=int, default=5, help="untimed runs first (caches, connections)")
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--workdir", type=Path, help="where the lakehouse goes (default: a temporary folder)")
    parser.add_argument("--peer-python", type=Path, help="a python that has mlflow installed (default: create a venv)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of every server thread here")
    args = parser.parse_args()

    from rich.console import Console
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import glashaus
    from glashaus.access.audit import AuditLog
    from glashaus.access.authorize import Access
    from glashaus.access.directory import Directory
    from glashaus.server.app import create_app
    from tracking import peer_python

    try:  # where it lives since the request layer was split out of app.py
        from glashaus.server.running import ServerThread
    except ImportError:
        from glashaus.server.app import ServerThread  # type: ignore[attr-defined,no-redef]

    console = Console()
    python = args.peer_python or peer_python(console)
    work = Path(tempfile.mkdtemp(prefix="tracking-counts-", dir=args.workdir))
    root = work / "lakehouse"
    with glashaus.connect(root, user="bench") as lh:
        token = lh.create_token("bench")

    counts = Counts()
    event.listen(Engine, "before_cursor_execute", lambda _c, _cur, text, *_: counts.statement(text))
    event.listen(Engine, "commit", counts.commit)
    counts.count_calls(Access, ["authorize"], "Access")
    counts.count_calls(AuditLog, ["record"], "AuditLog")
    counts.count_calls(Directory, methods(Directory), "Directory")
    try:
        from glashaus.access.guard import Guard

        counts.count_calls(Guard, methods(Guard), "Guard")
    except ImportError:  # before the guard existed
        pass

    profiles: list[cProfile.Profile] = []

    def start_profile(*_: Any) -> None:  # the first event of each new thread: profile it from here on
        sys.setprofile(None)
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    if args.profile:
        threading.setprofile(start_profile)

    script = work / "client.py"
    script.write_text(CLIENT)
    lh = glashaus.connect(root, user="bench")
    try:
        with ServerThread(create_app(lh)) as server:
            env = {
                **os.environ,
                "MLFLOW_TRACKING_URI": server.url,
                "MLFLOW_TRACKING_TOKEN": token,
                "MLFLOW_DISABLE_TELEMETRY": "true",
            }
            env.pop("PYTHONPATH", None)  # the client is the peer venv's mlflow, not this checkout
            cmd = [str(python), str(script), str(args.runs), str(args.warm), str(args.params), str(args.metrics)]
            client = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert client.stdin is not None and client.stdout is not None
            for line in client.stdout:
                if line.startswith("WARM"):
                    break
            counts.active = True
            cpu0 = time.process_time()
            client.stdin.write("\n")
            client.stdin.flush()
            wall = None
            for line in client.stdout:
                if line.startswith("DONE"):
                    wall = float(line.split()[1])
            cpu = time.process_time() - cpu0
            counts.active = False
            for profile in profiles:
                profile.disable()
            if client.wait() != 0 or wall is None:
                raise SystemExit(f"the mlflow client failed (exit {client.returncode})")
    finally:
        lh.close()

    per_run = {k: round(v / args.runs, 2) for k, v in sorted(counts.calls.items())}
    print(
        json.dumps(
            {
                "runs": args.runs,
                "server_cpu_ms_per_run": round(cpu / args.runs * 1000, 2),
                "runs_per_s": round(args.runs / wall, 1),
                "per_run": per_run,
                "statements_per_run": {k: round(v / args.runs, 2) for k, v in counts.statements.most_common()},
            },
            indent=1,
        )
    )
    ran = [p for p in profiles if p.getstats()]  # threads that started but never ran Python have nothing
    if args.profile and ran:
        stats = pstats.Stats(ran[0])
        for profile in ran[1:]:
            stats.add(profile)
        stats.dump_stats(str(args.profile))
        console.print(f"cProfile of the server's threads (warm-up and start included) written to {args.profile}")


if __name__ == "__main__":
    main()

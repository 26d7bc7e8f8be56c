"""Run MLflow's own live-server tests against ``glashaus serve`` and count what passes.

MLflow's repository tests its tracking server with ``tests/tracking/test_rest_tracking.py`` and
``tests/tracking/test_model_registry.py``: each test starts a server (their ``ServerThread``
fixture) and drives it with the unmodified ``MlflowClient`` and raw REST calls. This harness runs
those two files unchanged, with one substitution: every server they start is a fresh
``glashaus serve`` on a new, empty lakehouse, whose first user ``admin`` holds a token the MLflow
client sends (``MLFLOW_TRACKING_TOKEN``). It then prints passed/failed/skipped per file and the
failures grouped by their first error line.

How to run it (MLflow's sdist ships no tests, so clone the tag of the client you test with)::

    git clone --depth 1 --branch v3.18.0 https://github.com/mlflow/mlflow /tmp/mlflow
    python scripts/mlflow_suite.py --mlflow-repo /tmp/mlflow

The Python running the tests (``--python``, default: this one) needs the full ``mlflow`` package,
``pytest``, ``aiohttp`` (imported by ``mlflow.server.fastapi_app``, which both files import) and
optionally ``pytest-asyncio`` and ``pytest-timeout``. The server is the ``glashaus`` command next
to that interpreter (``--glashaus`` to choose another); to test a source tree, put its ``src`` on
``PYTHONPATH``. Options: ``--both-stores`` also runs MLflow's ``file`` parametrization (the same
Glashaus server twice), ``-k EXPR`` selects tests, ``--json FILE`` writes the results.

What the substitution leaves out, and why:

- MLflow's ``conftest.py`` files are not loaded (``--noconftest``): they configure MLflow's own
  stores and dozens of optional plugins; this harness supplies the one fixture the two files need
  from them (``db_uri``, which only MLflow's own server reads) and resets MLflow's fluent state
  (active run, active experiment) between tests, as MLflow's conftest does.
- MLflow's tests assume a server without authentication: their raw HTTP calls
  (``requests.post(url + "/api/2.0/...")``) are sent with the server's token too.
- Tests that never start a server (they call MLflow's server functions in-process, or run
  ``mlflow server`` themselves) are reported as skipped: they test MLflow's implementation, not
  the protocol a server must speak.

Exit status: 0 when pytest ran (whatever the counts), 2 when the set-up is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import types
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEST_FILES = ("tests/tracking/test_rest_tracking.py", "tests/tracking/test_model_registry.py")
# The fixtures of the two files that start a server; a test using none of them tests MLflow's own code.
SERVER_FIXTURES = frozenset({"mlflow_client", "mlflow_client_with_secrets", "client"})
# Names the two files (and their helper module) look up to start a server, replaced in their modules.
SERVER_NAMES = ("ServerThread", "_init_server")
ENV_COMMAND = "GLASHAUS_MLFLOW_SUITE_COMMAND"  # JSON list: how the plugin starts the `glashaus` CLI
ADMIN = "admin"
#: The token of each running server, by URL: raw HTTP calls of the tests are sent with it.
_TOKENS: dict[str, str] = {}


# --------------------------------------------------------------------------------------------------
# The server every test gets


class GlashausServer:
    """A fresh ``glashaus serve`` on an empty lakehouse, as a context manager yielding its URL.

    It stands where MLflow's tests construct ``ServerThread(app, port)``: ``app`` is ignored (the
    server is Glashaus), ``port`` is used. Inside the block ``MLFLOW_TRACKING_TOKEN`` holds the
    admin's token, so every MLflow client of the test is authenticated.

    Example (needs the ``glashaus`` command on PATH)::

        with GlashausServer(None, 8765) as url:
            mlflow.MlflowClient(url).search_experiments()
    """

    def __init__(self, app: object = None, port: int = 0, *, command: list[str] | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = command or json.loads(os.environ.get(ENV_COMMAND, '["glashaus"]'))
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._saved_token: str | None = None

    def __enter__(self) -> str:
        self._dir = Path(tempfile.mkdtemp(prefix="glashaus-mlflow-"))
        lakehouse = self._dir / "lh"
        token = _admin_token(lakehouse, self.command)
        log = (self._dir / "server.log").open("wb")
        self._proc = subprocess.Popen(
            [*self.command, "serve", "-L", str(lakehouse), "-u", ADMIN, *("--host", "127.0.0.1"), *self._options()],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()
        self._saved_token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
        _TOKENS[self.url] = token
        _reset_fluent_state(self.url)
        return self.url

    def _options(self) -> list[str]:
        return ["--port", str(self.port), "--log-level", "warning"]

    def _wait_until_up(self, timeout_s: float = 60.0) -> None:
        assert self._proc is not None and self._dir is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = (self._dir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"`glashaus serve` exited with {self._proc.returncode}: {tail}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/health", timeout=1) as reply:
                if reply.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"`glashaus serve` did not answer {self.url}/health within {timeout_s:.0f} s")

    def __exit__(self, *exc: object) -> None:
        _TOKENS.pop(self.url, None)
        if self._saved_token is None:
            os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        else:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self._saved_token
        if self._proc is not None:
            # Killed, not stopped: its lakehouse is thrown away next, and a graceful stop waits
            # for the MLflow client's kept-alive connections (seconds per test).
            self._proc.kill()
            self._proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


def _admin_token(lakehouse: Path, command: list[str]) -> str:
    """Make the lakehouse (its first user, ``admin``, is its admin) and a token for that admin.

    In this process when Glashaus is importable here (0.1 s), else with ``glashaus tokens create``
    (2 s of imports per test).
    """
    try:
        import glashaus
    except ImportError:
        made = subprocess.run(
            [*command, "tokens", "create", "-L", str(lakehouse), "-u", ADMIN],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if made.returncode != 0 or not made.stdout.strip():
            raise RuntimeError(f"`glashaus tokens create` failed: {made.stderr.strip()[-2000:]}") from None
        return made.stdout.strip().splitlines()[-1]
    with glashaus.connect(lakehouse, user=ADMIN) as lh:
        return str(lh.create_token())


@contextlib.contextmanager
def glashaus_init_server(backend_uri: str = "", root_artifact_uri: str = "", **_: Any) -> Iterator[str]:
    """Stands for MLflow's ``_init_server(backend_uri, root_artifact_uri, ...)``: a fresh Glashaus server."""
    with GlashausServer() as url:
        yield url


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reset_fluent_state(url: str) -> None:
    """What MLflow's conftest does between tests: no active run, the default experiment active.

    MLflow's fluent API remembers the active experiment for the process; a test that set one on
    the previous server would otherwise log into an id that means nothing on this one.
    """
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()
    # The tracer exports to the server it first saw: without a reset, a test's traces go to the
    # previous test's (stopped) server, as MLflow's conftest (reset_tracing) knows.
    mlflow.tracing.reset()
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(experiment_id="0")


# --------------------------------------------------------------------------------------------------
# The pytest plugin (this module, loaded with `-p mlflow_suite`)


def pytest_configure(config: Any) -> None:
    # Markers MLflow's own configuration registers; unknown ones would only warn.
    config.addinivalue_line("markers", "allow_infer_pip_requirements_fallback: MLflow's marker")
    config.addinivalue_line("markers", "asyncio: pytest-asyncio's marker")
    _authenticate_raw_requests()


def _authenticate_raw_requests() -> None:
    """Send the server's token with the tests' own HTTP calls (``requests.post(url + "/api/...")``).

    MLflow's tests assume a server without authentication; its client sends
    ``MLFLOW_TRACKING_TOKEN`` itself, but the tests' raw calls send nothing and would all be
    401. A call that already carries an ``Authorization`` header is left as it is.
    """
    import requests

    send = requests.Session.request

    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        token = next((t for base, t in _TOKENS.items() if str(url).startswith(base)), None)
        headers = dict(kwargs.get("headers") or {})
        if token and not any(key.lower() == "authorization" for key in headers):
            kwargs["headers"] = {**headers, "Authorization": f"Bearer {token}"}
        return send(self, method, url, *args, **kwargs)

    requests.Session.request = request  # type: ignore[method-assign]


def _db_uri() -> str:
    """MLflow's conftest gives a SQLite URL for MLflow's own store; the Glashaus server ignores it."""
    return "glashaus://unused"


def _end_runs() -> Iterator[None]:
    yield
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()


def _register_fixtures() -> None:
    """Declare the plugin's fixtures (at import, so pytest sees them when it loads this module)."""
    import pytest

    globals()["db_uri"] = pytest.fixture(name="db_uri")(_db_uri)
    globals()["end_runs"] = pytest.fixture(name="glashaus_end_runs", autouse=True)(_end_runs)


class _StoreStandIn:
    """Stands for MLflow's ``SqlAlchemyStore(uri, root)`` where a fixture only builds and disposes one."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.engine = types.SimpleNamespace(dispose=lambda: None)


def _point_at_glashaus(module: types.ModuleType) -> None:
    for name, stand_in in (("ServerThread", GlashausServer), ("_init_server", glashaus_init_server)):
        if hasattr(module, name):
            setattr(module, name, stand_in)
    if hasattr(module, "initialize_backend_stores"):  # configures MLflow's in-process server: not used
        module.initialize_backend_stores = lambda *args, **kwargs: None
    if hasattr(module, "SqlAlchemyStore"):
        module.SqlAlchemyStore = _StoreStandIn


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    import pytest

    helpers = sys.modules.get("tests.tracking.integration_test_utils")
    if helpers is not None:
        _point_at_glashaus(helpers)
    both = os.environ.get("GLASHAUS_MLFLOW_SUITE_BOTH_STORES") == "1"
    kept, dropped = [], []
    for item in items:
        module = getattr(item, "module", None)
        if module is not None:
            _point_at_glashaus(module)
        params = getattr(getattr(item, "callspec", None), "params", {})
        # MLflow parametrizes its server fixture by its own backend (file, sqlalchemy): against
        # Glashaus both are the same server, so one half is enough unless asked for both.
        if not both and "file" in (params.get("store_type"), params.get("client")):
            dropped.append(item)
            continue
        if not SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.skip(reason="starts no server: tests MLflow's own server code"))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


if "pytest" in sys.modules:  # loaded as a plugin
    _register_fixtures()


# --------------------------------------------------------------------------------------------------
# The command line: run pytest, then count


def _first_line(message: str) -> str:
    """The cause of a failure, with what differs between tests (ids, ports, paths) blanked out."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    line = lines[0] if lines else "(no message)"
    line = re.sub(r"127\.0\.0\.1:\d+", "HOST", line)
    line = re.sub(r"\b(tr-)?[0-9a-f]{32}\b", "ID", line)
    line = re.sub(r"/tmp/[^\s'\"]+", "PATH", line)
    return line[:220]


def summarize(junit: Path) -> dict[str, Any]:
    """Counts per test file and failures grouped by cause, from pytest's JUnit XML report."""
    per_file: dict[str, Counter[str]] = defaultdict(Counter)
    causes: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1] if "." in case.get("classname", "") else "?"
        name = case.get("name", "?")
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                causes[module][_first_line(child.get("message") or child.text or "")].append(name)
                break
            if child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                break
        per_file[module][outcome] += 1
    return {
        "files": {m: dict(c) for m, c in sorted(per_file.items())},
        "causes": {m: dict(sorted(groups.items(), key=lambda kv: -len(kv[1]))) for m, groups in sorted(causes.items())},
    }


def _print(summary: dict[str, Any]) -> None:
    for module, counts in summary["files"].items():
        total = sum(counts.values())
        parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("passed", "failed", "error", "skipped", "xfailed"))
        print(f"\n{module}: {total} tests: {parts}")
        for cause, tests in summary["causes"].get(module, {}).items():
            shown = ", ".join(tests[:6]) + (", ..." if len(tests) > 6 else "")
            print(f"  {len(tests):3d} x {cause}\n        {shown}")


def _glashaus_command(python: str, given: str | None) -> list[str]:
    if given:
        return given.split()
    beside = Path(python).parent / "glashaus"
    found = str(beside) if beside.exists() else shutil.which("glashaus")
    if not found:
        raise SystemExit("mlflow_suite: no `glashaus` command found; pass --glashaus")
    return [found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--mlflow-repo", type=Path, required=True, help="a checkout of github.com/mlflow/mlflow")
    parser.add_argument("--python", default=sys.executable, help="interpreter with mlflow, pytest, aiohttp")
    parser.add_argument("--glashaus", help="command that runs the Glashaus CLI (default: the one beside --python)")
    parser.add_argument("--both-stores", action="store_true", help="also run MLflow's `file` parametrization")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression")
    parser.add_argument("--timeout", type=int, default=180, help="seconds per test (pytest-timeout)")
    parser.add_argument("--json", type=Path, help="write the counts and causes here")
    parser.add_argument("files", nargs="*", default=list(TEST_FILES), help="test files, relative to the repo")
    args = parser.parse_args(argv)

    repo = args.mlflow_repo.resolve()
    missing = [f for f in args.files if not (repo / f).is_file()]
    if missing:
        print(f"mlflow_suite: {repo} has no {missing}; clone MLflow's repository there", file=sys.stderr)
        return 2
    probe = subprocess.run(
        [args.python, "-c", "import mlflow.server.fastapi_app, pytest"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        print(
            f"mlflow_suite: {args.python} cannot import what the tests need "
            f"(pip install mlflow pytest aiohttp pytest-asyncio):\n{probe.stderr.strip()[-1500:]}",
            file=sys.stderr,
        )
        return 2
    command = _glashaus_command(args.python, args.glashaus)
    with tempfile.TemporaryDirectory(prefix="mlflow-suite-") as work:
        junit = Path(work) / "junit.xml"
        ini = Path(work) / "pytest.ini"
        # None of MLflow's pytest settings (addopts, strict markers); pytest-asyncio's loop scope, said once.
        ini.write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
        here = str(Path(__file__).resolve().parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (here, str(repo), os.environ.get("PYTHONPATH")) if p),
            ENV_COMMAND: json.dumps(command),
            "GLASHAUS_MLFLOW_SUITE_BOTH_STORES": "1" if args.both_stores else "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            # The tests read a trace right after ending it; the 3.x client exports from a batch
            # processor that may hold spans for seconds, so export as each trace ends instead.
            "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false",
        }
        pytest_args = [args.python, "-m", "pytest", "-c", str(ini), "--rootdir", str(repo), "--noconftest"]
        pytest_args += ["-p", "mlflow_suite", "-p", "no:cacheprovider", "-q", "-rN", f"--junitxml={junit}"]
        probe_timeout = subprocess.run([args.python, "-c", "import pytest_timeout"], capture_output=True, check=False)
        if probe_timeout.returncode == 0:
            pytest_args.append(f"--timeout={args.timeout}")
        if args.keyword:
            pytest_args += ["-k", args.keyword]
        pytest_args += [str(repo / f) for f in args.files]
        print("mlflow_suite: running", " ".join(pytest_args), flush=True)
        subprocess.run(pytest_args, cwd=work, env=env, check=False)
        if not junit.exists():
            print("mlflow_suite: pytest wrote no report", file=sys.stderr)
            return 2
        summary = summarize(junit)
    _print(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

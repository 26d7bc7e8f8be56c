"""Keep the README and the architecture page honest."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_quick_start_is_exactly_two_commands_and_ci_runs_the_second():
    demo, tests = _readme_commands()
    assert demo.endswith("glashaus demo")
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"^TEST_CMD='(.*)'$", ci, re.MULTILINE)
    assert match, ".ci/run must define TEST_CMD"
    assert match.group(1) == tests


def test_both_quick_start_commands_install_the_lock():
    for command in _readme_commands():  # pinned versions that passed, not whatever is newest today
        assert re.search(r"/pip install -q -c constraints\.txt -e ", command), command


def test_architecture_page_names_every_package():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    packages = [p.name for p in (ROOT / "src" / "glashaus").iterdir() if p.is_dir() and not p.name.startswith("_")]
    missing = [p for p in packages if f"{p}/" not in doc]
    assert not missing, f"docs/architecture.md does not describe {missing}"


def test_the_documented_audit_query_finds_last_weeks_denied_reads(tmp_path):
    import pyarrow as pa
    import pytest

    import glashaus
    from glashaus.errors import PermissionDeniedError

    doc = (ROOT / "docs" / "access.md").read_text()
    query = doc.split("Who tried to read restricted data last week:", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_table("main.shop.secrets", data=pa.table({"x": [1]}))
        lh.create_user("mallory")
        with lh.as_user("mallory") as mallory, pytest.raises(PermissionDeniedError):
            mallory.read("main.shop.secrets")
        rows = lh.sql(query).to_pylist()
    assert [(r["principal"], r["securable"]) for r in rows] == [("mallory", "main.shop.secrets")]


def test_both_pages_say_what_every_user_gets_on_main_default(tmp_path):
    import glashaus

    with glashaus.connect(tmp_path / "lh", user="alice") as lh:
        granted = {g.privilege for g in lh.show_grants("main.default") if g.principal == "users" and not g.inherited}
    access = " ".join((ROOT / "docs" / "access.md").read_text().split())
    rule = re.search(r"Every user starts with `USE CATALOG` on `main` and (.*?) on `main.default`", access)
    assert rule and set(re.findall(r"`([A-Z ]+)`", rule.group(1))) == granted
    architecture = " ".join((ROOT / "docs" / "architecture.md").read_text().split())
    assert not re.search(r"no `CREATE MODEL` on `main.default`", architecture)
    assert "CREATE MODEL" in granted and "every user holds `CREATE MODEL` on `main.default`" in architecture


def _mlflow_endpoints() -> set[tuple[str, str, str]]:
    """(RPC, method, path) of every endpoint of the services MLflow's own server mounts."""
    from mlflow.protos import databricks_pb2, mlflow_artifacts_pb2, model_registry_pb2, service_pb2, webhooks_pb2

    found = set()
    for module in (service_pb2, model_registry_pb2, mlflow_artifacts_pb2, webhooks_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                for endpoint in method.GetOptions().Extensions[databricks_pb2.rpc].endpoints:
                    path = f"/api/{endpoint.since.major}.0/{endpoint.path.lstrip('/')}"
                    found.add((method.name, endpoint.method, re.sub(r"<path:(\w+)>", r"{\1}", path)))
    return found


def _params(path: str) -> str:
    """A path with its parameters unnamed: MLflow's protos say {request_id} where a route says {trace_id}."""
    return re.sub(r"\{\w+(:path)?\}", "{}", path)


def _routed() -> set[tuple[str, str]]:
    """(method, path) of every MLflow route Glashaus serves (each module of server/mlflow with ROUTES)."""
    import importlib
    import pkgutil

    import glashaus.server.mlflow as face
    from glashaus.server.mlflow.protocol import PREFIXES

    routed = set()
    for info in pkgutil.iter_modules(face.__path__):
        for route in getattr(importlib.import_module(f"{face.__name__}.{info.name}"), "ROUTES", []):
            path = route.path if route.absolute else PREFIXES[0] + route.path
            routed.add((route.method, _params(path)))
    return routed


def test_the_mlflow_page_lists_every_mlflow_endpoint_and_serves_what_it_says():
    import pytest

    pytest.importorskip("mlflow")
    table = re.compile(r"^\| `(\w+)` \| (\w+) \| `([^`]+)` \| ([^|]+) \|$", re.MULTILINE)
    rows = table.findall((ROOT / "docs" / "mlflow.md").read_text())
    listed = {(rpc, method, path) for rpc, method, path, _ in rows}
    missing = sorted(_mlflow_endpoints() - listed)
    assert not missing, f"docs/mlflow.md does not list these MLflow endpoints: {missing}"
    routed = _routed()
    served = [(m, _params(p)) for _, m, p, status in rows if status.startswith("served")]
    assert not [row for row in served if row not in routed], "rows say 'served' but nothing routes them"
    denied = [(m, _params(p)) for _, m, p, status in rows if status.startswith(("not served", "out of scope"))]
    assert not [row for row in denied if row in routed], "rows say 'not served' but a route serves them"


def test_the_readme_and_the_architecture_page_link_the_mlflow_page():
    for page in ("README.md", "docs/architecture.md"):
        assert "mlflow.md" in (ROOT / page).read_text(), page

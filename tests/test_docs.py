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

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
    match = re.search(r"^TEST_CMD='(.*)'$", ci, re.M)
    assert match, ".ci/run must define TEST_CMD"
    assert match.group(1) == tests


def test_architecture_page_names_every_package():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    packages = [p.name for p in (ROOT / "src" / "glashaus").iterdir() if p.is_dir() and not p.name.startswith("_")]
    missing = [p for p in packages if f"{p}/" not in doc]
    assert not missing, f"docs/architecture.md does not describe {missing}"

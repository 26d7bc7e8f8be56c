"""The README's first quick-start command, as a user types it: a fresh venv with only the ``demo`` extra.

``test_demo.py`` runs the demo inside the dev environment, which has every extra; only a
venv of its own shows that the ``demo`` extra alone brings what the demo imports (it once
lacked pandas, which mlflow-skinny leaves out). The venv is made anew each run (about
half a minute with pip's cache), never reused, so a stale one cannot hide a missing
dependency.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


@pytest.mark.slow
def test_the_readme_demo_command_runs_the_whole_story_in_a_fresh_venv(tmp_path):
    command = next(line for line in README.splitlines() if '".[demo]"' in line and "glashaus demo" in line)
    assert re.fullmatch(r'python3 -m venv \.venv && \.venv/bin/pip install -q -e "\.\[demo\]" && '
                        r'\.venv/bin/glashaus demo', command.strip()), command  # what this test runs
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", f"{REPO}[demo]"],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    demo = subprocess.run([str(venv / "bin" / "glashaus"), "demo"], cwd=work, capture_output=True, text=True,
                          timeout=600)
    assert demo.returncode == 0, (demo.stdout[-3000:], demo.stderr[-3000:])
    said = " ".join(demo.stdout.split())  # rich wraps long lines at the terminal's width
    assert re.search(r"audit: \d+ allowed and [1-9]\d* denied decisions", said)  # the governance part
    assert "registered main.plant_shop.recommender v1 (@champion)" in said
    assert re.search(r"served 200 requests .*; 200 rows in main\.plant_shop\.recommender_inference", said)
    assert (work / "lakehouse").is_dir()

"""The README's first quick-start command, as a user types it: a fresh venv with only the ``demo`` extra.

``test_demo.py`` runs the demo inside the dev environment, which has every extra; only a
venv of its own shows that the ``demo`` extra alone brings what the demo imports (it once
lacked pandas, which mlflow-skinny leaves out) and that the lock holds a working set (a
fresh install once took an MLflow release that broke the demo). The venv is made anew
each run, never reused, so a stale one cannot hide a missing dependency.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.venvs import REPO, create, pip_install

README = (REPO / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.timeout(1800)
def test_the_readme_demo_command_runs_the_whole_story_in_a_fresh_venv(tmp_path):
    command = next(line for line in README.splitlines() if '".[demo]"' in line and "glashaus demo" in line)
    assert re.fullmatch(
        r'python3 -m venv \.venv && \.venv/bin/pip install -q -c constraints\.txt -e "\.\[demo\]" '
        r"&& \.venv/bin/glashaus demo",
        command.strip(),
    ), command  # what this test runs
    bin_dir = create(tmp_path / "venv")
    pip_install(bin_dir, "-e", f"{REPO}[demo]")
    work = tmp_path / "work"
    work.mkdir()
    demo = subprocess.run(
        [str(bin_dir / "glashaus"), "demo"], cwd=work, check=False, capture_output=True, text=True, timeout=600
    )
    assert demo.returncode == 0, (demo.stdout[-3000:], demo.stderr[-3000:])
    said = " ".join(demo.stdout.split())  # rich wraps long lines at the terminal's width
    assert re.search(r"audit: \d+ allowed and [1-9]\d* denied decisions", said)  # the governance part
    assert "registered main.plant_shop.recommender v1 (@champion)" in said
    assert re.search(r"served 200 requests .*; 200 rows in main\.plant_shop\.recommender_inference", said)
    assert (work / "lakehouse").is_dir()

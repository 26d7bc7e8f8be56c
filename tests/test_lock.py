"""The lock (constraints.txt) matches pyproject.toml, and a stale one is refused before anything installs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _copy_of_the_repo(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "constraints.txt", "scripts/lock.sh", "scripts/lockfile.py"):
        shutil.copy(REPO / name, copy / name)
    return copy


def _check(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(repo / "scripts" / "lock.sh"), "--check"], check=False, capture_output=True, text=True, timeout=60
    )


def test_the_committed_lock_was_compiled_from_pyproject_toml_as_it_is():
    result = _check(REPO)
    assert result.returncode == 0, result.stderr


def test_a_changed_requirement_makes_the_check_fail_naming_it_and_the_fix(tmp_path):
    repo = _copy_of_the_repo(tmp_path)
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text()
    duckdb = re.search(r'"(duckdb>=[^"]+)"', text).group(1)
    pyproject.write_text(text.replace(f'"{duckdb}"', '"duckdb>=99", "tqdm>=4"', 1))
    result = _check(repo)
    assert result.returncode == 1
    assert "constraints.txt no longer matches pyproject.toml" in result.stderr
    assert "now declares '[core] duckdb>=99'" in result.stderr and "now declares '[core] tqdm>=4'" in result.stderr
    assert f"the lock was compiled for '[core] {duckdb}'" in result.stderr
    assert "nothing was installed" in result.stderr and "bash scripts/lock.sh" in result.stderr


def test_a_lock_without_its_inputs_or_missing_is_refused(tmp_path):
    repo = _copy_of_the_repo(tmp_path)
    lock = repo / "constraints.txt"
    lock.write_text("".join(line + "\n" for line in lock.read_text().splitlines() if not line.startswith("#")))
    result = _check(repo)
    assert result.returncode == 1 and "does not say which requirements it was compiled from" in result.stderr
    lock.unlink()
    result = _check(repo)
    assert result.returncode == 1 and "constraints.txt is missing" in result.stderr

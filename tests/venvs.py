"""Fresh virtual environments for the tests that install packages (all marked ``network``).

Each installs from the repository's lock (``constraints.txt``), as the README's commands
do, so what a test proves holds for a new user's machine, not for whatever this machine
happens to have.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "constraints.txt"


def create(path: Path) -> Path:
    """A new venv at ``path`` (cleared if it exists); returns its ``bin`` folder."""
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
    return path / "bin"


def pip_install(
    bin_dir: Path, *requirements: str, locked: bool = True, timeout: float = 1200, env: dict[str, str] | None = None
) -> None:
    """``pip install -q [-c constraints.txt] ...`` into the venv; fails the test with pip's own words."""
    lock = ["-c", str(LOCK)] if locked else []
    result = subprocess.run(
        [str(bin_dir / "pip"), "install", "-q", *lock, *requirements],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if result.returncode != 0:
        pytest.fail(f"pip install {' '.join(requirements)} failed:\n{result.stderr[-3000:]}")

"""What a model version was built with: the code commit and the Python environment.

>>> sorted(capture(["numpy"]))
['packages', 'platform', 'python']
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from typing import Any

#: The distributions that matter for each flavor's files (besides MLflow itself).
FLAVOR_PACKAGES: dict[str, list[str]] = {
    "sklearn": ["scikit-learn", "skops", "numpy", "scipy", "pandas"],
    "lightgbm": ["lightgbm", "numpy", "scipy", "pandas"],
    "xgboost": ["xgboost", "numpy", "scipy", "pandas"],
    "python_function": ["cloudpickle", "numpy", "pandas"],
}
_MLFLOW = ("mlflow", "mlflow-skinny")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def package_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def capture(distributions: list[str]) -> dict[str, Any]:
    """Python version, platform and the installed versions of ``distributions`` (and MLflow)."""
    packages = {d: package_version(d) for d in distributions}
    for d in _MLFLOW:
        if package_version(d):
            packages[d] = package_version(d)
            break
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {k: v for k, v in packages.items() if v is not None},
    }


def pinned(distributions: list[str]) -> list[str]:
    """``name==version`` for each installed distribution (MLflow writes these to requirements.txt)."""
    return [f"{d}=={v}" for d in distributions if (v := package_version(d))]


def from_folder(folder: str, mlmodel: dict[str, Any]) -> dict[str, Any]:
    """The environment a model folder declares: its Python version and requirements.txt pins."""
    pyfunc = mlmodel.get("flavors", {}).get("python_function") or {}
    packages: dict[str, str] = {}
    path = os.path.join(folder, "requirements.txt")
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                name, sep, version = line.strip().partition("==")
                if sep and name and not name.startswith(("#", "-")):
                    packages[name] = version
    return {"python": pyfunc.get("python_version"), "packages": packages}


def code_commit(cwd: str | None = None) -> str | None:
    """``git rev-parse HEAD`` of the working directory, or None outside a repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and _SHA.match(sha) else None

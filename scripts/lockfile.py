"""The lock (constraints.txt) and the pyproject.toml it was compiled from.

`uv pip compile` writes every version the project installs; this script adds, below
uv's header, the requirements it was compiled from (requires-python, dependencies and
each extra, as pyproject.toml declares them) and checks them against pyproject.toml,
offline, before anything is installed. So a lock that no longer matches fails with a
message saying what changed, instead of pip quietly installing versions nobody tested.

    python3 scripts/lockfile.py check constraints.txt    # exit 1 and say why when stale
    python3 scripts/lockfile.py stamp constraints.txt    # after uv pip compile (scripts/lock.sh)
    python3 scripts/lockfile.py versions constraints.txt deltalake duckdb
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = "# inputs (pyproject.toml):"
REFRESH = "bash scripts/lock.sh"


def declared(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """One line per requirement pyproject.toml declares, e.g. ``[ml] mlflow-skinny>=3.1``."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = [f"requires-python {project.get('requires-python', '')}"]
    lines += [f"[core] {req}" for req in project.get("dependencies", [])]
    for extra, reqs in sorted(project.get("optional-dependencies", {}).items()):
        lines += [f"[{extra}] {req}" for req in reqs]
    return lines


def recorded(lock: Path) -> list[str] | None:
    """The input lines stamped into the lock, or None when it carries none."""
    lines = lock.read_text().splitlines()
    if MARK not in lines:
        return None
    found = []
    for line in lines[lines.index(MARK) + 1 :]:
        if not line.startswith("#   "):
            break
        found.append(line[4:])
    return found


def stamp(lock: Path) -> None:
    """Write pyproject.toml's requirements below uv's header (replacing an older stamp)."""
    lines = lock.read_text().splitlines()
    if MARK in lines:
        start = lines.index(MARK)
        end = start + 1
        while end < len(lines) and lines[end].startswith("#   "):
            end += 1
        del lines[start:end]
    at = 0
    while at < len(lines) and lines[at].startswith("#"):
        at += 1
    lines[at:at] = [MARK, *(f"#   {line}" for line in declared())]
    lock.write_text("\n".join(lines) + "\n")


def check(lock: Path) -> str | None:
    """None when the lock was compiled from what pyproject.toml declares now, else why not."""
    if not lock.is_file():
        return f"{lock.name} is missing: run `{REFRESH}` to compile it from pyproject.toml."
    was = recorded(lock)
    if was is None:
        return f"{lock.name} does not say which requirements it was compiled from: run `{REFRESH}` to compile it again."
    now = declared()
    if was == now:
        return None
    added = [line for line in now if line not in was]
    removed = [line for line in was if line not in now]
    detail = "; ".join(
        [*(f"pyproject.toml now declares {a!r}" for a in added), *(f"the lock was compiled for {r!r}" for r in removed)]
    )
    return (
        f"{lock.name} no longer matches pyproject.toml ({detail}): nothing was installed. "
        f"Run `{REFRESH}` to compile the lock again and test it, then commit both files."
    )


def versions(lock: Path, names: list[str]) -> dict[str, str]:
    """The pinned version of each name (first marker branch), e.g. {'duckdb': '2.0.1'}."""
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins.setdefault(match.group(1).lower(), match.group(2))
    return {name: pins.get(name.lower(), "?") for name in names}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("check", "stamp", "versions"):
        print(__doc__, file=sys.stderr)
        return 2
    lock = Path(argv[1])
    if argv[0] == "stamp":
        stamp(lock)
        return 0
    if argv[0] == "versions":
        print(" ".join(f"{k}=={v}" for k, v in versions(lock, argv[2:]).items()))
        return 0
    problem = check(lock)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

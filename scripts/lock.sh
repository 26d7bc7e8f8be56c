#!/usr/bin/env bash
# The lock: constraints.txt pins every version the README's commands and CI install
# (`pip install -c constraints.txt -e ".[...]"`), compiled by uv for every platform and
# Python >= 3.11 from pyproject.toml's ranges. See docs/development.md.
#
#   bash scripts/lock.sh            compile the newest versions the ranges allow, then install
#                                   them into a fresh venv and run the whole test suite there
#   bash scripts/lock.sh --keep     the same, but keep every pin that still fits (after adding
#                                   or changing one requirement)
#   bash scripts/lock.sh --no-test  compile only
#   bash scripts/lock.sh --check    does constraints.txt still match pyproject.toml? (offline;
#                                   .ci/run runs it before installing anything)
set -euo pipefail
cd "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")"

UV_VERSION=0.13.10   # the lock's tool, pinned too: another uv may write the file differently
MAIN="deltalake duckdb pyarrow sqlglot sqlalchemy alembic numpy pandas polars fastapi uvicorn pydantic mlflow-skinny scikit-learn skops"

upgrade=--upgrade test=1
for arg in "$@"; do
  case "$arg" in
    --check) exec python3 scripts/lockfile.py check constraints.txt ;;
    --keep) upgrade= ;;
    --no-test) test= ;;
    *) echo "usage: bash scripts/lock.sh [--keep] [--no-test] | --check" >&2; exit 2 ;;
  esac
done

if ! problem=$(python3 scripts/lockfile.py check constraints.txt 2>&1); then
  echo "lock: ${problem#error: }" >&2
  echo "lock: compiling it again" >&2
fi

uv=.venvs/uv/bin/uv
if [[ "$($uv --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
  python3 -m venv --clear .venvs/uv
  .venvs/uv/bin/pip install -q "uv==$UV_VERSION"
fi
# --universal: one file for Linux, macOS and Windows and every Python the project allows.
"$uv" pip compile pyproject.toml --all-extras --universal --python-version 3.11 $upgrade -q \
  --custom-compile-command "bash scripts/lock.sh" -o constraints.txt
python3 scripts/lockfile.py stamp constraints.txt
echo "lock: $(python3 scripts/lockfile.py versions constraints.txt $MAIN)"
[[ -n "$test" ]] || exit 0

echo "lock: installing the lock into a fresh venv (.venvs/lock-test) and running the tests" >&2
python3 -m venv --clear .venvs/lock-test
.venvs/lock-test/bin/pip install -q -c constraints.txt -e ".[dev]"
GLASHAUS_TEST_NETWORK=1 .venvs/lock-test/bin/python -m pytest -q

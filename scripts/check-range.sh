#!/usr/bin/env bash
# Do pyproject.toml's ranges hold at their ends? Installs, into a throwaway venv, either the
# newest versions the ranges allow (`newest`) or every direct dependency at its lower bound
# (`oldest`, uv's lowest-direct resolution), runs the fast tests (all but `slow` and `network`)
# there, including the real MLflow client tests, and prints one verdict line with the versions.
#
#   bash scripts/check-range.sh newest|oldest [pytest args...]
#
# Exit 0 when the tests pass, 1 when they fail, 2 when the install fails. CI runs `newest`
# (scripts/check-newest.sh) and prints the verdict without failing the build on it: an upstream
# release must not block an unrelated landing. Logs: .venvs/<end>.log.
set -uo pipefail
cd "$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")"

end=${1:-}
case "$end" in
  newest) resolution=highest ;;
  oldest) resolution=lowest-direct ;;
  *) echo "usage: bash scripts/check-range.sh newest|oldest [pytest args...]" >&2; exit 2 ;;
esac
shift
UV_VERSION=$(sed -n 's/^UV_VERSION=\([0-9.]*\).*/\1/p' scripts/lock.sh)
MAIN="deltalake duckdb pyarrow sqlglot sqlalchemy alembic numpy pandas fastapi pydantic mlflow-skinny scikit-learn skops"
venv=.venvs/$end log=.venvs/$end.log
mkdir -p .venvs
verdict() { echo "check-range: $end: $*"; }

uv=.venvs/uv/bin/uv
if [[ "$($uv --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
  python3 -m venv --clear .venvs/uv && .venvs/uv/bin/pip install -q "uv==$UV_VERSION" >"$log" 2>&1
fi
python3 -m venv --clear "$venv"
if ! { "$uv" pip compile pyproject.toml --all-extras --python-version 3.11 --resolution "$resolution" \
         --no-header -q -o "$venv/requirements.txt" \
       && "$uv" pip install --python "$venv/bin/python" -q -r "$venv/requirements.txt" \
       && "$uv" pip install --python "$venv/bin/python" -q --no-deps -e .; } >"$log" 2>&1; then
  verdict "INSTALL FAILED: pyproject.toml's ranges cannot be installed together ($(tail -n 3 "$log" | tr '\n' ' '))"
  exit 2
fi
versions=$(python3 scripts/lockfile.py versions "$venv/requirements.txt" $MAIN)
"$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow and not network" "$@" >>"$log" 2>&1
rc=$?
# pytest's own summary line ("N passed, M failed in Ts"); native libraries may print after it
summary=$(grep -E " in [0-9.]+s( \(|$)" "$log" | tail -n 1 | tr -d '=' | xargs)
if [[ $rc -eq 0 ]]; then
  verdict "PASS ($summary) with $versions"
else
  failed=$(grep -E "^(FAILED|ERROR) " "$log" | head -n 5 | cut -c1-160 | tr '\n' ';')
  verdict "FAIL ($summary; $failed) with $versions: pin below the breaking release in pyproject.toml or fix it; see $log"
  exit 1
fi

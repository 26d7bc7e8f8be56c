#!/usr/bin/env bash
# The newest versions pyproject.toml's ranges allow, in a throwaway venv: do the fast tests and the
# real MLflow client tests pass there? One verdict line (see scripts/check-range.sh).
exec bash "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/check-range.sh" newest "$@"

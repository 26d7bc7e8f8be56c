"""MLflow's public search machinery, used as it is: the filter parser, page tokens, result limits.

``mlflow-skinny`` (the ``ml`` extra) is imported on first use only: importing it
costs seconds, and a lakehouse that never tracks anything should not pay that.
Its ``MlflowException`` becomes the matching :class:`~glashaus.errors.GlashausError`
(MLflow's error codes are Glashaus's codes), so callers see one exception family.
Only MLflow's public API is used here; the name, key and size rules are Glashaus's own
code in :mod:`glashaus.mlflow_checks`.

>>> with mlflow_rules():                                         # doctest: +SKIP
...     search_utils().SearchUtils.parse_search_filter("metrics.rmse < 1")
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType

from glashaus.errors import AlreadyExistsError, GlashausError, InvalidArgumentError, NotFoundError

#: Largest page a search may ask for (MLflow's SEARCH_MAX_RESULTS_THRESHOLD).
MAX_RESULTS_THRESHOLD = 50_000


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise GlashausError(
            "experiment tracking needs mlflow-skinny for MLflow's rules and formats: "
            "pip install 'glashaus[ml]'."
        ) from None


def search_utils() -> ModuleType:
    return _module("mlflow.utils.search_utils")


@contextlib.contextmanager
def mlflow_rules() -> Iterator[None]:
    """Turn an MlflowException raised inside into the GlashausError with the same code."""
    exceptions = _module("mlflow.exceptions")
    try:
        yield
    except exceptions.MlflowException as exc:
        cls = {"RESOURCE_DOES_NOT_EXIST": NotFoundError, "RESOURCE_ALREADY_EXISTS": AlreadyExistsError}.get(
            exc.error_code, InvalidArgumentError
        )
        raise cls(exc.message) from None


def check_max_results(max_results: int, *, limit: int = MAX_RESULTS_THRESHOLD) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 0 < max_results <= limit:
        raise InvalidArgumentError(
            f"Invalid value {max_results!r} for parameter 'max_results' supplied: it must be a positive "
            f"integer of at most {limit}."
        )
    return max_results


def page_offset(page_token: str | None) -> int:
    with mlflow_rules():
        offset = search_utils().SearchUtils.parse_start_offset_from_page_token(page_token)
    if offset < 0:
        raise InvalidArgumentError(f"Invalid page token {page_token!r}: negative offset.")
    return offset


def page_token(offset: int) -> str:
    return search_utils().SearchUtils.create_page_token(offset).decode("ascii")

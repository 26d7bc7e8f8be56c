"""MLflow's public search machinery, used as it is: the filter parser, page tokens, result limits.

``mlflow-skinny`` (the ``ml`` extra) is imported on first use only: importing it
costs seconds, and a lakehouse that never tracks anything should not pay that.
Its ``MlflowException`` becomes the matching :class:`~glashaus.errors.GlashausError`
(MLflow's error codes are Glashaus's codes), so callers see one exception family.
Only MLflow's public API is used here; the name, key and size rules are Glashaus's own
code in :mod:`glashaus.mlflow_checks`.

>>> with mlflow_rules():
...     search_utils().SearchUtils.parse_search_filter("metrics.rmse < 1")
[{'type': 'metric', 'key': 'rmse', 'comparator': '<', 'value': '1'}]
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from glashaus.catalog.names import INT64_MAX
from glashaus.errors import AlreadyExistsError, GlashausError, InvalidArgumentError, NotFoundError

#: Largest page a search may ask for (MLflow's SEARCH_MAX_RESULTS_THRESHOLD).
MAX_RESULTS_THRESHOLD = 50_000


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise GlashausError(
            "experiment tracking needs mlflow-skinny for MLflow's rules and formats: pip install 'glashaus[ml]'."
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
    """Where a page starts, from MLflow's page token (base64 JSON ``{"offset": n}``); a token no
    MLflow server wrote is INVALID_PARAMETER_VALUE, never a crash."""
    try:
        with mlflow_rules():
            offset = search_utils().SearchUtils.parse_start_offset_from_page_token(page_token)
    except (ValueError, TypeError, AttributeError):  # non-ASCII text, a token that is no JSON object, ...
        offset = None
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= INT64_MAX:
        raise InvalidArgumentError(
            f"Invalid page token {page_token!r:.80}: its offset is not a whole number from 0 to {INT64_MAX}."
        )
    return offset


def logged_model_offset(
    page_token: str, experiment_ids: list[str], filter_string: str | None, order_by: list[dict[str, Any]] | None
) -> int:
    """Where a page of logged models starts, from MLflow's token for them (which also pins the search)."""
    utils = search_utils()
    try:
        with mlflow_rules():
            token = utils.SearchLoggedModelsPaginationToken.decode(page_token)
            token.validate(experiment_ids, filter_string, order_by)
        offset = token.offset
    except (ValueError, TypeError, AttributeError):  # not base64, not UTF-8, not a JSON object
        offset = None
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= INT64_MAX:
        raise InvalidArgumentError(
            f"Invalid page token {page_token!r:.80}: pass the next_page_token of the previous page, unchanged."
        )
    return offset


def page_token(offset: int) -> str:
    return search_utils().SearchUtils.create_page_token(offset).decode("ascii")

"""MLflow's input rules for names, keys and sizes, as Glashaus's own code.

MLflow documents what a param, metric or tag key may look like, how long values may
be, which alias names are reserved and how many entities one batch may carry. MLflow
clients rely on a server answering those rules the way MLflow's server does (error
code ``INVALID_PARAMETER_VALUE``), so tracking and the registry check them here. The
rules are written from MLflow's documentation and behaviour, not imported: MLflow's
own checks are private functions that change names between releases (mlflow-skinny
3.18 renamed the alias check and broke every fresh install that called it).

A level-0 module (stdlib and :mod:`glashaus.errors` only) because two peer
capabilities use it, ``tracking/`` and ``registry/``, and neither should import the other
for a handful of pure functions. It never imports ``mlflow``.

Every refusal is :class:`~glashaus.errors.InvalidArgumentError` naming the field, the
value (shortened) and the limit or the allowed characters.

>>> check_param("lr", "0.1")
'0.1'
>>> check_alias_name("latest")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
glashaus.errors.InvalidArgumentError: alias 'latest' is reserved: 'latest' (in any case) always ...
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from glashaus.errors import GlashausError, InvalidArgumentError

log = logging.getLogger(__name__)

#: Longest param, metric or run tag key.
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_RUN_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20_000
MAX_REGISTRY_TAG_KEY_LENGTH = 250
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
#: Longest dataset fields (the sizes of MLflow's database columns).
MAX_DATASET_LENGTHS = {"name": 500, "digest": 36, "source": 65_535, "schema": 1_048_575, "profile": 16_777_215}
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500

#: MLflow's switch for cutting over-long param and run tag values instead of refusing them.
TRUNCATE_ENV = "MLFLOW_TRUNCATE_LONG_VALUES"

# Keys: letters, digits, _ - . space : and /. MLflow's Windows client leaves out ':'
# (file names); the key lands in a database here, so one rule on every platform.
_KEY = re.compile(r"[\w\-. :/]*")
_KEY_CHARACTERS = "letters, digits, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)"
_ALIAS = re.compile(r"[\w\-]+")
_VERSION_ALIAS = re.compile(r"[vV]\d+")
_LOGGED_MODEL_NAME_BAD = ("/", ":", ".", "%", '"', "'")


def _show(value: Any, *, limit: int = 60) -> str:
    """``repr`` shortened so that a 100 000-character value does not flood an error message."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...' ({len(value)} characters)" if isinstance(value, str) else f"{text[:limit]}..."


def _is_number(value: Any, *, allow_bool: bool) -> bool:
    """A real number (Decimal and numpy scalars too); never complex, and a bool only if ``allow_bool``."""
    if isinstance(value, bool):
        return allow_bool
    return isinstance(value, numbers.Number) and not isinstance(value, complex)


def _at(path: str, field: str) -> str:
    """MLflow's JSON path of a field: ``params[3].value``, or just ``value`` at the top."""
    return f"{path}.{field}" if path else field


def _where(path: str) -> str:
    return f" ({path})" if path else ""


def truncate_long_values() -> bool:
    """Whether over-long param and run tag values are cut (``MLFLOW_TRUNCATE_LONG_VALUES``, on by default).

    >>> truncate_long_values()
    True
    """
    raw = os.environ.get(TRUNCATE_ENV)
    if raw is None:
        return True
    if raw.strip().lower() in ("true", "1"):
        return True
    if raw.strip().lower() in ("false", "0"):
        return False
    raise GlashausError(
        f"the environment variable {TRUNCATE_ENV}={raw!r} is neither true nor false; "
        "set it to 'true' or '1' (cut long values, the default) or 'false' or '0' (refuse them)."
    )


def _check_length(label: str, value: str, limit: int, *, truncate: bool = False, hint: str = "") -> str:
    """``value``, or its first ``limit`` characters when ``truncate`` and MLflow's switch allow it."""
    if len(value) <= limit:
        return value
    if truncate and truncate_long_values():
        # MLflow's default: keep the run going, cut the value, say so in the log.
        log.warning(
            "%s is %d characters long; it was cut to the maximum length of %d characters (set %s=false "
            "to refuse such values instead).",
            label,
            len(value),
            limit,
            TRUNCATE_ENV,
        )
        return value[:limit]
    raise InvalidArgumentError(f"{label} exceeds the maximum length of {limit} characters (it has {len(value)}){hint}.")


def _resolves_elsewhere(key: str) -> str | None:
    """Why ``key``, used as a file name, would name another file (MLflow's file store did so), or None."""
    norm = posixpath.normpath(key)
    if norm == ".":
        return "it would resolve to the folder itself ('.')"
    if norm.startswith("/"):
        return "it starts with '/'"
    if norm.startswith(".."):
        return "it starts with '..'"
    if norm != key:
        return f"it would resolve to {norm!r}"
    return None


def check_key(key: Any, *, kind: str, path: str = "key", limit: int = MAX_KEY_LENGTH) -> str:
    """A param, metric or tag key by MLflow's rules; ``kind`` ("param", "metric", ...) names it in errors.

    >>> check_key("train/loss", kind="metric")
    'train/loss'
    >>> check_key("a/../b", kind="tag")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: Invalid tag key 'a/../b' (key): Names may be treated as ...
    """
    if key is None or key == "":
        raise InvalidArgumentError(f"Missing value for required parameter '{path}': a {kind} needs a key name.")
    if not isinstance(key, str):
        raise InvalidArgumentError(f"Invalid {kind} key {key!r} ({path}): a key is a string, not {type(key).__name__}.")
    if not _KEY.fullmatch(key):
        bad = "".join(sorted({c for c in key if not _KEY.fullmatch(c)}))
        raise InvalidArgumentError(
            f"Invalid {kind} key {_show(key)} ({path}): it contains {bad!r}. Names may only contain {_KEY_CHARACTERS}."
        )
    reason = _resolves_elsewhere(key)
    if reason:
        raise InvalidArgumentError(
            f"Invalid {kind} key {_show(key)} ({path}): Names may be treated as files, and must not resolve to "
            f"other names when treated as such: {reason}. Use a key without '.' or '..' segments, doubled or "
            "trailing slashes."
        )
    return _check_length(f"{kind} key {_show(key)}{_where(path)}", key, limit)


def _string_value(kind: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{kind} {key!r} must have a string value, got {type(value).__name__}.")
    return value


def check_param(key: Any, value: Any, *, path: str = "") -> str:
    """The value to store for a run or logged-model param (cut to 6000 characters when MLflow's switch is on).

    >>> check_param("lr", 0.1)
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: param 'lr' must have a string value, got float.
    """
    key = check_key(key, kind="param", path=_at(path, "key"))
    value = _string_value("param", key, value)
    return _check_length(
        f"the value of param {_show(key)}{_where(_at(path, 'value'))}", value, MAX_PARAM_VALUE_LENGTH, truncate=True
    )


def check_run_tag(key: Any, value: Any, *, path: str = "") -> str:
    """The value to store for a run (or logged-model) tag (cut to 8000 characters when MLflow's switch is on).

    >>> len(check_run_tag("note", "x" * 9000))
    8000
    """
    key = check_key(key, kind="tag", path=_at(path, "key"))
    value = _string_value("tag", key, value)
    return _check_length(
        f"the value of tag {_show(key)}{_where(_at(path, 'value'))}", value, MAX_RUN_TAG_VALUE_LENGTH, truncate=True
    )


def check_metric(key: Any, value: Any, timestamp: Any, step: Any, *, path: str = "") -> None:
    """A metric: key by the key rules, value a number (not a bool), timestamp >= 0 (ms), step a number.

    >>> check_metric("loss", 0.3, 1_700_000_000_000, 2)
    >>> check_metric("loss", True, 0, 0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: Invalid value True for parameter 'value' supplied: metric ...
    """
    key = check_key(key, kind="metric", path=_at(path, "name"))
    if value is None:
        raise InvalidArgumentError(
            f"Missing value for required parameter '{_at(path, 'value')}': metric {key!r} needs a numeric value."
        )
    if not _is_number(value, allow_bool=False):
        raise InvalidArgumentError(
            f"Invalid value {_show(value)} for parameter '{_at(path, 'value')}' supplied: metric {key!r} needs a "
            f"number (a valid double, 64-bit floating point), not {type(value).__name__}."
        )
    # A bool passes as MLflow lets it (it is a number there); NaN or infinity is no instant.
    if not _is_number(timestamp, allow_bool=True) or not math.isfinite(timestamp) or timestamp < 0:
        raise InvalidArgumentError(
            f"Invalid value {_show(timestamp)} for parameter '{_at(path, 'timestamp')}' supplied: metric {key!r}'s "
            "timestamp must be a nonnegative long (64-bit integer): milliseconds since the Unix epoch."
        )
    if not _is_number(step, allow_bool=True) or not math.isfinite(step):
        raise InvalidArgumentError(
            f"Invalid value {_show(step)} for parameter '{_at(path, 'step')}' supplied: metric {key!r}'s step "
            "must be a valid long (64-bit integer)."
        )


def check_batch(*, metrics: int, params: int, tags: int) -> None:
    """One batch may carry at most 1000 metrics, 100 params, 100 tags and 1000 entities in all.

    >>> check_batch(metrics=10, params=101, tags=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: A batch logging request can contain at most 100 params. Got ...
    """
    limits = (
        ("metrics", MAX_METRICS_PER_BATCH, metrics),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, params),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, tags),
        ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics + params + tags),
    )
    for what, limit, count in limits:
        if count > limit:
            raise InvalidArgumentError(
                f"A batch logging request can contain at most {limit} {what}. Got {count} "
                f"{what}. Please split up {what} across multiple requests and try again."
            )


def check_experiment_name(name: Any) -> str:
    """A non-blank string of at most 500 characters.

    >>> check_experiment_name("   ")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: Invalid experiment name: '   '. An experiment needs a name, ...
    """
    if name is None or (isinstance(name, str) and not name.strip()):
        raise InvalidArgumentError(
            f"Invalid experiment name: {name!r}. An experiment needs a name, e.g. 'main.shop.churn'."
        )
    if not isinstance(name, str):
        raise InvalidArgumentError(f"Invalid experiment name: {name!r}. Expects a string, not {type(name).__name__}.")
    return _check_length(f"experiment name {_show(name)}", name, MAX_EXPERIMENT_NAME_LENGTH)


def check_experiment_tag(key: Any, value: Any) -> str:
    """An experiment tag: key rules, key at most 250 and value at most 20 000 characters (never cut)."""
    key = check_key(key, kind="experiment tag", limit=MAX_EXPERIMENT_TAG_KEY_LENGTH)
    value = _string_value("experiment tag", key, value)
    return _check_length(f"the value of experiment tag {_show(key)}", value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)


def check_registered_model_tag(key: Any, value: Any) -> str | None:
    """A registered model tag: key rules, key at most 250 and value at most 100 000 characters.

    >>> check_registered_model_tag("team", "reco")
    'reco'
    """
    key = check_key(key, kind="registered model tag", limit=MAX_REGISTRY_TAG_KEY_LENGTH)
    if value is None:
        return None
    value = _string_value("registered model tag", key, value)
    return _check_length(f"the value of registered model tag {_show(key)}", value, MAX_REGISTRY_TAG_VALUE_LENGTH)


def check_model_version_tag(key: Any, value: Any) -> str:
    """A model version tag: as a registered model tag, and the value must be given.

    >>> check_model_version_tag("validated", None)
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: model version tag 'validated' needs a value (a string; '' is fine).
    """
    key = check_key(key, kind="model version tag", limit=MAX_REGISTRY_TAG_KEY_LENGTH)
    if value is None:
        raise InvalidArgumentError(f"model version tag {key!r} needs a value (a string; '' is fine).")
    value = _string_value("model version tag", key, value)
    return _check_length(f"the value of model version tag {_show(key)}", value, MAX_REGISTRY_TAG_VALUE_LENGTH)


def check_alias_name(alias: Any) -> str:
    """A registered model alias: letters, digits, ``_`` and ``-``, at most 255; ``latest`` and ``v<N>`` reserved.

    >>> check_alias_name("champion")
    'champion'
    >>> check_alias_name("v3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: alias 'v3' is reserved: 'v<number>' means that version ...
    """
    if alias is None or alias == "":
        raise InvalidArgumentError("Registered model alias name cannot be empty; name it, e.g. 'champion'.")
    if not isinstance(alias, str):
        raise InvalidArgumentError(f"an alias is a string, not {type(alias).__name__}.")
    if not _ALIAS.fullmatch(alias):
        bad = "".join(sorted({c for c in alias if not _ALIAS.fullmatch(c)}))
        raise InvalidArgumentError(
            f"Invalid alias name: {_show(alias)} contains {bad!r}. Names may only contain "
            "alphanumerics, underscores (_), and dashes (-)."
        )
    _check_length(f"alias {_show(alias)}", alias, MAX_ALIAS_LENGTH)
    if alias.lower() == "latest":
        raise InvalidArgumentError(
            f"alias {alias!r} is reserved: 'latest' (in any case) always means the newest "
            "version; pick another name, e.g. 'champion'."
        )
    if _VERSION_ALIAS.fullmatch(alias):
        raise InvalidArgumentError(
            f"alias {alias!r} is reserved: 'v<number>' means that version number; pick another name, e.g. 'champion'."
        )
    return alias


def check_logged_model_name(name: Any) -> None:
    """An MLflow 3 logged model's name: None (one is made up) or non-empty without ``/ : . % " '``.

    >>> check_logged_model_name("a/b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: Invalid model name ('a/b') provided: a logged model name must ...
    """
    if name is None:
        return
    if not isinstance(name, str) or not name or any(c in name for c in _LOGGED_MODEL_NAME_BAD):
        raise InvalidArgumentError(
            f"Invalid model name ({_show(name)}) provided: a logged model name must be a "
            f"non-empty string without any of {' '.join(_LOGGED_MODEL_NAME_BAD)} "
            "(it becomes part of URIs and paths)."
        )


def check_dataset_input(dataset: Any, tags: Mapping[str, Any]) -> None:
    """A dataset a run read (an object with name, digest, source_type, source, schema, profile) and its tags.

    >>> from types import SimpleNamespace
    >>> check_dataset_input(SimpleNamespace(name="orders", digest="d" * 40, source_type="delta",  # doctest: +ELLIPSIS
    ...                                     source="main.shop.orders", schema=None, profile=None), {})
    Traceback (most recent call last):
    ...
    glashaus.errors.InvalidArgumentError: dataset 'orders': its digest exceeds the maximum length of 36 ...
    """
    if dataset is None:
        raise InvalidArgumentError("a dataset input needs a dataset (name, digest, source_type and source).")
    label = f"dataset {_show(getattr(dataset, 'name', None))}"
    for field in ("name", "digest", "source_type", "source", "schema", "profile"):
        value = getattr(dataset, field, None)
        if value is None:
            if field in ("schema", "profile"):
                continue
            raise InvalidArgumentError(
                f"{label}: its {field} is missing; a dataset input needs name, digest, source_type and source."
            )
        if not isinstance(value, str):
            raise InvalidArgumentError(f"{label}: its {field} must be a string, not {type(value).__name__}.")
        if field in MAX_DATASET_LENGTHS:
            _check_length(f"{label}: its {field}", value, MAX_DATASET_LENGTHS[field])
    for key, value in tags.items():
        if key is None or value is None:
            raise InvalidArgumentError(f"{label}: input tag {key!r} needs a key and a value (strings).")
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidArgumentError(f"{label}: input tag {key!r} must have a string key and value.")
        _check_length(f"{label}: input tag key {_show(key)}", key, MAX_INPUT_TAG_KEY_LENGTH)
        _check_length(f"{label}: the value of input tag {_show(key)}", value, MAX_INPUT_TAG_VALUE_LENGTH)

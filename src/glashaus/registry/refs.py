"""Naming a model version: ``main.shop.reco/3``, ``main.shop.reco@champion``, ``.../latest``.

Also accepted: ``main.shop.reco@3`` and ``@v3`` (version 3), and MLflow's
``models:/main.shop.reco@champion`` / ``models:/main.shop.reco/3``. Alias names follow
MLflow's rules (letters, digits, ``_`` and ``-``; ``latest`` and ``v<N>`` are reserved);
all-digit aliases are refused too, since ``@3`` means version 3 here.

>>> parse_ref("main.shop.reco@champion").alias
'champion'
>>> parse_ref("models:/main.shop.reco/3").version
3
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from glashaus.catalog import Name, parse_name
from glashaus.errors import InvalidArgumentError, InvalidNameError

_DIGITS = re.compile(r"^[vV]?(\d+)$")
#: MLflow's alias rules (mlflow.utils.validation): characters, length, names reserved for versions.
_ALIAS = re.compile(r"^[\w\-]*$")
_ALIAS_MAX = 255
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_EXAMPLE = "use e.g. 'main.shop.reco/3', 'main.shop.reco@champion' or 'main.shop.reco/latest'"


@dataclass(frozen=True)
class ModelRef:
    """A model and which of its versions: a number, an alias, or the latest (neither)."""

    name: Name
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name.full}/{self.version}"
        if self.alias is not None:
            return f"{self.name.full}@{self.alias}"
        return f"{self.name.full}/latest"


def parse_model_name(text: str) -> Name:
    """A registered model's three-part name (no version, no alias)."""
    if isinstance(text, str) and ("@" in text or "/" in text):
        raise InvalidNameError(f"{text!r} names a model version; give the model's name alone, e.g. 'main.shop.reco'.")
    return parse_name(text, allow_version=False)


def parse_ref(text: str) -> ModelRef:
    """Parse a model version reference (see the module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidNameError(f"a model reference may not be empty; {_EXAMPLE}.")
    raw = text.strip().removeprefix("models:/")
    if "/" in raw:
        name, _, suffix = raw.partition("/")
        if suffix.lower() == "latest":
            return ModelRef(parse_name(name, allow_version=False))
        match = _DIGITS.match(suffix)
        if not match:
            raise InvalidNameError(f"{text!r}: after '/' comes a version number or 'latest'; {_EXAMPLE}.")
        return ModelRef(parse_name(name, allow_version=False), version=_positive(match.group(1), text))
    if "@" in raw:
        name, _, suffix = raw.partition("@")
        match = _DIGITS.match(suffix)
        if match:
            return ModelRef(parse_name(name, allow_version=False), version=_positive(match.group(1), text))
        return ModelRef(parse_name(name, allow_version=False), alias=check_alias(suffix))
    return ModelRef(parse_name(raw, allow_version=False))


def _positive(digits: str, text: str) -> int:
    version = int(digits)
    if version < 1:
        raise InvalidNameError(f"{text!r}: model versions start at 1.")
    return version


def check_alias(alias: str) -> str:
    """An alias name by MLflow's rules (and not all digits), or :class:`InvalidArgumentError`.

    MLflow's rules, restated (its checks are private names that move between releases):
    1-255 letters, digits, ``_`` or ``-``; ``latest`` and ``v<digits>`` are reserved.

    >>> check_alias("champion")
    'champion'
    """
    if not isinstance(alias, str):
        raise InvalidArgumentError(f"an alias is a string, not {type(alias).__name__}.")
    if not alias:
        raise InvalidArgumentError("Registered model alias name cannot be empty.")
    if not _ALIAS.fullmatch(alias):
        raise InvalidArgumentError(f"alias {alias!r}: Invalid alias name: '{alias}'. Names may only contain "
                                   "alphanumerics, underscores (_), and dashes (-).")
    if len(alias) > _ALIAS_MAX:
        raise InvalidArgumentError(f"alias {alias!r}: an alias has at most {_ALIAS_MAX} characters.")
    if alias.lower() == "latest":
        raise InvalidArgumentError(f"alias {alias!r}: 'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS.fullmatch(alias):
        raise InvalidArgumentError(f"alias {alias!r}: Version alias name '{alias}' is reserved.")
    if alias.isdigit():
        raise InvalidArgumentError(f"alias {alias!r}: an alias may not be all digits ('@3' means version 3).")
    return alias

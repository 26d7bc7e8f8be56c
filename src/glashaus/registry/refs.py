"""Naming a model version: ``main.shop.reco/3``, ``main.shop.reco@champion``, ``.../latest``.

Also accepted: ``main.shop.reco@3`` and ``@v3`` (version 3), and MLflow's
``models:/main.shop.reco@champion`` / ``models:/main.shop.reco/3`` / ``.../latest``.
MLflow's other ``models:/`` form, ``models:/m-<id>``, names an MLflow 3 logged model
rather than a registered version: :func:`logged_model_id` tells the two apart (stages,
``models:/<name>/Production``, are refused: Glashaus keeps aliases only). This is the one
parser of ``models:/`` URIs in Glashaus. Alias names follow MLflow's rules
(:func:`glashaus.mlflow_checks.check_alias_name`); all-digit aliases are refused too,
since ``@3`` means version 3 here.

>>> parse_ref("main.shop.reco@champion").alias
'champion'
>>> parse_ref("models:/main.shop.reco/3").version
3
>>> logged_model_id("models:/m-8f2e41"), logged_model_id("models:/main.shop.reco@champion")
('m-8f2e41', None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from glashaus.catalog import Name, parse_name
from glashaus.catalog.names import parse_number
from glashaus.errors import InvalidArgumentError, InvalidNameError
from glashaus.mlflow_checks import check_alias_name

_DIGITS = re.compile(r"^[vV]?([0-9]+)$")
_EXAMPLE = "use e.g. 'main.shop.reco/3', 'main.shop.reco@champion' or 'main.shop.reco/latest'"
_URI_EXAMPLE = (
    "use e.g. 'models:/main.shop.reco/3', 'models:/main.shop.reco@champion', "
    "'models:/main.shop.reco/latest' or a logged model's 'models:/m-<id>'"
)


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


def _models_uri_body(text: str) -> str:
    """What follows ``models:/`` (the text itself when it is no ``models:`` URI)."""
    text = text.strip()
    if not text.startswith("models:"):
        return text
    body = text.removeprefix("models:/")
    if body == text or body.startswith("/"):
        raise InvalidNameError(f"{text!r} is not a models:/ URI of this server; {_URI_EXAMPLE}.")
    if not body:
        raise InvalidNameError(f"{text!r} names no model; {_URI_EXAMPLE}.")
    return body


def logged_model_id(uri: str) -> str | None:
    """The MLflow 3 logged model a ``models:/<model_id>`` URI names, or None when it names a registered version.

    As in MLflow, a ``models:/`` URI with one segment and no ``@`` names a logged model
    (``models:/m-<id>``); registered models here always have dotted three-part names, so
    ``models:/main.shop.reco`` stays the latest version of that model (:func:`parse_ref`).

    >>> logged_model_id("models:/m-0123abcd")
    'm-0123abcd'
    >>> logged_model_id("models:/main.shop.reco/3") is None
    True
    """
    if not isinstance(uri, str) or not uri.strip().startswith("models:"):
        return None
    body = _models_uri_body(uri)
    if "/" in body or "@" in body or "." in body:
        return None
    return body


def parse_ref(text: str) -> ModelRef:
    """Parse a model version reference (see the module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidNameError(f"a model reference may not be empty; {_EXAMPLE}.")
    raw = _models_uri_body(text)
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
    try:
        return parse_number(digits, what=f"the model version in {text!r:.80}", minimum=1)
    except InvalidArgumentError as exc:
        raise InvalidNameError(f"{exc} Model versions start at 1.") from None


def check_alias(alias: str) -> str:
    """An alias name by MLflow's rules (and not all digits), or :class:`InvalidArgumentError`.

    >>> check_alias("champion")
    'champion'
    """
    alias = check_alias_name(alias)
    if alias.isdigit():
        raise InvalidArgumentError(f"alias {alias!r}: an alias may not be all digits ('@3' means version 3).")
    return alias

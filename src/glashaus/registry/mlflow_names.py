"""Registered-model names as MLflow clients write them: three-part names and plain ones.

Every registered model is a securable of kind ``model`` in a schema, so grants decide who
uses it. MLflow code names models two ways, and both work:

- a three-part name (``main.shop.reco``: two dots, the first two parts identifiers) *is*
  the securable's name, case-insensitive like every catalog name, shown in lower case;
- a plain name (``reco``, ``CreateRMTest``, ``fern model-2``) lives in a default schema
  (``main.default`` unless the server sets another, ``glashaus serve --default-schema``).
  A plain name that is a lower-case identifier is the object's name itself
  (``reco`` is ``main.default.reco``: the two names are one model). Any other plain
  name is case-sensitive, as MLflow's names are, so it becomes a slug of it plus the first
  12 hex digits of its SHA-256 (``CreateRMTest`` is ``main.default.creatermtest_a9fcef7e413f``,
  ``createrMTest`` another model): two names differing only in case are never one
  object. The securable records the name (its spec's ``mlflow_name``) and MLflow replies
  give it back as the client wrote it.

MLflow's own rule applies to plain names: not empty, no ``/`` or ``:``.

>>> names = ModelNames(DEFAULT_SCHEMA)
>>> names.securable("reco").full, names.securable("main.Shop.reco").full
('main.default.reco', 'main.shop.reco')
>>> names.securable("CreateRMTest").full
'main.default.creatermtest_a9fcef7e413f'
>>> names.shown("main.default.creatermtest_a9fcef7e413f", "CreateRMTest")
'CreateRMTest'
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from glashaus.catalog.names import Name, parse_name
from glashaus.errors import InvalidArgumentError, InvalidNameError

#: Where plain names live unless the server names another schema.
DEFAULT_SCHEMA = Name("main", "default")
#: The securable's spec key holding a plain name as the client wrote it.
SPEC_KEY = "mlflow_name"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOWER_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_NOT_IDENT = re.compile(r"[^a-z0-9]+")
_SLUG_LENGTH = 40
_HASH_LENGTH = 12


def default_schema(text: str) -> Name:
    """A ``catalog.schema`` name given for plain names (``glashaus serve --default-schema``).

    >>> default_schema("Lab.Models").full
    'lab.models'
    """
    try:
        return parse_name(text, levels=2, allow_version=False)
    except InvalidNameError as exc:
        raise InvalidArgumentError(f"the default schema for plain model names must be catalog.schema: {exc}") from None


def three_part(text: str) -> Name | None:
    """The catalog name if ``text`` is one (``catalog.schema.object``), else None (a plain name).

    A name with two dots whose first two parts are identifiers is meant as a catalog name,
    so a bad last part is an error (``main.shop.Bad-Name!``), not a plain name.

    >>> three_part("fern model") is None
    True
    """
    parts = text.strip().split(".")
    if len(parts) != 3 or not all(_IDENT.match(p) for p in parts[:2]):
        return None
    if "@" in text or "/" in text:
        raise InvalidNameError(f"{text!r} names a model version; give the model's name alone, e.g. 'main.shop.reco'.")
    return parse_name(text, allow_version=False)


def check_plain(text: str) -> str:
    """``text`` if MLflow accepts it as a registered model name (not empty, no ``/`` or ``:``)."""
    if not text.strip():
        raise InvalidArgumentError("Missing value for required parameter 'name'.")
    if "/" in text or ":" in text:
        raise InvalidArgumentError(
            f"Invalid model name '{text}'. Names cannot contain '/' or ':' "
            "(MLflow's rule; a three-part name main.<schema>.<model> works too)."
        )
    return text


@dataclass(frozen=True)
class ModelNames:
    """Between MLflow's registered-model names and securables, plain names living in ``schema``."""

    schema: Name = DEFAULT_SCHEMA

    def securable(self, text: str) -> Name:
        """The securable the MLflow name ``text`` means (it need not exist)."""
        name = three_part(text)
        if name is not None:
            if name.catalog == "system":
                raise InvalidArgumentError(
                    f"cannot register models in {name.full!r}: the system catalog is Glashaus's own."
                )
            return name
        check_plain(text)
        return Name(self.schema.catalog, self.schema.schema, self.object_name(text))

    @staticmethod
    def object_name(text: str) -> str:
        """The object part for a plain name: itself when a lower-case identifier, else slug plus hash."""
        if _LOWER_IDENT.match(text):
            return text
        slug = _NOT_IDENT.sub("_", text.lower()).strip("_")[:_SLUG_LENGTH].rstrip("_")
        if not slug or not slug[0].isalpha():
            slug = f"model_{slug}".rstrip("_")
        return f"{slug}_{hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]}"

    def is_plain(self, text: str) -> bool:
        """Whether ``text`` is a plain name (no catalog and schema)."""
        return three_part(text) is None

    def shown(self, full_name: str, recorded: str | None) -> str:
        """The name MLflow clients see for the model ``full_name`` (which recorded ``recorded``, if any).

        A model of the default schema created under a plain name shows that name; any
        other model shows its three-part name (``main.default.reco`` made by that name shows so).
        """
        name = parse_name(full_name, allow_version=False)
        in_default = (name.catalog, name.schema) == (self.schema.catalog, self.schema.schema)
        if in_default and recorded is not None and self.object_name(recorded) == name.object:
            return recorded
        return full_name

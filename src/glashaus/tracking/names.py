"""How an MLflow experiment name becomes a governed name in the catalog.

Every experiment is a securable of kind ``experiment`` in a schema, so grants decide
who reads and logs to it. MLflow clients name experiments two ways:

- a three-part name (``main.shop.reco_training``) *is* the securable's name; the
  MLflow name is its canonical, lower-case form;
- any other name (``plant-shop``, ``/Users/ana/exp``) keeps being the MLflow name
  (unique, case-sensitive, shown to MLflow clients), and the securable is created in
  ``main.default`` (or the schema a server names, ``glashaus serve --default-schema``) as a
  slug of it plus a short id: ``main.default.plant_shop_3f9a1c`` (creating it there needs
  ``CREATE MODEL`` on that schema).

>>> securable_name("main.Shop.reco_training")
Name(catalog='main', schema='shop', object='reco_training')
>>> securable_name("/Users/ana/exp", suffix="3f9a1c").full
'main.default.users_ana_exp_3f9a1c'
"""

from __future__ import annotations

import re
import uuid

from glashaus.catalog.names import Name, parse_name

#: Where free-form experiment names are placed (every user may create experiments there).
DEFAULT_SCHEMA = Name("main", "default")

_NOT_IDENT = re.compile(r"[^a-z0-9]+")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SLUG_LENGTH = 40


def three_part(mlflow_name: str) -> Name | None:
    """The catalog name if ``mlflow_name`` is one (``catalog.schema.object``), else None.

    A name with two dots whose first two parts are identifiers is meant as a catalog
    name, so a bad last part is an error (``main.shop.Bad-Name!``), not a free-form name.
    """
    parts = mlflow_name.strip().split(".")
    if len(parts) != 3 or not all(_IDENT.match(p) for p in parts[:2]):
        return None
    return parse_name(mlflow_name, allow_version=False)


def securable_name(mlflow_name: str, *, suffix: str | None = None, schema: Name = DEFAULT_SCHEMA) -> Name:
    """The securable an experiment called ``mlflow_name`` is created as (a free-form name in ``schema``)."""
    name = three_part(mlflow_name)
    if name is not None:
        return name
    slug = _NOT_IDENT.sub("_", mlflow_name.lower()).strip("_")[:_SLUG_LENGTH].rstrip("_")
    if not slug or not slug[0].isalpha():
        slug = f"exp_{slug}".rstrip("_")
    return Name(schema.catalog, schema.schema, f"{slug}_{suffix or uuid.uuid4().hex[:6]}")


def canonical(mlflow_name: str) -> str:
    """The name an experiment is stored and found under (three-part names in lower case)."""
    name = three_part(mlflow_name)
    return name.full if name is not None else mlflow_name

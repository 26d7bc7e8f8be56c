"""Finding registered models and their versions for a caller: names, references, version numbers, tags.

Every registry operation finds its model through :meth:`ModelLookup.model` (the guard: lookup
as the caller may see it, decision, audit) and a version through :meth:`ModelLookup.resolve`
(``main.shop.reco/3``, ``@champion``, ``/latest``).

>>> lookup = registry.lookup
>>> model, version = lookup.resolve(bob, "main.shop.reco@champion", model_check("EXECUTE", "model.load"))
>>> model.full_name, version.version
('main.shop.reco', 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glashaus.access import Principal
from glashaus.access.guard import Check, Guard
from glashaus.catalog import Name, Securable
from glashaus.catalog.names import check_int64, parse_number
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.mlflow_checks import check_model_version_tag, check_registered_model_tag
from glashaus.registry.aliases import AliasStore
from glashaus.registry.refs import ModelRef, parse_model_name, parse_ref
from glashaus.registry.versions import ModelVersion, VersionStore


def model_check(privilege: str, action: str) -> Check:
    """The check of a registry operation on a model: ``privilege`` on it, audited as ``action``.

    >>> model_check("EXECUTE", "model.get").kinds
    ('model',)
    """
    return Check(privilege, action, kinds=("model",))


class ModelLookup:
    """model (by name, authorized) and resolve (a reference to one version, authorized)."""

    def __init__(self, *, guard: Guard, versions: VersionStore, aliases: AliasStore) -> None:
        self.guard = guard
        self.versions = versions
        self.aliases = aliases

    def model(self, who: Principal, check: Check, name: str | Name, details: dict[str, Any] | None = None) -> Securable:
        """The model called ``name``, once ``who`` passed ``check`` on it (audited)."""
        n = name if isinstance(name, Name) else model_name(name)
        return self.guard.allow(who, check, n, details=details).found

    def resolve(
        self, who: Principal, ref: str | ModelRef, check: Check, details: dict[str, Any] | None = None
    ) -> tuple[Securable, ModelVersion]:
        """The model and the version ``ref`` names now, once ``who`` passed ``check`` on the model."""
        r = ref if isinstance(ref, ModelRef) else parse_ref(ref)
        model = self.model(who, check, r.name, {**(details or {}), "ref": str(r)})
        if r.version is not None:
            number = r.version
        elif r.alias is not None:
            number = self.aliases.version_of(model, r.alias)
        else:
            latest = self.versions.latest(model)
            if latest is None:
                raise NotFoundError(f"model {model.full_name} has no versions yet; register one first.")
            number = latest
        return model, self.versions.get(model, number)


def model_name(name: str) -> Name:
    """A registered model's name; the system catalog holds none.

    >>> model_name("main.shop.reco").full
    'main.shop.reco'
    """
    n = parse_model_name(name)
    if n.catalog == "system":
        raise InvalidArgumentError(f"cannot register models in {n.full!r}: the system catalog is Glashaus's own.")
    return n


def version_number(version: Any) -> int:
    """A model version number (from 1) given as an int or its text.

    >>> version_number("3")
    3
    """
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise InvalidArgumentError(f"a model version is a number like 3, not {version!r:.80}.")
    if isinstance(version, str):
        return parse_number(version, what="a model version", minimum=1)
    if version < 1:
        raise InvalidArgumentError(f"model versions start at 1; got {version}.")
    return check_int64(version, what="a model version")


def check_tags(tags: dict[str, str] | None, *, what: str) -> dict[str, str]:
    """Tags by MLflow's rules (key names and size limits), values as strings.

    >>> check_tags({"team": 7}, what="registered model")
    {'team': '7'}
    """
    if not tags:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidArgumentError(f"{what} tags must be a dict of strings, not {type(tags).__name__}.")
    check = check_model_version_tag if what == "model version" else check_registered_model_tag
    clean = {}
    for key, value in tags.items():
        value = "" if value is None else str(value)
        check(str(key), value)
        clean[str(key)] = value
    return clean

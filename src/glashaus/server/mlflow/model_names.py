"""Registered-model names in MLflow requests and replies: as the client wrote them, and their securables.

The mapping itself is :mod:`glashaus.registry.mlflow_names` (three-part names are securables; plain
names live in the server's default schema). This module is the protocol's side of it: the
:class:`Named` model a request names, errors that name a plain-named model as the client wrote
it (:func:`as_written`), and ``models:/<plain name>/<version>`` sources rewritten to catalog names
for the registry's ``models:/`` parser (:func:`plain_source`).

>>> from glashaus.registry.mlflow_names import ModelNames
>>> model = name_of(ModelNames(), "Fern Picker")
>>> model.shown, model.full
('Fern Picker', 'main.default.fern_picker_dc3871586532')
>>> plain_source(ModelNames(), "models:/Fern Picker@champion")
'models:/main.default.fern_picker_dc3871586532@champion'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from glashaus.catalog.names import Name
from glashaus.errors import GlashausError, InvalidArgumentError, InvalidNameError, NotFoundError
from glashaus.registry.mlflow_names import ModelNames
from glashaus.registry.refs import logged_model_id


@dataclass(frozen=True)
class Named:
    """The registered model a request names: as the client wrote it, and the securable it means."""

    text: str
    securable: Name
    plain: bool

    @property
    def full(self) -> str:
        return self.securable.full

    @property
    def shown(self) -> str:
        """The name replies carry: a plain name as written, a three-part one in its canonical form."""
        return self.text if self.plain else self.full


def name_of(names: ModelNames, text: str) -> Named:
    """The model ``text`` names (three-part, or plain in ``names.schema``); a malformed name is a 400."""
    try:
        return Named(text, names.securable(text), names.is_plain(text))
    except InvalidNameError as exc:
        raise InvalidArgumentError(
            f"registered model name {text!r} is not usable here: {exc} Give a plain name ('recommender') or a "
            "three-part name <catalog>.<schema>.<model>, e.g. 'main.shop.recommender'."
        ) from None


@contextmanager
def as_written(named: Named) -> Iterator[None]:
    """Errors name a plain-named model as the client wrote it (and its catalog name, which grants use)."""
    try:
        yield
    except NotFoundError as exc:
        if named.plain and exc.args and f"model '{named.full}' does not exist" in str(exc.args[0]):
            # MLflow's wording (a catalog suggestion for the securable name would mean nothing here).
            raise NotFoundError(
                f"Registered Model with name={named.text} not found (its catalog name would be {named.full})."
            ) from None
        _note(exc, named)
        raise
    except GlashausError as exc:
        _note(exc, named)
        raise


def _note(exc: GlashausError, named: Named) -> None:
    """Name a plain-named model as written in an error that names it by its catalog name."""
    if named.plain and exc.args and isinstance(exc.args[0], str) and named.full in exc.args[0]:
        # Appended, not replaced: the message's GRANT hint must keep the catalog name it grants on.
        exc.args = (f"{exc.args[0]} (The registered model {named.text!r} is {named.full} in the catalog.)",)


def plain_source(names: ModelNames, source: str) -> str:
    """``models:/<plain name>/<version>`` (or ``@alias``, as ``copy_model_version`` sends) with its catalog name.

    The registry's ``models:/`` parser knows three-part names; MLflow names cannot hold ``/``, so the
    first ``/`` (else the last ``@``) ends the name. Logged models (``models:/m-<id>``) pass as they are.
    """
    if not source.startswith("models:/") or logged_model_id(source) is not None:
        return source
    body = source.removeprefix("models:/")
    name, sep, rest = body.partition("/") if "/" in body else body.rpartition("@")
    if not sep or not name or not names.is_plain(name):
        return source
    try:
        return f"models:/{names.securable(name).full}{sep}{rest}"
    except GlashausError:
        return source  # the registry's parser names the problem

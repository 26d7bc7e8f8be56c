"""Every declared operation, collected from the capabilities and bound to its facade method.

The capabilities declare their operations (``<capability>/operations.py``, see
:mod:`glashaus.declare`); this module gathers them in one list and binds each to the
method it names: on :class:`~glashaus.lakehouse.Lakehouse` itself, or on the class of the
namespace (``lh.models`` is a :class:`~glashaus.facades.Models`, found from the property's
return type). The REST face, its OpenAPI, the remote client and the generated typed API
(``glashaus/api.py``) are all built from :data:`OPERATIONS`.

>>> by_name()["models.set_alias"].path
'/api/models/{name}/aliases/{alias}'
"""

from __future__ import annotations

import typing
from typing import Any

from glashaus.access.operations import OPERATIONS as _ACCESS
from glashaus.declare import Operation
from glashaus.lakehouse import Lakehouse
from glashaus.registry.operations import OPERATIONS as _REGISTRY
from glashaus.serving.operations import OPERATIONS as _SERVING
from glashaus.sql.operations import OPERATIONS as _SQL
from glashaus.tables.operations import OPERATIONS as _TABLES
from glashaus.tracing.operations import OPERATIONS as _TRACING
from glashaus.tracking.operations import OPERATIONS as _TRACKING

__all__ = [
    "FACADES",
    "OPERATIONS",
    "ROUTES",
    "Operation",
    "by_name",
    "client_operations",
    "declared_default",
    "facade_class",
]

#: The namespaces of ``lh`` that hold operations, in the order the API lists them.
FACADES = ("", "models", "experiments", "runs", "serving", "traces")


def facade_class(facade: str) -> type:
    """The class whose methods a facade's operations are: ``Lakehouse``, or the namespace property's type."""
    if not facade:
        return Lakehouse
    prop = getattr(Lakehouse, facade)
    return typing.get_type_hints(prop.fget)["return"]


def _bind(op: Operation) -> Operation:
    cls = facade_class(op.facade)
    function: Any = getattr(cls, op.name, None)
    if (function is None or not callable(function)) and op.calls is not None:
        return op  # declared since glashaus/facades.py was generated: the generator writes its method
    if function is None or not callable(function):
        raise LookupError(f"the declaration {op.qualname} names no method of {cls.__name__}")
    return op.bind(function)


OPERATIONS: list[Operation] = [
    _bind(op) for op in [*_SQL, *_TABLES, *_ACCESS, *_REGISTRY, *_TRACKING, *_SERVING, *_TRACING]
]
#: The operations with a REST route (all but the embedded-only ones).
ROUTES: list[Operation] = [op for op in OPERATIONS if not op.embedded_only]


def by_name() -> dict[str, Operation]:
    """Each operation by its qualified name (``"read"``, ``"models.set_alias"``), its first declaration."""
    chosen: dict[str, Operation] = {}
    for op in OPERATIONS:
        chosen.setdefault(op.qualname, op)
    return chosen


def declared_default(qualname: str, parameter: str) -> Any:
    """The default of a parameter that is no literal (a sentinel, a timedelta), read from the declared method.

    >>> declared_default("create_token", "expires_in")
    datetime.timedelta(days=90)
    """
    return by_name()[qualname].signature.parameters[parameter].default


def client_operations() -> dict[str, Operation]:
    """The route the remote client uses for each operation that crosses the wire (the first one listed)."""
    chosen: dict[str, Operation] = {}
    for op in OPERATIONS:
        if op.client and not op.embedded_only:
            chosen.setdefault(op.qualname, op)
    return chosen

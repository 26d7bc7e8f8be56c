"""Serving's operations on ``lh.serving`` (see :mod:`glashaus.declare`): managing endpoints.

Each names a :class:`~glashaus.serving.api.Serving` method, which calls
:class:`~glashaus.serving.service.ServingService` and its guard checks. Scoring itself is
``POST /serving/<name>/invocations`` (``server/serving.py``), not an operation of ``lh``.
"""

from __future__ import annotations

from glashaus.declare import Operation


def _op(name: str, http: str, path: str, **kw: object) -> Operation:
    return Operation("serving", name, http, path, tag="serving", **kw)  # type: ignore[arg-type]


OPERATIONS = [
    _op(
        "create_endpoint",
        "POST",
        "/serving-endpoints",
        cli="glashaus serving create",
        privilege="EXECUTE",
        audit="serving.create_endpoint",
    ),
    _op("list_endpoints", "GET", "/serving-endpoints", cli="glashaus serving ls"),
    _op(
        "get_endpoint",
        "GET",
        "/serving-endpoints/{name}",
        cli="glashaus serving show",
        privilege="EXECUTE",
        audit="serving.get_endpoint",
    ),
    _op(
        "update_endpoint",
        "PUT",
        "/serving-endpoints/{name}/config",
        cli="glashaus serving update",
        privilege=None,
        audit="serving.update_endpoint",
    ),
    _op(
        "delete_endpoint",
        "DELETE",
        "/serving-endpoints/{name}",
        cli="glashaus serving delete",
        privilege=None,
        audit="serving.delete_endpoint",
    ),
]

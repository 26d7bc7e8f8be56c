"""Serving's operations on ``lh.serving`` (see :mod:`glashaus.declare`): managing endpoints.

Each runs a :class:`~glashaus.serving.service.ServingService` method, whose guard checks
decide and audit; ``lh.serving`` (generated, ``glashaus/facades.py``) calls it as the caller. Scoring itself is
``POST /serving/<name>/invocations`` (``server/serving.py``), not an operation of ``lh``.
"""

from __future__ import annotations

import functools

from glashaus.declare import Operation
from glashaus.serving.service import ServingService

_op = functools.partial(Operation, "serving", tag="serving")


OPERATIONS = [
    _op(
        "create_endpoint",
        "POST",
        "/serving-endpoints",
        calls=ServingService.create_endpoint,
        cli="glashaus serving create",
        privilege="EXECUTE",
        audit="serving.create_endpoint",
    ),
    _op("list_endpoints", "GET", "/serving-endpoints", calls=ServingService.list_endpoints, cli="glashaus serving ls"),
    _op(
        "get_endpoint",
        "GET",
        "/serving-endpoints/{name}",
        calls=ServingService.get_endpoint,
        cli="glashaus serving show",
        privilege="EXECUTE",
        audit="serving.get_endpoint",
    ),
    _op(
        "update_endpoint",
        "PUT",
        "/serving-endpoints/{name}/config",
        calls=ServingService.update_endpoint,
        cli="glashaus serving update",
        privilege=None,
        audit="serving.update_endpoint",
    ),
    _op(
        "delete_endpoint",
        "DELETE",
        "/serving-endpoints/{name}",
        calls=ServingService.delete_endpoint,
        cli="glashaus serving delete",
        privilege=None,
        audit="serving.delete_endpoint",
    ),
]

"""The MLflow protocol face: its routes, requests and error shape, behind the request layer.

A route is a :class:`Route`: HTTP method, path (below ``/api/2.0/mlflow``, unless
``absolute``), and a handler ``handler(lh, request: MlflowRequest) -> dict | Response``
that runs in a worker thread on the Lakehouse seen as the caller (``Call.run``), after the
request layer (``glashaus.http.layer``) gave the request its id, checked the body limit and
the bearer token (``MLFLOW_TRACKING_TOKEN``). Handlers call capability services only; they
translate between MLflow's messages and those services, nothing else.

Errors: any :class:`~glashaus.errors.GlashausError` becomes MLflow's
``{"error_code": ..., "message": ...}`` with MLflow's statuses (400 for
``INVALID_PARAMETER_VALUE`` and ``RESOURCE_ALREADY_EXISTS``, 404 for
``RESOURCE_DOES_NOT_EXIST``, 401, 403) (:class:`MlflowErrors`); an unexpected failure is
logged and answered ``INTERNAL_ERROR`` (500) without a stack trace.

>>> from glashaus.server.mlflow.tracking import ROUTES   # each face module lists its routes
>>> [(r.method, r.path) for r in ROUTES if r.path == "/experiments/get"]
[('GET', '/experiments/get')]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.routing import Route as StarletteRoute

from glashaus.catalog.names import Name
from glashaus.errors import GlashausError, InvalidArgumentError
from glashaus.http import jsonio
from glashaus.http.call import Call, Policy
from glashaus.http.errors import (
    INTERNAL_ERROR,
    error_body,
    internal_message,
    retry_after,
    status_of,
)
from glashaus.http.layer import RequestLayer
from glashaus.registry.mlflow_names import DEFAULT_SCHEMA

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")

#: MLflow's HTTP status per error code (mlflow.protos.databricks_pb2 / rest_utils).
_STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "RATE_LIMITED": 429,
    "REQUEST_TOO_LARGE": 413,
    "INVALID_STATE": 400,
}


@dataclass
class MlflowRequest:
    """An MLflow request's parameters: the JSON body (POST/PATCH/DELETE) or the query (GET)."""

    method: str
    params: dict[str, Any]
    #: Repeated query parameters as lists (GET ``experiment_ids=1&experiment_ids=2``).
    multi: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: The request body's size in bytes (MLflow caps some requests, e.g. log-batch at 1 MB).
    size: int = 0
    #: Where plain registered-model names live (``glashaus serve --default-schema``).
    default_schema: Name = DEFAULT_SCHEMA

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def require(self, name: str) -> Any:
        """A required parameter, or MLflow's INVALID_PARAMETER_VALUE naming it."""
        value = self.params.get(name)
        if value is None or value == "":
            raise InvalidArgumentError(f"Missing value for required parameter '{name}'.")
        return value

    def list(self, name: str) -> list[Any]:
        if name in self.multi:
            return self.multi[name]
        value = self.params.get(name)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]


Handler = Callable[[Any, MlflowRequest], "dict[str, Any] | Response"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    #: True: ``path`` is used as is (``/api/2.0/mlflow-artifacts/...``); else it goes below each prefix.
    absolute: bool = False
    #: True: the handler receives the raw body (artifact uploads) instead of parsing JSON.
    raw_body: bool = False


#: Codes MLflow clients know (mlflow.protos.databricks_pb2.ErrorCode); others are renamed by status.
MLFLOW_CODES = frozenset(
    {
        "INTERNAL_ERROR",
        "TEMPORARILY_UNAVAILABLE",
        "BAD_REQUEST",
        "UNAUTHENTICATED",
        "INVALID_PARAMETER_VALUE",
        "ENDPOINT_NOT_FOUND",
        "MALFORMED_REQUEST",
        "INVALID_STATE",
        "PERMISSION_DENIED",
        "FEATURE_DISABLED",
        "REQUEST_LIMIT_EXCEEDED",
        "RESOURCE_CONFLICT",
        "NOT_IMPLEMENTED",
        "RESOURCE_ALREADY_EXISTS",
        "RESOURCE_DOES_NOT_EXIST",
        "RESOURCE_EXHAUSTED",
        "ABORTED",
    }
)
_CODE_OF_STATUS = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_CONFLICT",
    413: "RESOURCE_EXHAUSTED",
    429: "REQUEST_LIMIT_EXCEEDED",
}


class MlflowErrors:
    """MLflow's error answers: its codes and statuses (codes MLflow clients do not know are renamed)."""

    def error(self, call: Call, exc: GlashausError) -> Response:
        status = _STATUS.get(exc.code) or status_of(exc)
        # A Glashaus-only code (INVALID_NAME, SCHEMA_MISMATCH, ...) would be unknown to an MLflow client.
        code = exc.code if exc.code in MLFLOW_CODES else _CODE_OF_STATUS.get(status, INTERNAL_ERROR)
        headers = {"Retry-After": str(retry_after(exc))} if status == 429 else None
        return JSONResponse(error_body(code, call.message(exc)), status_code=status, headers=headers)

    def internal(self, call: Call) -> Response:
        return JSONResponse(error_body(INTERNAL_ERROR, internal_message(call.id)), status_code=500)


POLICY = Policy(errors=MlflowErrors())


class MlflowFace:
    """MLflow's REST protocol: the routes of ``tracking.py`` and ``registry.py``."""

    def __init__(self, layer: RequestLayer, routes: list[Route], *, default_schema: Name = DEFAULT_SCHEMA) -> None:
        self.layer = layer
        self.handlers = routes
        self.default_schema = default_schema

    def routes(self) -> list[BaseRoute]:
        out: list[BaseRoute] = []
        for route in self.handlers:
            paths = [route.path] if route.absolute else [prefix + route.path for prefix in PREFIXES]
            name = f"mlflow_{route.path.strip('/').replace('/', '_').replace('-', '_')}"
            out += [
                self.layer.route(
                    path, _handler(route, self.default_schema), methods=[route.method], policy=POLICY, name=name
                )
                for path in paths
            ]
        # Last: any other method or path below MLflow's prefixes is MLflow's 404 ENDPOINT_NOT_FOUND (a
        # wrong method on a known path too, which would be a 405): MLflow clients fall back on that code.
        versions = {p.replace("2.0", "3.0") for p in PREFIXES} | set(PREFIXES)
        out += [StarletteRoute(p + "{rest:path}", _no_endpoint, methods=_ANY) for p in sorted(versions)]
        return out

    def close(self) -> None:
        pass


_ANY = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


async def _no_endpoint(request: Request) -> Response:
    message = f"no route {request.method} {request.url.path}; see /api/docs."
    return JSONResponse(error_body("ENDPOINT_NOT_FOUND", message), status_code=404)


def _handler(route: Route, default_schema: Name) -> Callable[[Call], Any]:
    async def handler(call: Call) -> Response:
        body = await call.body() if route.method in ("POST", "PUT", "PATCH", "DELETE") else b""
        req = _request(route, call, body)
        req.default_schema = default_schema
        value = await call.run(lambda: route.handler(call.lakehouse, req))
        return value if isinstance(value, Response) else JSONResponse(value)

    return handler


def _request(route: Route, call: Call, body: bytes) -> MlflowRequest:
    request = call.request
    multi: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        multi.setdefault(key, []).append(value)
    params: dict[str, Any] = {k: v[-1] for k, v in multi.items()}
    if body and not route.raw_body:
        # Not strict: MLflow's own server takes NaN and Infinity in bodies (Python's json does).
        payload = jsonio.read_json(body, strict=False)
        if not isinstance(payload, dict):
            raise InvalidArgumentError("the request body must be a JSON object.")
        params.update(payload)
    return MlflowRequest(
        method=request.method,
        params=params,
        multi=multi,
        body=body if route.raw_body else b"",
        path_params=dict(request.path_params),
        headers={k.lower(): v for k, v in request.headers.items()},
        size=len(body),
    )


def parse_message(req: MlflowRequest, message_class: Any) -> Any:
    """The request as an MLflow protobuf request message (``mlflow.protos.service_pb2.CreateRun``, ...).

    GET parameters come from the query (repeated fields may repeat, booleans are
    ``true``/``false``); other methods from the JSON body. Values of the wrong type
    are MLflow's INVALID_PARAMETER_VALUE (400), naming the field.

    >>> from mlflow.protos import service_pb2
    >>> req = MlflowRequest("GET", {"experiment_id": "1"}, multi={"experiment_id": ["1"]})
    >>> parse_message(req, service_pb2.GetExperiment).experiment_id
    '1'
    >>> parse_message(MlflowRequest("POST", {"run_id": 7}), service_pb2.LogBatch)
    Traceback (most recent call last):
    glashaus.errors.InvalidArgumentError: Invalid value 7 for parameter 'run_id' supplied: it must be a string.
    """
    from google.protobuf import json_format
    from google.protobuf.descriptor import FieldDescriptor

    message = message_class()
    if req.method == "GET":
        values: dict[str, Any] = {}
        for f in message.DESCRIPTOR.fields:
            texts = req.multi.get(f.name)
            if not texts:
                continue
            given = [_boolean(f.name, v) for v in texts] if f.type == FieldDescriptor.TYPE_BOOL else list(texts)
            values[f.name] = given if f.is_repeated else given[-1]
    else:
        values = req.params
    try:
        json_format.ParseDict(values, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise InvalidArgumentError(_invalid_value(message, values, exc)) from None
    return message


def _invalid_value(message: Any, values: dict[str, Any], exc: Exception) -> str:
    """MLflow's words for a value of the wrong type (``Invalid value 31 for parameter 'run_id' supplied``).

    MLflow's server writes the value as JSON and names the request's top-level field; its
    tests compare that text. The parser's own error names the field it failed on first.
    """
    import json

    from google.protobuf.descriptor import FieldDescriptor as F

    found = re.match(r"Failed to parse (\w+) field: (.*)", str(exc), re.DOTALL)
    field = message.DESCRIPTOR.fields_by_name.get(found.group(1)) if found else None
    if found is None or field is None or field.name not in values:
        return f"invalid {message.DESCRIPTOR.name} request: {exc}"
    value = values[field.name]
    if field.is_repeated and isinstance(value, list):
        expected = f"a list of valid entries ({found.group(2).rstrip('.')})"
    elif field.is_repeated:
        expected = "a list"
    else:
        kinds = {F.TYPE_STRING: "a string", F.TYPE_BOOL: "true or false", F.TYPE_MESSAGE: "an object"}
        kinds |= {F.TYPE_DOUBLE: "a number", F.TYPE_FLOAT: "a number", F.TYPE_ENUM: "one of its names"}
        expected = kinds.get(field.type, "an integer")
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return f"Invalid value {shown:.200} for parameter '{field.name}' supplied: it must be {expected}."


def _boolean(name: str, value: str) -> bool:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidArgumentError(f"parameter {name!r} must be true or false, got {value!r}.")

"""The OpenAPI description of the REST API, generated from the operation registry.

Each :class:`~glashaus.server.operations.Operation` gets its parameters, request body and
responses from the Lakehouse method's type hints, as ``wire.py`` puts them on the wire
(integers are 64-bit, so their schema says so). ``/api/openapi.json`` and its page
``/api/docs`` need no token: they describe the API, which is the same for every caller,
and name nothing of the lakehouse behind it.

>>> describe(app)["components"]["securitySchemes"]["bearer"]["scheme"]   # doctest: +SKIP
'bearer'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import typing
from typing import Any

import pyarrow as pa
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from glashaus.catalog.names import Name
from glashaus.server import wire
from glashaus.server.operations import Operation


def describe(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once), with the bearer-token security scheme."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A Glashaus API token."}
        }
        app.openapi_schema = schema
    return app.openapi_schema


def operation_id(op: Operation) -> str:
    return op.method if op.client else f"{op.method}_{op.path.split('/')[2].replace('-', '_')}"


def _schema(hint: Any) -> dict[str, Any]:
    """A JSON schema for a type hint (as ``wire.py`` puts it on the wire)."""
    members = wire._members(hint)
    if members is not None:
        options = [_schema(m) for m in members if m is not type(None)]
        out = options[0] if len(options) == 1 else {"anyOf": options}
        return {**out, "nullable": True} if type(None) in members else out
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return {"type": "string", "enum": list(args)}
    if hint is int:  # 64-bit on the wire, as everywhere below
        return {"type": "integer", "format": "int64", "minimum": wire.INT_MIN, "maximum": wire.INT_MAX}
    simple = {str: "string", float: "number", bool: "boolean", Name: "string"}
    if hint in simple:
        return {"type": simple[hint]}
    if hint is dt.datetime:
        return {"type": "string", "format": "date-time"}
    if hint is dt.timedelta:
        return {"type": "number", "description": "seconds"}
    if hint is pa.Schema:
        return {"type": "string", "format": "byte", "description": "an Arrow IPC schema message, base64"}
    if origin in (list, tuple, set, frozenset):
        return {"type": "array", "items": _schema(args[0]) if args else {}}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1]) if len(args) == 2 else {}}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = wire._field_hints(hint)
        return {"type": "object", "title": hint.__name__,
                "properties": {f.name: _schema(hints.get(f.name, Any)) for f in dataclasses.fields(hint)}}
    return {}


def operation_extra(op: Operation) -> dict[str, Any]:
    params = op.signature.parameters
    urls = op.url_names
    parameters = [
        {"name": urls[name], "in": "path", "required": True, "schema": _schema(op.hints.get(name, Any))}
        for name in op.path_params
    ]
    rest = {n: p for n, p in params.items() if n not in urls and n != op.body}
    required = [n for n, p in rest.items() if p.default is inspect.Parameter.empty]
    extra: dict[str, Any] = {"security": [{"bearer": []}]}
    if op.carrier == "query":
        parameters += [
            {"name": n, "in": "query", "required": n in required, "schema": _schema(op.hints.get(n, Any)),
             "description": "JSON for values that are not strings"}
            for n in rest
        ]
    elif rest:
        extra["requestBody"] = {"required": bool(required), "content": {"application/json": {"schema": {
            "type": "object", "required": required,
            "properties": {n: _schema(op.hints.get(n, Any)) for n in rest},
        }}}}
    if op.body_kind == "arrow":
        extra["requestBody"] = {"required": True, "content": {wire.ARROW_STREAM: {"schema": {"type": "string",
                                                                                         "format": "binary"}}}}
    elif op.body_kind == "bytes":
        extra["requestBody"] = {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}}
    if op.response in ("arrow", "result"):
        ok = {"description": "an Arrow IPC stream, one message per record batch",
              "content": {wire.ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}}}
    elif op.response == "bytes":
        ok = {"description": "the file", "content": {"application/octet-stream": {"schema": {"type": "string"}}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": _schema(op.returns)}}}
    error = {"content": {"application/json": {"schema": {"type": "object", "properties": {
        "error_code": {"type": "string"}, "message": {"type": "string"}}}}}}
    extra["responses"] = {
        "200": ok,
        "400": {"description": "bad input", **error},
        "401": {"description": "missing, invalid, expired or revoked token", **error},
        "403": {"description": "a privilege is missing", **error},
        "404": {"description": "no such securable, principal or file", **error},
        "413": {"description": "request body too large", **error},
        "429": {"description": "too many failed sign-ins from this address or with this token prefix", **error},
    }
    if parameters:
        extra["parameters"] = parameters
    return extra

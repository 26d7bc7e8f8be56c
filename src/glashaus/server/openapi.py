"""The OpenAPI description of the REST API: FastAPI's document, pydantic's schemas.

Each declared :class:`~glashaus.declare.Operation` is described from the same pydantic
types that check its arguments and write its replies (``codec.py``): the query and path
parameters' schemas, the JSON body's (the operation's arguments TypedDict without the path
parameters), the reply's; dataclasses in them are components (``#/components/schemas/...``).
Rows are Arrow IPC streams, files octet streams. ``/api/openapi.json`` and its page
``/api/docs`` need no token: they describe the API, which is the same for every caller,
and name nothing of the lakehouse behind it.

>>> from glashaus.server.app import create_app
>>> describe(create_app(lh))["components"]["securitySchemes"]["bearer"]["scheme"]
'bearer'
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from glashaus.operations import Operation
from glashaus.server import codec, wire

REF = "#/components/schemas/{model}"
#: Schemas the operations refer to (dataclasses on the wire), collected as they are described.
_COMPONENTS: dict[str, Any] = {}


def describe(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once), with the bearer-token security scheme."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(_COMPONENTS)
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A Glashaus API token."}
        }
        app.openapi_schema = schema
    return app.openapi_schema


def operation_id(op: Operation) -> str:
    name = op.qualname.replace(".", "_")
    return name if op.client else f"{name}_{op.path.split('/')[2].replace('-', '_')}"


def _schema(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    # Validation mode for replies too: the client reads replies with the same types, so the shape
    # it accepts is the shape on the wire (serialization mode would see only the dataclasses' wrappers).
    schema = adapter.json_schema(ref_template=REF)
    _COMPONENTS.update(schema.pop("$defs", {}))
    return schema


def operation_extra(op: Operation) -> dict[str, Any]:
    """What FastAPI cannot see of ``op`` (its endpoint takes the raw request): parameters, body, replies."""
    urls = op.url_names
    skip = ((op.body,) if op.body else ()) + op.local
    arguments = _schema(codec.arguments(op.function, skip))
    properties: dict[str, Any] = arguments.get("properties", {})
    required = [n for n in arguments.get("required", []) if n not in urls]
    parameters = [
        {"name": urls[name], "in": "path", "required": True, "schema": properties[name]} for name in op.path_params
    ]
    rest = {n: s for n, s in properties.items() if n not in urls}
    extra: dict[str, Any] = {"security": [{"bearer": []}]}
    if op.carrier == "query":
        parameters += [
            {
                "name": n,
                "in": "query",
                "required": n in required,
                "schema": s,
                "description": "JSON for values that are not strings",
            }
            for n, s in rest.items()
        ]
    elif rest:
        body = {**arguments, "properties": rest, "required": required}
        extra["requestBody"] = {"required": bool(required), "content": {"application/json": {"schema": body}}}
    if op.body_kind == "arrow":
        extra["requestBody"] = {
            "required": True,
            "content": {wire.ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    elif op.body_kind == "bytes":
        extra["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    if op.response in ("arrow", "result"):
        ok = {
            "description": "an Arrow IPC stream, one message per record batch",
            "content": {wire.ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
        }
    elif op.response == "bytes":
        ok = {"description": "the file", "content": {"application/octet-stream": {"schema": {"type": "string"}}}}
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": _schema(codec.adapter(op.returns))}}}
    error = {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
                }
            }
        }
    }
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

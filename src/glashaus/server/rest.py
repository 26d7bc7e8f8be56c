"""The REST API face: one route per declared operation (:mod:`glashaus.operations`), and ``/health``.

Each route runs its facade method (``lh.x`` or ``lh.models.x``, ...) on the lakehouse seen as the caller, behind the
request layer (``glashaus.http.layer``: request id, body limit, bearer token, errors as
``{"error_code", "message"}``). Arguments come from the path, the query (GET, DELETE:
a value that is not meant as text is read as JSON) or a JSON body, and are checked and
converted by the operation's pydantic arguments (``codec.py``) after sign-in, so an
anonymous caller learns nothing about them. Replies are JSON (``codec.dump``) or, for
rows, an Arrow IPC stream sent batch by batch, column buffers uncopied (:class:`RowStream`);
a query (``/api/sql``) is interrupted when its client disconnects.

>>> from glashaus.http.layer import RequestLayer
>>> routes = RestFace(RequestLayer(lh)).routes()   # create_app mounts them
>>> sorted({r.path for r in routes if r.path.startswith("/api/tables/{name}")})[:3]
['/api/tables/{name}', '/api/tables/{name}/changes', '/api/tables/{name}/column-lineage']
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute
from typing_extensions import TypedDict

import glashaus
from glashaus.errors import InvalidArgumentError
from glashaus.http import jsonio
from glashaus.http.call import Call, Policy
from glashaus.http.formats import JSON_ERRORS
from glashaus.http.layer import RequestLayer
from glashaus.operations import ROUTES, Operation
from glashaus.server import codec, openapi, wire
from glashaus.sql.limits import Cancellation

log = logging.getLogger("glashaus.server")

API = Policy(errors=JSON_ERRORS)
#: Queries stop when their client goes away, while they compute and while their rows stream.
QUERIES = Policy(errors=JSON_ERRORS, cancel_on_disconnect=True)
OPEN = Policy(errors=JSON_ERRORS, credentials=None)


class Health(TypedDict):
    """What ``/health`` answers."""

    status: str
    version: str
    #: The largest request body the server accepts (the client checks uploads against it).
    max_body_bytes: int


class RestFace:
    """The Lakehouse's operations under ``/api/``, and ``/health`` (which needs no token)."""

    def __init__(self, layer: RequestLayer) -> None:
        self.layer = layer

    def routes(self) -> list[BaseRoute]:
        layer = self.layer
        routes: list[BaseRoute] = [
            layer.api_route(
                "/health",
                self.health,
                methods=["GET"],
                policy=OPEN,
                tags=["server"],
                summary="Liveness; needs no token.",
                operation_id="health",
                openapi_extra={
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": TypeAdapter(Health).json_schema()}},
                        }
                    }
                },
            )
        ]
        for op in ROUTES:
            routes.append(
                layer.api_route(
                    op.path,
                    _handler(op),
                    methods=[op.http],
                    policy=QUERIES if op.response == "result" else API,
                    name=op.method,
                    summary=op.summary,
                    description=op.description,
                    tags=[op.tag],
                    openapi_extra=openapi.operation_extra(op),
                    operation_id=openapi.operation_id(op),
                )
            )
        return routes

    def close(self) -> None:
        pass

    async def health(self, call: Call) -> Response:
        return JSONResponse(
            {"status": "ok", "version": glashaus.__version__, "max_body_bytes": self.layer.max_body_bytes}
        )


def _handler(op: Operation) -> Callable[[Call], Any]:
    async def handler(call: Call) -> Response:
        body = await call.body() if op.body or op.carrier == "json" else b""
        request = call.request

        def work() -> Any:
            arguments = _arguments(op, request, body)
            target = getattr(call.lakehouse, op.facade) if op.facade else call.lakehouse
            return getattr(target, op.stream or op.name)(**arguments)

        value = await call.run(work)
        return _respond(op, value, call.cancellation, hidden=call.layer.hidden)

    handler.__name__ = op.qualname.replace(".", "_")
    return handler


# -- arguments and replies --------------------------------------------------------------------


def _text(op: Operation, name: str, value: str) -> Any:
    """A path or query value: text where the parameter takes text, else read as JSON (if it is)."""
    if codec.accepts_str(op.hints.get(name, Any)):
        return value
    try:
        return jsonio.loads(value)
    except ValueError:
        return value  # the parameter's type check says what was expected


def _arguments(op: Operation, request: Request, body: bytes) -> dict[str, Any]:
    """The method's arguments from the path, the query or JSON body, and the raw body."""
    given: dict[str, Any] = {}
    for url_name, value in request.path_params.items():
        name = op.rename.get(url_name, url_name)
        given[name] = _text(op, name, value)
    pairs: list[tuple[str, Any]] = []
    if op.carrier == "query":
        pairs = [(k, _text(op, k, v)) for k, v in request.query_params.multi_items()]
    elif body:
        payload = jsonio.read_json(body)
        if not isinstance(payload, dict):
            raise InvalidArgumentError("the request body must be a JSON object of the operation's parameters.")
        pairs = list(payload.items())
    for name, value in pairs:
        if name in given:
            allowed = [p for p in op.wire_signature.parameters if p not in given and p != op.body]
            raise InvalidArgumentError(f"{name!r} is given twice of {op.method} here; it takes {allowed}.")
        given[name] = value
    arguments = codec.check(op.function, given, skip=((op.body,) if op.body else ()) + op.local)
    if op.body is not None:
        if op.body_kind == "bytes":
            arguments[op.body] = body
        else:
            try:
                arguments[op.body] = wire.read_ipc(body)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a broken stream
                raise InvalidArgumentError(f"the request body is not an Arrow IPC stream: {exc}") from None
    return arguments


def _respond(
    op: Operation, value: Any, cancellation: Cancellation | None = None, *, hidden: tuple[str, ...] = ()
) -> Response:
    """The answer for ``value``; a stream that fails half-way names no path in ``hidden`` (the root)."""
    if isinstance(value, pa.RecordBatchReader):  # a streamed table read: batches go out as they are read
        return RowStream(wire.ipc_stream(value.schema, value, hidden=hidden), media_type=wire.ARROW_STREAM)
    if op.response == "arrow":
        return RowStream(wire.ipc_chunks(value, hidden=hidden), media_type=wire.ARROW_STREAM)
    if op.response == "result":
        # A query's batches go out as DuckDB produces them: never the whole result in memory.
        return RowStream(
            wire.ipc_stream(value.schema, value.batches(), hidden=hidden),
            media_type=wire.ARROW_STREAM,
            headers={"X-Glashaus-Statement": value.statement},
            cancellation=cancellation,
            close=value.close,
        )
    if op.response == "bytes":
        return Response(value, media_type="application/octet-stream")
    return JSONResponse(codec.dump(value, op.returns))


class RowStream(StreamingResponse):
    """Streamed rows; a stream that fails half-way ends with its error and a cut-off body.

    The body iterator yields the pieces of one record batch at a time (``wire.ipc_stream``,
    produced in a worker thread); each piece goes out as it is, column buffers uncopied.
    With a ``cancellation`` (a query's rows), a client that disconnects interrupts the query
    at once, even in the middle of computing a batch, and the query's cursor is closed.
    """

    def __init__(
        self,
        content: Any,
        *,
        cancellation: Cancellation | None = None,
        close: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(content, **kwargs)
        self.cancellation = cancellation
        self.close_rows = close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        cancellation = self.cancellation

        async def watching() -> Any:  # starlette listens for the disconnect while it streams
            message = await receive()
            if message["type"] == "http.disconnect" and cancellation is not None:
                cancellation.cancel()
            return message

        try:
            await super().__call__(scope, watching, send)
        finally:
            if self.close_rows is not None:
                self.close_rows()

    async def stream_response(self, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async for pieces in self.body_iterator:
                for piece in pieces:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except wire.StreamAborted as exc:
            # The status line went out long ago: returning without the final chunk makes the
            # server close the connection, so the body is visibly incomplete.
            log.warning("a result stream failed half-way and was cut short: %s", exc)

"""``glashaus serve``: the Lakehouse over HTTP (FastAPI), one route per registry entry.

One :class:`~glashaus.lakehouse.Lakehouse` per process. Each request is
authenticated with its bearer token (``directory.verify_token``), then runs the
registry's Lakehouse method on ``lh.as_user(principal)``, a view that shares every
service: grants, row filters, column masks and the audit log are those of the
embedded API, enforced here because the data passes through the server. Audit events
of a request carry its client address and one request id (``X-Request-Id``).

Limits: request bodies over ``max_body_bytes`` get 413; an address that sent
``max_auth_failures`` bad tokens within ``auth_window`` seconds gets 429 until the
window has passed; every failed sign-in is audited (``auth.failed``, ``deny``).

>>> app = create_app(glashaus.connect("./lakehouse"))             # doctest: +SKIP
>>> with ServerThread(app) as server: print(server.url)            # doctest: +SKIP
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import inspect
import logging
import socket
import threading
import time
import typing
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import glashaus
from glashaus.access import Principal
from glashaus.access import request as audit_request
from glashaus.access.audit import client_address
from glashaus.catalog.names import Name
from glashaus.errors import (
    AuthenticationError,
    GlashausError,
    InvalidArgumentError,
    RateLimitedError,
    RequestTooLargeError,
)
from glashaus.lakehouse import Lakehouse
from glashaus.server import mlflow as mlflow_protocol
from glashaus.server import serving as serving_routes
from glashaus.server import wire
from glashaus.server.operations import OPERATIONS, Operation
from glashaus.web import pages as web

log = logging.getLogger("glashaus.server")

DEFAULT_MAX_BODY = 256 * 1024 * 1024
ANONYMOUS = "anonymous"


# -- sign-in limits ----------------------------------------------------------------------


class SignInGate:
    """Counts failed sign-ins per client address; refuses an address with too many recent ones."""

    def __init__(self, max_failures: int = 10, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """Raise :class:`RateLimitedError` if ``address`` is locked out."""
        with self._lock:
            recent = self._recent(address)
            if recent is not None and len(recent) >= self.max_failures:
                wait = max(1, int(recent[0] + self.window - self.clock()) + 1)
                exc = RateLimitedError(
                    f"too many failed sign-ins from {address}: try again in {wait} s with a valid token."
                )
                exc.retry_after = wait  # type: ignore[attr-defined]
                raise exc

    def fail(self, address: str) -> None:
        with self._lock:
            self._recent(address)
            self._failures.setdefault(address, collections.deque()).append(self.clock())
            if len(self._failures) > 10_000:  # forget addresses whose failures are all old
                for key in [k for k, v in self._failures.items() if v[-1] < self.clock() - self.window]:
                    del self._failures[key]

    def _recent(self, address: str) -> collections.deque[float] | None:
        recent = self._failures.get(address)
        if recent is None:
            return None
        cutoff = self.clock() - self.window
        while recent and recent[0] < cutoff:
            recent.popleft()
        if not recent:
            del self._failures[address]
            return None
        return recent


# -- the app --------------------------------------------------------------------------------


def create_app(
    lakehouse: Lakehouse,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    max_auth_failures: int = 10,
    auth_window: float = 60.0,
    serving_options: dict[str, Any] | None = None,
) -> FastAPI:
    """The FastAPI app serving ``lakehouse`` (opened once; each request sees it as its caller).

    ``serving_options`` go to the serving runtime (``glashaus.serving.runtime.ServingRuntime``:
    ``max_payload_bytes``, ``buffer_bytes``, ``flush_rows``, ``flush_interval``). Call
    :func:`shutdown` when the server stops, so accepted inference rows are written (the app's
    lifespan does it under uvicorn, before uvicorn re-raises a SIGTERM).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        await run_in_threadpool(shutdown, app)

    app = FastAPI(
        lifespan=lifespan,
        title="Glashaus",
        version=glashaus.__version__,
        description=(
            "The Glashaus lakehouse over HTTP. Every route but `/health` needs "
            "`Authorization: Bearer <token>` (`glashaus tokens create`). Rows travel as Arrow IPC "
            "streams; errors are `{\"error_code\", \"message\"}`."
        ),
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    server = _Server(lakehouse, max_body_bytes, SignInGate(max_auth_failures, auth_window))
    app.state.glashaus = server

    @app.get("/health", tags=["server"], summary="Liveness; needs no token.", operation_id="health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": glashaus.__version__, "max_body_bytes": max_body_bytes}

    for op in OPERATIONS:
        app.add_api_route(
            op.path, server.endpoint(op), methods=[op.http], name=f"{op.method} {op.path}",
            summary=op.summary, description=op.description, tags=[op.tag], response_model=None,
            openapi_extra=_openapi(op), operation_id=_operation_id(op),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "ENDPOINT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        message = f"no route {request.method} {request.url.path}; see /api/docs." if exc.status_code in (404, 405) \
            else str(exc.detail)
        return JSONResponse(wire.error_body(code, message), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(wire.error_body(InvalidArgumentError.code, str(exc.errors())), status_code=400)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A Glashaus API token."}
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    mlflow_protocol.mount(app, server)
    web.mount(app, server)
    app.state.serving = serving_routes.mount(app, server, **(serving_options or {}))
    return app


def shutdown(app: FastAPI) -> None:
    """Finish what a stopping server owes: shadow requests and buffered inference rows."""
    runtime = getattr(app.state, "serving", None)
    if runtime is not None:
        runtime.close()


class _Server:
    """What the routes share: the one Lakehouse, the limits, the sign-in gate."""

    def __init__(self, lakehouse: Lakehouse, max_body_bytes: int, gate: SignInGate) -> None:
        self.lakehouse = lakehouse
        self.max_body_bytes = max_body_bytes
        self.gate = gate

    def endpoint(self, op: Operation) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            request_id = uuid.uuid4().hex
            address = request.client.host if request.client else "unknown"
            try:
                self._check_length(request)
                principal = await run_in_threadpool(self._authenticate, request, address, request_id)
                body = await self._body(request) if op.body or op.carrier == "json" else b""

                def work() -> Any:
                    with client_address(address), audit_request(request_id):
                        arguments = _arguments(op, request, body)
                        view = self.lakehouse.as_user(principal.name)
                        return getattr(view, op.stream or op.method)(**arguments)

                value = await run_in_threadpool(work)
                response = _respond(op, value)
            except GlashausError as exc:
                response = _error(exc)
            except BaseException as exc:  # a bug (a Rust panic is a BaseException): log it, never send a trace
                if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                    raise
                log.exception("request %s %s %s failed", request_id, request.method, request.url.path)
                response = JSONResponse(
                    wire.error_body("INTERNAL_ERROR", f"internal error in request {request_id}; the server log "
                                    "has the details."),
                    status_code=500,
                )
            response.headers["X-Request-Id"] = request_id
            return response

        endpoint.__name__ = op.method
        return endpoint

    def _check_length(self, request: Request) -> None:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            raise self._too_large(int(length))

    def _too_large(self, size: int | None) -> RequestTooLargeError:
        got = f"{size} bytes" if size is not None else "more"
        return RequestTooLargeError(
            f"request body too large ({got}; this server accepts at most {self.max_body_bytes} bytes): "
            "send the data in smaller writes, or start the server with a larger --max-body-mib."
        )

    async def _body(self, request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large(None)
            chunks.append(chunk)
        return b"".join(chunks)

    def _authenticate(self, request: Request, address: str, request_id: str, *,
                      token: str | None = None, cached_only: bool = False) -> Principal | None:
        """The caller, from the bearer token or from ``token`` (the web shell's cookie or sign-in form).

        ``cached_only``: no I/O (for the event loop): the caller if the token was verified in the
        last few seconds (``Directory.cached_principal``), else None: call again in a thread.
        """
        self.gate.check(address)
        header = request.headers.get("authorization", "")
        scheme, _, bearer = header.partition(" ")
        if cached_only:
            if token is None and scheme.lower() != "bearer":
                return None
            return self.lakehouse.directory.cached_principal((token if token is not None else bearer).strip())
        try:
            if token is None:
                if not header:
                    raise AuthenticationError(
                        "missing token: send 'Authorization: Bearer <token>' (create one with lh.create_token() "
                        "or `glashaus tokens create`)."
                    )
                if scheme.lower() != "bearer" or not bearer.strip():
                    raise AuthenticationError("the Authorization header must be 'Bearer <token>'.")
                token = bearer
            return self.lakehouse.directory.verify_token(token.strip())
        except AuthenticationError as exc:
            self.gate.fail(address)
            with client_address(address), audit_request(request_id):
                self.lakehouse.audit.record(
                    principal=ANONYMOUS, action="auth.failed", decision="deny", reason=str(exc),
                    details={"method": request.method, "path": request.url.path},
                )
            raise


# -- arguments and responses -------------------------------------------------------------------


def _accepts_str(hint: Any) -> bool:
    members = wire._members(hint) or (hint,)
    for member in members:
        if member is str:
            return True
        if typing.get_origin(member) is typing.Literal:
            return all(isinstance(a, str) for a in typing.get_args(member))
    return False


def _convert(op: Operation, name: str, value: Any, *, text: bool) -> Any:
    hint = op.hints.get(name, Any)
    if text and not _accepts_str(hint):
        try:
            value = wire.loads(value)
        except ValueError:
            pass  # let the type check below say what was expected
    try:
        return wire.from_wire(value, hint)
    except wire.WireError as exc:
        raise InvalidArgumentError(f"parameter {name!r} of {op.method}: {exc}.") from None


def _arguments(op: Operation, request: Request, body: bytes) -> dict[str, Any]:
    """The method's arguments from the path, the query or JSON body, and the raw body."""
    params = op.signature.parameters
    arguments: dict[str, Any] = {}
    for url_name, value in request.path_params.items():
        name = op.rename.get(url_name, url_name)
        arguments[name] = _convert(op, name, value, text=True)
    given: list[tuple[str, Any, bool]] = []
    if op.carrier == "query":
        given = [(k, v, True) for k, v in request.query_params.multi_items()]
    elif body:
        try:
            payload = wire.loads(body)
        except ValueError as exc:
            raise InvalidArgumentError(f"the request body is not valid JSON: {exc}.") from None
        if not isinstance(payload, dict):
            raise InvalidArgumentError("the request body must be a JSON object of the operation's parameters.")
        given = [(k, v, False) for k, v in payload.items()]
    for name, value, text in given:
        if name not in params or name in arguments or name == op.body:
            allowed = [p for p in params if p not in arguments and p != op.body]
            what = "given twice" if name in arguments else "not a parameter"
            raise InvalidArgumentError(f"{name!r} is {what} of {op.method} here; it takes {allowed}.")
        arguments[name] = _convert(op, name, value, text=text)
    if op.body is not None:
        if op.body_kind == "bytes":
            arguments[op.body] = body
        else:
            try:
                arguments[op.body] = wire.read_ipc(body)
            except Exception as exc:  # noqa: BLE001 - pyarrow says why the stream is bad
                raise InvalidArgumentError(f"the request body is not an Arrow IPC stream: {exc}") from None
    for name, param in params.items():
        if name not in arguments and param.default is inspect.Parameter.empty:
            hint = op.hints.get(name, Any)
            if type(None) in (wire._members(hint) or ()):
                arguments[name] = None
            else:
                raise InvalidArgumentError(f"{op.method} needs the parameter {name!r}.")
    return arguments


class _RowStream(StreamingResponse):
    """Streamed rows; a stream that fails half-way ends with its error and a cut-off body.

    The body iterator yields the pieces of one record batch at a time (``wire.ipc_stream``,
    produced in a worker thread); each piece goes out as it is, column buffers uncopied.
    """

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


def _respond(op: Operation, value: Any) -> Response:
    if isinstance(value, pa.RecordBatchReader):  # a streamed table read: batches go out as they are read
        return _RowStream(wire.ipc_stream(value.schema, value), media_type=wire.ARROW_STREAM)
    if op.response == "arrow":
        return _RowStream(wire.ipc_chunks(value), media_type=wire.ARROW_STREAM)
    if op.response == "result":
        # A query's batches go out as DuckDB produces them: never the whole result in memory.
        return _RowStream(
            wire.ipc_stream(value.schema, value.batches()), media_type=wire.ARROW_STREAM,
            headers={"X-Glashaus-Statement": value.statement},
        )
    if op.response == "bytes":
        return Response(value, media_type="application/octet-stream")
    return JSONResponse(wire.to_wire(value, op.returns))


def _error(exc: GlashausError) -> JSONResponse:
    status = wire.status_of(exc)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429:
        headers["Retry-After"] = str(getattr(exc, "retry_after", 60))
    return JSONResponse(wire.error_body(exc.code, str(exc)), status_code=status, headers=headers)


# -- OpenAPI ------------------------------------------------------------------------------------


def _operation_id(op: Operation) -> str:
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


def _openapi(op: Operation) -> dict[str, Any]:
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
        "429": {"description": "too many failed sign-ins from this address", **error},
    }
    if parameters:
        extra["parameters"] = parameters
    return extra


# -- running ------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerThread:
    """Run an app under uvicorn in a background thread (tests, notebooks); stops on exit.

    >>> with ServerThread(create_app(lh)) as server:               # doctest: +SKIP
    ...     remote = glashaus.connect(server.url, token=token)
    """

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int | None = None,
                 log_level: str = "warning") -> None:
        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_level=log_level,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="glashaus-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        shutdown(self.server.config.app)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(lakehouse: Lakehouse, *, host: str = "127.0.0.1", port: int = 8080,
          max_body_bytes: int = DEFAULT_MAX_BODY, log_level: str = "info") -> None:
    """Serve ``lakehouse`` until interrupted (what ``glashaus serve`` runs)."""
    app = create_app(lakehouse, max_body_bytes=max_body_bytes)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        shutdown(app)

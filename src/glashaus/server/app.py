"""``glashaus serve``: the Lakehouse over HTTP (FastAPI), one route per registry entry.

One :class:`~glashaus.lakehouse.Lakehouse` per process. Each request is
authenticated with its bearer token (``directory.verify_token``), then runs the
registry's Lakehouse method on ``lh.as_user(principal)``, a view that shares every
service: grants, row filters, column masks and the audit log are those of the
embedded API, enforced here because the data passes through the server. Audit events
of a request carry its client address and one request id (``X-Request-Id``).

Limits: request bodies over ``max_body_bytes`` get 413; JSON nested deeper than
``wire.MAX_JSON_DEPTH`` gets 400; an address or token prefix that keeps failing to sign
in is slowed down (``signin.py``: 429, exponential backoff; a correct token is always
accepted); every failed sign-in is audited (``auth.failed``, ``deny``). The client
address is the TCP peer, or what a proxy listed in ``trusted_proxies`` forwards
(``X-Forwarded-For``); no proxy is trusted unless configured. Error messages never name
the lakehouse root (``<lakehouse>`` stands for it). A SQL query (``/api/sql``) is
interrupted when its client disconnects, while it computes and while its rows stream;
its time, memory and spill limits are the lakehouse's (``glashaus serve
--query-timeout-s ...``, ``glashaus.sql.limits``).

>>> app = create_app(glashaus.connect("./lakehouse"))             # doctest: +SKIP
>>> with ServerThread(app) as server: print(server.url)            # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import socket
import threading
import time
import typing
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import pyarrow as pa
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import glashaus
from glashaus.access import Principal
from glashaus.access import request as audit_request
from glashaus.access.audit import client_address
from glashaus.access.directory import ANONYMOUS
from glashaus.errors import (
    AuthenticationError,
    GlashausError,
    InvalidArgumentError,
    RateLimitedError,
    RequestTooLargeError,
)
from glashaus.lakehouse import Lakehouse
from glashaus.server import mlflow as mlflow_protocol
from glashaus.server import openapi
from glashaus.server import serving as serving_routes
from glashaus.server import wire
from glashaus.server.operations import OPERATIONS, Operation
from glashaus.server.signin import SignInGate
from glashaus.sql.limits import Cancellation
from glashaus.web import pages as web

log = logging.getLogger("glashaus.server")

DEFAULT_MAX_BODY = 256 * 1024 * 1024


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
            "The Glashaus lakehouse over HTTP. Every route needs `Authorization: Bearer <token>` "
            "(`glashaus tokens create`) but `/health` and this description (`/api/openapi.json`, "
            "`/api/docs`), which is the same for every caller. Rows travel as Arrow IPC "
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
            openapi_extra=openapi.operation_extra(op), operation_id=openapi.operation_id(op),
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

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        # The last net under every face: a bug that escaped a route's own handling is still JSON,
        # never Starlette's plain-text page (uvicorn logs the trace).
        return JSONResponse(wire.error_body("INTERNAL_ERROR", "internal error; the server log has the details."),
                            status_code=500)

    app.openapi = lambda: openapi.describe(app)  # type: ignore[method-assign]
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
    """What the routes share: the one Lakehouse, the limits, the sign-in gate, error messages."""

    def __init__(self, lakehouse: Lakehouse, max_body_bytes: int, gate: SignInGate) -> None:
        self.lakehouse = lakehouse
        self.max_body_bytes = max_body_bytes
        self.gate = gate
        root = lakehouse.root
        # Longest first: 'file:///srv/lh' before '/srv/lh'.
        self.hidden = tuple(sorted({root, f"file://{root}"} if "://" not in root else {root}, key=len,
                                   reverse=True))

    def public_message(self, exc: GlashausError) -> str:
        """``exc``'s message as callers see it: the lakehouse root, wherever a message names a stored
        file (or a library's error quoted in it does), is ``<lakehouse>``. Storage locations are for
        admins and owners (``docs/access.md``); an error must not hand them to anyone else."""
        return wire.hide_paths(str(exc), self.hidden)

    def error(self, exc: GlashausError) -> JSONResponse:
        """The JSON error answer of every face but MLflow's (which renames codes)."""
        status = wire.status_of(exc)
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if status == 429:
            headers["Retry-After"] = str(getattr(exc, "retry_after", 60))
        return JSONResponse(wire.error_body(exc.code, self.public_message(exc)), status_code=status,
                            headers=headers)

    def endpoint(self, op: Operation) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            request_id = uuid.uuid4().hex
            address = request.client.host if request.client else "unknown"
            try:
                self._check_length(request)
                principal = await run_in_threadpool(self._authenticate, request, address, request_id)
                body = await self._body(request) if op.body or op.carrier == "json" else b""
                # A query stops when its client goes away, while it runs and while its rows stream.
                cancellation = Cancellation() if op.response == "result" else None

                def work() -> Any:
                    with client_address(address), audit_request(request_id), \
                            (cancellation.active() if cancellation else contextlib.nullcontext()):
                        arguments = _arguments(op, request, body)
                        view = self.lakehouse.as_user(principal)
                        return getattr(view, op.stream or op.method)(**arguments)

                if cancellation is None:
                    value = await run_in_threadpool(work)
                else:
                    value = await _while_connected(request, cancellation, work)
                response = _respond(op, value, cancellation, hidden=self.hidden)
            except GlashausError as exc:
                response = self.error(exc)
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

        A token that verifies is always accepted. One that does not is audited (``auth.failed``) and
        counted by the sign-in gate, which answers 429 instead of 401 once the address or the
        token's prefix keeps failing (``signin.py``).

        ``cached_only``: no I/O (for the event loop): the caller if the token was verified in the
        last few seconds (``Directory.cached_principal``), else None: call again in a thread.
        """
        header = request.headers.get("authorization", "")
        scheme, _, bearer = header.partition(" ")
        if cached_only:
            if token is None and scheme.lower() != "bearer":
                return None
            return self.lakehouse.directory.cached_principal((token if token is not None else bearer).strip())
        if token is None and scheme.lower() == "bearer":
            token = bearer
        token = token.strip() if token is not None else None
        try:
            if not header and token is None:
                raise AuthenticationError(
                    "missing token: send 'Authorization: Bearer <token>' (create one with lh.create_token() "
                    "or `glashaus tokens create`)."
                )
            if not token:
                raise AuthenticationError("the Authorization header must be 'Bearer <token>'.")
            return self.lakehouse.directory.verify_token(token)
        except AuthenticationError as exc:
            backoff = self.gate.failed(address, token)
            details: dict[str, Any] = {"method": request.method, "path": request.url.path}
            if backoff is not None:
                details["backoff_seconds"] = backoff.seconds
            with client_address(address), audit_request(request_id):
                self.lakehouse.audit.record(principal=ANONYMOUS, action="auth.failed", decision="deny",
                                            reason=str(exc), details=details)
            if backoff is None:
                raise
            limited = RateLimitedError(
                f"{exc} Too many failed sign-ins {backoff.reason}: wait {backoff.seconds} s before trying again "
                "(a valid token is always accepted)."
            )
            limited.retry_after = backoff.seconds  # type: ignore[attr-defined]
            raise limited from None


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
        payload = wire.read_json(body)
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


async def _while_connected(request: Request, cancellation: Cancellation, work: Callable[[], Any]) -> Any:
    """``work()`` in a worker thread; if the client disconnects meanwhile, its queries are interrupted."""
    failure: BaseException | None = None
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass
            cancellation.cancel()

        group.start_soon(watch)
        try:
            value = await run_in_threadpool(work)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as exc:  # raised below, outside the group: never wrapped in an ExceptionGroup
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return value


class _RowStream(StreamingResponse):
    """Streamed rows; a stream that fails half-way ends with its error and a cut-off body.

    The body iterator yields the pieces of one record batch at a time (``wire.ipc_stream``,
    produced in a worker thread); each piece goes out as it is, column buffers uncopied.
    With a ``cancellation`` (a query's rows), a client that disconnects interrupts the query
    at once, even in the middle of computing a batch, and the query's cursor is closed.
    """

    def __init__(self, content: Any, *, cancellation: Cancellation | None = None,
                 close: Callable[[], None] | None = None, **kwargs: Any) -> None:
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


def _respond(op: Operation, value: Any, cancellation: Cancellation | None = None, *,
             hidden: tuple[str, ...] = ()) -> Response:
    """The answer for ``value``; a stream that fails half-way names no path in ``hidden`` (the root)."""
    if isinstance(value, pa.RecordBatchReader):  # a streamed table read: batches go out as they are read
        return _RowStream(wire.ipc_stream(value.schema, value, hidden=hidden), media_type=wire.ARROW_STREAM)
    if op.response == "arrow":
        return _RowStream(wire.ipc_chunks(value, hidden=hidden), media_type=wire.ARROW_STREAM)
    if op.response == "result":
        # A query's batches go out as DuckDB produces them: never the whole result in memory.
        return _RowStream(
            wire.ipc_stream(value.schema, value.batches(), hidden=hidden), media_type=wire.ARROW_STREAM,
            headers={"X-Glashaus-Statement": value.statement}, cancellation=cancellation, close=value.close,
        )
    if op.response == "bytes":
        return Response(value, media_type="application/octet-stream")
    return JSONResponse(wire.to_wire(value, op.returns))


# -- running ------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def proxy_settings(trusted_proxies: Sequence[str] = ()) -> dict[str, Any]:
    """uvicorn's settings for forwarded headers: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are
    believed only from ``trusted_proxies`` (addresses or networks, e.g. ``10.0.0.5``, ``10.0.0.0/24``);
    with none (the default) the client is the TCP peer, whatever headers it sends.

    uvicorn's own default believes them from 127.0.0.1, so any local process could claim any
    client address: in the audit log, and towards the sign-in limit.

    >>> proxy_settings()
    {'proxy_headers': False, 'forwarded_allow_ips': []}
    """
    trusted = [str(p).strip() for p in trusted_proxies if str(p).strip()]
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}


class ServerThread:
    """Run an app under uvicorn in a background thread (tests, notebooks); stops on exit.

    >>> with ServerThread(create_app(lh)) as server:               # doctest: +SKIP
    ...     remote = glashaus.connect(server.url, token=token)
    """

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int | None = None,
                 log_level: str = "warning", trusted_proxies: Sequence[str] = ()) -> None:
        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(uvicorn.Config(app, host=self.host, port=self.port, log_level=log_level,
                                                    lifespan="on", **proxy_settings(trusted_proxies)))
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
          max_body_bytes: int = DEFAULT_MAX_BODY, log_level: str = "info",
          trusted_proxies: Sequence[str] = ()) -> None:
    """Serve ``lakehouse`` until interrupted (what ``glashaus serve`` runs)."""
    app = create_app(lakehouse, max_body_bytes=max_body_bytes)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, **proxy_settings(trusted_proxies))
    finally:
        shutdown(app)

"""``glashaus serve``: the app that assembles the faces (REST, MLflow, serving, web) behind one request layer.

One :class:`~glashaus.lakehouse.Lakehouse` per process. Every face mounts through the same
small interface (``glashaus.http.layer.Face``: ``routes()``, ``close()``), and every route
goes through the same :class:`~glashaus.http.layer.RequestLayer`: a server-generated request
id (``X-Request-Id``; a client's own is kept as a correlation id), the client address (the
TCP peer, or what a proxy listed in ``trusted_proxies`` forwards), the body limit
(``max_body_bytes``: 413), JSON nested at most ``jsonio.MAX_JSON_DEPTH`` deep, sign-in
(bearer token, or the web shell's session cookie, through one sign-in gate: 429 and
exponential backoff for whoever keeps failing, a correct token always accepted, every
failure audited as ``auth.failed``), then the face's handler on ``lh.as_user(principal)``,
and errors in the face's shape with the lakehouse root hidden. SQL (``/api/sql``, the web
pages) is interrupted when its client disconnects; its time, memory and spill limits are
the lakehouse's (``glashaus serve --query-timeout-s ...``, ``glashaus.sql.limits``).

>>> app = create_app(lh)
>>> with ServerThread(app) as server: print(server.url)
http://127.0.0.1:...
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import glashaus
from glashaus.http.layer import DEFAULT_MAX_BODY, Face, RequestLayer, install
from glashaus.http.signin import SignInGate
from glashaus.lakehouse import Lakehouse
from glashaus.registry import mlflow_names
from glashaus.server import mlflow as mlflow_protocol
from glashaus.server import openapi
from glashaus.server.rest import RestFace
from glashaus.server.running import ServerThread, free_port, proxy_settings, shutdown
from glashaus.server.serving import ServingFace
from glashaus.web.pages import WebFace

__all__ = ["DEFAULT_MAX_BODY", "ServerThread", "create_app", "free_port", "proxy_settings", "serve", "shutdown"]


def create_app(
    lakehouse: Lakehouse,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    max_auth_failures: int = 10,
    auth_window: float = 60.0,
    serving_options: dict[str, Any] | None = None,
    default_schema: str | None = None,
) -> FastAPI:
    """The FastAPI app serving ``lakehouse`` (opened once; each request sees it as its caller).

    ``serving_options`` go to the serving runtime (``glashaus.serving.runtime.ServingRuntime``:
    ``max_payload_bytes``, ``buffer_bytes``, ``flush_rows``, ``flush_interval``). Call
    :func:`shutdown` when the server stops, so accepted inference rows are written (the app's
    lifespan does it under uvicorn, before uvicorn re-raises a SIGTERM). ``default_schema``
    (``"catalog.schema"``, default ``main.default``): where MLflow's plain registered-model
    names live (``glashaus.registry.mlflow_names``).
    """
    schema = mlflow_names.default_schema(default_schema) if default_schema is not None else None

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
            'streams; errors are `{"error_code", "message"}`.'
        ),
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    layer = RequestLayer(lakehouse, max_body_bytes=max_body_bytes, gate=SignInGate(max_auth_failures, auth_window))
    serving = ServingFace(layer, **(serving_options or {}))
    # Serving first: Starlette tries routes in order, and scoring is the hot path.
    faces: list[Face] = [serving, RestFace(layer), mlflow_protocol.face(layer, default_schema=schema), WebFace(layer)]
    for face in faces:
        app.router.routes.extend(face.routes())
    install(app)
    app.openapi = lambda: openapi.describe(app)  # type: ignore[method-assign]  # FastAPI's documented override
    app.state.layer = layer
    app.state.faces = faces
    app.state.serving = serving.runtime
    return app


def serve(
    lakehouse: Lakehouse,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    log_level: str = "info",
    trusted_proxies: Sequence[str] = (),
    default_schema: str | None = None,
) -> None:
    """Serve ``lakehouse`` until interrupted (what ``glashaus serve`` runs)."""
    app = create_app(lakehouse, max_body_bytes=max_body_bytes, default_schema=default_schema)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, **proxy_settings(trusted_proxies))
    finally:
        shutdown(app)

"""``glashaus serve``: serve a lakehouse over HTTP (server mode).

Needs the server extra (``pip install 'glashaus[server]'``). The lakehouse is opened
once, as ``--user`` (who must be known; on a new lakehouse they become its admin);
each request then acts as the principal of its bearer token. Clients connect with
``glashaus.connect("http://HOST:PORT", token=...)``; the API and its OpenAPI page are
under ``/api/`` (``/api/docs``), ``/health`` needs no token.

Tokens travel in clear text over plain HTTP: listen on 127.0.0.1 (the default), or
put a TLS-terminating proxy in front before listening on other addresses, and name it
with ``--trusted-proxy`` (or ``GLASHAUS_TRUSTED_PROXIES``, space-separated): only from
such proxies are ``X-Forwarded-For``/``X-Forwarded-Proto`` believed. With none, the
client address (in the audit log, for the sign-in limit) is the connection's peer.

Every token holder can run SQL, so each query is limited: 300 s (counted until its last
row is sent), 2048 MiB of memory and 8192 MiB of spill space by default
(``--query-timeout-s``, ``--query-memory-mib``, ``--query-spill-mib``; 0 turns one off).
A query past a limit fails with ``QUERY_LIMIT_EXCEEDED``, naming the limit; a client that
disconnects stops its query.

MLflow registered models and experiments named without catalog and schema
(``mlflow.register_model(uri, "CreateRMTest")``, ``mlflow.set_experiment("my experiment")``) are
created in ``--default-schema`` (``main.default``; ``GLASHAUS_DEFAULT_SCHEMA``).

>>> # glashaus serve --lakehouse ./lakehouse --port 8080 --trusted-proxy 10.0.0.5
"""

from __future__ import annotations

from typing import Annotated

import typer

from glashaus.cli.common import (
    DEFAULT_LAKEHOUSE,
    LakehouseOption,
    MetastoreOption,
    UserOption,
    fail,
    open_lakehouse,
)
from glashaus.sql.limits import SERVER_LIMITS


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port to listen on.")] = 8080,
    max_body_mib: Annotated[
        int, typer.Option("--max-body-mib", min=1, help="Refuse request bodies larger than this (413).")
    ] = 256,
    query_timeout_s: Annotated[
        float,
        typer.Option(
            "--query-timeout-s",
            min=0,
            help="Stop a SQL query after this many seconds, counted until its last row is sent (0: no limit).",
        ),
    ] = SERVER_LIMITS.timeout_s or 0,
    query_memory_mib: Annotated[
        int,
        typer.Option(
            "--query-memory-mib",
            min=0,
            help="Memory one SQL query may use (DuckDB's memory_limit per worker thread; 0: DuckDB's default, "
            "80% of RAM). Also bounds values built by repeat(), range(), ...: this / 2048.",
        ),
    ] = SERVER_LIMITS.memory_mib or 0,
    query_spill_mib: Annotated[
        int,
        typer.Option(
            "--query-spill-mib",
            min=0,
            help="Temporary disk space one SQL query may spill to (0: DuckDB's default, 90% of free disk).",
        ),
    ] = SERVER_LIMITS.spill_mib or 0,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            envvar="GLASHAUS_TRUSTED_PROXIES",
            metavar="ADDRESS",
            help="A reverse proxy (address or network, e.g. 10.0.0.5 or 10.0.0.0/24) whose "
            "X-Forwarded-For header names the client; repeat for several. Default: none.",
        ),
    ] = None,
    default_schema: Annotated[
        str,
        typer.Option(
            "--default-schema",
            envvar="GLASHAUS_DEFAULT_SCHEMA",
            metavar="CATALOG.SCHEMA",
            help="Where MLflow registered models and experiments named without catalog and schema "
            "('CreateRMTest', 'my experiment') are created; creating one there needs CREATE MODEL on it "
            "(every user holds it on main.default).",
        ),
    ] = "main.default",
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Serve the lakehouse over HTTP: REST API under /api/, bearer tokens, Arrow IPC for rows."""
    try:
        from glashaus.server.app import serve as run
    except ImportError:
        raise fail("server mode needs the server extra: pip install 'glashaus[server]'.") from None
    limits = {
        "query_timeout_s": query_timeout_s or None,
        "query_memory_mib": query_memory_mib or None,
        "query_spill_mib": query_spill_mib or None,
    }
    from glashaus.errors import GlashausError
    from glashaus.registry.mlflow_names import default_schema as schema_name

    try:
        schema_name(default_schema)
    except GlashausError as exc:
        raise fail(f"--default-schema: {exc}") from None
    with open_lakehouse(lakehouse, user, metastore, **limits) as lh:
        typer.echo(f"serving {lh.root} on http://{host}:{port} (API docs: http://{host}:{port}/api/docs)", err=True)
        run(
            lh,
            host=host,
            port=port,
            max_body_bytes=max_body_mib * 1024 * 1024,
            log_level=log_level,
            trusted_proxies=trusted_proxy or (),
            default_schema=default_schema,
        )

"""Streamed responses (Arrow IPC bodies) for the remote client, read straight into Arrow's buffers.

httpx hands a body out as 64 KiB chunks, each one copied a few times on its way (socket,
HTTP parser, chunk joining): for a large table that was most of the client's time. Here
the body is read with the standard library's ``http.client``, whose ``readinto`` fills a
buffer of exactly the size Arrow asks for (one IPC message body) directly from the
socket, and Arrow keeps that buffer as the column data: one copy from the kernel, none
after it. The request itself is the one httpx built (same URL, query, headers, body).

Connections are kept for the next streamed call (the server closes idle ones after a
few seconds; a dropped one is noticed before it is used and replaced). Where an HTTP
proxy from the environment applies to the server's address, streams go through httpx
like every other call (:func:`proxied`).

>>> from glashaus.server import wire
>>> from glashaus.server.app import create_app
>>> from glashaus.server.running import ServerThread
>>> with ServerThread(create_app(lh)) as server:
...     streams = Streams(server.url, timeout=300.0)
...     request = httpx.Request("GET", server.url + "/api/tables/main.shop.orders/rows",
...                             headers={"Authorization": f"Bearer {lh.create_token()}"})
...     with streams.open(request) as response:
...         table = wire.read_stream(BodyReader(response))
>>> table.num_rows
4
"""

from __future__ import annotations

import contextlib
import http.client
import select
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa

#: Idle connections kept per client (more concurrent streams simply open more, then close them).
_KEEP = 4


def proxied(url: str) -> bool:
    """Whether an HTTP proxy from the environment (``HTTP_PROXY``, ``NO_PROXY``, ...) applies to ``url``.

    >>> proxied("http://127.0.0.1:8080")
    False
    """
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


class Streams:
    """Sends httpx-built requests over ``http.client`` connections and hands out the open response."""

    def __init__(self, url: str, *, timeout: float | None) -> None:
        parts = urllib.parse.urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._timeout = timeout
        self._context = httpx.create_ssl_context() if self._https else None  # httpx's own trust settings
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def open(self, request: httpx.Request) -> Iterator[http.client.HTTPResponse]:
        """The response to ``request``, status and headers read, body not yet; the connection is
        kept for another call only if the body was read to its end."""
        conn = self._connection()
        response: http.client.HTTPResponse | None = None
        try:
            target = request.url.raw_path.decode("ascii")
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "accept-encoding")}
            conn.request(request.method, target, body=request.content or None, headers=headers)
            response = conn.getresponse()
            yield response
        finally:
            if response is not None and response.isclosed() and not response.will_close:
                self._release(conn)
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            if not _dropped(conn):
                return conn
            conn.close()
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._context)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def _release(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < _KEEP:
                self._idle.append(conn)
                return
        conn.close()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle connection the server closed (or wrote to): readable, so it cannot carry a request."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class BodyReader:
    """A readable file over a response body for ``pyarrow.ipc.open_stream``: each ``read(n)``
    fills a fresh buffer of ``n`` bytes from the socket, which Arrow keeps without copying."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._response = response
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> Any:
        if size is None or size < 0:
            return self._response.read()
        buffer = pa.allocate_buffer(size)  # Arrow's allocator: aligned, and not zeroed first like a bytearray
        view = memoryview(buffer)
        filled = 0
        while filled < size:
            got = self._response.readinto(view[filled:])
            if not got:
                return buffer.slice(0, filled)  # the body ended early: Arrow reports the truncation
            filled += got
        return buffer

    def close(self) -> None:
        self.closed = True

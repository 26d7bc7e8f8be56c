"""Running an app under uvicorn: in a background thread (tests, notebooks), its proxy settings, shutdown.

>>> from glashaus.server.app import create_app
>>> with ServerThread(create_app(lh)) as server:
...     remote = glashaus.connect(server.url, token=lh.create_token())
...     remote.user
'alice'
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
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


def shutdown(app: FastAPI) -> None:
    """Finish what a stopping server owes: each face's (serving: shadow requests, buffered inference rows)."""
    for face in getattr(app.state, "faces", ()):
        face.close()


class ServerThread:
    """Run an app under uvicorn in a background thread (tests, notebooks); stops on exit.

    >>> from glashaus.server.app import create_app
    >>> with ServerThread(create_app(lh)) as server:
    ...     remote = glashaus.connect(server.url, token=lh.create_token())
    ...     remote.sql("SELECT count(*) FROM main.shop.orders").scalar()
    4
    """

    def __init__(
        self,
        app: FastAPI,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_level: str = "warning",
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=self.host,
                port=self.port,
                log_level=log_level,
                lifespan="on",
                **proxy_settings(trusted_proxies),
            )
        )
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
        shutdown(self.app)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

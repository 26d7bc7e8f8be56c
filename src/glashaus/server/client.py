"""The remote client: ``glashaus.connect("http://host:8080", token=...)``.

:class:`RemoteLakehouse` has one method per declared operation (``remote.py``, generated
from :mod:`glashaus.operations` with the embedded method's name, signature and docstring),
namespaces included (``remote.models``, ``remote.experiments``, ``remote.runs``,
``remote.serving``); each sends its arguments to the server, which runs the same facade
method as the token's principal. Results come back as the embedded API returns
them: ``sql`` a :class:`~glashaus.Result`, ``read`` and ``changes`` a pyarrow Table
(read from an Arrow IPC stream, batch by batch), the rest the same dataclasses,
dicts and lists. Errors raise the same :class:`~glashaus.errors.GlashausError`
subclasses.

>>> from glashaus.server.app import create_app
>>> from glashaus.server.running import ServerThread
>>> with ServerThread(create_app(lh)) as server:
...     remote = glashaus.connect(server.url, token=lh.create_token())
...     remote.sql("SELECT count(*) FROM main.shop.orders").scalar(), remote.read("main.shop.orders").num_rows
(4, 4)
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
from typing import Any, Self

import pyarrow as pa
from pydantic import ValidationError

from glashaus.errors import GlashausError, InvalidArgumentError, RequestTooLargeError
from glashaus.frames import to_arrow
from glashaus.http.errors import error_class
from glashaus.operations import Operation
from glashaus.server import codec, wire
from glashaus.sql.result import Result

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the install
    raise GlashausError("a remote lakehouse needs the server extra: pip install 'glashaus[server]'.") from exc

from glashaus.server import streams
from glashaus.server.remote import RemoteOperations

DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class RemoteLakehouse(RemoteOperations):
    """A lakehouse served by ``glashaus serve``, with the embedded Lakehouse's operations.

    Its methods (``remote.py``, generated from the declarations) have the embedded ones'
    signatures and docstrings; both satisfy :class:`glashaus.api.LakehouseAPI`.
    """

    def __init__(self, url: str, *, token: str | None = None, timeout: float | httpx.Timeout | None = None) -> None:
        token = token or os.environ.get("GLASHAUS_TOKEN")
        if not token:
            raise InvalidArgumentError(
                f"connecting to {url} needs a token: glashaus.connect(url, token=...) or GLASHAUS_TOKEN "
                "(an admin creates one with `glashaus tokens create --user NAME`)."
            )
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        )
        self._user: str | None = None
        self._max_body: int | None = None
        # Arrow IPC bodies are read with http.client straight into Arrow's buffers (streams.py),
        # unless a proxy from the environment applies: then through httpx like the rest.
        self._streams = (
            None if streams.proxied(self.url) else streams.Streams(self.url, timeout=self._http.timeout.read)
        )

    @property
    def user(self) -> str:
        """The principal this lakehouse acts as."""
        if self._user is None:
            self._user = self.principal_info().name
        return self._user

    @property
    def root(self) -> str:
        """Where the lakehouse is: its folder or URI, or the server's URL."""
        return self.url

    def health(self) -> dict[str, Any]:
        response = self._send(self._http.build_request("GET", "/health"))
        _raise_for(response)
        return response.json()

    def flush(self) -> None:
        """Write journaled audit events now (a served lakehouse writes its own)."""

    def close(self) -> None:
        """Release what this handle holds (connections, the engine)."""
        self._http.close()
        if self._streams is not None:
            self._streams.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RemoteLakehouse {self.url}>"

    # -- calling an operation ---------------------------------------------------------------

    def _send_operation(self, op: Operation, arguments: dict[str, Any]) -> Any:
        urls = op.url_names
        path = op.path
        for name, url_name in urls.items():
            value = arguments.get(name)
            safe = "/" if f"{{{url_name}:path}}" in path else ""
            quoted = urllib.parse.quote(str(value), safe=safe)
            path = path.replace(f"{{{url_name}:path}}", quoted).replace(f"{{{url_name}}}", quoted)
        query: dict[str, str] = {}
        payload: dict[str, Any] = {}
        content: bytes | None = None
        headers: dict[str, str] = {}
        for name, value in arguments.items():
            hint = op.hints.get(name, Any)
            if name in urls:
                continue
            if name == op.body:
                if op.body_kind == "bytes":
                    content, headers["Content-Type"] = bytes(value), "application/octet-stream"
                else:
                    content = wire.ipc_bytes(to_arrow(value))  # InvalidArgumentError for data that is no table
                    headers["Content-Type"] = wire.ARROW_STREAM
                self._check_size(len(content))
            elif op.carrier == "query":
                if value is not None:
                    wired = codec.dump(value, hint)
                    query[name] = wired if isinstance(wired, str) else _json(wired)
            else:
                payload[name] = codec.dump(value, hint)
        request = self._http.build_request(
            op.http,
            path,
            params=query or None,
            headers=headers or None,
            content=content,
            json=payload if op.carrier == "json" else None,
        )
        if op.response in ("arrow", "result"):
            table, statement = self._stream(request)
            if op.response == "result":
                return Result(table, statement=statement)
            return table
        response = self._send(request)
        _raise_for(response)
        if op.response == "bytes":
            return response.content
        try:
            return codec.adapter(op.returns).validate_python(response.json())
        except ValidationError as exc:
            raise GlashausError(
                f"the lakehouse server at {self.url} answered {op.qualname} with a reply this "
                f"client cannot read (a different Glashaus version?): {exc}"
            ) from None

    def _stream(self, request: httpx.Request) -> tuple[Any, str]:
        """An Arrow IPC response as a table, and its statement header (``sql``)."""
        if self._streams is None:
            response = self._send(request, stream=True)
            try:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                table = wire.read_stream(wire.ChunkReader(response.iter_bytes()))
            except httpx.TransportError as exc:
                raise GlashausError(f"the lakehouse server at {self.url} broke off the response: {exc}") from None
            finally:
                response.close()
            return table, response.headers.get("X-Glashaus-Statement", "SELECT")
        raw = None
        try:
            with self._streams.open(request) as raw:
                if raw.status >= 400:
                    _raise_error(raw.status, raw.read(), str(request.url))
                table = wire.read_stream(streams.BodyReader(raw))
                raw.read()  # the body's end (its last chunk), so the connection can serve another call
                return table, raw.getheader("X-Glashaus-Statement", "SELECT")
        except GlashausError:  # the server's own error (some are OSErrors too: PermissionError, ...)
            raise
        except (http.client.HTTPException, OSError, pa.ArrowInvalid) as exc:
            what = "cannot reach" if raw is None else "broke off the response from"
            raise GlashausError(f"{what} the lakehouse server at {self.url}: {type(exc).__name__}: {exc}") from None

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            return self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise GlashausError(f"cannot reach the lakehouse server at {self.url}: {exc}") from None

    def _check_size(self, size: int) -> None:
        # Refused here rather than by a connection the server closes half-way through the upload.
        if self._max_body is None:
            self._max_body = int(self.health().get("max_body_bytes") or 0)
        if self._max_body and size > self._max_body:
            raise RequestTooLargeError(
                f"request body too large ({size} bytes; the server at {self.url} accepts at most "
                f"{self._max_body} bytes): send the data in smaller writes."
            )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _raise_for(response: httpx.Response) -> None:
    if response.status_code >= 400:
        _raise_error(response.status_code, response.content, str(response.request.url))


def _raise_error(status: int, content: bytes, url: str) -> None:
    """The error an error response stands for (its JSON's ``error_code`` and ``message``)."""
    try:
        body = json.loads(content)
        code, message = body["error_code"], body["message"]
    except (ValueError, KeyError, TypeError):
        raise GlashausError(f"HTTP {status} from {url}: {content[:200].decode(errors='replace')}") from None
    raise error_class(code)(message)

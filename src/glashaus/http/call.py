"""One request as every face sees it: its id, caller, body, and the thread its work runs in.

A :class:`Call` is made by the request layer (``layer.py``) for each request to a face's
route: the request id the server generated (``X-Request-Id``; a client's own id is kept
as ``correlation``), the client address, the signed-in principal, and the :class:`Policy`
of the route. A face's handler reads the body through :meth:`Call.body` / :meth:`Call.json`
(the body limit and the JSON depth bound hold there) and runs its Lakehouse work with
:meth:`Call.run`: in a worker thread, inside the request's audit context, and, for faces
that run SQL, with its queries interrupted when the client disconnects.

>>> async def handler(call: Call) -> Response:
...     query = (await call.json())["query"]
...     return JSONResponse(await call.run(lambda: call.lakehouse.sql(query).to_pylist()))
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from glashaus.access import Principal
from glashaus.access import request as audit_request
from glashaus.access.audit import client_address
from glashaus.errors import GlashausError
from glashaus.http import jsonio
from glashaus.http.errors import hide_paths
from glashaus.http.formats import ErrorFormat
from glashaus.lakehouse import services
from glashaus.sql.limits import Cancellation

if TYPE_CHECKING:
    from glashaus.http.layer import RequestLayer
    from glashaus.lakehouse import Lakehouse

T = TypeVar("T")


@dataclass(frozen=True)
class Credentials:
    """Where a route's callers carry their API token.

    ``cookie=None``: the ``Authorization: Bearer <token>`` header (a missing header is a failed
    sign-in, audited). A cookie name: that cookie (the web shell's session); a request without
    it is asked to sign in (:class:`SignInRequired`), which is no failed sign-in.
    """

    cookie: str | None = None


BEARER = Credentials()


@dataclass(frozen=True)
class Policy:
    """What the request layer does for one route before and after the face's handler."""

    #: How errors look on this face.
    errors: ErrorFormat
    #: Where the token is; None: the route needs no sign-in (``/health``, the sign-in page).
    credentials: Credentials | None = BEARER
    #: Interrupt the call's SQL queries when the client disconnects (faces that run SQL).
    cancel_on_disconnect: bool = False
    #: The most bytes a body may have, if less than the server's limit (``--max-body-mib``).
    body_limit: int | None = None


@dataclass
class Call:
    """One request to a face's route, past the request layer's checks (see the module)."""

    request: Request
    layer: RequestLayer
    policy: Policy
    #: The server's id for this request (``X-Request-Id``, ``request_id`` in the audit log).
    id: str
    #: The id the client sent as ``X-Request-Id``, if any: echoed as ``X-Correlation-Id`` and
    #: kept in the audit log's details, never used as the request's id.
    correlation: str | None
    address: str
    principal: Principal | None = None
    #: The token the caller signed in with (the web shell derives its CSRF tokens from it).
    token: str | None = None
    cancellation: Cancellation | None = None
    _body: bytes | None = field(default=None, repr=False)
    _view: Lakehouse | None = field(default=None, repr=False)
    _correlated: bool = field(default=False, repr=False)

    # -- what a handler reads ------------------------------------------------------------------

    @property
    def lakehouse(self) -> Lakehouse:
        """The lakehouse seen as the caller (``lh.as_user(principal)``; call it in :meth:`run`'s work)."""
        if self._view is None:
            if self.principal is None:
                raise RuntimeError("this route signs nobody in: it has no caller's lakehouse")
            self._view = self.layer.lakehouse.as_user(self.principal)
        return self._view

    def message(self, exc: GlashausError) -> str:
        """``exc``'s message as callers see it: the lakehouse root, wherever a message names a stored
        file (or a library's error quoted in it does), is ``<lakehouse>``."""
        return hide_paths(str(exc), self.layer.hidden)

    async def body(self, *, limit: int | None = None, advice: str | None = None) -> bytes:
        """The request body (read once), at most ``limit`` bytes (the route's limit by default; never
        more than the server's).

        ``advice``: what to do instead, for the :class:`RequestTooLargeError` (413) otherwise.
        """
        if self._body is None:
            most = self.layer.body_limit(self.policy, limit)
            chunks, size = [], 0
            async for chunk in self.request.stream():
                size += len(chunk)
                if size > most:
                    raise self.layer.too_large(None, limit=most, advice=advice)
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body

    async def json(self, *, what: str = "the request body", strict: bool = True) -> Any:
        """The body as JSON (:func:`glashaus.http.jsonio.read_json`: depth-bounded; strict: no NaN)."""
        return jsonio.read_json(await self.body(), what=what, strict=strict)

    # -- where the work runs ---------------------------------------------------------------------

    @contextlib.contextmanager
    def audit(self) -> Iterator[None]:
        """The request's audit context: its events carry this request's id and the client address."""
        with client_address(self.address), audit_request(self.id):
            yield

    def correlate(self) -> None:
        """Record, once, which client id (``X-Request-Id`` sent by the client) this request answers:
        an audit event ``request.correlation`` under the server's request id, the client's id in its
        details. Blocking I/O: call it in :meth:`run`'s work (which does, unless told not to)."""
        if self._correlated or self.correlation is None or self.principal is None:
            return
        self._correlated = True
        request = self.request
        with self.audit():
            services(self.layer.lakehouse).audit.record(
                principal=self.principal.name,
                action="request.correlation",
                decision="allow",
                details={"correlation_id": self.correlation, "method": request.method, "path": request.url.path},
            )

    async def run(self, work: Callable[[], T], *, correlate: bool = True) -> T:
        """``work()`` in a worker thread, in the request's audit context; with the route's
        ``cancel_on_disconnect``, SQL queries it starts are interrupted if the client goes away.

        ``correlate=False``: ``work`` calls :meth:`correlate` itself (serving, which commits the
        event with its own in one journal transaction)."""
        cancellation = self.cancellation

        def inside() -> T:
            with self.audit(), cancellation.active() if cancellation else contextlib.nullcontext():
                if correlate:
                    self.correlate()
                return work()

        if cancellation is None:
            return await run_in_threadpool(inside)
        return await _while_connected(self.request, cancellation, inside)


async def _while_connected(request: Request, cancellation: Cancellation, work: Callable[[], T]) -> T:
    """``work()`` in a worker thread; if the client disconnects meanwhile, its queries are interrupted.

    The body must have been read (the watcher takes the next ASGI messages, waiting for the disconnect).
    """
    failure: BaseException | None = None
    value: Any = None
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
        except BaseException as exc:  # noqa: BLE001 - raised below, outside the group: never wrapped in an ExceptionGroup
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return value

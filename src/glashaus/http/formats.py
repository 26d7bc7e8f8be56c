"""How a face answers errors: the :class:`ErrorFormat` protocol, and Glashaus' JSON errors.

The request layer decides *when* an error is answered (any ``GlashausError`` a handler
raises; a bug, logged, as 500 ``INTERNAL_ERROR`` without a trace); the face's format decides
*how it looks*: Glashaus' JSON ``{"error_code", "message"}`` (:data:`JSON_ERRORS`: the REST
API, serving, ``/metrics``), MLflow's codes (``server/mlflow/protocol.py``), an HTML page
(``web/pages.py``).

>>> from glashaus.errors import NotFoundError
>>> from glashaus.http.errors import status_of
>>> status_of(NotFoundError("no table main.shop.x"))   # what JSON_ERRORS.error(call, exc) answers with
404
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from starlette.responses import JSONResponse, Response

from glashaus.errors import GlashausError
from glashaus.http.errors import (
    INTERNAL_ERROR,
    error_body,
    internal_message,
    retry_after,
    status_of,
)

if TYPE_CHECKING:
    from glashaus.http.call import Call


class ErrorFormat(Protocol):
    """How one face answers errors (the request layer decides *when*; the face, *how it looks*)."""

    def error(self, call: Call, exc: GlashausError) -> Response:
        """The answer to ``exc`` (its message as ``call.message(exc)`` shows it)."""
        ...

    def internal(self, call: Call) -> Response:
        """The answer to a bug (already logged): 500, no detail."""
        ...


class JsonErrors:
    """Glashaus' JSON errors ``{"error_code", "message"}``: the REST API, serving, ``/metrics``."""

    def error(self, call: Call, exc: GlashausError) -> Response:
        status = status_of(exc)
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if status == 429:
            headers["Retry-After"] = str(retry_after(exc))
        return JSONResponse(error_body(exc.code, call.message(exc)), status_code=status, headers=headers)

    def internal(self, call: Call) -> Response:
        return JSONResponse(error_body(INTERNAL_ERROR, internal_message(call.id)), status_code=500)


JSON_ERRORS = JsonErrors()

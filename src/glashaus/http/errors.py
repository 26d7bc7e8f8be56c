"""Errors as HTTP answers: one status per error class, messages without the lakehouse root.

Every face answers a :class:`~glashaus.errors.GlashausError` with the status of
:func:`status_of` (400 for anything the caller can fix in the request) and a message in
which the lakehouse root is ``<lakehouse>`` (:func:`hide_paths`). How the answer looks is
the face's (``formats.py``). Imports no web framework: the remote client uses it too.

>>> status_of(NotFoundError("no table"))
404
"""

from __future__ import annotations

from collections.abc import Iterable

from glashaus.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ConcurrentWriteError,
    GlashausError,
    MetastoreError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTooLargeError,
    ServiceUnavailableError,
    StorageError,
)

_STATUS: dict[type[GlashausError], int] = {
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    AlreadyExistsError: 409,
    ConcurrentWriteError: 409,
    RequestTooLargeError: 413,
    RateLimitedError: 429,
    StorageError: 500,
    MetastoreError: 503,
    ServiceUnavailableError: 503,
}

INTERNAL_ERROR = "INTERNAL_ERROR"


def status_of(exc: GlashausError) -> int:
    """The HTTP status of an error: 400 for anything the caller can fix in the request.

    >>> status_of(RequestTooLargeError("too big"))
    413
    """
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


def retry_after(exc: GlashausError) -> int:
    """Seconds a 429's ``Retry-After`` names (the sign-in gate sets them on the error)."""
    return int(getattr(exc, "retry_after", 60))


def hide_paths(message: str, hidden: Iterable[str], *, shown: str = "<lakehouse>") -> str:
    """``message`` with each of the ``hidden`` prefixes (a lakehouse root, longest first) as ``shown``.

    >>> hide_paths("no file at /srv/lh/volumes/x", ["/srv/lh"])
    'no file at <lakehouse>/volumes/x'
    """
    for prefix in hidden:
        if len(prefix) > 1:  # a root of '/' would hide every slash
            message = message.replace(prefix, shown)
    return message


def hidden_prefixes(root: str) -> tuple[str, ...]:
    """What error messages must not show of a lakehouse at ``root``, longest first.

    >>> hidden_prefixes("/srv/lh")
    ('file:///srv/lh', '/srv/lh')
    """
    prefixes = {root, f"file://{root}"} if "://" not in root else {root}
    return tuple(sorted(prefixes, key=len, reverse=True))


def error_body(code: str, message: str) -> dict[str, str]:
    """Glashaus' (and MLflow's) error shape."""
    return {"error_code": code, "message": message}


def error_class(code: str) -> type[GlashausError]:
    """The exception class whose ``code`` is ``code`` (GlashausError for codes it does not know).

    >>> error_class("RESOURCE_DOES_NOT_EXIST").__name__
    'NotFoundError'
    """
    todo: list[type[GlashausError]] = [GlashausError]
    while todo:
        cls = todo.pop(0)
        if cls.code == code:
            return cls
        todo.extend(cls.__subclasses__())
    return GlashausError


def internal_message(request_id: str) -> str:
    return f"internal error in request {request_id}; the server log has the details."

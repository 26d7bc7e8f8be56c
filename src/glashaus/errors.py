"""One exception hierarchy for everything Glashaus raises on purpose.

Every message names the thing that went wrong and, where there is one, the fix.
Faces (CLI, REST API) turn these into one clear line or an error body; anything
that is not a :class:`GlashausError` is a bug.

>>> try:
...     raise NotFoundError("table 'main.shop.orders' does not exist")
... except GlashausError as e:
...     print(e)
table 'main.shop.orders' does not exist
"""

from __future__ import annotations


class GlashausError(Exception):
    """Base class of all errors raised by Glashaus on purpose."""

    #: Short machine-readable code, also used by the REST API.
    code: str = "GLASHAUS_ERROR"


class InvalidNameError(GlashausError, ValueError):
    """A name is malformed: wrong number of parts, empty parts, forbidden characters."""

    code = "INVALID_NAME"


class InvalidArgumentError(GlashausError, ValueError):
    """An argument has a value the operation cannot use."""

    code = "INVALID_PARAMETER_VALUE"


class NotFoundError(GlashausError, LookupError):
    """A catalog, schema, table, view, volume, file or version does not exist."""

    code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExistsError(GlashausError):
    """A securable of that name exists already."""

    code = "RESOURCE_ALREADY_EXISTS"


class SchemaMismatchError(GlashausError):
    """Data does not fit a table's schema (missing, extra or incompatible columns)."""

    code = "SCHEMA_MISMATCH"


class ConstraintViolationError(GlashausError):
    """Rows break a NOT NULL or CHECK constraint; nothing was written."""

    code = "CONSTRAINT_VIOLATION"


class SqlError(GlashausError):
    """A SQL statement could not be parsed or executed."""

    code = "SQL_ERROR"


class UngovernedAccessError(SqlError):
    """SQL tried to reach something outside the catalog: a file path, COPY, ATTACH, INSTALL."""

    code = "UNGOVERNED_ACCESS"


class QueryLimitError(SqlError):
    """A query went past a limit (time, memory, spill space, the size of one value); it was stopped.

    The message names the limit and how to raise it (``glashaus serve --query-timeout-s``,
    ``--query-memory-mib``, ``--query-spill-mib``; ``connect(query_timeout_s=...)`` embedded).
    """

    code = "QUERY_LIMIT_EXCEEDED"


class PermissionDeniedError(GlashausError, PermissionError):
    """The principal lacks a privilege on a securable."""

    code = "PERMISSION_DENIED"


class AuthenticationError(GlashausError):
    """A token is missing, malformed, unknown, expired or revoked."""

    code = "UNAUTHENTICATED"


class ConcurrentWriteError(GlashausError):
    """A write kept conflicting with concurrent writers and gave up; nothing was committed."""

    code = "CONCURRENT_WRITE"


class StorageError(GlashausError):
    """The storage layer failed in a way Glashaus has no more specific word for; nothing was committed."""

    code = "STORAGE_ERROR"


class MetastoreError(GlashausError):
    """The metastore database cannot be reached or is not at a version this code understands."""

    code = "METASTORE_ERROR"


class RequestTooLargeError(GlashausError):
    """A request body is larger than the server accepts (server mode)."""

    code = "REQUEST_TOO_LARGE"


class RateLimitedError(GlashausError):
    """Too many failed sign-ins from one address; the server refuses it for a while (server mode)."""

    code = "RATE_LIMITED"
    retry_after: int = 60  # seconds, the 429's Retry-After (the sign-in gate sets the real wait)


class ServiceUnavailableError(GlashausError):
    """The service cannot take the request now (e.g. a full inference log); retry shortly."""

    code = "TEMPORARILY_UNAVAILABLE"

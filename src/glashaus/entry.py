"""The entry point: :func:`connect` opens an embedded lakehouse or connects to a served one.

It sits above both (the embedded :class:`~glashaus.lakehouse.Lakehouse` and the server's
:class:`~glashaus.server.client.RemoteLakehouse`), so neither imports the other; both satisfy
:class:`~glashaus.api.LakehouseAPI`, the type :func:`connect` returns: the same methods,
signatures and errors either way. :func:`open_embedded` is the embedded half, typed as the
:class:`~glashaus.lakehouse.Lakehouse` it returns (for code that needs embedded-only methods
such as ``as_user`` or ``read_batches``).

>>> import tempfile
>>> from glashaus.server.app import create_app
>>> from glashaus.server.running import ServerThread
>>> embedded = glashaus.connect(tempfile.mkdtemp(), user="alice")
>>> with ServerThread(create_app(embedded)) as server:
...     remote = glashaus.connect(server.url, token=embedded.create_token())
...     remote.sql("SELECT 42").scalar(), embedded.sql("SELECT 42").scalar()
(42, 42)
>>> embedded.close()
"""

from __future__ import annotations

import os

from glashaus.api import LakehouseAPI
from glashaus.errors import InvalidArgumentError
from glashaus.lakehouse import Lakehouse
from glashaus.sql.limits import QueryLimits

__all__ = ["connect", "open_embedded"]


def connect(
    path_or_uri: str | os.PathLike[str],
    *,
    user: str | None = None,
    metastore: str | None = None,
    storage_options: dict[str, str] | None = None,
    token: str | None = None,
    query_timeout_s: float | None = None,
    query_memory_mib: int | None = None,
    query_spill_mib: int | None = None,
) -> LakehouseAPI:
    """Open (creating if needed) the lakehouse at ``path_or_uri`` as ``user``.

    ``metastore`` is a SQLAlchemy URL (default: SQLite inside the lakehouse folder).
    ``query_timeout_s``, ``query_memory_mib`` and ``query_spill_mib`` limit each SQL query
    (``glashaus.sql.limits``; embedded default: no time limit, DuckDB's memory and spill
    defaults; ``glashaus serve`` sets server defaults).
    An ``http://`` or ``https://`` address connects to ``glashaus serve`` with ``token``
    (default: ``GLASHAUS_TOKEN``) and returns a ``RemoteLakehouse`` with the same methods.

    >>> import tempfile
    >>> with glashaus.connect(tempfile.mkdtemp(), user="alice") as lh:
    ...     lh.user
    'alice'
    >>> glashaus.connect("http://localhost:8080", user="alice")
    Traceback (most recent call last):
    glashaus.errors.InvalidArgumentError: a served lakehouse knows you by your token: ...
    """
    target = os.fspath(path_or_uri)
    limits = (query_timeout_s, query_memory_mib, query_spill_mib)
    if target.startswith(("http://", "https://")):
        if (
            user is not None
            or metastore is not None
            or storage_options is not None
            or any(v is not None for v in limits)
        ):
            raise InvalidArgumentError(
                "a served lakehouse knows you by your token: pass only token= (and no user, metastore, "
                "storage_options or query limits: the server sets those) when connecting to an http(s) address."
            )
        # lazily: only server mode needs httpx
        from glashaus.server.client import RemoteLakehouse

        return RemoteLakehouse(target, token=token)
    if token is not None:
        raise InvalidArgumentError(
            "token= is for a served lakehouse (connect('http://host:8080', token=...)); an embedded one takes user=."
        )
    return open_embedded(
        target,
        user=user,
        metastore=metastore,
        storage_options=storage_options,
        query_timeout_s=query_timeout_s,
        query_memory_mib=query_memory_mib,
        query_spill_mib=query_spill_mib,
    )


def open_embedded(
    path: str | os.PathLike[str],
    *,
    user: str | None = None,
    metastore: str | None = None,
    storage_options: dict[str, str] | None = None,
    query_timeout_s: float | None = None,
    query_memory_mib: int | None = None,
    query_spill_mib: int | None = None,
) -> Lakehouse:
    """:func:`connect` for a lakehouse in this process (a folder or an object-store URI), typed as one.

    >>> import tempfile
    >>> with glashaus.open_embedded(tempfile.mkdtemp(), user="alice") as lh:
    ...     _ = lh.create_user("bob")
    ...     lh.as_user("bob").user
    'bob'
    """
    target = os.fspath(path)
    if target.startswith(("http://", "https://")):
        raise InvalidArgumentError(
            f"{target} is a served lakehouse: use glashaus.connect({target!r}, token=...) for it."
        )
    return Lakehouse(
        target,
        user=user,
        metastore=metastore,
        storage_options=storage_options,
        query_limits=QueryLimits(query_timeout_s, query_memory_mib, query_spill_mib),
    )

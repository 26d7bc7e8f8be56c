"""How an operation is declared: once, next to its capability, for every face that exposes it.

A capability lists its operations in its ``operations.py`` as :class:`Operation` entries:
the principal-bound facade method that runs it (``Lakehouse.create_table``,
``Models.set_alias``: the method on ``lh`` or on one of its namespaces, ``lh.models``, ...),
its HTTP method and path, the privilege and audit action of the decision the guard makes
for it, and where it differs from the defaults, how its arguments travel.
The method itself is the rest of the declaration: its signature and type hints are the
wire types and the OpenAPI schema, its docstring the summary, and the service call it
makes names the :class:`~glashaus.access.guard.Check` the guard enforces (the privilege,
how the securable is found, the audit action). The REST routes (``server/rest.py``), the
OpenAPI document and the remote client (``server/client.py``, and the typed
``glashaus/api.py`` generated from the declarations) are all built from these entries;
:mod:`glashaus.operations` collects them.

This module is at the bottom layer so that every capability can declare its operations
without importing anything above it.

>>> op = Operation("models", "set_alias", "PUT", "/models/{name}/aliases/{alias}", tag="models")
>>> op.qualname, op.path, op.path_params
('models.set_alias', '/api/models/{name}/aliases/{alias}', ['name', 'alias'])
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")

#: How a reply travels: JSON, an Arrow IPC stream (a pyarrow Table), an SQL Result (a stream with
#: its statement in a header) or raw bytes.
Reply = Literal["json", "arrow", "result", "bytes"]


@dataclass(frozen=True)
class Operation:
    """One operation of a capability, and how each face exposes it.

    ``facade``: the namespace of ``lh`` it is a method of (``""`` for ``lh`` itself,
    ``"models"``, ``"experiments"``, ``"runs"``, ``"serving"``); ``name``: the method.
    ``http`` and ``path`` (without the ``/api`` prefix): its REST route. ``body``: the
    parameter sent as the raw request body (Arrow IPC for tables, bytes for files).
    ``rename``: path parameters named unlike the method's (``{"catalog": "parent"}``).
    ``client``: False for extra routes of an operation the remote client does not use.
    ``stream``: a method with the same parameters that the server calls instead, which
    returns a RecordBatchReader streamed out (``read`` is served by ``read_batches``).
    ``reply``: how the reply travels when the return type does not say it.
    ``local``: parameters that stay on the caller's side (a progress callback): the remote
    client never sends them and the server uses their defaults. ``embedded_only``: why the
    operation cannot cross the wire (a live Python object); it then has no route.
    ``cli``: the ``glashaus`` command that runs it, where there is one.
    ``privilege`` and ``audit``: what the guard checks and records for it: the privilege its
    :class:`~glashaus.access.guard.Check` asks (``"USE"``: the one that uses a securable of
    its kind; ``None``: decided by ownership or admin rights) and the audit action of that
    decision (``{kind}`` stands for the securable's kind). ``tests/test_declarations.py`` runs
    each operation and finds this decision among its audit events. ``audit=None``: no single
    check (SQL checks per statement; listings show only what the caller may see).
    """

    facade: str
    name: str
    http: str = ""
    path: str = ""
    tag: str = ""
    body: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    client: bool = True
    stream: str | None = None
    reply: Reply | None = None
    local: tuple[str, ...] = ()
    embedded_only: str | None = None
    cli: str | None = None
    privilege: str | None = None
    audit: str | None = None
    #: The capability's function that runs it: a method of its service (``TablesService.exists``) or a
    #: function of its ``operations.py`` whose first two parameters are that service and the acting
    #: principal. The facade method is generated from it (``glashaus/facades.py``): the same parameters
    #: after those two, its docstring, one line that calls it with the facade's principal.
    calls: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    #: The facade method, filled in by :mod:`glashaus.operations` when it collects the declarations.
    function: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.path and not self.path.startswith("/api/"):
            object.__setattr__(self, "path", "/api" + self.path)
        if not self.embedded_only and not (self.http and self.path):
            raise ValueError(f"{self.qualname}: declare its HTTP method and path, or why it is embedded-only")

    @property
    def qualname(self) -> str:
        """``models.set_alias``, or ``sql`` for a method of ``lh`` itself."""
        return f"{self.facade}.{self.name}" if self.facade else self.name

    #: The old name of :attr:`qualname` (the REST face names its routes by it).
    method = qualname

    def bind(self, function: Callable[..., Any]) -> Operation:
        return dataclasses.replace(self, function=function)

    # -- derived from the facade method ----------------------------------------------------

    def method_function(self) -> Callable[..., Any]:
        """The function whose signature, hints and docstring the faces show: :attr:`calls` where it is
        declared (the facade method is generated from it), else the hand-written facade method."""
        if self.calls is not None:
            return self.calls
        if self.function is None:
            raise LookupError(f"{self.qualname} is not collected yet: use glashaus.operations.OPERATIONS")
        return self.function

    @property
    def leading(self) -> int:
        """How many leading parameters of :meth:`method_function` the caller never passes: the service and
        the principal of a :attr:`calls` function, ``self`` of a facade method."""
        return 2 if self.calls is not None else 1

    @property
    def signature(self) -> inspect.Signature:
        """The operation's signature as the facade method has it (without ``self``)."""
        sig = inspect.signature(self.method_function())
        return sig.replace(parameters=list(sig.parameters.values())[self.leading :])

    @property
    def wire_signature(self) -> inspect.Signature:
        """:attr:`signature` without the :attr:`local` parameters: what crosses the wire."""
        sig = self.signature
        return sig.replace(parameters=[p for p in sig.parameters.values() if p.name not in self.local])

    @property
    def hints(self) -> dict[str, Any]:
        return _hints(self.method_function())

    @property
    def path_params(self) -> list[str]:
        """The method parameters carried in the path, in path order."""
        return [self.rename.get(p, p) for p in _PATH_PARAM.findall(self.path)]

    @property
    def url_names(self) -> dict[str, str]:
        """Method parameter -> name in the path."""
        return {self.rename.get(p, p): p for p in _PATH_PARAM.findall(self.path)}

    @property
    def carrier(self) -> str:
        """Where the non-path, non-body parameters travel: ``"query"`` or ``"json"``."""
        return "query" if self.http in ("GET", "DELETE") or self.body else "json"

    @property
    def body_kind(self) -> str | None:
        if self.body is None:
            return None
        return "bytes" if self.hints.get(self.body) is bytes else "arrow"

    @property
    def returns(self) -> Any:
        return self.hints.get("return", Any)

    @property
    def response(self) -> Reply:
        """``json``, ``arrow`` (a pyarrow Table), ``result`` (an SQL Result) or ``bytes``."""
        if self.reply is not None:
            return self.reply
        ret = self.returns
        if ret is pa.Table:
            return "arrow"
        if ret is bytes:
            return "bytes"
        return "json"

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.method_function()) or self.name.replace("_", " ")
        first = doc.strip().splitlines()[0]
        return first if not first.startswith(">>>") else self.name.replace("_", " ")

    @property
    def description(self) -> str:
        return inspect.getdoc(self.method_function()) or ""


@functools.cache
def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    return typing.get_type_hints(function)

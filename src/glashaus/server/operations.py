"""The registry of Lakehouse operations exposed over HTTP: one line per route.

Each :class:`Operation` names a :class:`~glashaus.lakehouse.Lakehouse` method and its
HTTP method and path. Everything else is read from the method itself: its parameters
(path parameters from the ``{...}`` in the path, the others from the query string for
GET and DELETE, from a JSON body otherwise), their types (one pydantic TypedDict per
operation, built from the signature by ``codec.py``: it checks and converts a request's
arguments and is the OpenAPI's schema), its return type (JSON, or an Arrow IPC stream for
tables and SQL results), its docstring (the OpenAPI summary). The REST face (``rest.py``)
mounts one route per entry and calls the same method on the Lakehouse seen as the caller;
the remote client (``client.py``) generates one method per entry. Neither holds a second
implementation of any operation.

To expose another operation, add a line here.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from glashaus.lakehouse import Lakehouse
from glashaus.sql.result import Result

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class Operation:
    """One Lakehouse method behind one HTTP route."""

    method: str
    http: str
    path: str
    #: The parameter sent as the raw request body (Arrow IPC stream, or bytes for files).
    body: str | None = None
    #: Path parameters whose name differs from the method's (``{"catalog": "parent"}``).
    rename: dict[str, str] = field(default_factory=dict)
    #: False for extra REST routes the remote client does not use (it uses the first route).
    client: bool = True
    tag: str = "tables"
    #: The server calls this method instead (same parameters), which returns a RecordBatchReader it
    #: streams out (``read`` is served by ``read_batches``: a table never sits whole in the server).
    stream: str | None = None

    # -- derived from the Lakehouse method ----------------------------------------------

    @property
    def function(self) -> Any:
        return getattr(Lakehouse, self.method)

    @property
    def signature(self) -> inspect.Signature:
        sig = inspect.signature(self.function)
        return sig.replace(parameters=list(sig.parameters.values())[1:])  # without self

    @property
    def hints(self) -> dict[str, Any]:
        return _hints(self.method)

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
    def response(self) -> str:
        """``json``, ``arrow`` (a pyarrow Table), ``result`` (an SQL Result) or ``bytes``."""
        ret = self.returns
        if ret is pa.Table:
            return "arrow"
        if ret is Result:
            return "result"
        if ret is bytes:
            return "bytes"
        return "json"

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.function) or self.method.replace("_", " ")
        first = doc.strip().splitlines()[0]
        return first if not first.startswith(">>>") else self.method.replace("_", " ")

    @property
    def description(self) -> str:
        return inspect.getdoc(self.function) or ""


@functools.cache
def _hints(method: str) -> dict[str, Any]:
    return typing.get_type_hints(getattr(Lakehouse, method))


def _op(method: str, http: str, path: str, tag: str, **kw: Any) -> Operation:
    return Operation(method, http, "/api" + path, tag=tag, **kw)


OPERATIONS: list[Operation] = [
    # SQL: every statement (queries, DDL, DML, GRANT), so also the audit and lineage tables.
    _op("sql", "POST", "/sql", "sql"),
    # catalogs, schemas and objects
    _op("list", "GET", "/securables", "catalog"),
    _op("list", "GET", "/catalogs", "catalog", client=False),
    _op("list", "GET", "/schemas/{catalog}", "catalog", rename={"catalog": "parent"}, client=False),
    _op("list", "GET", "/objects/{schema}", "catalog", rename={"schema": "parent"}, client=False),
    _op("get", "GET", "/securables/{name}", "catalog"),
    _op("drop", "DELETE", "/securables/{name}", "catalog"),
    _op("create_catalog", "POST", "/catalogs", "catalog"),
    _op("create_schema", "POST", "/schemas", "catalog"),
    _op("set_comment", "PUT", "/securables/{name}/comment", "catalog"),
    _op("set_tags", "PUT", "/securables/{name}/tags", "catalog"),
    _op("unset_tags", "DELETE", "/securables/{name}/tags", "catalog"),
    _op("set_properties", "PUT", "/securables/{name}/properties", "catalog"),
    _op("set_owner", "PUT", "/securables/{name}/owner", "catalog"),
    # tables and views
    _op("describe", "GET", "/tables/{name}", "tables"),
    _op("create_table", "POST", "/tables/{name}", "tables"),
    _op("create_view", "POST", "/views/{name}", "tables"),
    _op("write", "POST", "/tables/{name}/rows", "tables", body="data"),
    _op("read", "GET", "/tables/{name}/rows", "tables", stream="read_batches"),
    _op("history", "GET", "/tables/{name}/history", "tables"),
    _op("changes", "GET", "/tables/{name}/changes", "tables"),
    _op("restore", "POST", "/tables/{name}/restore", "tables"),
    _op("optimize", "POST", "/tables/{name}/optimize", "tables"),
    _op("vacuum", "POST", "/tables/{name}/vacuum", "tables"),
    _op("lineage", "GET", "/tables/{name}/lineage", "lineage"),
    _op("column_lineage", "GET", "/tables/{name}/column-lineage", "lineage"),
    # volumes
    _op("create_volume", "POST", "/volumes/{name}", "volumes"),
    _op("list_files", "GET", "/volumes/{volume}/files", "volumes"),
    _op("put_file", "PUT", "/volumes/{volume}/files/{path:path}", "volumes", body="data"),
    _op("get_file", "GET", "/volumes/{volume}/files/{path:path}", "volumes"),
    _op("delete_file", "DELETE", "/volumes/{volume}/files/{path:path}", "volumes"),
    # grants, row filters, column masks, tag policies
    _op("show_grants", "GET", "/grants", "access"),
    _op("grant", "POST", "/grants", "access"),
    _op("revoke", "DELETE", "/grants", "access"),
    _op("set_row_filter", "PUT", "/tables/{table}/row-filter", "access"),
    _op("set_column_mask", "PUT", "/tables/{table}/columns/{column}/mask", "access"),
    _op("tag_policies", "GET", "/tag-policies", "access"),
    _op("create_tag_policy", "POST", "/tag-policies/{name}", "access"),
    _op("drop_tag_policy", "DELETE", "/tag-policies/{name}", "access"),
    # principals and tokens
    _op("principals", "GET", "/principals", "principals"),
    _op("principal_info", "GET", "/principal", "principals"),
    _op("create_user", "POST", "/principals/users", "principals"),
    _op("create_group", "POST", "/principals/groups", "principals"),
    _op("create_service_principal", "POST", "/principals/service-principals", "principals"),
    _op("drop_principal", "DELETE", "/principals/{name}", "principals"),
    _op("add_member", "POST", "/principals/{group}/members", "principals"),
    _op("remove_member", "DELETE", "/principals/{group}/members/{member}", "principals"),
    _op("tokens", "GET", "/tokens", "principals"),
    _op("create_token", "POST", "/tokens", "principals"),
    _op("revoke_token", "DELETE", "/tokens/{token_id}", "principals"),
]


def client_operations() -> dict[str, Operation]:
    """The route the remote client uses for each method (the first one listed)."""
    chosen: dict[str, Operation] = {}
    for op in OPERATIONS:
        if op.client:
            chosen.setdefault(op.method, op)
    return chosen

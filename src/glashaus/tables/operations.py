"""Catalogs, schemas, tables, views, volumes, lineage, grants and policies: their operations on ``lh``.

One entry per operation (see :mod:`glashaus.declare`); the method it names on ``lh``
calls :class:`~glashaus.tables.TablesService`, whose guard checks decide and audit.
"""

from __future__ import annotations

from glashaus.declare import Operation


def _op(name: str, http: str, path: str, tag: str, **kw: object) -> Operation:
    return Operation("", name, http, path, tag=tag, **kw)  # type: ignore[arg-type]


OPERATIONS = [
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
    _op("show_grants", "GET", "/grants", "access", cli="glashaus grants"),
    _op("grant", "POST", "/grants", "access", cli="glashaus grant"),
    _op("revoke", "DELETE", "/grants", "access", cli="glashaus revoke"),
    _op("set_row_filter", "PUT", "/tables/{table}/row-filter", "access"),
    _op("set_column_mask", "PUT", "/tables/{table}/columns/{column}/mask", "access"),
    _op("tag_policies", "GET", "/tag-policies", "access"),
    _op("create_tag_policy", "POST", "/tag-policies/{name}", "access"),
    _op("drop_tag_policy", "DELETE", "/tag-policies/{name}", "access"),
]

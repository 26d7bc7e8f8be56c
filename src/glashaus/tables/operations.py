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
    _op("list", "GET", "/securables", "catalog", privilege="USE", audit="{kind}.list"),
    _op("list", "GET", "/catalogs", "catalog", client=False, privilege="USE", audit="{kind}.list"),
    _op(
        "list",
        "GET",
        "/schemas/{catalog}",
        "catalog",
        rename={"catalog": "parent"},
        client=False,
        privilege="USE",
        audit="{kind}.list",
    ),
    _op(
        "list",
        "GET",
        "/objects/{schema}",
        "catalog",
        rename={"schema": "parent"},
        client=False,
        privilege="USE",
        audit="{kind}.list",
    ),
    _op("get", "GET", "/securables/{name}", "catalog", privilege="USE", audit="{kind}.get"),
    _op("exists", "GET", "/securables/{name}/exists", "catalog", privilege="USE", audit="{kind}.get"),
    _op("drop", "DELETE", "/securables/{name}", "catalog", privilege="MANAGE", audit="{kind}.drop"),
    _op("create_catalog", "POST", "/catalogs", "catalog", privilege="CREATE CATALOG", audit="catalog.create"),
    _op("create_schema", "POST", "/schemas", "catalog", privilege="CREATE SCHEMA", audit="schema.create"),
    _op("set_comment", "PUT", "/securables/{name}/comment", "catalog", privilege="MANAGE", audit="{kind}.comment"),
    _op("set_tags", "PUT", "/securables/{name}/tags", "catalog", privilege="MANAGE", audit="{kind}.tag"),
    _op("unset_tags", "DELETE", "/securables/{name}/tags", "catalog", privilege="MANAGE", audit="{kind}.untag"),
    _op(
        "set_properties",
        "PUT",
        "/securables/{name}/properties",
        "catalog",
        privilege="MANAGE",
        audit="{kind}.properties",
    ),
    _op("set_owner", "PUT", "/securables/{name}/owner", "catalog", privilege=None, audit="owner.change"),
    # tables and views
    _op("describe", "GET", "/tables/{name}", "tables", privilege="USE", audit="{kind}.describe"),
    _op("create_table", "POST", "/tables/{name}", "tables", privilege="CREATE TABLE", audit="table.create"),
    _op("create_view", "POST", "/views/{name}", "tables", privilege="CREATE TABLE", audit="view.create"),
    _op("write", "POST", "/tables/{name}/rows", "tables", body="data", privilege="MODIFY", audit="table.write"),
    _op("read", "GET", "/tables/{name}/rows", "tables", stream="read_batches", privilege="SELECT", audit="table.read"),
    _op("history", "GET", "/tables/{name}/history", "tables", privilege="SELECT", audit="table.history"),
    _op("changes", "GET", "/tables/{name}/changes", "tables", privilege="SELECT", audit="table.changes"),
    _op("restore", "POST", "/tables/{name}/restore", "tables", privilege="MODIFY", audit="table.restore"),
    _op("optimize", "POST", "/tables/{name}/optimize", "tables", privilege="MODIFY", audit="table.optimize"),
    _op("vacuum", "POST", "/tables/{name}/vacuum", "tables", privilege="MODIFY", audit="table.vacuum"),
    _op("lineage", "GET", "/tables/{name}/lineage", "lineage", privilege="USE", audit="{kind}.get"),
    _op("column_lineage", "GET", "/tables/{name}/column-lineage", "lineage", privilege="USE", audit="{kind}.get"),
    # volumes
    _op("create_volume", "POST", "/volumes/{name}", "volumes", privilege="CREATE VOLUME", audit="volume.create"),
    _op("list_files", "GET", "/volumes/{volume}/files", "volumes", privilege="READ VOLUME", audit="volume.list"),
    _op(
        "put_file",
        "PUT",
        "/volumes/{volume}/files/{path:path}",
        "volumes",
        body="data",
        privilege="WRITE VOLUME",
        audit="volume.put",
    ),
    _op(
        "get_file", "GET", "/volumes/{volume}/files/{path:path}", "volumes", privilege="READ VOLUME", audit="volume.get"
    ),
    _op(
        "delete_file",
        "DELETE",
        "/volumes/{volume}/files/{path:path}",
        "volumes",
        privilege="WRITE VOLUME",
        audit="volume.delete",
    ),
    # grants, row filters, column masks, tag policies
    _op("show_grants", "GET", "/grants", "access", cli="glashaus grants", privilege="USE", audit="grants.show"),
    _op("grant", "POST", "/grants", "access", cli="glashaus grant", privilege="MANAGE", audit="grant"),
    _op("revoke", "DELETE", "/grants", "access", cli="glashaus revoke", privilege="MANAGE", audit="revoke"),
    _op("set_row_filter", "PUT", "/tables/{table}/row-filter", "access", privilege="MANAGE", audit="table.row_filter"),
    _op(
        "set_column_mask",
        "PUT",
        "/tables/{table}/columns/{column}/mask",
        "access",
        privilege="MANAGE",
        audit="table.column_mask",
    ),
    _op("tag_policies", "GET", "/tag-policies", "access", privilege=None, audit="tag_policy.list"),
    _op("create_tag_policy", "POST", "/tag-policies/{name}", "access", privilege="MANAGE", audit="tag_policy.create"),
    _op("drop_tag_policy", "DELETE", "/tag-policies/{name}", "access", privilege="MANAGE", audit="tag_policy.drop"),
]

"""Catalogs, schemas, tables, views, volumes, lineage, grants and policies: their operations on ``lh``.

One entry per operation (see :mod:`glashaus.declare`), naming the function it runs: a method
of one of :class:`~glashaus.tables.TablesService`'s parts (``Containers.exists`` runs on
``TablesService.containers``) or of :class:`~glashaus.tables.VolumesService`, whose guard
checks decide and audit, or one of the functions below where ``lh`` offers less than the
service (its other parameters are for the SQL engine and the other capabilities). ``lh``
(generated, ``glashaus/facades.py``) calls each as the caller. ``create_view`` and
``describe``, which run SQL, are the SQL capability's (``sql/operations.py``).

The functions are named apart from their operations (``get_securable`` runs ``lh.get``): the
generated facades import every capability's functions by name, side by side.
"""

from __future__ import annotations

import functools
from typing import Any

import pyarrow as pa

from glashaus.access import Principal
from glashaus.catalog import Securable
from glashaus.declare import Operation
from glashaus.tables.containers import Containers
from glashaus.tables.grants import Permissions
from glashaus.tables.lineage import LineageViews
from glashaus.tables.maintenance import Maintenance
from glashaus.tables.metadata import Metadata
from glashaus.tables.policies import PolicyRules
from glashaus.tables.reads import TableReads
from glashaus.tables.service import Commit, Mode, SchemaMode, TablesService
from glashaus.tables.volumes import VolumesService


def get_securable(tables: TablesService, who: Principal, name: str) -> Securable:
    """The catalog, schema, table, view, volume, model or experiment ``name``, if you may use it.

    >>> lh.get("main.shop.orders").kind
    'table'
    """
    return tables.get(who, name)


def drop_securable(
    tables: TablesService, who: Principal, name: str, *, if_exists: bool = False, cascade: bool = False
) -> list[Securable]:
    """Drop a catalog, schema, table, view or volume (``cascade`` for non-empty containers); needs MANAGE.

    What was dropped is returned; a table's data files stay until an admin vacuums them.

    >>> [s.full_name for s in lh.drop("main.shop.customers")]
    ['main.shop.customers']
    >>> lh.drop("main.shop.customers", if_exists=True)
    []
    """
    return tables.drop(who, name, if_exists=if_exists, cascade=cascade)


def create_table(
    tables: TablesService,
    who: Principal,
    name: str,
    *,
    schema: pa.Schema | None = None,
    data: Any = None,
    primary_key: list[str] | None = None,
    partition_by: list[str] | None = None,
    constraints: dict[str, str] | None = None,
    comment: str | None = None,
    properties: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    if_not_exists: bool = False,
) -> Securable:
    """Create a managed Delta table from an Arrow schema or from data (written as version 1).

    ``constraints`` maps a name to a CHECK expression (``{"qty_pos": "quantity > 0"}``);
    primary-key columns are NOT NULL.

    >>> lh.create_table("main.shop.plants", schema=pa.schema([("id", pa.int64())]),
    ...                 primary_key=["id"], constraints={"id_pos": "id > 0"}).full_name
    'main.shop.plants'
    """
    return tables.create_table(
        who,
        name,
        schema=schema,
        data=data,
        primary_key=primary_key,
        partition_by=partition_by,
        constraints=constraints,
        comment=comment,
        properties=properties,
        tags=tags,
        if_not_exists=if_not_exists,
    )


def write_table(
    tables: TablesService,
    who: Principal,
    name: str,
    data: Any,
    *,
    mode: Mode = "append",
    on: list[str] | None = None,
    schema_mode: SchemaMode = "strict",
    upstream: list[str] | None = None,
) -> Commit:
    """Append, overwrite or merge (upsert on ``on`` or the primary key) Arrow, pandas or polars data in one commit.

    ``schema_mode="merge"`` adds new columns; ``upstream`` declares the tables the data was
    computed from (their current versions are recorded as lineage).

    >>> df = pa.table({"order_id": [4, 5], "customer_id": [12, 10], "region": ["east", "north"],
    ...                "quantity": pa.array([4, 1], pa.int32()), "price": [12.5, 8.0]})
    >>> lh.write("main.shop.orders", df, mode="merge", on=["order_id"]).operation
    'MERGE'
    >>> lh.sql("SELECT count(*) FROM main.shop.orders").scalar()
    5
    """
    return tables.write(who, name, data, mode=mode, on=on, schema_mode=schema_mode, upstream=upstream)


_op = functools.partial(Operation, "")  # then name, HTTP method, path, tag


OPERATIONS = [
    # catalogs, schemas and objects
    _op("list", "GET", "/securables", "catalog", calls=Containers.list, privilege="USE", audit="{kind}.list"),
    _op(
        "list",
        "GET",
        "/catalogs",
        "catalog",
        calls=Containers.list,
        client=False,
        privilege="USE",
        audit="{kind}.list",
    ),
    _op(
        "list",
        "GET",
        "/schemas/{catalog}",
        "catalog",
        calls=Containers.list,
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
        calls=Containers.list,
        rename={"schema": "parent"},
        client=False,
        privilege="USE",
        audit="{kind}.list",
    ),
    _op("get", "GET", "/securables/{name}", "catalog", calls=get_securable, privilege="USE", audit="{kind}.get"),
    _op(
        "exists",
        "GET",
        "/securables/{name}/exists",
        "catalog",
        calls=Containers.exists,
        privilege="USE",
        audit="{kind}.get",
    ),
    _op(
        "drop", "DELETE", "/securables/{name}", "catalog", calls=drop_securable, privilege="MANAGE", audit="{kind}.drop"
    ),
    _op(
        "create_catalog",
        "POST",
        "/catalogs",
        "catalog",
        calls=Containers.create_catalog,
        privilege="CREATE CATALOG",
        audit="catalog.create",
    ),
    _op(
        "create_schema",
        "POST",
        "/schemas",
        "catalog",
        calls=Containers.create_schema,
        privilege="CREATE SCHEMA",
        audit="schema.create",
    ),
    _op(
        "set_comment",
        "PUT",
        "/securables/{name}/comment",
        "catalog",
        calls=Metadata.set_comment,
        privilege="MANAGE",
        audit="{kind}.comment",
    ),
    _op(
        "set_tags",
        "PUT",
        "/securables/{name}/tags",
        "catalog",
        calls=Metadata.set_tags,
        privilege="MANAGE",
        audit="{kind}.tag",
    ),
    _op(
        "unset_tags",
        "DELETE",
        "/securables/{name}/tags",
        "catalog",
        calls=Metadata.unset_tags,
        privilege="MANAGE",
        audit="{kind}.untag",
    ),
    _op(
        "set_properties",
        "PUT",
        "/securables/{name}/properties",
        "catalog",
        calls=Metadata.set_properties,
        privilege="MANAGE",
        audit="{kind}.properties",
    ),
    _op(
        "set_owner",
        "PUT",
        "/securables/{name}/owner",
        "catalog",
        calls=Permissions.set_owner,
        privilege=None,
        audit="owner.change",
    ),
    # tables and views
    _op(
        "create_table",
        "POST",
        "/tables/{name}",
        "tables",
        calls=create_table,
        privilege="CREATE TABLE",
        audit="table.create",
    ),
    _op(
        "write",
        "POST",
        "/tables/{name}/rows",
        "tables",
        calls=write_table,
        body="data",
        privilege="MODIFY",
        audit="table.write",
    ),
    _op(
        "read",
        "GET",
        "/tables/{name}/rows",
        "tables",
        calls=TableReads.read,
        stream="read_batches",
        privilege="SELECT",
        audit="table.read",
    ),
    _op(
        "history",
        "GET",
        "/tables/{name}/history",
        "tables",
        calls=TableReads.history,
        privilege="SELECT",
        audit="table.history",
    ),
    _op(
        "changes",
        "GET",
        "/tables/{name}/changes",
        "tables",
        calls=TableReads.changes,
        privilege="SELECT",
        audit="table.changes",
    ),
    _op(
        "restore",
        "POST",
        "/tables/{name}/restore",
        "tables",
        calls=Maintenance.restore,
        privilege="MODIFY",
        audit="table.restore",
    ),
    _op(
        "optimize",
        "POST",
        "/tables/{name}/optimize",
        "tables",
        calls=Maintenance.optimize,
        privilege="MODIFY",
        audit="table.optimize",
    ),
    _op(
        "vacuum",
        "POST",
        "/tables/{name}/vacuum",
        "tables",
        calls=Maintenance.vacuum,
        privilege="MODIFY",
        audit="table.vacuum",
    ),
    _op(
        "lineage",
        "GET",
        "/tables/{name}/lineage",
        "lineage",
        calls=LineageViews.lineage_of,
        privilege="USE",
        audit="{kind}.get",
    ),
    _op(
        "column_lineage",
        "GET",
        "/tables/{name}/column-lineage",
        "lineage",
        calls=LineageViews.column_lineage_of,
        privilege="USE",
        audit="{kind}.get",
    ),
    # volumes
    _op(
        "create_volume",
        "POST",
        "/volumes/{name}",
        "volumes",
        calls=Containers.create_volume,
        privilege="CREATE VOLUME",
        audit="volume.create",
    ),
    _op(
        "list_files",
        "GET",
        "/volumes/{volume}/files",
        "volumes",
        calls=VolumesService.list,
        privilege="READ VOLUME",
        audit="volume.list",
    ),
    _op(
        "put_file",
        "PUT",
        "/volumes/{volume}/files/{path:path}",
        "volumes",
        calls=VolumesService.put,
        body="data",
        privilege="WRITE VOLUME",
        audit="volume.put",
    ),
    _op(
        "get_file",
        "GET",
        "/volumes/{volume}/files/{path:path}",
        "volumes",
        calls=VolumesService.get,
        privilege="READ VOLUME",
        audit="volume.get",
    ),
    _op(
        "delete_file",
        "DELETE",
        "/volumes/{volume}/files/{path:path}",
        "volumes",
        calls=VolumesService.delete,
        privilege="WRITE VOLUME",
        audit="volume.delete",
    ),
    # grants, row filters, column masks, tag policies
    _op(
        "show_grants",
        "GET",
        "/grants",
        "access",
        calls=Permissions.show_grants,
        cli="glashaus grants",
        privilege="USE",
        audit="grants.show",
    ),
    _op(
        "grant",
        "POST",
        "/grants",
        "access",
        calls=Permissions.grant,
        cli="glashaus grant",
        privilege="MANAGE",
        audit="grant",
    ),
    _op(
        "revoke",
        "DELETE",
        "/grants",
        "access",
        calls=Permissions.revoke,
        cli="glashaus revoke",
        privilege="MANAGE",
        audit="revoke",
    ),
    _op(
        "set_row_filter",
        "PUT",
        "/tables/{table}/row-filter",
        "access",
        calls=PolicyRules.set_row_filter,
        privilege="MANAGE",
        audit="table.row_filter",
    ),
    _op(
        "set_column_mask",
        "PUT",
        "/tables/{table}/columns/{column}/mask",
        "access",
        calls=PolicyRules.set_column_mask,
        privilege="MANAGE",
        audit="table.column_mask",
    ),
    _op(
        "tag_policies",
        "GET",
        "/tag-policies",
        "access",
        calls=PolicyRules.tag_policies,
        privilege=None,
        audit="tag_policy.list",
    ),
    _op(
        "create_tag_policy",
        "POST",
        "/tag-policies/{name}",
        "access",
        calls=PolicyRules.create_tag_policy,
        privilege="MANAGE",
        audit="tag_policy.create",
    ),
    _op(
        "drop_tag_policy",
        "DELETE",
        "/tag-policies/{name}",
        "access",
        calls=PolicyRules.drop_tag_policy,
        privilege="MANAGE",
        audit="tag_policy.drop",
    ),
]

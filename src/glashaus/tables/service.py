"""Tables: catalogs, schemas, managed Delta tables, views and volumes, governed.

This service is the only way the other capabilities reach table data or write the catalog:
each operation asks the guard (:class:`~glashaus.access.guard.Guard`: lookup, decision,
audit, shaping) before it works on the catalog and on storage. The SQL engine, the CLI,
the REST API and the other capabilities are faces over these methods.

It is composed of parts, one concept each, which share nothing but the collaborators
they are given: :class:`~glashaus.tables.containers.Containers` (catalogs, schemas, volumes,
listing, dropping, securables of other capabilities), :class:`~glashaus.tables.writes.TableWrites`,
:class:`~glashaus.tables.reads.TableReads`, :class:`~glashaus.tables.maintenance.Maintenance`,
:class:`~glashaus.tables.views.Views`, :class:`~glashaus.tables.lineage.LineageViews`,
:class:`~glashaus.tables.grants.Permissions`, :class:`~glashaus.tables.metadata.Metadata` and
:class:`~glashaus.tables.policies.PolicyRules`. Their operations are this service's.

>>> _ = svc.create_table(alice, "main.shop.plants", schema=pa.schema([("id", pa.int64())]))
>>> svc.write(alice, "main.shop.plants", {"id": [1, 2]})
Commit(table='main.shop.plants', version=1, operation='APPEND', rows=2)
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from glashaus.access import Access, Principal
from glashaus.access.guard import Guard
from glashaus.access.policies import Policies
from glashaus.catalog import Catalog
from glashaus.declare import Delegate
from glashaus.lineage import LineageStore
from glashaus.storage.delta import DeltaStore
from glashaus.storage.layout import Layout
from glashaus.tables.containers import KINDS, Containers, Created
from glashaus.tables.grants import Permissions
from glashaus.tables.lineage import RESTRICTED, LineageViews
from glashaus.tables.maintenance import MIN_RETENTION_HOURS, Maintenance
from glashaus.tables.metadata import Metadata
from glashaus.tables.policies import PolicyRules
from glashaus.tables.reads import BatchRead, ScanSource, TableReads
from glashaus.tables.views import Views
from glashaus.tables.writes import Commit, Mode, SchemaMode, TableWrites

__all__ = [
    "KINDS",
    "MIN_RETENTION_HOURS",
    "RESTRICTED",
    "BatchRead",
    "Commit",
    "Created",
    "Mode",
    "ScanSource",
    "SchemaMode",
    "TablesService",
]


class TablesService:
    """The governed data service: its parts' operations, under one roof."""

    # The operations, each implemented by one part (on the class too: ``calls=TablesService.exists``).
    create_catalog = Delegate("containers", Containers.create_catalog)
    create_schema = Delegate("containers", Containers.create_schema)
    create_volume = Delegate("containers", Containers.create_volume)
    create_securable = Delegate("containers", Containers.create_securable)
    list = Delegate("containers", Containers.list)
    get = Delegate("containers", Containers.get)
    exists = Delegate("containers", Containers.exists)
    drop = Delegate("containers", Containers.drop)
    create_table = Delegate("writes", TableWrites.create_table)
    write = Delegate("writes", TableWrites.write)
    delete_rows = Delegate("writes", TableWrites.delete_rows)
    update_rows = Delegate("writes", TableWrites.update_rows)
    merge_rows = Delegate("writes", TableWrites.merge_rows)
    table = Delegate("reads", TableReads.table)
    app_transaction_version = Delegate("reads", TableReads.app_transaction_version)
    read = Delegate("reads", TableReads.read)
    scan = Delegate("reads", TableReads.scan)
    read_batches = Delegate("reads", TableReads.read_batches)
    version = Delegate("reads", TableReads.version)
    history = Delegate("reads", TableReads.history)
    describe = Delegate("reads", TableReads.describe)
    schema = Delegate("reads", TableReads.schema)
    changes = Delegate("reads", TableReads.changes)
    restore = Delegate("maintenance", Maintenance.restore)
    optimize = Delegate("maintenance", Maintenance.optimize)
    vacuum = Delegate("maintenance", Maintenance.vacuum)
    create_view = Delegate("views", Views.create_view)
    lineage_of = Delegate("provenance", LineageViews.lineage_of)
    column_lineage_of = Delegate("provenance", LineageViews.column_lineage_of)
    grant = Delegate("permissions", Permissions.grant)
    revoke = Delegate("permissions", Permissions.revoke)
    show_grants = Delegate("permissions", Permissions.show_grants)
    set_owner = Delegate("permissions", Permissions.set_owner)
    set_comment = Delegate("metadata", Metadata.set_comment)
    set_tags = Delegate("metadata", Metadata.set_tags)
    unset_tags = Delegate("metadata", Metadata.unset_tags)
    set_properties = Delegate("metadata", Metadata.set_properties)
    set_row_filter = Delegate("rules", PolicyRules.set_row_filter)
    set_column_mask = Delegate("rules", PolicyRules.set_column_mask)
    create_tag_policy = Delegate("rules", PolicyRules.create_tag_policy)
    drop_tag_policy = Delegate("rules", PolicyRules.drop_tag_policy)
    tag_policies = Delegate("rules", PolicyRules.tag_policies)
    rewrite_rule = Delegate("rules", PolicyRules.rewrite_rule)
    restricted = Delegate("rules", PolicyRules.restricted)

    def __init__(
        self,
        *,
        catalog: Catalog,
        store: DeltaStore,
        layout: Layout,
        access: Access,
        lineage: LineageStore,
        policies: Policies,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.layout = layout
        self.access = access
        self.lineage = lineage
        self.policies = policies
        #: Lookup, decision, audit and shaping for every operation on a securable, here and in other capabilities.
        self.guard = Guard(access)
        #: Tables computed when SQL names them (``system.ml.runs``): full name -> rows for a reader.
        #: Higher capabilities register here; each provider authorizes what it returns.
        self.virtual_tables: dict[str, Callable[[Principal], pa.Table]] = {}

        self.containers = Containers(catalog=catalog, access=access, guard=self.guard, store=store, layout=layout)
        self.rules = PolicyRules(access=access, guard=self.guard, store=store, policies=policies)
        self.provenance = LineageViews(catalog=catalog, access=access, guard=self.guard, store=store, lineage=lineage)
        self.writes = TableWrites(
            catalog=catalog, guard=self.guard, store=store, layout=layout, lineage=self.provenance
        )
        self.reads = TableReads(catalog=catalog, access=access, guard=self.guard, store=store, policies=self.rules)
        self.maintenance = Maintenance(guard=self.guard, store=store, lineage=lineage)
        self.views = Views(catalog=catalog, access=access, guard=self.guard)
        self.permissions = Permissions(catalog=catalog, access=access, guard=self.guard)
        self.metadata = Metadata(catalog=catalog, guard=self.guard, store=store)

        # The storage layer's rewriting commits need a grant from its gate; this is the one rule it asks.
        store.rewrites.install(self.rewrite_rule)

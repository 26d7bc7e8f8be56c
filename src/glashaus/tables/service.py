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

    # Its parts (the declared operations call them: ``calls=Containers.exists`` runs ``lh._tables.containers``).
    containers: Containers
    rules: PolicyRules
    provenance: LineageViews
    writes: TableWrites
    reads: TableReads
    maintenance: Maintenance
    views: Views
    permissions: Permissions
    metadata: Metadata

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

        # The operations, each implemented by one part.
        self.create_catalog = self.containers.create_catalog
        self.create_schema = self.containers.create_schema
        self.create_volume = self.containers.create_volume
        self.create_securable = self.containers.create_securable
        self.list = self.containers.list
        self.get = self.containers.get
        self.exists = self.containers.exists
        self.drop = self.containers.drop
        self.create_table = self.writes.create_table
        self.write = self.writes.write
        self.delete_rows = self.writes.delete_rows
        self.update_rows = self.writes.update_rows
        self.merge_rows = self.writes.merge_rows
        self.table = self.reads.table
        self.app_transaction_version = self.reads.app_transaction_version
        self.read = self.reads.read
        self.scan = self.reads.scan
        self.read_batches = self.reads.read_batches
        self.version = self.reads.version
        self.history = self.reads.history
        self.describe = self.reads.describe
        self.schema = self.reads.schema
        self.changes = self.reads.changes
        self.restore = self.maintenance.restore
        self.optimize = self.maintenance.optimize
        self.vacuum = self.maintenance.vacuum
        self.create_view = self.views.create_view
        self.lineage_of = self.provenance.lineage_of
        self.column_lineage_of = self.provenance.column_lineage_of
        self.grant = self.permissions.grant
        self.revoke = self.permissions.revoke
        self.show_grants = self.permissions.show_grants
        self.set_owner = self.permissions.set_owner
        self.set_comment = self.metadata.set_comment
        self.set_tags = self.metadata.set_tags
        self.unset_tags = self.metadata.unset_tags
        self.set_properties = self.metadata.set_properties
        self.set_row_filter = self.rules.set_row_filter
        self.set_column_mask = self.rules.set_column_mask
        self.create_tag_policy = self.rules.create_tag_policy
        self.drop_tag_policy = self.rules.drop_tag_policy
        self.tag_policies = self.rules.tag_policies
        self.rewrite_rule = self.rules.rewrite_rule
        self.restricted = self.rules.restricted

        # The storage layer's rewriting commits need a grant from its gate; this is the one rule it asks.
        store.rewrites.install(self.rewrite_rule)

"""The Lakehouse: the capabilities wired together for one identity.

Longer than 500 lines on purpose: it is the public API, one short method per operation over
a capability's service (each documented here, where users read it), plus the wiring.

>>> import glashaus, tempfile
>>> lake = glashaus.connect(tempfile.mkdtemp(), user="alice")   # the first user is the admin
>>> _ = lake.sql("CREATE SCHEMA main.garden")
>>> lake.create_table("main.garden.plants", data={"id": [1, 2], "name": ["fern", "ivy"]}).full_name
'main.garden.plants'
>>> lake.write("main.garden.plants", {"id": [3], "name": ["moss"]}).version
2
>>> lake.read("main.garden.plants", version=2).num_rows
3
>>> lake.close()
"""

from __future__ import annotations

import builtins  # methods named list/set below hide the builtins inside their class
import copy
import datetime as dt
import getpass
import os
from dataclasses import dataclass
from typing import Any, Self

import pyarrow as pa

from glashaus.access import (
    USERS,
    Access,
    AuditLog,
    Directory,
    Grants,
    Principal,
    SystemTables,
)
from glashaus.access.admin import Administration
from glashaus.access.policies import Policies, TagPolicy
from glashaus.catalog import Catalog, Securable
from glashaus.catalog.names import parse_name
from glashaus.deprecation import warn
from glashaus.errors import AuthenticationError
from glashaus.facades import Experiments, LakehouseOperations, Models, Runs, Serving
from glashaus.lineage import Edge, LineageStore
from glashaus.metastore import Metastore
from glashaus.registry import RegistryService
from glashaus.serving import ServingService
from glashaus.sql.engine import SqlEngine
from glashaus.sql.limits import EMBEDDED_LIMITS, QueryLimits
from glashaus.sql.result import Result
from glashaus.storage.delta import DeltaStore
from glashaus.storage.layout import Layout
from glashaus.tables import Commit, FileInfo, TablesService, VolumesService
from glashaus.tables.results import (
    ColumnEdge,
    Description,
    Grant,
    HistoryEntry,
    OptimizeResult,
)
from glashaus.tables.service import Mode, SchemaMode
from glashaus.tracking import TrackingService
from glashaus.tracking.system_tables import providers as ml_system_tables

DEFAULT_CATALOG = "main"
DEFAULT_SCHEMA = "default"


class Lakehouse(LakehouseOperations):
    """One lakehouse, seen by one principal. Create it with :func:`glashaus.connect`."""

    _view_of: Lakehouse | None = None  # the lakehouse an as_user() view was made from

    def __init__(
        self,
        root: str,
        *,
        user: str | None = None,
        metastore: str | None = None,
        storage_options: dict[str, str] | None = None,
        query_limits: QueryLimits = EMBEDDED_LIMITS,
    ) -> None:
        self._layout = Layout(str(root))
        self._layout.ensure_root()
        if user is None:  # an explicit empty name is refused, never replaced by the OS user
            user = os.environ.get("GLASHAUS_USER") or getpass.getuser()
        self.principal = Principal.user(user)
        self._metastore = Metastore.open(metastore or self._layout.default_metastore_url())
        self._catalog = Catalog(self._metastore)
        self._store = DeltaStore(storage_options=storage_options)
        self._system = SystemTables(self._catalog, self._store, self._layout)
        self._system.ensure()
        self._audit = AuditLog(self._system, self._metastore)
        self._directory = Directory(self._metastore)
        self._access = Access(
            self._audit, directory=self._directory, grants=Grants(self._metastore), catalog=self._catalog
        )
        self._admin = Administration(self._access)
        # The first user of a new lakehouse is its admin; everyone else must be known.
        first = self._directory.is_empty() and self._directory.bootstrap(self.principal.name)
        if not self._directory.exists(self.principal.name):
            raise AuthenticationError(
                f"user {self.principal.name!r} is not known to the lakehouse at {self._layout.root}; an admin "
                f"can add them: lh.create_user({self.principal.name!r}) or `glashaus users create "
                f"{self.principal.name}`."
            )
        _refuse_group(self._directory, self.principal.name)
        self._lineage_store = LineageStore(self._system)
        self._tables = TablesService(
            catalog=self._catalog,
            store=self._store,
            layout=self._layout,
            access=self._access,
            lineage=self._lineage_store,
            policies=Policies(self._metastore, self._catalog, self._directory),
        )
        self._volumes = VolumesService(self._tables)
        self._engine = SqlEngine(self._tables, limits=query_limits)
        self._tracking = TrackingService(tables=self._tables, metastore=self._metastore, locations=self._layout)
        self._tables.virtual_tables.update(ml_system_tables(self._tracking))
        # The registry reads runs' models (runs:/, models:/m-<id> sources) through tracking's part; the two
        # are on one level and do not import each other, so the lakehouse hands it over.
        self._registry = RegistryService(
            tables=self._tables, lineage=self._lineage_store, tracked=self._tracking.model_folders
        )
        self._serving = ServingService(self._metastore, self._tables, self._registry)
        if first:
            self._ensure_defaults()

    def _ensure_defaults(self) -> None:
        # Like Databricks: a 'main' catalog with a 'default' schema where every user
        # may create tables, volumes and models (and MLflow experiments, which need CREATE MODEL).
        main, default = DEFAULT_CATALOG, f"{DEFAULT_CATALOG}.{DEFAULT_SCHEMA}"
        self._tables.create_catalog(self.principal, main, if_not_exists=True, comment="The default catalog.")
        self._tables.create_schema(self.principal, default, if_not_exists=True, comment="The default schema.")
        self._tables.grant(self.principal, "USE CATALOG", on=main, to=USERS)
        for privilege in ("USE SCHEMA", "CREATE TABLE", "CREATE VOLUME", "CREATE MODEL"):
            self._tables.grant(self.principal, privilege, on=default, to=USERS)

    @property
    def user(self) -> str:
        return self.principal.name

    @property
    def root(self) -> str:
        return self._layout.root

    @property
    def models(self) -> Models:
        """The model registry as this principal: ``lh.models.register(...)``, ``.load("...@champion")``."""
        return Models(self._registry, self.principal)

    @property
    def serving(self) -> Serving:
        """Serving endpoints as this principal: ``lh.serving.create_endpoint("reco", model="...@champion")``."""
        return Serving(self._serving, self.principal)

    @property
    def experiments(self) -> Experiments:
        """Experiment tracking as this principal: ``lh.experiments.create("main.shop.reco_training")``."""
        return Experiments(self._tracking, self.principal)

    @property
    def runs(self) -> Runs:
        """Runs as this principal: ``lh.runs.start(...)``, ``.log_metrics(...)``, ``.search(...)``."""
        return Runs(self._tracking, self.principal)

    # -- SQL --------------------------------------------------------------------------

    def sql(self, query: str) -> Result:
        """Run governed SQL (DuckDB dialect); catalog names resolve to governed tables.

        >>> lh.sql("SELECT count(*) FROM main.shop.orders@v1").scalar()
        4
        """
        return self._engine.execute(self.principal, query)

    # -- catalog ----------------------------------------------------------------------

    def create_catalog(self, name: str, *, comment: str | None = None, if_not_exists: bool = False) -> Securable:
        """>>> lh.create_catalog("dev").full_name
        'dev'
        """
        return self._tables.create_catalog(self.principal, name, comment=comment, if_not_exists=if_not_exists)

    def create_schema(self, name: str, *, comment: str | None = None, if_not_exists: bool = False) -> Securable:
        """>>> lh.create_schema("main.garden").full_name
        'main.garden'
        """
        return self._tables.create_schema(self.principal, name, comment=comment, if_not_exists=if_not_exists)

    def create_table(
        self,
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
        """Create a managed Delta table from an Arrow schema or from data.

        ``constraints`` maps a name to a CHECK expression (``{"qty_pos": "quantity > 0"}``);
        primary-key columns are NOT NULL.

        >>> lh.create_table("main.shop.plants", schema=pa.schema([("id", pa.int64())]),
        ...                 primary_key=["id"], constraints={"id_pos": "id > 0"}).full_name
        'main.shop.plants'
        """
        return self._tables.create_table(
            self.principal,
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

    def create_view(self, name: str, sql: str, *, comment: str | None = None, replace: bool = False) -> Securable:
        """>>> lh.create_view("main.shop.big_orders", "SELECT * FROM main.shop.orders WHERE quantity > 10").kind
        'view'
        """
        verb = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
        comment_sql = "" if comment is None else " COMMENT '" + comment.replace("'", "''") + "'"
        full = parse_name(name, allow_version=False).full  # a checked name: nothing else gets into the SQL
        self.sql(f"{verb} {full}{comment_sql} AS {sql}")
        return self._tables.get(self.principal, full, kind="view")

    def create_volume(self, name: str, *, comment: str | None = None, if_not_exists: bool = False) -> Securable:
        """>>> lh.create_volume("main.shop.documents").kind
        'volume'
        """
        return self._tables.create_volume(self.principal, name, comment=comment, if_not_exists=if_not_exists)

    def drop(self, name: str, *, if_exists: bool = False, cascade: bool = False) -> list[Securable]:
        """Drop a catalog, schema, table, view or volume (``cascade`` for non-empty containers)."""
        return self._tables.drop(self.principal, name, if_exists=if_exists, cascade=cascade)

    def get(self, name: str) -> Securable:
        return self._tables.get(self.principal, name)

    def exists(self, name: str) -> bool:
        """Whether a catalog, schema, table, view, volume, model or experiment of that name exists (as Unity
        Catalog's ``tables/{name}/exists``); one you may not use is refused, not reported missing.

        >>> lh.exists("main.shop.orders"), lh.exists("main.shop.nope")
        (True, False)
        """
        return self._tables.exists(self.principal, name)

    def list(self, parent: str | None = None, *, kind: str | None = None) -> list[Securable]:
        """Catalogs, the schemas of a catalog, or the objects of a schema."""
        return self._tables.list(self.principal, parent, kind=kind)

    def describe(self, name: str) -> Description:
        """Owner, comment, tags, columns (with comments and tags), keys, constraints, version, size.

        >>> lh.describe("main.shop.orders").columns[0].name
        'order_id'
        """
        return self._engine.describe(self.principal, name)

    def set_comment(self, name: str, comment: str, *, column: str | None = None) -> Securable:
        return self._tables.set_comment(self.principal, name, comment, column=column)

    def set_tags(self, name: str, tags: dict[str, str], *, column: str | None = None) -> Securable:
        return self._tables.set_tags(self.principal, name, tags, column=column)

    def unset_tags(self, name: str, keys: builtins.list[str], *, column: str | None = None) -> Securable:
        return self._tables.unset_tags(self.principal, name, keys, column=column)

    def set_properties(self, name: str, properties: dict[str, str]) -> Securable:
        return self._tables.set_properties(self.principal, name, properties)

    # -- data ----------------------------------------------------------------------------

    def write(
        self,
        name: str,
        data: Any,
        *,
        mode: Mode = "append",
        on: builtins.list[str] | None = None,
        schema_mode: SchemaMode = "strict",
        upstream: builtins.list[str] | None = None,
    ) -> Commit:
        """Append, overwrite or merge (upsert) Arrow, pandas or polars data in one commit.

        ``schema_mode="merge"`` adds new columns; ``upstream`` declares source tables for lineage.

        >>> df = pa.table({"order_id": [4, 5], "customer_id": [12, 10], "region": ["east", "north"],
        ...                "quantity": pa.array([4, 1], pa.int32()), "price": [12.5, 8.0]})
        >>> lh.write("main.shop.orders", df, mode="merge", on=["order_id"]).operation
        'MERGE'
        >>> lh.sql("SELECT count(*) FROM main.shop.orders").scalar()
        5
        """
        return self._tables.write(
            self.principal, name, data, mode=mode, on=on, schema_mode=schema_mode, upstream=upstream
        )

    def read(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: dt.datetime | str | None = None,
        columns: builtins.list[str] | None = None,
    ) -> pa.Table:
        """Rows of a table, now or at a version/time, as a pyarrow Table.

        >>> lh.read("main.shop.orders", version=1).num_rows
        4
        """
        return self._tables.read(self.principal, name, version=version, as_of=as_of, columns=columns)

    def read_batches(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: dt.datetime | str | None = None,
        columns: builtins.list[str] | None = None,
        batch_size: int = 262_144,
    ) -> pa.RecordBatchReader:
        """Rows of a table as a stream of record batches (bounded memory; filters and masks applied).

        >>> sum(batch.num_rows for batch in lh.read_batches("main.shop.orders", batch_size=2))
        4
        """
        return self._tables.read_batches(
            self.principal, name, version=version, as_of=as_of, columns=columns, batch_size=batch_size
        ).reader

    def history(self, name: str, *, limit: int | None = None) -> builtins.list[HistoryEntry]:
        return self._tables.history(self.principal, name, limit=limit)

    def restore(self, name: str, *, version: int) -> Commit:
        return self._tables.restore(self.principal, name, version=version)

    def optimize(self, name: str, *, zorder_by: builtins.list[str] | None = None) -> OptimizeResult:
        return self._tables.optimize(self.principal, name, zorder_by=zorder_by)

    def vacuum(self, name: str, *, retention_hours: int | None = None, dry_run: bool = True) -> builtins.list[str]:
        """Unreferenced files older than the retention (at least 7 days; never a version lineage uses): listed,
        and removed only with ``dry_run=False`` (a dry run by default, as in delta-rs, since 0.2).

        >>> lh.vacuum("main.shop.orders")                 # what would go (nothing old enough yet)
        []
        >>> lh.vacuum("main.shop.orders", dry_run=False)  # remove them
        []
        """
        return self._tables.vacuum(self.principal, name, retention_hours=retention_hours, dry_run=dry_run)

    def changes(self, name: str, *, starting_version: int = 0, ending_version: int | None = None) -> pa.Table:
        """The change data feed: rows inserted, deleted and updated per version."""
        return self._tables.changes(
            self.principal, name, starting_version=starting_version, ending_version=ending_version
        )

    # -- volumes --------------------------------------------------------------------------

    def put_file(self, volume: str, path: str, data: bytes, *, overwrite: bool = True) -> FileInfo:
        return self._volumes.put(self.principal, volume, path, data, overwrite=overwrite)

    def get_file(self, volume: str, path: str) -> bytes:
        return self._volumes.get(self.principal, volume, path)

    def list_files(self, volume: str, prefix: str = "") -> builtins.list[FileInfo]:
        return self._volumes.list(self.principal, volume, prefix)

    def delete_file(self, volume: str, path: str) -> None:
        self._volumes.delete(self.principal, volume, path)

    # -- principals, tokens, grants --------------------------------------------------------

    def grant(self, privilege: str, *, on: str | None, to: str) -> bool:
        """Grant a privilege (Unity Catalog names) on a securable, or ``on=None`` the metastore.

        >>> lh.grant("SELECT", on="main.shop.orders", to="analysts")
        True
        """
        return self._tables.grant(self.principal, privilege, on=on, to=to)

    def revoke(self, privilege: str, *, on: str | None, from_: str) -> bool:
        return self._tables.revoke(self.principal, privilege, on=on, from_=from_)

    def show_grants(self, on: str | None) -> builtins.list[Grant]:
        """Grants on ``on`` and those it inherits (``inherited`` says which)."""
        return self._tables.show_grants(self.principal, on)

    def set_owner(self, name: str, owner: str) -> Securable:
        return self._tables.set_owner(self.principal, name, owner)

    # -- row filters and column masks ------------------------------------------------------

    def set_row_filter(self, table: str, expression: str | None) -> Securable:
        """Show only rows where ``expression`` is true (``None`` removes the filter).

        ``current_user()`` and ``is_member('group')`` are evaluated for each reader.

        >>> _ = lh.set_row_filter("main.shop.orders", "region = 'north' OR is_member('admins')")
        >>> lh.sql("SELECT count(*) FROM main.shop.orders").scalar()   # alice is an admin
        4
        """
        return self._tables.set_row_filter(self.principal, table, expression)

    def set_column_mask(self, table: str, column: str, expression: str | None) -> Securable:
        """Show ``expression`` in place of the column (``None`` removes the mask).

        >>> _ = lh.set_column_mask("main.shop.customers", "email",
        ...                        "CASE WHEN is_member('pii_readers') THEN email ELSE '***' END")
        >>> lh.sql("SELECT email FROM main.shop.customers LIMIT 1").scalar()
        '***'
        """
        return self._tables.set_column_mask(self.principal, table, column, expression)

    def create_tag_policy(self, name: str, *, tag: str, mask: str, except_groups: builtins.list[str]) -> TagPolicy:
        """Mask every column tagged ``tag`` (``'pii'`` or ``'class=email'``) for all outside ``except_groups``.

        The mask is an expression over ``value``, the column's value.

        >>> lh.create_tag_policy("hide_pii", tag="pii", mask="'***'", except_groups=["analysts"]).name
        'hide_pii'
        """
        return self._tables.create_tag_policy(self.principal, name, tag=tag, mask=mask, except_groups=except_groups)

    def drop_tag_policy(self, name: str) -> None:
        self._tables.drop_tag_policy(self.principal, name)

    def tag_policies(self) -> builtins.list[TagPolicy]:
        """The tag policies in force (names, tags; masks and exempt groups for admins, ``"(hidden)"`` otherwise)."""
        return self._tables.tag_policies(self.principal)

    # -- lineage --------------------------------------------------------------------------

    def lineage(self, name: str, *, direction: str = "upstream", depth: int = 10) -> builtins.list[Edge]:
        """Edges from (downstream) or into (upstream) ``name``, with the versions involved.

        >>> _ = lh.sql("CREATE TABLE main.shop.gold AS SELECT region, sum(price) AS revenue FROM main.shop.orders GROUP BY 1")
        >>> [(e.source, e.source_version) for e in lh.lineage("main.shop.gold")]
        [('main.shop.orders', 1)]
        """
        return self._tables.lineage_of(self.principal, name, direction=direction, depth=depth)

    def column_lineage(self, name: str, *, direction: str = "upstream") -> builtins.list[ColumnEdge]:
        return self._tables.column_lineage_of(self.principal, name, direction=direction)

    # -- lifecycle --------------------------------------------------------------------------

    def flush(self) -> None:
        """Write journaled audit events and inference rows (this process's and any crashed one's) now."""
        self._serving.move_inference_rows(quiet=True)
        self._audit.flush()

    def as_user(self, user: str | Principal) -> Lakehouse:
        """The same lakehouse seen by another known principal, sharing every service.

        Cheap (nothing is reopened): the server uses it once per request, after checking
        the request's token, with the token's ``Principal`` (which names its token: once the
        token is gone with a dropped principal, this view acts as nobody, even if a principal of
        that name was created since). Embedded, it is no more a security boundary than
        ``connect(user=...)``.

        >>> with lh.as_user("bob") as bob:
        ...     bob.sql("SELECT 1 AS one").scalar()
        1
        """
        principal = user if isinstance(user, Principal) else Principal.user(user)
        if not self._directory.exists(principal.name, token_id=principal.token_id):
            raise AuthenticationError(
                f"user {principal.name!r} is not known to this lakehouse."
                if principal.token_id is None
                else f"this token no longer stands for {principal.name!r}: that principal was dropped since the "
                "token was checked (a principal of the same name now is someone else); sign in with a token of "
                "the current one."
            )
        _refuse_group(self._directory, principal.name)
        view = copy.copy(self)
        view.principal = principal
        view._view_of = self
        return view

    def close(self) -> None:
        """Flush the audit and inference journals; the lakehouse that owns the services also releases them."""
        self._serving.move_inference_rows(quiet=True)
        self._audit.flush()
        if getattr(self, "_view_of", None) is not None:
            return
        self._engine.close()
        self._metastore.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Lakehouse {self.root} as {self.user}>"


@dataclass(frozen=True)
class Services:
    """The services and stores behind a Lakehouse, for Glashaus's own faces only.

    None of these is reachable as an attribute of ``lh``: each takes the acting principal
    as an argument, and the stores (metastore, storage) take none at all, so handing them
    out would let a caller skip the guard or act as anyone. The faces that need them (the
    MLflow protocol, sign-in, serving, the web shell) call :func:`services` with the
    lakehouse they serve; user code calls the declared operations on ``lh``.
    """

    layout: Layout
    metastore: Metastore
    catalog: Catalog
    store: DeltaStore
    system: SystemTables
    audit: AuditLog
    directory: Directory
    access: Access
    admin: Administration
    lineage_store: LineageStore
    tables: TablesService
    volumes: VolumesService
    engine: SqlEngine
    tracking: TrackingService
    registry: RegistryService
    serving: ServingService


def services(lh: Lakehouse) -> Services:
    """The services behind ``lh`` (see :class:`Services`: for Glashaus's own faces, not for user code).

    >>> [e.name for e in services(lh).tracking.search_experiments(lh.principal).items]   # as the MLflow face does
    []
    """
    return Services(
        layout=lh._layout,
        metastore=lh._metastore,
        catalog=lh._catalog,
        store=lh._store,
        system=lh._system,
        audit=lh._audit,
        directory=lh._directory,
        access=lh._access,
        admin=lh._admin,
        lineage_store=lh._lineage_store,
        tables=lh._tables,
        volumes=lh._volumes,
        engine=lh._engine,
        tracking=lh._tracking,
        registry=lh._registry,
        serving=lh._serving,
    )


def _refuse_group(directory: Directory, name: str) -> None:
    """A group is not an identity one can act as: it would carry its members' rights (or an admin's)."""
    if directory.kind_of(name) == "group":
        raise AuthenticationError(
            f"{name!r} is a group; connect as a user or service principal (one of its members, "
            f"see lh.principal_info({name!r}))."
        )


def connect(*args: Any, **kwargs: Any) -> Any:
    """Deprecated: use :func:`glashaus.connect` (which now lives in ``glashaus/entry.py``, above both modes).

    Kept for one release; it warns and calls :func:`glashaus.connect`.
    """
    warn("glashaus.lakehouse.connect", "glashaus.connect")
    import glashaus  # the package is loaded whenever this module is: no new import, no circle

    return glashaus.connect(*args, **kwargs)

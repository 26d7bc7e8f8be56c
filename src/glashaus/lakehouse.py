"""The Lakehouse: the capabilities wired together for one identity.

Longer than 500 lines on purpose: it is the public API, one short method per operation over
a capability's service (each documented here, where users read it), plus the wiring.

>>> import glashaus
>>> lh = glashaus.connect("./lakehouse", user="alice")        # doctest: +SKIP
>>> lh.sql("CREATE SCHEMA main.shop")                         # doctest: +SKIP
>>> lh.write("main.shop.orders", df, mode="append")           # doctest: +SKIP
>>> lh.read("main.shop.orders", version=3)                    # doctest: +SKIP
"""

from __future__ import annotations

import copy
import datetime as dt
import getpass
import os
from typing import Any

import pyarrow as pa

from glashaus.access import (
    USERS,
    Access,
    AuditLog,
    Directory,
    Grants,
    Principal,
    PrincipalInfo,
    SystemTables,
    TokenInfo,
)
from glashaus.access.admin import Administration
from glashaus.access.policies import Policies, TagPolicy
from glashaus.catalog import Catalog, Securable
from glashaus.catalog.names import parse_name
from glashaus.errors import AuthenticationError, InvalidArgumentError
from glashaus.lineage import Edge, LineageStore
from glashaus.metastore import Metastore
from glashaus.registry import Models, RegistryService
from glashaus.serving import Serving, ServingService
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
from glashaus.tracking import Experiments, Runs, TrackingService
from glashaus.tracking.system_tables import providers as ml_system_tables

DEFAULT_CATALOG = "main"
DEFAULT_SCHEMA = "default"


class Lakehouse:
    """One lakehouse, seen by one principal. Create it with :func:`glashaus.connect`."""

    def __init__(
        self,
        root: str,
        *,
        user: str | None = None,
        metastore: str | None = None,
        storage_options: dict[str, str] | None = None,
        query_limits: QueryLimits = EMBEDDED_LIMITS,
    ) -> None:
        self.layout = Layout(str(root))
        self.layout.ensure_root()
        if user is None:  # an explicit empty name is refused, never replaced by the OS user
            user = os.environ.get("GLASHAUS_USER") or getpass.getuser()
        self.principal = Principal.user(user)
        self.metastore = Metastore.open(metastore or self.layout.default_metastore_url())
        self.catalog = Catalog(self.metastore)
        self.store = DeltaStore(storage_options=storage_options)
        self.system = SystemTables(self.catalog, self.store, self.layout)
        self.system.ensure()
        self.audit = AuditLog(self.system, self.metastore)
        self.directory = Directory(self.metastore)
        self.access = Access(self.audit, directory=self.directory, grants=Grants(self.metastore), catalog=self.catalog)
        self.admin = Administration(self.access)
        # The first user of a new lakehouse is its admin; everyone else must be known.
        first = self.directory.is_empty() and self.directory.bootstrap(self.principal.name)
        if not self.directory.exists(self.principal.name):
            raise AuthenticationError(
                f"user {self.principal.name!r} is not known to the lakehouse at {self.layout.root}; an admin "
                f"can add them: lh.create_user({self.principal.name!r}) or `glashaus users create "
                f"{self.principal.name}`."
            )
        _refuse_group(self.directory, self.principal.name)
        self.lineage_store = LineageStore(self.system)
        self.tables = TablesService(
            catalog=self.catalog, store=self.store, layout=self.layout, access=self.access,
            lineage=self.lineage_store, policies=Policies(self.metastore, self.catalog, self.directory),
        )
        self.volumes = VolumesService(self.tables)
        self.engine = SqlEngine(self.tables, limits=query_limits)
        self.tracking = TrackingService(tables=self.tables, metastore=self.metastore, locations=self.layout)
        self.tables.virtual_tables.update(ml_system_tables(self.tracking))
        # The registry reads runs' models (runs:/, models:/m-<id> sources) through tracking's part; the two
        # are on one level and do not import each other, so the lakehouse hands it over.
        self.registry = RegistryService(tables=self.tables, lineage=self.lineage_store,
                                        tracked=self.tracking.model_folders)
        self.serving_service = ServingService(self.metastore, self.tables, self.registry)
        if first:
            self._ensure_defaults()

    def _ensure_defaults(self) -> None:
        # Like Databricks: a 'main' catalog with a 'default' schema where every user
        # may create tables, volumes and models (and MLflow experiments, which need CREATE MODEL).
        main, default = DEFAULT_CATALOG, f"{DEFAULT_CATALOG}.{DEFAULT_SCHEMA}"
        self.tables.create_catalog(self.principal, main, if_not_exists=True, comment="The default catalog.")
        self.tables.create_schema(self.principal, default, if_not_exists=True, comment="The default schema.")
        self.tables.grant(self.principal, "USE CATALOG", on=main, to=USERS)
        for privilege in ("USE SCHEMA", "CREATE TABLE", "CREATE VOLUME", "CREATE MODEL"):
            self.tables.grant(self.principal, privilege, on=default, to=USERS)

    @property
    def user(self) -> str:
        return self.principal.name

    @property
    def root(self) -> str:
        return self.layout.root

    @property
    def models(self) -> Models:
        """The model registry as this principal: ``lh.models.register(...)``, ``.load("...@champion")``."""
        return Models(self.registry, self.principal)

    @property
    def serving(self) -> Serving:
        """Serving endpoints as this principal: ``lh.serving.create_endpoint("reco", model="...@champion")``."""
        return Serving(self.serving_service, self.principal)

    @property
    def experiments(self) -> Experiments:
        """Experiment tracking as this principal: ``lh.experiments.create("main.shop.reco_training")``."""
        return Experiments(self.tracking, self.principal)

    @property
    def runs(self) -> Runs:
        """Runs as this principal: ``lh.runs.start(...)``, ``.log_metrics(...)``, ``.search(...)``."""
        return Runs(self.tracking, self.principal)

    # -- SQL --------------------------------------------------------------------------

    def sql(self, query: str) -> Result:
        """Run governed SQL (DuckDB dialect); catalog names resolve to governed tables.

        >>> lh.sql("SELECT count(*) FROM main.shop.orders@v3").scalar()  # doctest: +SKIP
        """
        return self.engine.execute(self.principal, query)

    # -- catalog ----------------------------------------------------------------------

    def create_catalog(self, name: str, *, comment: str | None = None, if_not_exists: bool = False) -> Securable:
        """>>> lh.create_catalog("dev")  # doctest: +SKIP"""
        return self.tables.create_catalog(self.principal, name, comment=comment, if_not_exists=if_not_exists)

    def create_schema(self, name: str, *, comment: str | None = None, if_not_exists: bool = False) -> Securable:
        """>>> lh.create_schema("main.shop")  # doctest: +SKIP"""
        return self.tables.create_schema(self.principal, name, comment=comment, if_not_exists=if_not_exists)

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

        >>> lh.create_table("main.shop.orders", schema=pa.schema([("id", pa.int64())]),
        ...                 primary_key=["id"])  # doctest: +SKIP
        """
        return self.tables.create_table(
            self.principal, name, schema=schema, data=data, primary_key=primary_key,
            partition_by=partition_by, constraints=constraints, comment=comment,
            properties=properties, tags=tags, if_not_exists=if_not_exists,
        )

    def create_view(self, name: str, sql: str, *, comment: str | None = None, replace: bool = False) -> Securable:
        """>>> lh.create_view("main.shop.big_orders", "SELECT * FROM main.shop.orders WHERE qty > 10")  # doctest: +SKIP"""
        verb = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
        comment_sql = "" if comment is None else " COMMENT '" + comment.replace("'", "''") + "'"
        full = parse_name(name, allow_version=False).full  # a checked name: nothing else gets into the SQL
        self.sql(f"{verb} {full}{comment_sql} AS {sql}")
        return self.tables.get(self.principal, full, kind="view")

    def create_volume(self, name: str, *, comment: str | None = None, if_not_exists: bool = False) -> Securable:
        """>>> lh.create_volume("main.shop.images")  # doctest: +SKIP"""
        return self.tables.create_volume(self.principal, name, comment=comment, if_not_exists=if_not_exists)

    def drop(self, name: str, *, if_exists: bool = False, cascade: bool = False) -> list[Securable]:
        """Drop a catalog, schema, table, view or volume (``cascade`` for non-empty containers)."""
        return self.tables.drop(self.principal, name, if_exists=if_exists, cascade=cascade)

    def get(self, name: str) -> Securable:
        return self.tables.get(self.principal, name)

    def list(self, parent: str | None = None, *, kind: str | None = None) -> list[Securable]:
        """Catalogs, the schemas of a catalog, or the objects of a schema."""
        return self.tables.list(self.principal, parent, kind=kind)

    def describe(self, name: str) -> Description:
        """Owner, comment, tags, columns (with comments and tags), keys, constraints, version, size.

        >>> lh.describe("main.shop.orders").columns[0].name  # doctest: +SKIP
        """
        return self.engine.describe(self.principal, name)

    def set_comment(self, name: str, comment: str, *, column: str | None = None) -> Securable:
        return self.tables.set_comment(self.principal, name, comment, column=column)

    def set_tags(self, name: str, tags: dict[str, str], *, column: str | None = None) -> Securable:
        return self.tables.set_tags(self.principal, name, tags, column=column)

    def unset_tags(self, name: str, keys: list[str], *, column: str | None = None) -> Securable:
        return self.tables.unset_tags(self.principal, name, keys, column=column)

    def set_properties(self, name: str, properties: dict[str, str]) -> Securable:
        return self.tables.set_properties(self.principal, name, properties)

    # -- data ----------------------------------------------------------------------------

    def write(
        self,
        name: str,
        data: Any,
        *,
        mode: Mode = "append",
        on: list[str] | None = None,
        schema_mode: SchemaMode = "strict",
        upstream: list[str] | None = None,
    ) -> Commit:
        """Append, overwrite or merge (upsert) Arrow, pandas or polars data in one commit.

        ``schema_mode="merge"`` adds new columns; ``upstream`` declares source tables for lineage.

        >>> lh.write("main.shop.orders", df, mode="merge", on=["order_id"])  # doctest: +SKIP
        """
        return self.tables.write(
            self.principal, name, data, mode=mode, on=on, schema_mode=schema_mode, upstream=upstream
        )

    def read(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: dt.datetime | str | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """Rows of a table, now or at a version/time, as a pyarrow Table.

        >>> lh.read("main.shop.orders", version=3).num_rows  # doctest: +SKIP
        """
        return self.tables.read(self.principal, name, version=version, as_of=as_of, columns=columns)

    def read_batches(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: dt.datetime | str | None = None,
        columns: list[str] | None = None,
        batch_size: int = 262_144,
    ) -> pa.RecordBatchReader:
        """Rows of a table as a stream of record batches (bounded memory; filters and masks applied).

        >>> for batch in lh.read_batches("main.shop.orders"): ...   # doctest: +SKIP
        """
        return self.tables.read_batches(self.principal, name, version=version, as_of=as_of, columns=columns,
                                        batch_size=batch_size).reader

    def history(self, name: str, *, limit: int | None = None) -> list[HistoryEntry]:
        return self.tables.history(self.principal, name, limit=limit)

    def restore(self, name: str, *, version: int) -> Commit:
        return self.tables.restore(self.principal, name, version=version)

    def optimize(self, name: str, *, zorder_by: list[str] | None = None) -> OptimizeResult:
        return self.tables.optimize(self.principal, name, zorder_by=zorder_by)

    def vacuum(self, name: str, *, retention_hours: int | None = None, dry_run: bool = True) -> list[str]:
        """Unreferenced files older than the retention (at least 7 days; never a version lineage uses): listed,
        and removed only with ``dry_run=False`` (a dry run by default, as in delta-rs, since 0.2).

        >>> lh.vacuum("main.shop.orders")                 # what would go  # doctest: +SKIP
        >>> lh.vacuum("main.shop.orders", dry_run=False)  # remove them    # doctest: +SKIP
        """
        return self.tables.vacuum(self.principal, name, retention_hours=retention_hours, dry_run=dry_run)

    def changes(self, name: str, *, starting_version: int = 0, ending_version: int | None = None) -> pa.Table:
        """The change data feed: rows inserted, deleted and updated per version."""
        return self.tables.changes(
            self.principal, name, starting_version=starting_version, ending_version=ending_version
        )

    # -- volumes --------------------------------------------------------------------------

    def put_file(self, volume: str, path: str, data: bytes, *, overwrite: bool = True) -> FileInfo:
        return self.volumes.put(self.principal, volume, path, data, overwrite=overwrite)

    def get_file(self, volume: str, path: str) -> bytes:
        return self.volumes.get(self.principal, volume, path)

    def list_files(self, volume: str, prefix: str = "") -> list[FileInfo]:
        return self.volumes.list(self.principal, volume, prefix)

    def delete_file(self, volume: str, path: str) -> None:
        self.volumes.delete(self.principal, volume, path)

    # -- principals, tokens, grants --------------------------------------------------------

    def create_user(self, name: str) -> PrincipalInfo:
        """Add a user (admins only); they join the ``users`` group.

        >>> lh.create_user("bob@example.com")  # doctest: +SKIP
        """
        return self.admin.create(self.principal, name, kind="user")

    def create_group(self, name: str) -> PrincipalInfo:
        """>>> lh.create_group("analysts")  # doctest: +SKIP"""
        return self.admin.create(self.principal, name, kind="group")

    def create_service_principal(self, name: str) -> PrincipalInfo:
        return self.admin.create(self.principal, name, kind="service_principal")

    def drop_principal(self, name: str) -> None:
        self.admin.delete(self.principal, name)

    def add_member(self, group: str, member: str) -> PrincipalInfo:
        """Put a user, service principal or group into a group (admins only)."""
        return self.admin.add_member(self.principal, group, member)

    def remove_member(self, group: str, member: str) -> PrincipalInfo:
        return self.admin.remove_member(self.principal, group, member)

    def principals(self, *, kind: str | None = None) -> list[PrincipalInfo]:
        return self.admin.list(self.principal, kind=kind)

    def principal_info(self, name: str | None = None) -> PrincipalInfo:
        return self.admin.get(self.principal, name or self.user)

    def create_token(
        self, user: str | None = None, *, expires_in: dt.timedelta | float | None = dt.timedelta(days=90),
        comment: str | None = None,
    ) -> str:
        """A new API token (shown once, stored as a hash) for ``user`` (default: you); ``expires_in`` in seconds or
        as a timedelta.

        >>> token = lh.create_token(expires_in=dt.timedelta(days=30))  # doctest: +SKIP
        """
        return self.admin.create_token(self.principal, user, expires_in=expires_in, comment=comment)[0]

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        return self.admin.list_tokens(self.principal, user)

    def revoke_token(self, token_id: str) -> TokenInfo:
        return self.admin.revoke_token(self.principal, token_id)

    def grant(self, privilege: str, *, on: str | None, to: str) -> bool:
        """Grant a privilege (Unity Catalog names) on a securable, or ``on=None`` the metastore.

        >>> lh.grant("SELECT", on="main.shop.orders", to="analysts")  # doctest: +SKIP
        """
        return self.tables.grant(self.principal, privilege, on=on, to=to)

    def revoke(self, privilege: str, *, on: str | None, from_: str) -> bool:
        return self.tables.revoke(self.principal, privilege, on=on, from_=from_)

    def show_grants(self, on: str | None) -> list[Grant]:
        """Grants on ``on`` and those it inherits (``inherited`` says which)."""
        return self.tables.show_grants(self.principal, on)

    def set_owner(self, name: str, owner: str) -> Securable:
        return self.tables.set_owner(self.principal, name, owner)

    # -- row filters and column masks ------------------------------------------------------

    def set_row_filter(self, table: str, expression: str | None) -> Securable:
        """Show only rows where ``expression`` is true (``None`` removes the filter).

        ``current_user()`` and ``is_member('group')`` are evaluated for each reader.

        >>> lh.set_row_filter("main.shop.orders", "region = 'north' OR is_member('admins')")  # doctest: +SKIP
        """
        return self.tables.set_row_filter(self.principal, table, expression)

    def set_column_mask(self, table: str, column: str, expression: str | None) -> Securable:
        """Show ``expression`` in place of the column (``None`` removes the mask).

        >>> lh.set_column_mask("main.shop.customers", "email",
        ...                    "CASE WHEN is_member('pii_readers') THEN email ELSE '***' END")  # doctest: +SKIP
        """
        return self.tables.set_column_mask(self.principal, table, column, expression)

    def create_tag_policy(self, name: str, *, tag: str, mask: str, except_groups: list[str]) -> TagPolicy:
        """Mask every column tagged ``tag`` (``'pii'`` or ``'class=email'``) for all outside ``except_groups``.

        The mask is an expression over ``value``, the column's value.

        >>> lh.create_tag_policy("hide_pii", tag="pii", mask="'***'", except_groups=["pii_readers"])  # doctest: +SKIP
        """
        return self.tables.create_tag_policy(self.principal, name, tag=tag, mask=mask, except_groups=except_groups)

    def drop_tag_policy(self, name: str) -> None:
        self.tables.drop_tag_policy(self.principal, name)

    def tag_policies(self) -> list[TagPolicy]:
        """The tag policies in force (names, tags; masks and exempt groups for admins, ``"(hidden)"`` otherwise)."""
        return self.tables.tag_policies(self.principal)

    # -- lineage --------------------------------------------------------------------------

    def lineage(self, name: str, *, direction: str = "upstream", depth: int = 10) -> list[Edge]:
        """Edges from (downstream) or into (upstream) ``name``, with the versions involved.

        >>> [(e.source, e.source_version) for e in lh.lineage("main.shop.gold")]  # doctest: +SKIP
        """
        return self.tables.lineage_of(self.principal, name, direction=direction, depth=depth)

    def column_lineage(self, name: str, *, direction: str = "upstream") -> list[ColumnEdge]:
        return self.tables.column_lineage_of(self.principal, name, direction=direction)

    # -- lifecycle --------------------------------------------------------------------------

    def flush(self) -> None:
        """Write journaled audit events and inference rows (this process's and any crashed one's) now."""
        self.serving_service.move_inference_rows(quiet=True)
        self.audit.flush()

    def as_user(self, user: str | Principal) -> Lakehouse:
        """The same lakehouse seen by another known principal, sharing every service.

        Cheap (nothing is reopened): the server uses it once per request, after checking
        the request's token, with the token's ``Principal`` (which names its token: once the
        token is gone with a dropped principal, this view acts as nobody, even if a principal of
        that name was created since). Embedded, it is no more a security boundary than
        ``connect(user=...)``.

        >>> with lh.as_user("bob") as bob: bob.sql("SELECT 1")  # doctest: +SKIP
        """
        principal = user if isinstance(user, Principal) else Principal.user(user)
        if not self.directory.exists(principal.name, token_id=principal.token_id):
            raise AuthenticationError(
                f"user {principal.name!r} is not known to this lakehouse." if principal.token_id is None else
                f"this token no longer stands for {principal.name!r}: that principal was dropped since the "
                "token was checked (a principal of the same name now is someone else); sign in with a token of "
                "the current one.")
        _refuse_group(self.directory, principal.name)
        view = copy.copy(self)
        view.principal = principal
        view._view_of = self
        return view

    def close(self) -> None:
        """Flush the audit and inference journals; the lakehouse that owns the services also releases them."""
        self.serving_service.move_inference_rows(quiet=True)
        self.audit.flush()
        if getattr(self, "_view_of", None) is not None:
            return
        self.engine.close()
        self.metastore.dispose()

    def __enter__(self) -> Lakehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Lakehouse {self.root} as {self.user}>"


def _refuse_group(directory: Directory, name: str) -> None:
    """A group is not an identity one can act as: it would carry its members' rights (or an admin's)."""
    if directory.kind_of(name) == "group":
        raise AuthenticationError(
            f"{name!r} is a group; connect as a user or service principal (one of its members, "
            f"see lh.principal_info({name!r}))."
        )


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
) -> Lakehouse:
    """Open (creating if needed) the lakehouse at ``path_or_uri`` as ``user``.

    ``metastore`` is a SQLAlchemy URL (default: SQLite inside the lakehouse folder).
    ``query_timeout_s``, ``query_memory_mib`` and ``query_spill_mib`` limit each SQL query
    (``glashaus.sql.limits``; embedded default: no time limit, DuckDB's memory and spill
    defaults; ``glashaus serve`` sets server defaults).
    An ``http://`` or ``https://`` address connects to ``glashaus serve`` with ``token``
    (default: ``GLASHAUS_TOKEN``) and returns a ``RemoteLakehouse`` with the same methods.

    >>> lh = glashaus.connect("./lakehouse", user="alice")  # doctest: +SKIP
    >>> lh = glashaus.connect("http://localhost:8080", token=token)  # doctest: +SKIP
    """
    target = os.fspath(path_or_uri)
    limits = (query_timeout_s, query_memory_mib, query_spill_mib)
    if target.startswith(("http://", "https://")):
        if user is not None or metastore is not None or storage_options is not None or any(
            v is not None for v in limits
        ):
            raise InvalidArgumentError(
                "a served lakehouse knows you by your token: pass only token= (and no user, metastore, "
                "storage_options or query limits: the server sets those) when connecting to an http(s) address."
            )
        from glashaus.server.client import RemoteLakehouse  # lazily: only server mode needs httpx

        return RemoteLakehouse(target, token=token)  # type: ignore[return-value]
    if token is not None:
        raise InvalidArgumentError(
            "token= is for a served lakehouse (connect('http://host:8080', token=...)); an embedded one "
            "takes user=."
        )
    return Lakehouse(target, user=user, metastore=metastore, storage_options=storage_options,
                     query_limits=QueryLimits(*limits))

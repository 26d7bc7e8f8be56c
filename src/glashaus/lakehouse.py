"""The Lakehouse: the capabilities wired together for one identity.

Its operations (``lh.sql``, ``lh.create_table``, ...) come from the declarations: the generated
:class:`~glashaus.facades.LakehouseOperations`, its base, calls each capability's function (where
each is documented). This module holds the wiring, the namespaces and the lifecycle.

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
from glashaus.access.policies import Policies
from glashaus.catalog import Catalog
from glashaus.deprecation import warn
from glashaus.errors import AuthenticationError
from glashaus.facades import Experiments, LakehouseOperations, Models, Runs, Serving, Traces
from glashaus.lineage import LineageStore
from glashaus.metastore import Metastore
from glashaus.registry import RegistryService
from glashaus.serving import ServingService
from glashaus.sql.engine import SqlEngine
from glashaus.sql.limits import EMBEDDED_LIMITS, QueryLimits
from glashaus.storage.delta import DeltaStore
from glashaus.storage.layout import Layout
from glashaus.tables import TablesService, VolumesService
from glashaus.tracing import TracingService
from glashaus.tracing.spans import SpanLog
from glashaus.tracing.system_tables import providers as trace_system_tables
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
        self._tracing = TracingService(tracking=self._tracking, spans=SpanLog(self._system))
        self._tables.virtual_tables.update(trace_system_tables(self._tracing))
        # The registry reads runs' models (runs:/, models:/m-<id> sources) through tracking's part; the two
        # are on one level and do not import each other, so the lakehouse hands it over.
        self._registry = RegistryService(
            tables=self._tables, lineage=self._lineage_store, tracked=self._tracking.model_folders
        )
        self._serving = ServingService(self._metastore, self._tables, self._registry)
        if first:
            self._ensure_defaults()
        elif self._access.is_admin(self.principal):
            # A lakehouse made before the default experiment existed gets it from its next admin.
            self._tracking.ensure_default_experiment(self.principal)

    def _ensure_defaults(self) -> None:
        # Like Databricks: a 'main' catalog with a 'default' schema where every user
        # may create tables, volumes and models (and MLflow experiments, which need CREATE MODEL).
        main, default = DEFAULT_CATALOG, f"{DEFAULT_CATALOG}.{DEFAULT_SCHEMA}"
        self._tables.create_catalog(self.principal, main, if_not_exists=True, comment="The default catalog.")
        self._tables.create_schema(self.principal, default, if_not_exists=True, comment="The default schema.")
        self._tables.grant(self.principal, "USE CATALOG", on=main, to=USERS)
        for privilege in ("USE SCHEMA", "CREATE TABLE", "CREATE VOLUME", "CREATE MODEL"):
            self._tables.grant(self.principal, privilege, on=default, to=USERS)
        self._tracking.ensure_default_experiment(self.principal)  # MLflow's experiment 0, "Default"

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

    @property
    def traces(self) -> Traces:
        """MLflow 3 traces as this principal: ``lh.traces.search([...])``, ``.get(trace_id)``, ``.delete(...)``."""
        return Traces(self._tracing, self.principal)

    # -- data (the stream the server answers lh.read with; not an operation of its own) ---------

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
    tracing: TracingService
    registry: RegistryService
    serving: ServingService


def services(lh: Lakehouse) -> Services:
    """The services behind ``lh`` (see :class:`Services`: for Glashaus's own faces, not for user code).

    >>> [e.name for e in services(lh).tracking.search_experiments(lh.principal).items]   # as the MLflow face does
    ['Default']
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
        tracing=lh._tracing,
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

"""ServingService: endpoints as configuration in the metastore, governed through the model they serve.

* Creating an endpoint needs EXECUTE on its model (and CREATE TABLE in the schema of
  its inference table, which it creates: ``<catalog>.<schema>.<endpoint>_inference``
  beside the model unless ``inference_table=`` says otherwise, ``None`` for none).
  The creator owns the endpoint; the owner or an admin changes or deletes it.
* Serving never adopts a table it did not create: every caller's requests and answers go
  to the inference table, and its owner may read, grant and change them. An existing
  table of that name is reused only if serving created it for the same principal, who
  still owns it (an endpoint re-created by its owner keeps its table); any other is
  refused, naming its owner. The endpoint records the table's id: a table dropped and
  re-created under the name, by anyone, is never written to (requests get 503 until the
  owner re-creates the endpoint).
* Calling an endpoint needs EXECUTE on the model, checked and audited per request
  (``serving.invoke``), like every other access.
* Inference rows are written as the endpoint's owner (``MODIFY`` on the inference
  table, audited per batch), through the inference journal (``journal.py``).

>>> lh.serving.create_endpoint("reco", model="main.shop.reco@champion").inference_table
'main.shop.reco_inference'
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import sqlalchemy as sa

from glashaus.access import Principal, request
from glashaus.access.guard import Check
from glashaus.catalog import Securable, parse_name
from glashaus.catalog.rows import utcnow
from glashaus.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from glashaus.metastore import Metastore
from glashaus.serving.endpoints import Endpoint, Route, check_endpoint_name, check_variant, make_routes
from glashaus.serving.inference import SCHEMA as INFERENCE_SCHEMA
from glashaus.serving.inference import Target
from glashaus.serving.journal import InferenceJournal
from glashaus.serving.rows import EndpointRow
from glashaus.tables import TablesService

#: "Use the default" for optional arguments where None means "none" (inference_table=, shadow=).
DEFAULT: Any = object()

#: Creating an endpoint and reading its configuration need EXECUTE on the model it serves.
CREATE_ENDPOINT = Check("EXECUTE", "serving.create_endpoint", kinds=("model",), versions=True)
GET_ENDPOINT = Check("EXECUTE", "serving.get_endpoint", kinds=("model",), versions=True)
#: Every request to an endpoint: EXECUTE on the model, audited per request.
INVOKE = Check("EXECUTE", "serving.invoke", kinds=("model",))
#: An existing inference table is written to only with MODIFY on it (and only if serving created it).
REUSE_TABLE = Check("MODIFY", "serving.create_endpoint", kinds=("table",))

#: The mark serving leaves in the ``spec`` of each inference table it creates (only Glashaus writes a
#: securable's spec; users set properties and tags): {"endpoint": ..., "created_for": <principal>}.
INFERENCE_MARK = "serving_inference_table"


class ServingService:
    def __init__(self, metastore: Metastore, tables: TablesService, registry: Any) -> None:
        self.metastore = metastore
        self.tables = tables
        self.guard = tables.guard
        self.access = tables.access
        self.registry = registry
        #: Inference rows on their way to the tables, committed with the requests' audit events.
        self.journal = InferenceJournal(metastore, tables, commit=self.access.audit.commit_with_events)

    # -- configuration ------------------------------------------------------------------------

    def create_endpoint(
        self,
        who: Principal,
        name: str,
        *,
        model: str,
        traffic: dict[str, int] | None = None,
        shadow: str | None = None,
        inference_table: Any = DEFAULT,
    ) -> Endpoint:
        """Serve ``model`` at ``POST /serving/<name>/invocations`` (on ``glashaus serve``).

        ``model`` is ``'main.shop.recommender@champion'`` (or the bare name with ``traffic=``
        such as ``{"champion": 90, "challenger": 10}``); ``shadow`` names a variant that scores
        a copy of each request, logged only. Requests and responses go to ``inference_table``
        (default ``<catalog>.<schema>.<name>_inference``; ``None`` for none). Needs EXECUTE on
        the model and CREATE TABLE for the inference table.

        >>> _ = lh.models.set_alias("main.shop.reco", "challenger", 1)
        >>> endpoint = lh.serving.create_endpoint("reco2", model="main.shop.reco", traffic={"champion": 90, "challenger": 10})
        >>> [(r.variant, r.traffic) for r in endpoint.routes], endpoint.inference_table
        ([('champion', 90), ('challenger', 10)], 'main.shop.reco2_inference')
        """
        name = check_endpoint_name(name)
        model_name, variant = Endpoint.parse_model(model)
        routes = make_routes(variant, traffic)
        shadow = check_variant(shadow) if shadow else None
        with self.guard.require(who, CREATE_ENDPOINT, model_name, details={"endpoint": name}) as allowed:
            securable = allowed.found
            for route in routes + ((Route(shadow, 0),) if shadow else ()):
                self.registry.get_version(who, f"{securable.full_name}@{route.variant}")  # each variant must exist
            with self.metastore.session() as s:
                if s.get(EndpointRow, name) is not None:
                    raise AlreadyExistsError(
                        f"serving endpoint {name!r} already exists: pick another name, or "
                        "update_endpoint() to change it."
                    )
            table, table_id = self._inference_table(who, securable, name, inference_table)
            endpoint = Endpoint(
                name, securable.full_name, routes, shadow, table, who.name, table_id, self._since(who.name)
            )
            now = utcnow()
            with self.metastore.session() as s:
                s.add(
                    EndpointRow(
                        name=name,
                        model_id=securable.id,
                        config=endpoint.config(),
                        owner=who.name,
                        created_by=who.name,
                        created_at=now,
                        updated_at=now,
                    )
                )
            return endpoint

    def update_endpoint(
        self, who: Principal, name: str, *, traffic: dict[str, int] | None = None, shadow: Any = DEFAULT
    ) -> Endpoint:
        """Change the traffic split or the shadow variant (``shadow=None`` removes it); owner or admin.

        >>> _ = lh.models.set_alias("main.shop.reco", "challenger", 1)
        >>> _ = lh.serving.create_endpoint("reco", model="main.shop.reco@champion")
        >>> endpoint = lh.serving.update_endpoint("reco", traffic={"champion": 90, "challenger": 10})
        >>> [(r.variant, r.traffic) for r in endpoint.routes]
        [('champion', 90), ('challenger', 10)]
        """
        with request():
            current = self.get_endpoint(who, name)
            self._check_owner(who, current, "serving.update_endpoint")
            routes = make_routes(None, traffic) if traffic is not None else current.routes
            new_shadow = current.shadow if shadow is DEFAULT else (check_variant(shadow) if shadow else None)
            for route in routes + ((Route(new_shadow, 0),) if new_shadow else ()):
                self.registry.get_version(who, f"{current.model}@{route.variant}")
            endpoint = dataclasses.replace(current, routes=routes, shadow=new_shadow)
            with self.metastore.session() as s:
                row = s.get(EndpointRow, name)
                if row is None:  # deleted by another request meanwhile
                    raise NotFoundError(
                        f"serving endpoint {name!r} does not exist (lh.serving.list_endpoints() "
                        "lists those you may call)."
                    )
                row.config = endpoint.config()
                row.updated_at = utcnow()
            return endpoint

    def delete_endpoint(self, who: Principal, name: str) -> None:
        """Delete the endpoint (owner or admin); its inference table stays."""
        with request():
            current = self.get_endpoint(who, name)
            self._check_owner(who, current, "serving.delete_endpoint")
            with self.metastore.session() as s:
                s.execute(sa.delete(EndpointRow).where(EndpointRow.name == name))

    def get_endpoint(self, who: Principal, name: str) -> Endpoint:
        """The endpoint, if the caller may execute its model."""
        endpoint = self.endpoint(name)
        self.guard.allow(who, GET_ENDPOINT, endpoint.model, details={"endpoint": name})
        return endpoint

    def list_endpoints(self, who: Principal) -> list[Endpoint]:
        """The endpoints whose model the caller may execute."""
        out = []
        with self.metastore.session() as s:
            names = s.scalars(sa.select(EndpointRow.name).order_by(EndpointRow.name)).all()
        for name in names:
            endpoint = self.endpoint(name)
            if self.access.allows(who, "EXECUTE", self._model(endpoint.model)):
                out.append(endpoint)
        return out

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint's configuration, unchecked (the runtime checks each invocation)."""
        check_endpoint_name(name)
        with self.metastore.session() as s:
            row = s.get(EndpointRow, name)
            if row is None:
                raise NotFoundError(
                    f"serving endpoint {name!r} does not exist (lh.serving.list_endpoints() lists those you may call)."
                )
            config, owner = dict(row.config), row.owner
        return Endpoint(
            name,
            config["model"],
            tuple(Route(**r) for r in config["routes"]),
            config.get("shadow"),
            config.get("inference_table"),
            owner,
            config.get("inference_table_id"),
            config.get("owner_since"),
        )

    def inference_target(self, endpoint: Endpoint) -> Target | None:
        """Where ``endpoint``'s inference rows go: the table it created, if that still holds the name.

        A :class:`ServiceUnavailableError` (503) when the table was dropped, or another took its name:
        an endpoint never logs into a table it did not create.
        """
        if endpoint.inference_table is None:
            return None
        name = parse_name(endpoint.inference_table, allow_version=False)
        try:
            table = self.guard.find(None, name, kinds=("table",), details=False)
        except NotFoundError:
            table = None
        if not self._owner_is_current(endpoint):
            raise ServiceUnavailableError(
                f"endpoint {endpoint.name!r} cannot log requests: its owner {endpoint.owner!r} was deleted (a "
                "principal of that name now is someone else, who does not inherit the endpoint). An admin "
                "deletes the endpoint, and its new owner creates it again."
            )
        if table is None or table.id != endpoint.inference_table_id:
            raise ServiceUnavailableError(
                f"endpoint {endpoint.name!r} cannot log requests: its inference table {name.full} was dropped"
                + (f" and {table.owner} created another under that name" if table is not None else "")
                + f", and an endpoint never logs into a table it did not create. Its owner ({endpoint.owner}) "
                "re-creates the endpoint (delete_endpoint, then create_endpoint, with inference_table= a new "
                "name if that one is taken)."
            )
        return Target(name.full, table.id, endpoint.owner)

    def move_inference_rows(self, *, quiet: bool = False) -> dict[str, int]:
        """Move journaled inference rows (any process's) to their tables; rows moved per table id.

        ``quiet``: log a failure instead of raising it (the rows stay journaled for the next move).
        """
        try:
            return self.journal.move()
        except Exception:
            if not quiet:
                raise
            logging.getLogger("glashaus.serving").exception("moving inference rows failed; they stay journaled")
            return {}

    def target(self, model: str, variant: str) -> tuple[Any, int]:
        """The model securable and the version ``variant`` (an alias or a number) names now, unchecked.

        For the serving runtime, which authorizes the caller itself on every request.
        """
        securable = self._model(model)
        if variant.isdigit():
            return securable, int(variant)
        return securable, self.registry.aliases.version_of(securable, variant)

    # -- helpers --------------------------------------------------------------------------------

    def _model(self, name: str) -> Securable:
        """The model called ``name``, unchecked: for listings and the runtime, which authorize each use."""
        return self.guard.find(None, parse_name(name), kinds=("model",))

    def _check_owner(self, who: Principal, endpoint: Endpoint, action: str) -> None:
        """Endpoints are changed by their owner or an admin; the decision is audited either way."""
        if who.name == endpoint.owner and self._owner_is_current(endpoint):
            allowed, reason = True, "owner"
        elif self.access.is_admin(who):
            allowed, reason = True, "admin"
        else:
            allowed, reason = (
                False,
                (
                    f"only the owner of endpoint {endpoint.name!r} ({endpoint.owner}) or an admin "
                    f"may change it ({action})."
                ),
            )
        self.access.audit.record(
            principal=who.name,
            action=action,
            decision="allow" if allowed else "deny",
            reason=reason,
            details={"endpoint": endpoint.name, "owner": endpoint.owner},
        )
        if not allowed:
            raise PermissionDeniedError(reason)

    def _since(self, name: str) -> str:
        """When principal ``name`` was created (an owner is recorded by name and by this)."""
        return self.access.directory.get(name).created_at.isoformat()

    def _owner_is_current(self, endpoint: Endpoint) -> bool:
        """Whether the endpoint's owner is the principal that created it, not a later one of the same name."""
        if endpoint.owner_since is None:
            return True  # an endpoint from before owners were recorded with their creation time
        try:
            return self._since(endpoint.owner) == endpoint.owner_since
        except NotFoundError:
            return False

    def _inference_table(self, who: Principal, model: Any, endpoint: str, given: Any) -> tuple[str | None, str | None]:
        """The inference table's name and id: created now, or one serving created for ``who`` before."""
        if given is None:
            return None, None
        if given is DEFAULT:
            n = parse_name(model.full_name)
            given = f"{n.catalog}.{n.schema}.{endpoint.replace('-', '_')}_inference"
        if not isinstance(given, str):
            raise InvalidArgumentError(
                "inference_table= must be a table name like 'main.shop.reco_inference', or None."
            )
        name = parse_name(given, allow_version=False)
        try:
            existing: Securable | None = self.guard.find(who, name, details=False)
        except NotFoundError:
            existing = None
        if existing is not None:
            mark = existing.spec.get(INFERENCE_MARK) or {}
            if (
                existing.kind != "table"
                or mark.get("created_for") != who.name
                or existing.created_by != who.name
                or existing.owner != who.name
            ):
                self.access.refuse(
                    who,
                    action="serving.create_endpoint",
                    reason="inference table exists",
                    details={"endpoint": endpoint, "inference_table": name.full, "owner": existing.owner},
                )
                raise AlreadyExistsError(
                    f"{existing.kind} {name.full} already exists, owned by {existing.owner}, and is not an "
                    f"inference table that serving created for {who.name}: an endpoint logs every caller's "
                    "requests and answers, so it never adopts a table it did not create (whoever owns the table "
                    "could read, grant or change them). Pass inference_table= a new name, or have "
                    f"{existing.owner} drop {name.full} if it is not needed."
                )
            self.guard.allow(who, REUSE_TABLE, existing, details={"endpoint": endpoint, "inference_table": name.full})
            if not INFERENCE_SCHEMA.equals(self.tables.schema(who, name), check_metadata=False):
                raise InvalidArgumentError(
                    f"{name.full} exists with other columns than an inference table's: name "
                    "another table with inference_table=."
                )
            return name.full, existing.id
        created = self.tables.create_table(
            who,
            name.full,
            schema=INFERENCE_SCHEMA,
            comment=f"Requests and responses of serving endpoint {endpoint!r}.",
            spec={INFERENCE_MARK: {"endpoint": endpoint, "created_for": who.name}},
        )
        return name.full, created.id

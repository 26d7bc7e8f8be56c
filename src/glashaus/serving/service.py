"""ServingService: endpoints as configuration in the metastore, governed through the model they serve.

* Creating an endpoint needs EXECUTE on its model (and CREATE TABLE in the schema of
  its inference table, which it creates: ``<catalog>.<schema>.<endpoint>_inference``
  beside the model unless ``inference_table=`` says otherwise, ``None`` for none).
  The creator owns the endpoint; the owner or an admin changes or deletes it.
* Calling an endpoint needs EXECUTE on the model, checked and audited per request
  (``serving.invoke``), like every other access.
* Inference rows are written as the endpoint's owner (``MODIFY`` on the inference
  table, audited per batch).

>>> lh.serving.create_endpoint("reco", model="main.shop.recommender@champion")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from glashaus.access import Access, Principal, request
from glashaus.catalog import Catalog, parse_name
from glashaus.catalog.tables import utcnow
from glashaus.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError, PermissionDeniedError
from glashaus.metastore import Metastore
from glashaus.serving.endpoints import Endpoint, Route, check_endpoint_name, check_variant, make_routes
from glashaus.serving.inference import SCHEMA as INFERENCE_SCHEMA
from glashaus.serving.tables import EndpointRow
from glashaus.tables import TablesService

#: "Use the default" for optional arguments where None means "none" (inference_table=, shadow=).
DEFAULT: Any = object()


class ServingService:
    def __init__(self, metastore: Metastore, access: Access, catalog: Catalog, tables: TablesService,
                 registry: Any) -> None:
        self.metastore = metastore
        self.access = access
        self.catalog = catalog
        self.tables = tables
        self.registry = registry

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
        """Create endpoint ``name`` serving ``model`` (``'main.shop.m@champion'``, or a name plus ``traffic=``)."""
        name = check_endpoint_name(name)
        model_name, variant = Endpoint.parse_model(model)
        routes = make_routes(variant, traffic)
        shadow = check_variant(shadow) if shadow else None
        with request():
            securable = self._model(model_name)
            self.access.authorize(who, "EXECUTE", securable, action="serving.create_endpoint",
                                  details={"endpoint": name})
            for route in routes + ((Route(shadow, 0),) if shadow else ()):
                self.registry.get_version(who, f"{securable.full_name}@{route.variant}")  # each variant must exist
            with self.metastore.session() as s:
                if s.get(EndpointRow, name) is not None:
                    raise AlreadyExistsError(f"serving endpoint {name!r} already exists: pick another name, or "
                                             "update_endpoint() to change it.")
            table = self._inference_table(who, securable, name, inference_table)
            endpoint = Endpoint(name, securable.full_name, routes, shadow, table, who.name)
            now = utcnow()
            with self.metastore.session() as s:
                s.add(EndpointRow(name=name, model_id=securable.id, config=endpoint.config(), owner=who.name,
                                  created_by=who.name, created_at=now, updated_at=now))
            return endpoint

    def update_endpoint(self, who: Principal, name: str, *, traffic: dict[str, int] | None = None,
                        shadow: Any = DEFAULT) -> Endpoint:
        """Change the traffic split or the shadow variant (owner or admin)."""
        with request():
            current = self.get_endpoint(who, name)
            self._check_owner(who, current, "serving.update_endpoint")
            routes = make_routes(None, traffic) if traffic is not None else current.routes
            new_shadow = current.shadow if shadow is DEFAULT else (check_variant(shadow) if shadow else None)
            for route in routes + ((Route(new_shadow, 0),) if new_shadow else ()):
                self.registry.get_version(who, f"{current.model}@{route.variant}")
            endpoint = Endpoint(current.name, current.model, routes, new_shadow, current.inference_table,
                                current.owner)
            with self.metastore.session() as s:
                row = s.get(EndpointRow, name)
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
        with request():
            self.access.authorize(who, "EXECUTE", self._model(endpoint.model), action="serving.get_endpoint",
                                  details={"endpoint": name})
        return endpoint

    def list_endpoints(self, who: Principal) -> list[Endpoint]:
        """Endpoints whose model the caller may execute."""
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
                raise NotFoundError(f"serving endpoint {name!r} does not exist (lh.serving.list_endpoints() "
                                    "lists those you may call).")
            config, owner = dict(row.config), row.owner
        return Endpoint(name, config["model"], tuple(Route(**r) for r in config["routes"]), config.get("shadow"),
                        config.get("inference_table"), owner)

    def target(self, model: str, variant: str) -> tuple[Any, int]:
        """The model securable and the version ``variant`` (an alias or a number) names now, unchecked.

        For the serving runtime, which authorizes the caller itself on every request.
        """
        securable = self._model(model)
        if variant.isdigit():
            return securable, int(variant)
        return securable, self.registry.aliases.version_of(securable, variant)

    # -- helpers --------------------------------------------------------------------------------

    def _model(self, name: str) -> Any:
        return self.catalog.get(parse_name(name), kind="model")

    def _check_owner(self, who: Principal, endpoint: Endpoint, action: str) -> None:
        if who.name == endpoint.owner or self.access.is_admin(who):
            return
        raise PermissionDeniedError(f"only the owner of endpoint {endpoint.name!r} ({endpoint.owner}) or an admin "
                                    f"may change it ({action}).")

    def _inference_table(self, who: Principal, model: Any, endpoint: str, given: Any) -> str | None:
        if given is None:
            return None
        if given is DEFAULT:
            n = parse_name(model.full_name)
            given = f"{n.catalog}.{n.schema}.{endpoint.replace('-', '_')}_inference"
        if not isinstance(given, str):
            raise InvalidArgumentError("inference_table= must be a table name like 'main.shop.reco_inference', or None.")
        table = parse_name(given).full
        if self.catalog.exists(parse_name(table)):
            existing = self.tables.schema(who, parse_name(table))
            if not INFERENCE_SCHEMA.equals(existing, check_metadata=False):
                raise InvalidArgumentError(f"{table} exists with other columns than an inference table's: name "
                                           "another table with inference_table=.")
        else:
            self.tables.create_table(who, table, schema=INFERENCE_SCHEMA,
                                     comment=f"Requests and responses of serving endpoint {endpoint!r}.")
        return table

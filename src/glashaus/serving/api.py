"""``lh.serving``: serving endpoints as the caller (a thin face over :class:`ServingService`).

>>> _ = lh.models.set_alias("main.shop.reco", "challenger", 1)
>>> lh.serving.create_endpoint("reco", model="main.shop.reco@champion").inference_table
'main.shop.reco_inference'
>>> endpoint = lh.serving.update_endpoint("reco", traffic={"champion": 90, "challenger": 10})
>>> [(r.variant, r.traffic) for r in endpoint.routes]
[('champion', 90), ('challenger', 10)]
"""

from __future__ import annotations

from typing import Any

from glashaus.access import Principal
from glashaus.serving.endpoints import Endpoint
from glashaus.serving.service import DEFAULT, ServingService


class Serving:
    def __init__(self, service: ServingService, who: Principal) -> None:
        self._service = service
        self._who = who

    def create_endpoint(
        self,
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
        """
        return self._service.create_endpoint(
            self._who, name, model=model, traffic=traffic, shadow=shadow, inference_table=inference_table
        )

    def update_endpoint(self, name: str, *, traffic: dict[str, int] | None = None, shadow: Any = DEFAULT) -> Endpoint:
        """Change the traffic split or the shadow variant (``shadow=None`` removes it); owner or admin."""
        return self._service.update_endpoint(self._who, name, traffic=traffic, shadow=shadow)

    def delete_endpoint(self, name: str) -> None:
        """Delete the endpoint (owner or admin); its inference table stays."""
        self._service.delete_endpoint(self._who, name)

    def get_endpoint(self, name: str) -> Endpoint:
        return self._service.get_endpoint(self._who, name)

    def list_endpoints(self) -> list[Endpoint]:
        """The endpoints whose model the caller may execute."""
        return self._service.list_endpoints(self._who)

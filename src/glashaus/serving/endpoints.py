"""Serving endpoints: which model, how traffic splits over its aliases or versions, where inferences go.

An endpoint ``reco`` serves one registered model. Its *routes* name variants of that
model, each an alias (``champion``) or a version (``3``), with a share of the traffic
in percent (together 100). An optional *shadow* variant gets a copy of every request;
its answer is logged, never returned. Aliases are resolved on every request, so moving
``@champion`` takes effect without a restart.

>>> Endpoint.parse_model("main.shop.recommender@champion")
('main.shop.recommender', 'champion')
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from glashaus.errors import InvalidArgumentError

_ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_VARIANT = re.compile(r"^([a-z_][a-z0-9_-]{0,254}|[0-9]{1,9})$")


def check_endpoint_name(name: str) -> str:
    """A valid endpoint name (lower-case letters, digits, ``-``, ``_``; it appears in URLs)."""
    if not isinstance(name, str) or not _ENDPOINT_NAME.match(name):
        raise InvalidArgumentError(
            f"invalid endpoint name {name!r}: use 1-63 lower-case letters, digits, '-' or '_', starting with a "
            "letter (it becomes the URL /serving/<name>/invocations)."
        )
    return name


def check_variant(variant: str) -> str:
    """An alias name or a version number."""
    variant = str(variant).strip().lower()
    if not _VARIANT.match(variant):
        raise InvalidArgumentError(
            f"invalid model variant {variant!r}: name an alias (e.g. 'champion') or a version number (e.g. '3')."
        )
    return variant


@dataclasses.dataclass(frozen=True)
class Route:
    variant: str
    traffic: int


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """An endpoint's configuration (what ``lh.serving.get_endpoint`` returns)."""

    name: str
    model: str
    routes: tuple[Route, ...]
    shadow: str | None
    inference_table: str | None
    owner: str
    #: The inference table's securable id: rows go to that table only, never to another of its name.
    inference_table_id: str | None = None
    #: When the owner principal was created: a later principal of the same name is not the owner.
    owner_since: str | None = None

    @property
    def url_path(self) -> str:
        return f"/serving/{self.name}/invocations"

    @staticmethod
    def parse_model(ref: str) -> tuple[str, str | None]:
        """``'main.shop.m@champion'`` -> ``('main.shop.m', 'champion')``; a version after ``@`` too."""
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidArgumentError("model= needs a registered model name, e.g. 'main.shop.recommender@champion'.")
        name, _, variant = ref.strip().partition("@")
        return name, (check_variant(variant) if variant else None)

    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "routes": [dataclasses.asdict(r) for r in self.routes],
            "shadow": self.shadow,
            "inference_table": self.inference_table,
            "inference_table_id": self.inference_table_id,
            "owner_since": self.owner_since,
        }


def make_routes(variant: str | None, traffic: dict[str, int] | None) -> tuple[Route, ...]:
    """The routes from ``model=...@variant`` and/or ``traffic={variant: percent}``; checks they add up to 100."""
    if traffic is None:
        if variant is None:
            raise InvalidArgumentError(
                "say which model variant to serve: model='main.shop.recommender@champion', or "
                "traffic={'champion': 90, 'challenger': 10}."
            )
        return (Route(variant, 100),)
    if not isinstance(traffic, dict) or not traffic:
        raise InvalidArgumentError(
            "traffic= must map variants to percentages, e.g. {'champion': 90, 'challenger': 10}."
        )
    routes = []
    for name, share in traffic.items():
        if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
            raise InvalidArgumentError(f"traffic share of {name!r} must be a whole percentage 0-100, got {share!r}.")
        routes.append(Route(check_variant(name), share))
    if len({r.variant for r in routes}) != len(routes):
        raise InvalidArgumentError("traffic= names a variant twice.")
    total = sum(r.traffic for r in routes)
    if total != 100:
        raise InvalidArgumentError(f"traffic shares must add up to 100, they add up to {total}: {traffic}.")
    if variant is not None and variant not in {r.variant for r in routes}:
        raise InvalidArgumentError(f"model=...@{variant} is not among the traffic variants {sorted(traffic)}.")
    return tuple(routes)

"""Online serving: endpoints over registered models, traffic splits, shadow, inference tables, metrics."""

from glashaus.serving.endpoints import Endpoint, Route
from glashaus.serving.service import ServingService

__all__ = ["Endpoint", "Route", "ServingService"]

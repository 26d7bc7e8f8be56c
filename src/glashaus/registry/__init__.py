"""Model registry: registered models, versions, aliases and their history, model files, batch scoring."""

from glashaus.registry.aliases import AliasMove
from glashaus.registry.scoring import ScoreResult
from glashaus.registry.service import RegisteredModel, RegistryService
from glashaus.registry.versions import ModelVersion

__all__ = ["AliasMove", "ModelVersion", "RegisteredModel", "RegistryService", "ScoreResult"]

"""Model version files through the artifact proxy: the ``registry/`` tree.

:class:`RegistryFiles` serves a version's files at
``mlflow-artifacts:/registry/<catalog>.<schema>.<model>/<version>[/<file>]`` (what
``get-download-uri`` answers), read-only, EXECUTE checked per request by the registry
service. Translating MLflow source URIs (``runs:/``, ``models:/``, ``mlflow-artifacts:/``)
into storage locations is the registry's own (``registry/sources.py``: ``SourceUris``), so
embedded ``register_files`` and CreateModelVersion share one implementation.

>>> [f.path for f in RegistryFiles().list(lh, "main.shop.reco/1")][:1]
['MLmodel']
"""

from __future__ import annotations

from typing import Any

from glashaus.errors import NotFoundError
from glashaus.lakehouse import services
from glashaus.registry.service import RegistryService
from glashaus.registry.sources import TREE, tree_ref
from glashaus.server.mlflow.artifacts import ARTIFACT_TREES
from glashaus.tracking.artifacts import check_relative
from glashaus.tracking.entities import ArtifactFile

__all__ = ["TREE", "RegistryFiles"]


def _svc(lh: Any) -> RegistryService:
    return services(lh).registry


class RegistryFiles:
    """Model version files, read-only through the artifact proxy (EXECUTE on the model, audited)."""

    def read(self, lh: Any, path: str) -> bytes:
        ref, rel = tree_ref(check_relative(path))
        if not rel:
            raise NotFoundError(f"registry/{path} is a model version folder; name a file inside it.")
        return _svc(lh).read_file(lh.principal, ref, rel)

    def list(self, lh: Any, path: str) -> list[ArtifactFile]:
        """Files and folders directly inside ``path`` (names relative to it; nothing for a file)."""
        ref, rel = tree_ref(check_relative(path))
        prefix = f"{rel}/" if rel else ""
        children: dict[str, ArtifactFile] = {}
        for f in _svc(lh).list_files(lh.principal, ref):
            if not f.path.startswith(prefix):
                continue
            head, below, _ = f.path[len(prefix) :].partition("/")
            children[head] = ArtifactFile(head, True, None) if below else ArtifactFile(head, False, f.size)
        return sorted(children.values(), key=lambda f: f.path)


ARTIFACT_TREES[TREE] = RegistryFiles()

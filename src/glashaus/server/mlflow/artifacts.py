"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``): run and logged-model files, and more.

The proxy serves run and logged-model files (``<experiment_id>/<run_id>/artifacts/...``,
``<experiment_id>/models/<model_id>/artifacts/...``) through
:class:`glashaus.tracking.TrackingService`'s files (the caller's privileges on the
experiment, audited); other capabilities serve their own trees under a first path
segment of their own by adding to :data:`ARTIFACT_TREES` (the registry's
``registry/<catalog>.<schema>.<model>/<version>/...``).

>>> import glashaus.server.mlflow.sources   # adds ARTIFACT_TREES["registry"] = RegistryFiles()
>>> sorted(ARTIFACT_TREES)
['registry']
"""

from __future__ import annotations

import mimetypes
from typing import Any, Protocol

from starlette.responses import Response

from glashaus.errors import InvalidArgumentError
from glashaus.lakehouse import services
from glashaus.server.mlflow.protocol import MlflowRequest, Route
from glashaus.tracking import messages
from glashaus.tracking.entities import ArtifactFile
from glashaus.tracking.service import TrackingService

SCHEME = "mlflow-artifacts"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class ArtifactTree(Protocol):
    """Files another capability serves through the artifact proxy (paths below its prefix).

    ``write(lh, path, data)`` and ``delete(lh, path)`` are optional: a tree without them
    is read-only through the proxy.
    """

    def read(self, lh: Any, path: str) -> bytes: ...

    def list(self, lh: Any, path: str) -> list[ArtifactFile]: ...


#: First artifact-path segment -> the tree serving it (the registry adds ``"registry"``).
ARTIFACT_TREES: dict[str, ArtifactTree] = {}


def _svc(lh: Any) -> TrackingService:
    return services(lh).tracking


def _tree(path: str) -> tuple[ArtifactTree | None, str]:
    head, _, rest = path.strip("/").partition("/")
    return ARTIFACT_TREES.get(head), rest


def upload_artifact(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    path = req.path_params["artifact_path"]
    tree, rest = _tree(path)
    if tree is not None:
        if not hasattr(tree, "write"):
            raise InvalidArgumentError(f"{path.split('/')[0]}/ files cannot be uploaded through the artifact proxy.")
        tree.write(lh, rest, req.body)
    else:
        _svc(lh).files.write(lh.principal, path, req.body)
    return {}


def download_artifact(lh: Any, req: MlflowRequest) -> Response:
    path = req.path_params["artifact_path"]
    tree, rest = _tree(path)
    data = tree.read(lh, rest) if tree is not None else _svc(lh).files.read(lh.principal, path)
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(data, media_type=kind)


def delete_artifact(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    path = req.path_params["artifact_path"]
    tree, rest = _tree(path)
    if tree is not None:
        if not hasattr(tree, "delete"):
            raise InvalidArgumentError(f"{path.split('/')[0]}/ files cannot be deleted through the artifact proxy.")
        tree.delete(lh, rest)
    else:
        _svc(lh).files.delete(lh.principal, path)
    return {}


def list_artifacts(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    path = str(req.params.get("path") or "").strip("/")  # '/1/<run>/artifacts' names the same folder
    tree, rest = _tree(path)
    files = tree.list(lh, rest) if tree is not None else _svc(lh).files.list(lh.principal, path)
    return {"files": [messages.file_message(f) for f in files]} if files else {}


def server_info(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    """What MLflow 3 clients probe before artifact transfers: no multipart, no workspaces."""
    return {
        "store_type": "glashaus",
        "workspaces_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }


ROUTES: list[Route] = [
    Route("GET", ARTIFACTS, list_artifacts, absolute=True),
    Route("GET", ARTIFACTS + "/{artifact_path:path}", download_artifact, absolute=True),
    Route("PUT", ARTIFACTS + "/{artifact_path:path}", upload_artifact, absolute=True, raw_body=True),
    Route("DELETE", ARTIFACTS + "/{artifact_path:path}", delete_artifact, absolute=True),
    Route("GET", "/api/3.0/mlflow/server-info", server_info, absolute=True),
]

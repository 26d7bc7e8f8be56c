"""Run and logged-model files, governed: the artifact half of the tracking service.

Paths are the artifact proxy's (``<experiment_id>/<run_id>/artifacts/<file>``,
``<experiment_id>/models/<model_id>/artifacts/<file>``); reading needs ``EXECUTE`` on
the experiment, writing and deleting ``MODIFY`` (and an active run or model).

>>> data = b"\\x89PNG..."
>>> svc.files.write(alice, f"{run.artifact_path}/plots/roc.png", data).size
7
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glashaus.access import Principal, request
from glashaus.errors import NotFoundError
from glashaus.tracking.artifacts import ArtifactFiles, parse_artifact_path
from glashaus.tracking.entities import ArtifactFile

if TYPE_CHECKING:
    from glashaus.tracking.service import TrackingService


class RunFiles:
    def __init__(self, service: TrackingService) -> None:
        self.service = service

    def _owner(self, who: Principal, path: str, privilege: str, action: str) -> tuple[ArtifactFiles, str]:
        """Check that the run or logged model ``path`` names exists in its experiment and may be used."""
        where = parse_artifact_path(path)
        owner = self.service.run_for if where.kind == "run" else self.service.models.model_for
        row, _ = owner(who, where.owner_id, privilege, action=action, active=privilege == "MODIFY")
        if str(row.experiment_id) != where.experiment_id:
            raise NotFoundError(
                f"no artifacts at {path!r}: {where.kind} {where.owner_id} belongs to experiment {row.experiment_id}."
            )
        prefix = f"{where.owner_id}/artifacts" if where.kind == "run" else f"models/{where.owner_id}/artifacts"
        rel = f"{prefix}/{where.rel}" if where.rel else prefix
        return ArtifactFiles(self.service.experiment_locations.folder(where.experiment_id)), rel

    def write(self, who: Principal, path: str, data: bytes) -> ArtifactFile:
        """Store a file at an artifact path (``<experiment_id>/<run_id>/artifacts/<file>``); ``MODIFY``."""
        with request():
            files, rel = self._owner(who, path, "MODIFY", "artifact.write")
            return files.put(rel, data)

    def read(self, who: Principal, path: str) -> bytes:
        with request():
            files, rel = self._owner(who, path, "EXECUTE", "artifact.read")
            return files.get(rel)

    def list(self, who: Principal, path: str) -> list[ArtifactFile]:
        """Files and folders directly inside an artifact path (names relative to it)."""
        with request():
            files, rel = self._owner(who, path, "EXECUTE", "artifact.list")
            return files.list(rel)

    def delete(self, who: Principal, path: str) -> None:
        with request():
            files, rel = self._owner(who, path, "MODIFY", "artifact.delete")
            files.delete(rel)

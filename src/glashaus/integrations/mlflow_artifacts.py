"""MLflow's artifact repository for ``glashaus-artifacts:`` URIs (embedded ``glashaus:`` tracking).

A run's files are ``glashaus-artifacts:/<experiment_id>/<run_id>/artifacts``, a logged
model's ``glashaus-artifacts:/<experiment_id>/models/<model_id>/artifacts``: the same
paths the server's artifact proxy serves, read and written through the tracking
service (so ``EXECUTE``/``MODIFY`` are checked and audited) of the lakehouse named by
the tracking URI (``glashaus:./lakehouse``).
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.tracking import get_tracking_uri

from glashaus.integrations.mlflow_store import (
    ARTIFACT_SCHEME,
    mlflow_errors,
    open_lakehouse,
)
from glashaus.lakehouse import services


class GlashausArtifactRepository(ArtifactRepository):
    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None, **_: Any
    ) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        prefix = f"{ARTIFACT_SCHEME}:"
        if not artifact_uri.startswith(prefix):
            raise MlflowException(
                f"not a {ARTIFACT_SCHEME} URI: {artifact_uri!r}", error_code=databricks_pb2.INVALID_PARAMETER_VALUE
            )
        self.root = artifact_uri[len(prefix) :].strip("/")
        self.lakehouse = open_lakehouse(tracking_uri or get_tracking_uri())

    def _path(self, rel: str | None) -> str:
        return posixpath.join(self.root, rel.strip("/")) if rel and rel.strip("/") else self.root

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        with open(local_file, "rb") as f:
            data = f.read()
        target = (
            posixpath.join(artifact_path, os.path.basename(local_file))
            if artifact_path
            else os.path.basename(local_file)
        )
        with mlflow_errors():
            services(self.lakehouse).tracking.files.write(self.lakehouse.principal, self._path(target), data)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        local_dir = os.path.abspath(local_dir)
        for folder, _, files in os.walk(local_dir):
            rel = os.path.relpath(folder, local_dir)
            sub = "" if rel == "." else rel.replace(os.sep, "/")
            target = posixpath.join(artifact_path, sub) if artifact_path and sub else (artifact_path or sub or None)
            for name in files:
                self.log_artifact(os.path.join(folder, name), target)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        with mlflow_errors():
            found = services(self.lakehouse).tracking.files.list(self.lakehouse.principal, self._path(path))
        return [FileInfo(posixpath.join(path, f.path) if path else f.path, f.is_dir, f.size) for f in found]

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        with mlflow_errors():
            data = services(self.lakehouse).tracking.files.read(self.lakehouse.principal, self._path(remote_file_path))
        with open(local_path, "wb") as f:
            f.write(data)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        with mlflow_errors():
            services(self.lakehouse).tracking.files.delete(self.lakehouse.principal, self._path(artifact_path))

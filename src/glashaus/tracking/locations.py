"""Where an experiment keeps its files: managed storage, or a governed volume its creator may write.

By default an experiment's files (its runs' and logged models' artifacts) live in the
lakehouse's managed storage, ``<root>/ml/experiments/<experiment_id>``. MLflow's
``create_experiment(name, artifact_location=...)`` may instead name a folder inside a
volume, as on Databricks: ``/Volumes/<catalog>/<schema>/<volume>[/<path>]`` or
``dbfs:/Volumes/<catalog>/<schema>/<volume>[/<path>]``. Creating such an experiment needs
``WRITE VOLUME`` on the volume (asked through the guard, so audited as
``experiment.artifact_location``); the experiment's securable is then located in that
folder, and every artifact written through the MLflow proxy or the embedded repository
lands there (``<path>/<run_id>/artifacts/...``, ``<path>/models/<model_id>/artifacts/...``).
Reading and writing them still takes ``EXECUTE``/``MODIFY`` on the experiment; anyone
holding ``READ VOLUME`` on the volume reads them too (that is what choosing a volume means).
Any other location (``s3://...``, a local path, ``mlflow-artifacts:/...``) is refused.

>>> volume_location("dbfs:/Volumes/main/shop/files/experiments/reco")
(Name(catalog='main', schema='shop', object='files'), 'experiments/reco')
>>> volume_location("s3://bucket/exp")
Traceback (most recent call last):
glashaus.errors.InvalidArgumentError: artifact_location 's3://bucket/exp' is not allowed: ...
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import sqlalchemy as sa

from glashaus.access import Principal
from glashaus.access.guard import Check
from glashaus.catalog.names import Name, parse_name
from glashaus.catalog.rows import SecurableRow
from glashaus.errors import GlashausError, InvalidArgumentError, NotFoundError
from glashaus.tables.volumes import check_path
from glashaus.tracking.rows import ExperimentRow

if TYPE_CHECKING:
    from glashaus.tracking.service import TrackingService

#: The experiment's spec key keeping the location as its creator gave it (MLflow replies show it).
SPEC_KEY = "artifact_location"
#: Choosing a volume for an experiment's files writes into it.
CHOOSE = Check("WRITE VOLUME", "experiment.artifact_location", kinds=("volume",))

_PREFIXES = ("/Volumes/", "dbfs:/Volumes/")
_ALLOWED = (
    "leave it empty (files in the lakehouse's managed storage) or name a folder in a volume you may write: "
    "'/Volumes/<catalog>/<schema>/<volume>[/<path>]' or 'dbfs:/Volumes/<catalog>/<schema>/<volume>[/<path>]'"
)


def volume_location(location: str) -> tuple[Name, str]:
    """The volume and the folder inside it that an experiment's ``artifact_location`` names."""
    prefix = next((p for p in _PREFIXES if isinstance(location, str) and location.startswith(p)), None)
    if prefix is None:
        raise InvalidArgumentError(f"artifact_location {location!r:.200} is not allowed: {_ALLOWED}.")
    parts = location.removeprefix(prefix).split("/", 3)
    if len(parts) < 3 or not all(parts[:3]):
        raise InvalidArgumentError(
            f"artifact_location {location!r:.200} names no volume: a volume path reads "
            "/Volumes/<catalog>/<schema>/<volume>[/<path>]."
        )
    rel = parts[3].strip("/") if len(parts) == 4 else ""
    try:
        name = parse_name(".".join(parts[:3]), allow_version=False)
        return name, check_path(rel) if rel else ""
    except GlashausError as exc:
        raise InvalidArgumentError(f"artifact_location {location!r:.200} is not allowed: {exc}") from None


class ExperimentLocations:
    """choose (a volume folder for a new experiment, authorized) and folder (an experiment's files)."""

    def __init__(self, service: TrackingService) -> None:
        self.service = service
        self._folders: dict[str, str] = {}  # experiment id -> folder; fixed at creation, ids never reused
        self._lock = threading.Lock()

    def choose(self, who: Principal, location: str) -> str:
        """The storage folder for files at ``location``, once ``who`` may write the volume (audited)."""
        name, rel = volume_location(location)
        volume = self.service.guard.allow(who, CHOOSE, name, details={"artifact_location": location}).found
        base = (volume.storage_location or "").rstrip("/")
        if not base:  # never files at the storage root: every volume has a folder
            raise NotFoundError(f"volume {name.full} has no storage folder; recreate it or choose another volume.")
        return f"{base}/{rel}" if rel else base

    def folder(self, experiment_id: str) -> str:
        """Where the experiment's files live: its securable's location (managed storage or a volume folder)."""
        with self._lock:
            found = self._folders.get(str(experiment_id))
        if found is not None:
            return found
        with self.service.metastore.session() as s:
            found = (
                s.scalar(
                    sa.select(SecurableRow.storage_location)
                    .join(ExperimentRow, ExperimentRow.securable_id == SecurableRow.id)
                    .where(ExperimentRow.id == int(experiment_id))
                )
                if str(experiment_id).isdigit()
                else None
            )
        if not found:  # made before experiments recorded their folder: the managed one
            if not str(experiment_id).isdigit():
                raise NotFoundError(f"Could not find experiment with ID {experiment_id}")
            return self.service.locations.experiment_location(str(experiment_id))
        with self._lock:
            self._folders[str(experiment_id)] = found
        return found

"""Where things live under a lakehouse root (a local folder or an object-store URI).

Managed tables and volumes get a location from their name plus a short id, so a
dropped and re-created table never reuses the old files.

>>> Layout("/data/lh").table_location(Name("main", "shop", "orders"), "a1b2c3d4e5")
'/data/lh/tables/main/shop/orders-a1b2c3d4'
"""

from __future__ import annotations

import os
from pathlib import Path

from glashaus.catalog.names import Name
from glashaus.errors import MetastoreError

_URI_SCHEMES = ("s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://", "file://", "memory://")


class Layout:
    def __init__(self, root: str) -> None:
        self.is_local = not root.startswith(_URI_SCHEMES) or root.startswith("file://")
        if self.is_local:
            root = str(Path(root.removeprefix("file://")).expanduser().resolve())
        self.root = root.rstrip("/")

    def _join(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def table_location(self, name: Name, securable_id: str) -> str:
        return self._join("tables", *name.parts[:-1], f"{name.object}-{securable_id[:8]}")

    def volume_location(self, name: Name, securable_id: str) -> str:
        return self._join("volumes", *name.parts[:-1], f"{name.object}-{securable_id[:8]}")

    def model_location(self, name: Name, securable_id: str) -> str:
        """A registered model's folder; its versions live in ``versions/<n>/`` below it."""
        return self._join("models", *name.parts[:-1], f"{name.object}-{securable_id[:8]}")

    def model_version_location(self, name: Name, securable_id: str, version: int) -> str:
        return f"{self.model_location(name, securable_id)}/versions/{int(version)}"

    def experiment_location(self, experiment_id: str) -> str:
        """An MLflow experiment's files: ``<run_id>/artifacts/...`` and ``models/<model_id>/artifacts/...``."""
        if not str(experiment_id).isdigit():
            raise MetastoreError(f"experiment id {experiment_id!r} is not a number.")
        return self._join("ml", "experiments", str(experiment_id))

    def system_location(self, name: Name) -> str:
        return self._join("system", *name.parts[1:])

    def default_metastore_url(self) -> str:
        if not self.is_local:
            raise MetastoreError(
                f"the lakehouse at {self.root} is on an object store, where SQLite cannot live: "
                "pass metastore='postgresql+psycopg://...' (or a local 'sqlite:///path/meta.db')."
            )
        return f"sqlite:///{self.root}/_metastore.db"

    def ensure_root(self) -> None:
        if self.is_local:
            os.makedirs(self.root, exist_ok=True)

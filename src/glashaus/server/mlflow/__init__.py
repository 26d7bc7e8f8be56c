"""MLflow's REST protocol on ``glashaus serve``, so unmodified MLflow clients work.

``protocol.py`` holds what the tracking routes (``tracking.py``) and the registry
routes (``registry.py``) share: sign-in with ``MLFLOW_TRACKING_TOKEN`` (a bearer
token), the caller's Lakehouse view, audit context, and MLflow's error shape.
Each route module exposes ``ROUTES`` and is a thin face over a capability service
(``glashaus.tracking``, ``glashaus.registry``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def mount(app: FastAPI, server: Any) -> None:
    """Add the MLflow routes (under ``/api/2.0/mlflow``, ``/ajax-api/2.0/mlflow`` and
    ``/api/2.0/mlflow-artifacts``) to ``app``."""
    from glashaus.server.mlflow import protocol

    modules = []
    for name in ("tracking", "registry"):
        try:
            modules.append(__import__(f"glashaus.server.mlflow.{name}", fromlist=["ROUTES"]))
        except ModuleNotFoundError as exc:
            if exc.name != f"glashaus.server.mlflow.{name}":
                raise
    for module in modules:
        protocol.add_routes(app, server, module.ROUTES)

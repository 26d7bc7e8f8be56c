"""MLflow's REST protocol on ``glashaus serve``, so unmodified MLflow clients work.

``protocol.py`` holds what the tracking routes (``tracking.py``) and the registry
routes (``registry.py``) share: the face (:class:`~glashaus.server.mlflow.protocol.MlflowFace`,
mounted behind the request layer like every face), MLflow's requests and error shape.
Each route module exposes ``ROUTES`` and is a thin face over a capability service
(``glashaus.tracking``, ``glashaus.registry``).
"""

from __future__ import annotations

from typing import Any


def face(layer: Any, *, default_schema: Any = None) -> Any:
    """The MLflow face (under ``/api/2.0/mlflow``, ``/ajax-api/2.0/mlflow`` and ``/api/2.0/mlflow-artifacts``).

    ``default_schema``: the ``Name`` of the schema plain registered-model names live in (``main.default``).
    """
    from glashaus.server.mlflow import protocol

    routes = []
    for name in ("tracking", "artifacts", "registry", "traces"):
        try:
            routes += __import__(f"glashaus.server.mlflow.{name}", fromlist=["ROUTES"]).ROUTES
        except ModuleNotFoundError as exc:
            if exc.name != f"glashaus.server.mlflow.{name}":
                raise
    if default_schema is None:
        return protocol.MlflowFace(layer, routes)
    return protocol.MlflowFace(layer, routes, default_schema=default_schema)

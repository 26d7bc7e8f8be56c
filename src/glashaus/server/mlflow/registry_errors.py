"""MLflow's own words for the registry's "not found" and "already exists" answers.

MLflow clients and MLflow's test suite read these messages (``Registered Model with
name=... not found``, ``Model Version (name=..., version=...) not found``,
``Registered Model (name=...) already exists.``); the registry's service says the same in
catalog terms. The MLflow face keeps MLflow's sentence first, with the name as the client
wrote it, and the service's explanation after it, with the same error code.

>>> from glashaus.errors import NotFoundError
>>> from glashaus.server.mlflow.protocol import MlflowRequest, Route
>>> def get(lh, req):
...     raise NotFoundError("model 'main.shop.nope' does not exist.")
>>> route = with_mlflow_messages(Route("GET", "/registered-models/get", get))
>>> route.handler(None, MlflowRequest("GET", {"name": "main.shop.nope"}))
Traceback (most recent call last):
glashaus.errors.NotFoundError: Registered Model with name=main.shop.nope not found: model 'main.shop.nope' does not exist.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from glashaus.errors import AlreadyExistsError, NotFoundError
from glashaus.server.mlflow.protocol import MlflowRequest, Route

#: Routes whose "not found" can only be the registered model itself (not a run, a source or an alias).
MODEL_ROUTES = frozenset(
    f"/registered-models/{p}"
    for p in ("get", "update", "rename", "delete", "set-tag", "delete-tag", "get-latest-versions")
)
#: Routes whose "not found" is the version (MLflow says so whether the model or the version is missing).
VERSION_ROUTES = frozenset(
    f"/model-versions/{p}"
    for p in ("get", "update", "delete", "set-tag", "delete-tag", "get-download-uri", "transition-stage")
)


def with_mlflow_messages(route: Route) -> Route:
    """The route, answering MLflow's messages for a missing or duplicate model or version."""
    if route.path not in MODEL_ROUTES | VERSION_ROUTES | {"/registered-models/create"}:
        return route
    handler = route.handler

    def answer(lh: Any, req: MlflowRequest) -> Any:
        try:
            return handler(lh, req)
        except NotFoundError as exc:
            if str(exc).startswith(("Registered Model with name=", "Model Version (")):
                raise  # already in MLflow's words (a plain name, model_names.as_written)
            if route.path in MODEL_ROUTES:
                raise NotFoundError(f"Registered Model with name={_name(req)} not found: {exc}") from None
            if route.path in VERSION_ROUTES:
                said = f"Model Version (name={_name(req)}, version={req.get('version')}) not found"
                raise NotFoundError(f"{said}: {exc}") from None
            raise
        except AlreadyExistsError as exc:
            if str(exc).startswith("Registered Model ("):
                raise
            raise AlreadyExistsError(f"Registered Model (name={_name(req)}) already exists: {exc}") from None

    return replace(route, handler=answer)


def _name(req: MlflowRequest) -> str:
    """The model's name as the client wrote it (cut short: it is echoed into a message)."""
    return f"{req.get('name')!s:.300}"

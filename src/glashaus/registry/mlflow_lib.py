"""MLflow (``mlflow-skinny``, the ``ml`` extra), imported when first needed.

Importing MLflow takes over a second, so the registry imports it only in the calls
that need it (saving, loading, signatures, alias rules); a missing install becomes
one clear error instead of an ImportError deep in a call.
"""

from __future__ import annotations

import os
from types import ModuleType

from glashaus.errors import InvalidArgumentError


def mlflow() -> ModuleType:
    """The ``mlflow`` package with its pyfunc and models modules loaded.

    >>> mlflow().pyfunc.load_model  # doctest: +SKIP
    """
    # Glashaus never phones home: MLflow's usage telemetry is off unless a user turned it on.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow as module
        import mlflow.models
        import mlflow.pyfunc  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise InvalidArgumentError(
            f"the model registry needs MLflow's model format ({exc.name} is missing): "
            "pip install 'glashaus[ml]'."
        ) from None
    return module

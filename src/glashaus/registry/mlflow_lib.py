"""MLflow (``mlflow-skinny``, the ``ml`` extra), imported when first needed.

Importing MLflow takes over a second, so the registry imports it only in the calls
that need it (saving, loading, signatures); a missing install becomes
one clear error instead of an ImportError deep in a call.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from glashaus.errors import InvalidArgumentError, StorageError


def mlflow() -> ModuleType:
    """The ``mlflow`` package with its pyfunc and models modules loaded.

    >>> mlflow().pyfunc.load_model.__name__
    'load_model'
    """
    # Glashaus never phones home: MLflow's usage telemetry is off unless a user turned it on.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow as module
        import mlflow.models
        import mlflow.pyfunc
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise InvalidArgumentError(
            f"the model registry needs MLflow's model format ({exc.name} is missing): pip install 'glashaus[ml]'."
        ) from None
    return module


def load_pyfunc(folder: str, *, ref: str) -> Any:
    """``mlflow.pyfunc.load_model(folder)`` with errors that say what to do (``ref`` names the version).

    A missing package is :class:`InvalidArgumentError` naming it; files that cannot be read
    (missing, unreadable) are :class:`StorageError`; anything else MLflow or a flavor raises
    (a broken MLmodel, a version mismatch) is :class:`InvalidArgumentError` with its message.
    The caller has checked the folder (``RegistryService.local_path``: EXECUTE, trust).

    >>> version, folder = registry.local_path(alice, "main.shop.reco@champion")
    >>> load_pyfunc(folder, ref="main.shop.reco/1").predict(X)[:3].tolist()
    [0, 0, 1]
    """
    ml = mlflow()
    try:
        return ml.pyfunc.load_model(folder)
    except ImportError as exc:
        raise InvalidArgumentError(
            f"model {ref} needs the package {exc.name!r}, which is not installed here: pip install {exc.name}."
        ) from None
    except OSError as exc:
        raise StorageError(
            f"the files of model {ref} cannot be read from managed storage ({type(exc).__name__}: "
            f"{exc}); an admin should check the storage under {folder}."
        ) from None
    except Exception as exc:  # noqa: BLE001 - MLflow and the flavors raise many kinds; the user needs the message
        message = getattr(exc, "message", None) or str(exc)
        raise InvalidArgumentError(f"MLflow cannot load model {ref}: {message}") from None

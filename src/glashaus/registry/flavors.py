"""Writing a model object as an MLflow model folder (MLmodel format) with MLflow's flavors.

- scikit-learn: ``mlflow.sklearn`` in skops format (safe to load), trusting exactly
  the scikit-learn classes skops reports; an estimator skops cannot write safely
  (custom classes) falls back to cloudpickle, and that version then needs an admin's
  trust mark before anyone loads it;
- LightGBM and XGBoost: their MLflow flavors, imported only when such a model is
  registered: boosters (and all XGBoost models) in their native formats, LightGBM's
  scikit-learn models in skops (cloudpickle, needing trust, when skops cannot);
- ``mlflow.pyfunc.PythonModel``: the pyfunc flavor (cloudpickle: needs the trust mark).

Requirements are pinned from the installed packages, so MLflow does not start a
subprocess to infer them.

>>> import tempfile
>>> save(model, tempfile.mkdtemp() + "/reco", signature=None, input_example=X.head(3))
'sklearn'
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from glashaus.errors import InvalidArgumentError
from glashaus.frames import to_arrow
from glashaus.registry import environment
from glashaus.registry.mlflow_lib import mlflow
from glashaus.registry.safety import is_allowed_skops_type


def flavor_of(model: Any) -> str:
    """``sklearn``, ``lightgbm``, ``xgboost`` or ``python_function`` for a model object."""
    package = type(model).__module__.split(".")[0]
    if package in ("lightgbm", "xgboost"):
        return package
    if _is_sklearn(model):
        return "sklearn"
    if isinstance(model, mlflow().pyfunc.PythonModel):
        return "python_function"
    raise InvalidArgumentError(
        f"cannot register a {type(model).__module__}.{type(model).__name__}: give a scikit-learn estimator, a "
        "LightGBM or XGBoost model, or an mlflow.pyfunc.PythonModel (or register a saved MLflow model "
        "folder with lh.models.register_files)."
    )


def save(model: Any, path: str, *, signature: Any = None, input_example: Any = None) -> str:
    """Write ``model`` as an MLflow model folder at ``path`` (which must not exist); returns the flavor."""
    ml = mlflow()
    flavor = flavor_of(model)
    common = {"signature": _signature(signature), "input_example": _example(input_example)}
    # LightGBM boosters are written natively; scikit-learn models (LightGBM's too) with skops where possible.
    skops_able = flavor == "sklearn" or (flavor == "lightgbm" and type(model).__name__ != "Booster")
    trusted = (
        _skops_types(model, ("sklearn",) if flavor == "sklearn" else ("sklearn", "lightgbm")) if skops_able else None
    )
    if skops_able and trusted is None:
        warnings.warn(
            f"{type(model).__name__} cannot be written safely with skops (it holds types outside "
            "scikit-learn); it is saved with cloudpickle and loads only after an admin trusts the version.",
            UserWarning,
            stacklevel=4,
        )
    try:
        _save(ml, flavor, model, path, trusted, skops_able, common)
    except ml.exceptions.MlflowException as exc:
        raise InvalidArgumentError(f"MLflow could not save the {type(model).__name__}: {exc.message}") from None
    return flavor


def _save(
    ml: Any, flavor: str, model: Any, path: str, trusted: list[str] | None, skops_able: bool, common: dict[str, Any]
) -> None:
    with warnings.catch_warnings():
        # MLflow's hints (integer columns and missing values, pandas deprecations) are not the user's to fix.
        warnings.simplefilter("ignore")
        if flavor == "sklearn":
            fmt = "skops" if trusted is not None else "cloudpickle"
            importlib.import_module("mlflow.sklearn")
            requirements = ml.sklearn.get_default_pip_requirements(
                include_cloudpickle=fmt == "cloudpickle", include_skops=fmt == "skops"
            ) + environment.pinned(["numpy", "scipy", "pandas"])
            ml.sklearn.save_model(
                model,
                path,
                serialization_format=fmt,
                skops_trusted_types=trusted or None,
                pip_requirements=requirements,
                **common,
            )
        elif flavor == "lightgbm":
            importlib.import_module("mlflow.lightgbm")
            extra = (
                {
                    "serialization_format": "skops" if trusted is not None else "cloudpickle",
                    "skops_trusted_types": trusted or None,
                }
                if skops_able
                else {}
            )
            ml.lightgbm.save_model(
                model,
                path,
                pip_requirements=environment.pinned(environment.FLAVOR_PACKAGES["lightgbm"]),
                **extra,
                **common,
            )
        elif flavor == "xgboost":
            importlib.import_module("mlflow.xgboost")
            ml.xgboost.save_model(
                model, path, pip_requirements=environment.pinned(environment.FLAVOR_PACKAGES["xgboost"]), **common
            )
        else:
            ml.pyfunc.save_model(
                path,
                python_model=model,
                pip_requirements=environment.pinned(environment.FLAVOR_PACKAGES["python_function"]),
                **common,
            )


def _is_sklearn(model: Any) -> bool:
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return False
    return isinstance(model, BaseEstimator)


def _skops_types(model: Any, packages: tuple[str, ...]) -> list[str] | None:
    """The non-default types skops needs for ``model`` if all are classes of ``packages``, else None."""
    import skops.io

    try:
        data = skops.io.dumps(model)
        types = list(skops.io.get_untrusted_types(data=data))
    except Exception:  # noqa: BLE001 - skops refuses what it cannot represent (lambdas, some custom objects)
        return None
    return types if all(is_allowed_skops_type(t, packages=packages) for t in types) else None


def _signature(signature: Any) -> Any:
    """An ``mlflow.models.ModelSignature``, also from its ``to_dict()`` form; None to infer it."""
    from mlflow.models.signature import ModelSignature

    if signature is None or isinstance(signature, ModelSignature):
        return signature
    if isinstance(signature, dict) and "inputs" in signature:
        try:
            return ModelSignature.from_dict(signature)
        except Exception as exc:  # noqa: BLE001 - malformed JSON or unknown types
            raise InvalidArgumentError(f"signature= could not be read: {exc}") from None
    raise InvalidArgumentError(
        f"signature= must be an mlflow.models.ModelSignature (e.g. from mlflow.models.infer_signature) or None "
        f"(inferred from input_example=), not {type(signature).__name__}."
    )


def _example(input_example: Any) -> Any:
    """pandas, numpy, dicts and lists go to MLflow as they are; Arrow and polars as pandas."""
    if input_example is None:
        return None
    module = type(input_example).__module__.split(".")[0]
    if module in ("pandas", "numpy") or isinstance(input_example, list | dict | str | bytes | tuple):
        return input_example
    return to_arrow(input_example, what="input_example").to_pandas()

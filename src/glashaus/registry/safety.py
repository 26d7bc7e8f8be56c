"""Which model files are safe to load, read from the files themselves.

Loading a pickle runs whatever code its author put in it, and so does a model folder
that ships Python code (``code/``, a ``python_model``, a custom ``loader_module``).
MLflow's own guard is not enough: the skops allow-list it passes to ``skops.io.load``
comes from the model's MLmodel file, which the uploader wrote. So the registry looks
at the files and decides:

- ``skops``: a scikit-learn model in skops format whose types are all scikit-learn
  classes (``skops.io.get_untrusted_types`` lists nothing else);
- ``native``: LightGBM (boosters) or XGBoost's own file formats, no pickle anywhere
  (LightGBM's scikit-learn models count as ``skops`` when saved so, with LightGBM's
  classes allowed beside scikit-learn's);
- ``pickle``: everything else; such a version loads only after an admin trusted it
  (``lh.models.set_trusted``), and only while its files are the ones trusted.

>>> version, folder = registry.local_path(alice, "main.shop.reco/1")
>>> assess(folder).file_format
'skops'
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import posixpath
from dataclasses import dataclass
from typing import Any, Literal

from glashaus.errors import InvalidArgumentError, StorageError

FileFormat = Literal["skops", "native", "pickle"]

#: File endings of formats that unpickle (torch's .pt/.pth are pickles too).
PICKLE_SUFFIXES = (".pkl", ".pickle", ".cloudpickle", ".joblib", ".dill", ".pt", ".pth")
#: pyfunc loader modules whose load path reads only the formats judged here.
SAFE_LOADERS = {"mlflow.sklearn": "sklearn", "mlflow.lightgbm": "lightgbm", "mlflow.xgboost": "xgboost"}


@dataclass(frozen=True)
class Assessment:
    """What a model folder holds: its flavors, its file format and (for pickle) why."""

    flavors: tuple[str, ...]
    file_format: FileFormat
    reason: str
    skops_types: tuple[str, ...] = ()
    mlmodel: dict[str, Any] | None = None


def read_mlmodel(folder: str) -> dict[str, Any]:
    """The parsed MLmodel file of a model folder (YAML, read safely)."""
    import yaml  # an MLflow dependency

    path = os.path.join(folder, "MLmodel")
    if not os.path.isfile(path):
        raise InvalidArgumentError(
            "the model folder has no MLmodel file: register a folder written by mlflow's save_model/log_model "
            "(or pass the model object to lh.models.register)."
        )
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise InvalidArgumentError(f"the model's MLmodel file is not valid YAML: {exc}") from None
    except RecursionError:  # PyYAML composes nested values recursively
        raise InvalidArgumentError(
            "the model's MLmodel file nests values too deeply to be read; write it with mlflow's save_model/log_model."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise InvalidArgumentError("the model's MLmodel file has no 'flavors' section.")
    return data


def assess(folder: str) -> Assessment:
    """Judge a local model folder (see the module docstring); refuse one MLflow could not load."""
    refuse_links(folder)
    mlmodel = read_mlmodel(folder)
    flavors: dict[str, Any] = mlmodel["flavors"]
    names = tuple(sorted(flavors))
    pyfunc = flavors.get("python_function")
    if not isinstance(pyfunc, dict):
        raise InvalidArgumentError(
            f"the model has no python_function flavor (it has {', '.join(names) or 'none'}): MLflow tools "
            "could not load it as a pyfunc model; save it with an MLflow flavor."
        )
    for conf in flavors.values():
        _check_paths(conf, folder)

    def verdict(file_format: FileFormat, reason: str, types: tuple[str, ...] = ()) -> Assessment:
        return Assessment(names, file_format, reason, types, mlmodel)

    pickled = sorted(_files_ending(folder, PICKLE_SUFFIXES))
    if pickled:
        return verdict("pickle", f"it holds pickled files ({', '.join(pickled[:3])})")
    if any(isinstance(conf, dict) and conf.get("code") for conf in flavors.values()):
        return verdict("pickle", "it ships Python code (code paths) that runs when it loads")
    loader = pyfunc.get("loader_module")
    if "python_model" in pyfunc or "cloudpickle_version" in pyfunc or loader not in SAFE_LOADERS:
        return verdict("pickle", f"it loads through {loader or 'a python_model'}, which runs the model's own code")
    flavor = SAFE_LOADERS[loader]
    conf = flavors.get(flavor)
    if not isinstance(conf, dict):
        raise InvalidArgumentError(f"the model's pyfunc loader is {loader} but it has no {flavor} flavor.")
    model_class = str(conf.get("model_class") or "")
    if flavor == "xgboost":
        if model_class and not model_class.startswith("xgboost."):  # MLflow instantiates it by name
            return verdict("pickle", f"its xgboost flavor names the class {model_class!r}")
        return verdict("native", "XGBoost's own file format")
    if flavor == "lightgbm" and model_class in ("", "lightgbm.basic.Booster"):
        if not str(conf.get("data", "")).endswith(".lgb"):
            return verdict("pickle", f"its LightGBM booster is stored as {conf.get('data')!r}, not a .lgb file")
        return verdict("native", "LightGBM's own file format")
    # scikit-learn models, and LightGBM's scikit-learn API models, are safe only as skops files.
    if conf.get("serialization_format") != "skops":
        return verdict("pickle", f"its {flavor} model is serialized with {conf.get('serialization_format')}")
    file = _inside(folder, conf.get("pickled_model") or conf.get("data") or pyfunc.get("model_path"))
    packages = ("sklearn",) if flavor == "sklearn" else ("sklearn", "lightgbm")
    types = tuple(untrusted_types(file))
    outside = [t for t in types if not is_allowed_skops_type(t, packages=packages)]
    allowed = " and ".join({"sklearn": "scikit-learn", "lightgbm": "LightGBM"}[p] for p in packages)
    if outside:
        return verdict("pickle", f"its skops file holds types outside {allowed} ({', '.join(outside[:3])})", types)
    return verdict("skops", f"skops file with {allowed} types only", types)


def untrusted_types(path: str) -> list[str]:
    """Types in a skops file that skops does not trust by default."""
    import skops.io

    try:
        return list(skops.io.get_untrusted_types(file=path))
    except OSError as exc:  # missing or unreadable: storage's problem, not the file's
        raise StorageError(
            f"the model's skops file cannot be read from storage ({type(exc).__name__}: {exc}); "
            "an admin should check the storage."
        ) from None
    except Exception as exc:  # noqa: BLE001 - a broken or foreign file: skops raises many kinds
        raise InvalidArgumentError(f"the model's skops file cannot be read: {exc}") from None


def is_allowed_skops_type(name: str, *, packages: tuple[str, ...] = ("sklearn",)) -> bool:
    """True for a class defined in scikit-learn (or ``packages``), e.g. ``sklearn.tree._tree.Tree``; never a function.

    >>> is_allowed_skops_type("sklearn.tree._tree.Tree"), is_allowed_skops_type("builtins.eval")
    (True, False)
    """
    module, _, attr = name.rpartition(".")
    if module.split(".")[0] not in packages or not attr:
        return False
    try:
        found = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return False
    return inspect.isclass(found) and str(found.__module__).split(".")[0] in packages


def refuse_links(folder: str) -> None:
    """Symbolic links could point anywhere on the disk: a model folder may not hold any."""
    for base, dirs, files in os.walk(folder):
        for entry in dirs + files:
            if os.path.islink(os.path.join(base, entry)):
                rel = os.path.relpath(os.path.join(base, entry), folder)
                raise InvalidArgumentError(f"the model folder holds a symbolic link ({rel}); copy the real file in.")


def digest(folder: str) -> str:
    """SHA-256 over every file's relative path and bytes, in a fixed order."""
    h = hashlib.sha256()
    for rel in sorted(_all_files(folder)):
        h.update(rel.encode() + b"\0")
        with open(os.path.join(folder, rel), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def _all_files(folder: str) -> list[str]:
    found = []
    for base, _, files in os.walk(folder):
        found += [os.path.relpath(os.path.join(base, f), folder).replace(os.sep, "/") for f in files]
    return found


def _files_ending(folder: str, suffixes: tuple[str, ...]) -> list[str]:
    return [f for f in _all_files(folder) if f.lower().endswith(suffixes)]


def _check_paths(conf: Any, folder: str) -> None:
    """Every file a flavor names must lie inside the folder (MLflow joins them blindly)."""
    if not isinstance(conf, dict):
        return
    for key in ("model_path", "pickled_model", "data", "model_code_path", "code"):
        value = conf.get(key)
        if isinstance(value, str) and value:
            _inside(folder, value)
    artifacts = conf.get("artifacts")
    if isinstance(artifacts, dict):
        for item in artifacts.values():
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                _inside(folder, item["path"])


def _inside(folder: str, rel: Any) -> str:
    if not isinstance(rel, str) or not rel:
        raise InvalidArgumentError("the model's MLmodel file does not name its model file.")
    if rel.startswith(("/", "\\")) or "\\" in rel or "\x00" in rel or ".." in rel.split("/") or ":" in rel:
        raise InvalidArgumentError(f"the model's MLmodel file names {rel!r}, a path outside the model folder.")
    return os.path.join(folder, posixpath.normpath(rel))

"""``lh.models``: the model registry as the connected principal sees it, and its operations.

Each operation (see :mod:`glashaus.declare`) runs a
:class:`~glashaus.registry.service.RegistryService` method, or one of the functions below,
which take the service and the acting principal first: those whose work lies in a part of
the service (registering, loading, files, trust, scoring) or that do more than one call (a
progress bar). The service's guard checks decide and audit; ``lh.models`` (generated,
``glashaus/facades.py``) calls each as its principal. Paths follow Unity Catalog's: models by
their three-part name, versions under them; a version reference (``main.shop.reco@champion``,
``main.shop.reco/3``) is the last segment of its path.

>>> mv = lh.models.register(model, "main.shop.reco", training_set=["main.shop.orders"],
...                         input_example=X.head(5))
>>> lh.models.set_alias("main.shop.reco", "champion", mv.version, reason="beats baseline").to_version
2
>>> lh.models.load("main.shop.reco@champion").predict(X)[:3].tolist()
[0, 0, 1]
>>> _ = lh.create_table("main.shop.candidates", data=X)
>>> lh.models.score("main.shop.reco@champion", table="main.shop.candidates",
...                 output="main.shop.scores").rows
6
"""

from __future__ import annotations

import functools
from typing import Any

from glashaus.access import Principal
from glashaus.declare import Operation
from glashaus.registry.scoring import ProgressFn, ScoreResult, rich_progress
from glashaus.registry.service import RegistryService, ScoreMode
from glashaus.registry.versions import ModelVersion
from glashaus.tables import FileInfo

# -- the functions the operations call where no single service method is the facade's -----------


def register_model(
    registry: RegistryService,
    who: Principal,
    model: Any,
    name: str,
    *,
    training_set: Any = None,
    signature: Any = None,
    input_example: Any = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    run_id: str | None = None,
    code_commit: str | None = None,
) -> ModelVersion:
    """Save ``model`` (scikit-learn, LightGBM, XGBoost, or an ``mlflow.pyfunc.PythonModel``) as a new version.

    ``training_set`` names the tables it learned from (``"main.shop.orders"``, ``"...@v3"``, a
    list, or ``{"tables": [...], "features": [...]}``): each is recorded as lineage at its exact
    version (SELECT checked on each), with the code commit and the Python environment. The
    signature is inferred from ``input_example`` unless given. Needs ownership or MANAGE on the
    model; a missing model is created (CREATE MODEL on its schema). All or nothing: a failure
    leaves no version, and no model if this call created it.

    >>> lh.models.register(clf, "main.shop.reco", training_set="main.shop.orders",
    ...                    input_example=X.head(5)).version
    2
    """
    return registry.register(
        who,
        model,
        name,
        training_set=training_set,
        signature=signature,
        input_example=input_example,
        description=description,
        tags=tags,
        run_id=run_id,
        code_commit=code_commit,
    )


def register_model_files(
    registry: RegistryService,
    who: Principal,
    source: str,
    name: str,
    *,
    training_set: Any = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    run_id: str | None = None,
    code_commit: str | None = None,
) -> ModelVersion:
    """Register a saved MLflow model folder that lies in managed storage (copied into the registry).

    ``source``: a ``/Volumes/...`` folder, or MLflow's ``runs:/<run_id>/<path>``, ``models:/m-<id>``,
    ``models:/<name>@<alias>`` (a copy of that version) or ``mlflow-artifacts:/<path>``, as the
    MLflow server takes them (:mod:`glashaus.registry.sources`); anything else is refused. The
    version records ``source`` as given, and the run it came from. Needs ownership or MANAGE on
    the model (a missing one is created: CREATE MODEL on its schema) and the right to read the
    source (READ VOLUME on its volume, or EXECUTE on its model or experiment).

    >>> lh.models.register_files("models:/main.shop.reco@champion", "main.shop.reco2").source
    'models:/main.shop.reco@champion'
    """
    return registry.register_files(
        who,
        source,
        name,
        training_set=training_set,
        description=description,
        tags=tags,
        run_id=run_id,
        code_commit=code_commit,
    )


def get_model_version(registry: RegistryService, who: Principal, ref: str) -> ModelVersion:
    """One version, by ``main.shop.reco/3``, ``main.shop.reco@champion`` or ``.../latest`` (needs EXECUTE).

    >>> lh.models.version("main.shop.reco@champion").version
    1
    """
    return registry.get_version(who, ref)


def trust_version(
    registry: RegistryService, who: Principal, name: str, version: int, trusted: bool = True
) -> ModelVersion:
    """Admins: allow a reviewed pickle-based version to load (for its current files only).

    ``trusted=False`` takes the trust back.

    >>> lh.models.set_trusted("main.shop.reco", 1).version
    1
    """
    return registry.set_trusted(who, name, version, trusted)


def load_model(registry: RegistryService, who: Principal, ref: str) -> Any:
    """The version as an ``mlflow.pyfunc.PyFuncModel`` (needs EXECUTE; a pickle-based one, an admin's trust).

    >>> lh.models.load("main.shop.reco@champion").predict(X)[:3].tolist()
    [0, 0, 1]
    """
    return registry.load(who, ref)


def model_files(registry: RegistryService, who: Principal, ref: str, prefix: str = "") -> list[FileInfo]:
    """The files of a version (those under ``prefix``), e.g. ``MLmodel`` (needs EXECUTE).

    >>> "MLmodel" in [f.path for f in lh.models.files("main.shop.reco/1")]
    True
    """
    return registry.list_files(who, ref, prefix)


def read_model_file(registry: RegistryService, who: Principal, ref: str, path: str) -> bytes:
    """One file of a version (``MLmodel``, ``model.skops``, ...), as bytes (needs EXECUTE).

    >>> b"flavors:" in lh.models.read_file("main.shop.reco/1", "MLmodel")
    True
    """
    return registry.read_file(who, ref, path)


def score_table(
    registry: RegistryService,
    who: Principal,
    ref: str,
    *,
    table: str,
    output: str,
    mode: ScoreMode = "overwrite",
    batch_size: int = 65_536,
    keep: list[str] | None = None,
    prediction_column: str = "prediction",
    progress: bool | ProgressFn = False,
) -> ScoreResult:
    """Score every row of ``table`` into ``output`` in one Delta commit (``progress=True``: a bar).

    ``ref`` names the model version (``main.shop.reco@champion``), ``table@vN`` pins the input's
    version. Needs EXECUTE on the model, SELECT on the table and MODIFY on ``output`` (or CREATE
    TABLE on its schema when new). ``keep`` names the input columns copied beside the predictions
    (default: all). The table is checked against the model's signature before any row is read.
    ``progress``: ``True`` shows a Rich progress bar on stderr; a callable gets
    ``progress(rows_done, rows_total)`` after each batch.

    >>> _ = lh.create_table("main.shop.candidates", data=X)
    >>> mv = lh.models.register(model, "main.shop.reco", input_example=X.head(3))  # a signature to check against
    >>> result = lh.models.score(f"main.shop.reco/{mv.version}", table="main.shop.candidates",
    ...                          output="main.shop.scores")
    >>> result.rows, lh.sql("SELECT sum(prediction) FROM main.shop.scores").scalar()
    (6, 3)
    """

    def run(callback: ProgressFn | None) -> ScoreResult:
        return registry.score(
            who,
            ref,
            table=table,
            output=output,
            mode=mode,
            batch_size=batch_size,
            keep=keep,
            prediction_column=prediction_column,
            progress=callback,
        )

    if progress is True:
        with rich_progress(f"scoring {table}") as bar:
            return run(bar)
    return run(progress or None)


# -- the declarations ------------------------------------------------------------------------------


_op = functools.partial(Operation, "models", tag="models")


OPERATIONS = [
    _op(
        "create",
        "POST",
        "/models",
        calls=RegistryService.create_model,
        privilege="CREATE MODEL",
        audit="model.create",
    ),
    _op(
        "list",
        "GET",
        "/models",
        calls=RegistryService.list_models,
        cli="glashaus models ls",
        privilege="USE",
        audit="{kind}.list",
    ),
    _op(
        "get",
        "GET",
        "/models/{name}",
        calls=RegistryService.get_model,
        cli="glashaus models show",
        privilege="EXECUTE",
        audit="model.get",
    ),
    _op(
        "delete", "DELETE", "/models/{name}", calls=RegistryService.delete_model, privilege="MANAGE", audit="model.drop"
    ),
    _op(
        "set_description",
        "PUT",
        "/models/{name}/description",
        calls=RegistryService.set_description,
        privilege="MANAGE",
        audit="model.comment",
    ),
    _op(
        "set_tags", "PUT", "/models/{name}/tags", calls=RegistryService.set_tags, privilege="MANAGE", audit="model.tag"
    ),
    _op(
        "unset_tags",
        "DELETE",
        "/models/{name}/tags",
        calls=RegistryService.unset_tags,
        privilege="MANAGE",
        audit="model.untag",
    ),
    _op(
        "register",
        calls=register_model,
        embedded_only="it takes a live Python model object; save it with mlflow, put the folder "
        "in a volume and call register_files",
        privilege="MANAGE",
        audit="model.version.create",
    ),
    _op(
        "register_files",
        "POST",
        "/models/{name}/versions",
        calls=register_model_files,
        privilege="MANAGE",
        audit="model.version.create",
    ),
    _op(
        "versions",
        "GET",
        "/models/{name}/versions",
        calls=RegistryService.list_versions,
        cli="glashaus models versions",
        privilege="EXECUTE",
        audit="model.versions",
    ),
    _op(
        "version",
        "GET",
        "/model-versions/{ref:path}",
        calls=get_model_version,
        privilege="EXECUTE",
        audit="model.version.get",
    ),
    _op(
        "delete_version",
        "DELETE",
        "/models/{name}/versions/{version}",
        calls=RegistryService.delete_version,
        privilege="MANAGE",
        audit="model.version.delete",
    ),
    _op(
        "set_trusted",
        "PUT",
        "/models/{name}/versions/{version}/trusted",
        calls=trust_version,
        privilege="MANAGE",
        audit="model.trust",
    ),
    _op(
        "set_alias",
        "PUT",
        "/models/{name}/aliases/{alias}",
        calls=RegistryService.set_alias,
        cli="glashaus models alias",
        privilege="MANAGE",
        audit="model.alias.set",
    ),
    _op(
        "delete_alias",
        "DELETE",
        "/models/{name}/aliases/{alias}",
        calls=RegistryService.delete_alias,
        privilege="MANAGE",
        audit="model.alias.delete",
    ),
    _op(
        "rollback",
        "POST",
        "/models/{name}/aliases/{alias}/rollback",
        calls=RegistryService.rollback,
        cli="glashaus models rollback",
        privilege="MANAGE",
        audit="model.alias.rollback",
    ),
    _op(
        "alias_history",
        "GET",
        "/models/{name}/alias-history",
        calls=RegistryService.alias_history,
        privilege="EXECUTE",
        audit="model.alias.history",
    ),
    _op(
        "load",
        calls=load_model,
        embedded_only="it returns a live Python model; serve the model (lh.serving) or read its files",
        privilege="EXECUTE",
        audit="model.load",
    ),
    _op("files", "GET", "/model-files/{ref:path}", calls=model_files, privilege="EXECUTE", audit="model.files"),
    _op("read_file", "GET", "/model-file", calls=read_model_file, privilege="EXECUTE", audit="model.files"),
    # The server runs the scoring; a progress callback stays with the caller (not sent).
    _op(
        "score",
        "POST",
        "/model-scoring",
        calls=score_table,
        local=("progress",),
        cli="glashaus models score",
        privilege="EXECUTE",
        audit="model.score",
    ),
]

"""``lh.models``: the model registry as the connected principal sees it.

A small facade bound to one principal; every method is one
:class:`~glashaus.registry.service.RegistryService` call.

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

import builtins  # methods named list/set below hide the builtins inside their class
from typing import Any

from glashaus.access import Principal
from glashaus.registry.aliases import AliasMove
from glashaus.registry.scoring import ProgressFn, ScoreResult, rich_progress
from glashaus.registry.service import RegisteredModel, RegistryService, ScoreMode
from glashaus.registry.versions import ModelVersion
from glashaus.tables import FileInfo


class Models:
    """The registry for one principal (``lh.models``)."""

    def __init__(self, service: RegistryService, principal: Principal) -> None:
        self._service = service
        self._who = principal

    # -- registered models ------------------------------------------------------------

    def create(
        self, name: str, *, description: str | None = None, tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        """An empty registered model (versions come with :meth:`register`).

        >>> lh.models.create("main.shop.ferns", description="Ferns a buyer may like.").latest_version
        """
        return self._service.create_model(self._who, name, description=description, tags=tags)

    def get(self, name: str) -> RegisteredModel:
        """>>> lh.models.get("main.shop.reco").aliases
        {'champion': 1}
        """
        return self._service.get_model(self._who, name)

    def list(self, parent: str | None = None) -> list[RegisteredModel]:
        """Models you may use, in a schema (``"main.shop"``) or everywhere.

        >>> [m.name for m in lh.models.list("main.shop")]
        ['main.shop.reco']
        """
        return self._service.list_models(self._who, parent)

    def set_description(
        self, name: str, description: str, *, version: int | None = None
    ) -> RegisteredModel | ModelVersion:
        """Describe the model, or one of its versions; returns it.

        >>> lh.models.set_description("main.shop.reco", "the first one", version=1).description
        'the first one'
        """
        return self._service.set_description(self._who, name, description, version=version)

    def set_tags(
        self, name: str, tags: dict[str, str], *, version: int | None = None
    ) -> RegisteredModel | ModelVersion:
        """Tag the model, or one of its versions; returns it.

        >>> lh.models.set_tags("main.shop.reco", {"team": "reco"}).tags
        {'team': 'reco'}
        """
        return self._service.set_tags(self._who, name, tags, version=version)

    def unset_tags(
        self, name: str, keys: builtins.list[str], *, version: int | None = None
    ) -> RegisteredModel | ModelVersion:
        """Remove the tags ``keys`` from the model, or from one of its versions; returns it."""
        return self._service.unset_tags(self._who, name, keys, version=version)

    def delete(self, name: str) -> None:
        """Drop the model from the catalog (needs ownership or MANAGE)."""
        self._service.delete_model(self._who, name)

    # -- versions ---------------------------------------------------------------------

    def register(
        self,
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
        version, with the code commit and the Python environment. The signature is inferred from
        ``input_example`` unless given.

        >>> lh.models.register(clf, "main.shop.reco", training_set="main.shop.orders",
        ...                    input_example=X.head(5)).version
        2
        """
        return self._service.register(
            self._who,
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

    def register_files(
        self,
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
        MLflow server takes them (:mod:`glashaus.registry.sources`).

        >>> lh.models.register_files("models:/main.shop.reco@champion", "main.shop.reco2").source
        'models:/main.shop.reco@champion'
        """
        return self._service.register_files(
            self._who,
            source,
            name,
            training_set=training_set,
            description=description,
            tags=tags,
            run_id=run_id,
            code_commit=code_commit,
        )

    def version(self, ref: str) -> ModelVersion:
        """>>> lh.models.version("main.shop.reco@champion").version
        1
        """
        return self._service.get_version(self._who, ref)

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version, newest first.

        >>> [v.version for v in lh.models.versions("main.shop.reco")]
        [1]
        """
        return self._service.list_versions(self._who, name)

    def delete_version(self, name: str, version: int, *, reason: str | None = None) -> None:
        self._service.delete_version(self._who, name, version, reason=reason)

    # -- aliases ------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int, *, reason: str | None = None) -> AliasMove:
        """>>> lh.models.set_alias("main.shop.reco", "challenger", 1, reason="AUC 0.81 > 0.78").reason
        'AUC 0.81 > 0.78'
        """
        return self._service.set_alias(self._who, name, alias, version, reason=reason)

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        return self._service.delete_alias(self._who, name, alias, reason=reason)

    def rollback(self, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        """Move ``alias`` back to its previous version in one call.

        >>> _ = lh.models.register(model, "main.shop.reco")
        >>> _ = lh.models.set_alias("main.shop.reco", "champion", 2)
        >>> lh.models.rollback("main.shop.reco", "champion", reason="conversion dropped").to_version
        1
        """
        return self._service.rollback(self._who, name, alias, reason=reason)

    def alias_history(self, name: str, *, alias: str | None = None) -> builtins.list[AliasMove]:
        """Who moved which alias when, from which version to which, and why; newest first.

        >>> [(m.from_version, m.to_version) for m in lh.models.alias_history("main.shop.reco")]
        [(None, 1)]
        """
        return self._service.alias_history(self._who, name, alias=alias)

    # -- trust, loading, files --------------------------------------------------------------

    def set_trusted(self, name: str, version: int, trusted: bool = True) -> ModelVersion:
        """Admins: allow a reviewed pickle-based version to load (for its current files only).

        >>> lh.models.set_trusted("main.shop.reco", 1).version
        1
        """
        return self._service.set_trusted(self._who, name, version, trusted)

    def load(self, ref: str) -> Any:
        """The version as an ``mlflow.pyfunc.PyFuncModel`` (needs EXECUTE).

        >>> lh.models.load("main.shop.reco@champion").predict(X)[:3].tolist()
        [0, 0, 1]
        """
        return self._service.load(self._who, ref)

    def files(self, ref: str, prefix: str = "") -> builtins.list[FileInfo]:
        """>>> "MLmodel" in [f.path for f in lh.models.files("main.shop.reco/1")]
        True
        """
        return self._service.list_files(self._who, ref, prefix)

    def read_file(self, ref: str, path: str) -> bytes:
        """>>> b"flavors:" in lh.models.read_file("main.shop.reco/1", "MLmodel")
        True
        """
        return self._service.read_file(self._who, ref, path)

    # -- batch scoring ---------------------------------------------------------------------

    def score(
        self,
        ref: str,
        *,
        table: str,
        output: str,
        mode: ScoreMode = "overwrite",
        batch_size: int = 65_536,
        keep: builtins.list[str] | None = None,
        prediction_column: str = "prediction",
        progress: bool | ProgressFn = False,
    ) -> ScoreResult:
        """Score every row of ``table`` into ``output`` in one Delta commit (``progress=True``: a bar).

        >>> _ = lh.create_table("main.shop.candidates", data=X)
        >>> mv = lh.models.register(model, "main.shop.reco", input_example=X.head(3))  # a signature to check against
        >>> result = lh.models.score(f"main.shop.reco/{mv.version}", table="main.shop.candidates",
        ...                          output="main.shop.scores")
        >>> result.rows, lh.sql("SELECT sum(prediction) FROM main.shop.scores").scalar()
        (6, 3)
        """

        def run(callback: ProgressFn | None) -> ScoreResult:
            return self._service.score(
                self._who,
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

    def __repr__(self) -> str:
        return f"<Models as {self._who.name}>"

"""Registered models and model versions as MLflow's JSON messages (``mlflow.protos.model_registry_pb2``).

Built by hand, like the tracking messages (:mod:`glashaus.tracking.messages`): Glashaus has
one way to write MLflow JSON, plain dicts in the shape ``message_to_json`` gives for
MLflow's protos (field names as in the ``.proto`` files, int64 as JSON numbers, a version
number as a string, absent and empty repeated fields left out), checked against MLflow's
own ``to_proto`` in ``tests/test_mlflow_messages.py``. (Entities built through protobuf cost
about ten times as much per message: ``docs/architecture.md``, Server.) MLflow's entities
are still made here for one thing: MLflow's own search filters and orderings
(:func:`version_entity`, :func:`model_entity`) run on them.

>>> mv = registry.get_version(alice, "main.shop.reco@champion")
>>> version_message(mv)["version"]
'1'
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from glashaus.registry.service import RegisteredModel
from glashaus.registry.versions import ModelVersion
from glashaus.tracking.messages import pairs


def ms(when: dt.datetime) -> int:
    """Milliseconds since the epoch (MLflow's timestamps)."""
    if when.tzinfo is None:  # SQLite hands back naive UTC
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def version_message(mv: ModelVersion, *, name: str | None = None) -> dict[str, Any]:
    """MLflow's ``ModelVersion`` (every version is stage ``None``; MLflow 3's ``model_id`` included).

    ``name``: the model's name as the client wrote it (a plain name), else its catalog name.
    """
    out: dict[str, Any] = {
        "name": name or mv.name,
        "version": str(mv.version),
        "creation_timestamp": ms(mv.created_at),
        "last_updated_timestamp": ms(mv.updated_at),
    }
    if mv.created_by is not None:
        out["user_id"] = mv.created_by
    out["current_stage"] = "None"
    # MLflow's server stores a version's description as its request gave it: "" when none was given.
    out["description"] = mv.description or ""
    if mv.source is not None:
        out["source"] = str(mv.source)
    if mv.run_id is not None:
        out["run_id"] = mv.run_id
    if mv.status is not None:
        out["status"] = mv.status
    if mv.status_message:
        out["status_message"] = mv.status_message
    if mv.tags:
        out["tags"] = pairs(mv.tags)
    if mv.aliases:
        out["aliases"] = list(mv.aliases)
    if mv.logged_model_id:
        out["model_id"] = mv.logged_model_id
    return out


def model_message(
    rm: RegisteredModel, latest: ModelVersion | None = None, *, name: str | None = None
) -> dict[str, Any]:
    """MLflow's ``RegisteredModel``, with ``latest`` as its ``latest_versions`` (Glashaus has no stages).

    ``name``: as the client wrote it (a plain name), else the catalog name.
    """
    out: dict[str, Any] = {"name": name or rm.name, "creation_timestamp": ms(rm.created_at)}
    updated = ms(rm.updated_at)
    if updated:
        out["last_updated_timestamp"] = updated
    if rm.description:
        out["description"] = rm.description
    if latest is not None:
        out["latest_versions"] = [version_message(latest, name=name)]
    if rm.tags:
        out["tags"] = pairs(rm.tags)
    if rm.aliases:
        out["aliases"] = [{"alias": a, "version": str(v)} for a, v in rm.aliases.items()]
    return out


def version_entity(mv: ModelVersion, *, name: str | None = None) -> Any:
    """MLflow's ``ModelVersion`` entity, for MLflow's search filters (``SearchModelVersionUtils``)."""
    from mlflow.entities.model_registry import ModelVersion as Entity
    from mlflow.entities.model_registry import ModelVersionTag

    version: Any = mv.version  # an int, as MLflow's own stores pass it (its annotation says str)
    return Entity(
        name=name or mv.name,
        version=version,
        creation_timestamp=ms(mv.created_at),
        last_updated_timestamp=ms(mv.updated_at),
        description=mv.description or "",
        user_id=mv.created_by,
        current_stage="None",
        source=mv.source,
        run_id=mv.run_id,
        status=mv.status,
        status_message=mv.status_message,
        tags=[ModelVersionTag(k, v) for k, v in mv.tags.items()],
        aliases=list(mv.aliases),
        model_id=mv.logged_model_id,
    )


def model_entity(rm: RegisteredModel, *, name: str | None = None) -> Any:
    """MLflow's ``RegisteredModel`` entity, for MLflow's search filters (``SearchModelUtils``)."""
    from mlflow.entities.model_registry import RegisteredModel as Entity
    from mlflow.entities.model_registry import RegisteredModelAlias, RegisteredModelTag

    return Entity(
        name=name or rm.name,
        creation_timestamp=ms(rm.created_at),
        last_updated_timestamp=ms(rm.updated_at),
        description=rm.description,
        latest_versions=[],
        tags=[RegisteredModelTag(k, v) for k, v in rm.tags.items()],
        aliases=[RegisteredModelAlias(a, str(v)) for a, v in rm.aliases.items()],
    )

"""Tracking entities as MLflow's JSON messages (``mlflow.protos.service_pb2``).

The shapes are those ``message_to_json`` gives for MLflow's protos: field names as
in the ``.proto`` files, int64 as JSON numbers, NaN as ``"NaN"``, and empty repeated
fields left out. Built directly (not through protobuf) because a page of search
results may hold tens of thousands of metrics. Artifact locations are URIs in
``scheme`` (``mlflow-artifacts`` through a server, ``glashaus-artifacts`` embedded).

>>> metric_message(Metric("rmse", float("nan"), 1, 2))
{'key': 'rmse', 'value': 'NaN', 'timestamp': 1, 'step': 2}
"""

from __future__ import annotations

import math
from typing import Any

from glashaus.tracking import records
from glashaus.tracking.entities import (
    ArtifactFile,
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    ModelOutput,
    Run,
)
from glashaus.tracking.records import RunRows

SECURABLE_TAG = "glashaus.securable"
LOGGED_MODEL_STATUS = {
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}
STATUS_OF_MESSAGE = {v: k for k, v in LOGGED_MODEL_STATUS.items()}


def artifact_uri(path: str, scheme: str) -> str:
    return f"{scheme}:/{path}"


def number(value: float) -> float | str:
    """A double as protobuf's JSON writes it (``NaN``, ``Infinity`` as strings)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def pairs(values: dict[str, str]) -> list[dict[str, str]]:
    """Key-value pairs (tags, params) as MLflow's repeated ``{"key", "value"}`` messages."""
    return [{"key": k, "value": v} for k, v in values.items()]


def metric_message(m: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {"key": m.key, "value": number(m.value), "timestamp": m.timestamp, "step": m.step}
    for name in ("dataset_name", "dataset_digest", "model_id", "run_id"):
        value = getattr(m, name)
        if value is not None:
            out[name] = value
    return out


def experiment_message(e: Experiment, *, scheme: str) -> dict[str, Any]:
    """MLflow's ``Experiment``; the governed name rides along as the read-only tag ``glashaus.securable``."""
    return {
        "experiment_id": e.experiment_id,
        "name": e.name,
        # A volume folder its creator chose is reported as given; files still travel through the proxy.
        "artifact_location": e.artifact_location or artifact_uri(e.artifact_path, scheme),
        "lifecycle_stage": e.lifecycle_stage,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
        "tags": pairs({**e.tags, SECURABLE_TAG: e.securable}),
    }


def run_info_message(r: Run, *, scheme: str) -> dict[str, Any]:
    return _run_info(
        r.run_id, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage, scheme
    )


def _run_info(
    run_id: str,
    experiment_id: Any,
    name: str,
    user_id: str,
    status: str,
    start_time: int,
    end_time: int | None,
    lifecycle_stage: str,
    scheme: str,
) -> dict[str, Any]:
    experiment_id = str(experiment_id)
    info: dict[str, Any] = {
        "run_uuid": run_id,
        "experiment_id": experiment_id,
        "run_name": name,
        "user_id": user_id,
        "status": status,
        "start_time": start_time,
        "artifact_uri": artifact_uri(f"{experiment_id}/{run_id}/artifacts", scheme),
        "lifecycle_stage": lifecycle_stage,
        "run_id": run_id,
    }
    if end_time is not None:
        info["end_time"] = end_time
    return info


def _dataset_input(d: DatasetInput) -> dict[str, Any]:
    dataset: dict[str, Any] = {
        "name": d.dataset.name,
        "digest": d.dataset.digest,
        "source_type": d.dataset.source_type,
        "source": d.dataset.source,
    }
    if d.dataset.schema is not None:
        dataset["schema"] = d.dataset.schema
    if d.dataset.profile is not None:
        dataset["profile"] = d.dataset.profile
    out: dict[str, Any] = {"dataset": dataset}
    if d.tags:
        out["tags"] = pairs(d.tags)
    return out


def run_message(r: Run, *, scheme: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if r.metrics:
        data["metrics"] = [
            {"key": m.key, "value": number(m.value), "timestamp": m.timestamp, "step": m.step}
            for m in r.metrics.values()
        ]
    if r.params:
        data["params"] = pairs(r.params)
    if r.tags:
        data["tags"] = pairs(r.tags)
    return {
        "info": run_info_message(r, scheme=scheme),
        "data": data,
        "inputs": _run_inputs(r.inputs, r.model_inputs),
        "outputs": _run_outputs(r.outputs),
    }


def _run_inputs(datasets: list[DatasetInput], models: list[str]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if datasets:
        inputs["dataset_inputs"] = [_dataset_input(d) for d in datasets]
    if models:
        inputs["model_inputs"] = [{"model_id": m} for m in models]
    return inputs


def _run_outputs(outputs: list[ModelOutput]) -> dict[str, Any]:
    return {"model_outputs": [{"model_id": o.model_id, "step": o.step} for o in outputs]} if outputs else {}


def run_messages(rows: RunRows, *, scheme: str) -> dict[str, dict[str, Any]]:
    """MLflow's ``Run`` message per run id, built straight from the stored rows.

    The same messages as :func:`run_message` of :func:`~glashaus.tracking.records.load_runs`,
    without the entities in between: a page of search results holds tens of thousands of
    metrics. Stored values are never infinite (MLflow keeps +/-inf as the largest double),
    so only ``is_nan`` needs a look.

    >>> from glashaus.tracking import records
    >>> with metastore.session() as s:
    ...     runs = run_messages(records.fetch_runs(s, [run_id]), scheme="mlflow-artifacts")
    >>> runs[run_id]["info"]["run_name"], runs[run_id]["info"]["status"]
    ('baseline', 'RUNNING')
    """
    metrics: dict[str, list[dict[str, Any]]] = {}
    params: dict[str, list[dict[str, str]]] = {}
    tags: dict[str, list[dict[str, str]]] = {}
    for run_id, key, value, ts, step, nan in rows.metrics:
        metrics.setdefault(run_id, []).append(
            {"key": key, "value": "NaN" if nan else value, "timestamp": ts, "step": step}
        )
    for run_id, key, value in rows.params:
        params.setdefault(run_id, []).append({"key": key, "value": value})
    for run_id, key, value in rows.tags:
        tags.setdefault(run_id, []).append({"key": key, "value": value})
    datasets, models = records.run_inputs(rows)
    outputs: dict[str, list[ModelOutput]] = {}
    for run_id, model_id, step in rows.outputs:
        outputs.setdefault(run_id, []).append(ModelOutput(model_id, step))
    messages = {}
    for run_id, exp, name, user, status, start, end, stage in rows.runs:
        data: dict[str, Any] = {}
        for field, found in (("metrics", metrics), ("params", params), ("tags", tags)):
            if run_id in found:
                data[field] = found[run_id]
        messages[run_id] = {
            "info": _run_info(run_id, exp, name, user, status, start, end, stage, scheme),
            "data": data,
            "inputs": _run_inputs(datasets.get(run_id, []), models.get(run_id, [])),
            "outputs": _run_outputs(outputs.get(run_id, [])),
        }
    return messages


def logged_model_message(m: LoggedModel, *, scheme: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": m.model_id,
        "experiment_id": m.experiment_id,
        "name": m.name,
        "creation_timestamp_ms": m.creation_time,
        "last_updated_timestamp_ms": m.last_updated_time,
        "artifact_uri": artifact_uri(m.artifact_path, scheme),
        "status": LOGGED_MODEL_STATUS[m.status],
    }
    optional = (("model_type", m.model_type), ("source_run_id", m.source_run_id), ("status_message", m.status_message))
    info.update({name: value for name, value in optional if value is not None})
    if m.tags:
        info["tags"] = pairs(m.tags)
    data: dict[str, Any] = {}
    if m.params:
        data["params"] = pairs(m.params)
    if m.metrics:
        data["metrics"] = [metric_message(x) for x in m.metrics]
    return {"info": info, "data": data}


def file_message(f: ArtifactFile) -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path, "is_dir": f.is_dir}
    if f.size is not None:
        out["file_size"] = f.size
    return out

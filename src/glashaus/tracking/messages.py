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

from glashaus.tracking.entities import ArtifactFile, DatasetInput, Experiment, LoggedModel, Metric, Run

SECURABLE_TAG = "glashaus.securable"
LOGGED_MODEL_STATUS = {"PENDING": "LOGGED_MODEL_PENDING", "READY": "LOGGED_MODEL_READY",
                       "FAILED": "LOGGED_MODEL_UPLOAD_FAILED"}
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


def _pairs(values: dict[str, str]) -> list[dict[str, str]]:
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
        "artifact_location": artifact_uri(e.artifact_path, scheme),
        "lifecycle_stage": e.lifecycle_stage,
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
        "tags": _pairs({**e.tags, SECURABLE_TAG: e.securable}),
    }


def run_info_message(r: Run, *, scheme: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_uuid": r.run_id,
        "experiment_id": r.experiment_id,
        "run_name": r.name,
        "user_id": r.user_id,
        "status": r.status,
        "start_time": r.start_time,
        "artifact_uri": artifact_uri(r.artifact_path, scheme),
        "lifecycle_stage": r.lifecycle_stage,
        "run_id": r.run_id,
    }
    if r.end_time is not None:
        info["end_time"] = r.end_time
    return info


def _dataset_input(d: DatasetInput) -> dict[str, Any]:
    dataset: dict[str, Any] = {"name": d.dataset.name, "digest": d.dataset.digest,
                               "source_type": d.dataset.source_type, "source": d.dataset.source}
    if d.dataset.schema is not None:
        dataset["schema"] = d.dataset.schema
    if d.dataset.profile is not None:
        dataset["profile"] = d.dataset.profile
    out: dict[str, Any] = {"dataset": dataset}
    if d.tags:
        out["tags"] = _pairs(d.tags)
    return out


def run_message(r: Run, *, scheme: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if r.metrics:
        data["metrics"] = [{"key": m.key, "value": number(m.value), "timestamp": m.timestamp, "step": m.step}
                           for m in r.metrics.values()]
    if r.params:
        data["params"] = _pairs(r.params)
    if r.tags:
        data["tags"] = _pairs(r.tags)
    inputs: dict[str, Any] = {}
    if r.inputs:
        inputs["dataset_inputs"] = [_dataset_input(d) for d in r.inputs]
    if r.model_inputs:
        inputs["model_inputs"] = [{"model_id": m} for m in r.model_inputs]
    outputs: dict[str, Any] = {}
    if r.outputs:
        outputs["model_outputs"] = [{"model_id": o.model_id, "step": o.step} for o in r.outputs]
    return {"info": run_info_message(r, scheme=scheme), "data": data, "inputs": inputs, "outputs": outputs}


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
    for name, value in (("model_type", m.model_type), ("source_run_id", m.source_run_id),
                        ("status_message", m.status_message)):
        if value is not None:
            info[name] = value
    if m.tags:
        info["tags"] = _pairs(m.tags)
    data: dict[str, Any] = {}
    if m.params:
        data["params"] = _pairs(m.params)
    if m.metrics:
        data["metrics"] = [metric_message(x) for x in m.metrics]
    return {"info": info, "data": data}


def file_message(f: ArtifactFile) -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path, "is_dir": f.is_dir}
    if f.size is not None:
        out["file_size"] = f.size
    return out

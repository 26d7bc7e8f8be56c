"""MLflow's tracking endpoints (experiments, runs, metrics, logged models, artifact proxy).

A thin face over :class:`glashaus.tracking.TrackingService`: each handler reads an
MLflow request message (``mlflow.protos.service_pb2``), calls the service as the
caller, and answers in MLflow's JSON (:mod:`glashaus.tracking.messages`). Paths are
those the ``mlflow`` client (3.x and 2.22) calls, below ``/api/2.0/mlflow`` (and
``/ajax-api/2.0/mlflow``).

The artifact proxy (``/api/2.0/mlflow-artifacts/artifacts``) is ``artifacts.py``.

>>> ROUTES[0].path    # below /api/2.0/mlflow and /ajax-api/2.0/mlflow
'/experiments/create'
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import Response

from glashaus.errors import InvalidArgumentError
from glashaus.http import jsonio
from glashaus.lakehouse import services
from glashaus.server.mlflow.artifacts import SCHEME
from glashaus.server.mlflow.protocol import MlflowRequest, Route, parse_message
from glashaus.tracking import messages
from glashaus.tracking.artifacts import check_relative
from glashaus.tracking.entities import (
    ArtifactFile,
    Dataset,
    DatasetInput,
    Metric,
    ModelOutput,
    ViewType,
)
from glashaus.tracking.service import TrackingService

_VIEW: dict[str, ViewType] = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all"}
_RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


def _pb() -> Any:
    from mlflow.protos import service_pb2

    return service_pb2


def _svc(lh: Any) -> TrackingService:
    return services(lh).tracking


def _required(message: Any, name: str) -> Any:
    value = getattr(message, name)
    if not message.HasField(name) or value == "":  # MLflow's messages are proto2: presence is known
        raise InvalidArgumentError(f"Missing value for required parameter '{name}'.")
    return value


def _run_id(message: Any) -> str:
    run_id = message.run_id or message.run_uuid
    if not run_id:
        raise InvalidArgumentError("Missing value for required parameter 'run_id'.")
    return run_id


def _optional(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


# -- experiments ---------------------------------------------------------------------------


def create_experiment(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().CreateExperiment)
    name = _required(m, "name")
    exp = _svc(lh).create_experiment_with(
        lh.principal,
        name,
        artifact_location=m.artifact_location or None,  # a volume folder the caller may write, else refused
        default_schema=req.default_schema,  # where a free-form name lives (glashaus serve --default-schema)
        tags={t.key: t.value for t in m.tags},
    )
    return {"experiment_id": exp.experiment_id}


def get_experiment(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetExperiment)
    exp = _svc(lh).get_experiment(lh.principal, _required(m, "experiment_id"))
    return {"experiment": messages.experiment_message(exp, scheme=SCHEME)}


def get_experiment_by_name(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetExperimentByName)
    exp = _svc(lh).get_experiment_by_name(lh.principal, _required(m, "experiment_name"))
    return {"experiment": messages.experiment_message(exp, scheme=SCHEME)}


def search_experiments(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    pb = _pb()
    m = parse_message(req, pb.SearchExperiments)
    page = _svc(lh).search_experiments(
        lh.principal,
        view=_VIEW[pb.ViewType.Name(m.view_type)] if m.HasField("view_type") else "active",
        filter_string=m.filter or None,
        order_by=list(m.order_by) or None,
        max_results=m.max_results if m.HasField("max_results") else 1000,
        page_token=m.page_token or None,
    )
    out: dict[str, Any] = {}
    if page.items:
        out["experiments"] = [messages.experiment_message(e, scheme=SCHEME) for e in page.items]
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def update_experiment(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().UpdateExperiment)
    experiment_id = _required(m, "experiment_id")
    if m.new_name:
        _svc(lh).rename_experiment(lh.principal, experiment_id, m.new_name)
    return {}


def delete_experiment(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteExperiment)
    _svc(lh).delete_experiment(lh.principal, _required(m, "experiment_id"))
    return {}


def restore_experiment(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().RestoreExperiment)
    _svc(lh).restore_experiment(lh.principal, _required(m, "experiment_id"))
    return {}


def set_experiment_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetExperimentTag)
    _svc(lh).set_experiment_tag(
        lh.principal, _required(m, "experiment_id"), _required(m, "key"), _optional(m, "value") or ""
    )
    return {}


def delete_experiment_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteExperimentTag)
    _svc(lh).delete_experiment_tag(lh.principal, _required(m, "experiment_id"), _required(m, "key"))
    return {}


# -- runs -------------------------------------------------------------------------------------


def create_run(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().CreateRun)
    run = _svc(lh).create_run(
        lh.principal,
        _required(m, "experiment_id"),
        run_name=m.run_name or None,
        start_time=_optional(m, "start_time"),
        tags={t.key: t.value for t in m.tags},
    )
    return {"run": messages.run_message(run, scheme=SCHEME)}


def get_run(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetRun)
    return {"run": messages.run_message(_svc(lh).get_run(lh.principal, _run_id(m)), scheme=SCHEME)}


def update_run(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().UpdateRun)
    run = _svc(lh).update_run(
        lh.principal,
        _run_id(m),
        status=_RUN_STATUS[m.status] if m.HasField("status") else None,
        end_time=_optional(m, "end_time"),
        run_name=m.run_name or None,
    )
    return {"run_info": messages.run_info_message(run, scheme=SCHEME)}


def delete_run(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteRun)
    _svc(lh).delete_run(lh.principal, _required(m, "run_id"))
    return {}


def restore_run(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().RestoreRun)
    _svc(lh).restore_run(lh.principal, _required(m, "run_id"))
    return {}


def search_runs(lh: Any, req: MlflowRequest) -> Response:
    pb = _pb()
    m = parse_message(req, pb.SearchRuns)
    page = _svc(lh).search_run_messages(
        lh.principal,
        list(m.experiment_ids),
        scheme=SCHEME,
        filter_string=m.filter or None,
        view=_VIEW[pb.ViewType.Name(m.run_view_type)] if m.HasField("run_view_type") else "active",
        max_results=m.max_results if m.HasField("max_results") else 1000,
        order_by=list(m.order_by) or None,
        page_token=m.page_token or None,
    )
    out: dict[str, Any] = {}
    if page.items:
        out["runs"] = page.items
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return json_response(out)


def json_response(value: dict[str, Any]) -> Response:
    """``value`` as compact UTF-8 JSON, like the default ``JSONResponse`` but several times faster.

    pydantic-core (FastAPI's own serializer) writes the same JSON for these messages:
    floats keep every digit (the shortest text that reads back as the same double), and a
    NaN or infinity would be written as protobuf's JSON writes them (``"NaN"``,
    ``"Infinity"``), never as invalid JSON. A page of runs is half a megabyte of JSON:
    ``json.dumps`` would take longer than the query.
    """
    return Response(pydantic_core.to_json(value, inf_nan_mode="strings"), media_type="application/json")


def _metric(m: Any, path: str = "") -> Metric:
    for name in ("key", "value", "timestamp"):
        if not m.HasField(name):
            raise InvalidArgumentError(f"Missing value for required parameter '{path}{name}'.")
    return Metric(
        m.key, m.value, m.timestamp, m.step, m.model_id or None, m.dataset_name or None, m.dataset_digest or None
    )


def log_metric(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().LogMetric)
    _svc(lh).log_batch(lh.principal, _run_id(m), metrics=[_metric(m)])
    return {}


def log_param(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().LogParam)
    _svc(lh).log_batch(lh.principal, _run_id(m), params=[(_required(m, "key"), _optional(m, "value") or "")])
    return {}


#: MLflow's cap on a log-batch request (mlflow.utils.validation.MAX_BATCH_LOG_REQUEST_SIZE).
MAX_BATCH_BYTES = 1_000_000


def log_batch(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    if req.size > MAX_BATCH_BYTES:
        raise InvalidArgumentError(
            f"Batched logging API requests must be at most {MAX_BATCH_BYTES} bytes, got a request of size {req.size}."
        )
    m = parse_message(req, _pb().LogBatch)
    _svc(lh).log_batch(
        lh.principal,
        _required(m, "run_id"),
        metrics=[_metric(x, f"metrics[{i}].") for i, x in enumerate(m.metrics)],
        params=[(p.key, p.value) for p in m.params],
        tags=[(t.key, t.value) for t in m.tags],
    )
    return {}


def set_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetTag)
    _svc(lh).log_batch(lh.principal, _run_id(m), tags=[(_required(m, "key"), _optional(m, "value") or "")])
    return {}


def delete_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().DeleteTag)
    _svc(lh).delete_tag(lh.principal, _required(m, "run_id"), _required(m, "key"))
    return {}


def log_inputs(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().LogInputs)
    datasets = [
        DatasetInput(
            Dataset(
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                _optional(d.dataset, "schema"),
                _optional(d.dataset, "profile"),
            ),
            {t.key: t.value for t in d.tags},
        )
        for d in m.datasets
    ]
    _svc(lh).log_inputs(lh.principal, _required(m, "run_id"), datasets=datasets, models=[x.model_id for x in m.models])
    return {}


def log_outputs(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().LogOutputs)
    _svc(lh).log_outputs(lh.principal, _required(m, "run_id"), [ModelOutput(x.model_id, x.step) for x in m.models])
    return {}


def log_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().LogModel)
    model = jsonio.read_json(_required(m, "model_json"), what="model_json", strict=False)
    if not isinstance(model, dict):
        raise InvalidArgumentError("model_json must be a JSON object (an MLmodel description).")
    _svc(lh).record_logged_model(lh.principal, _run_id(m), model)
    return {}


def get_metric_history(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetMetricHistory)
    page = _svc(lh).get_metric_history(
        lh.principal,
        _run_id(m),
        _required(m, "metric_key"),
        max_results=_optional(m, "max_results"),
        page_token=m.page_token or None,
    )
    out: dict[str, Any] = {}
    if page.items:
        out["metrics"] = [messages.metric_message(x) for x in page.items]
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def list_run_artifacts(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    """``artifacts/list`` (the UI's listing): files directly inside ``path`` of a run."""
    m = parse_message(req, _pb().ListArtifacts)
    svc = _svc(lh)
    root = svc.run_artifact_path(_run_id(m))
    return _listing(lh, root, m.path)


def _listing(lh: Any, root: str, path: str) -> dict[str, Any]:
    """The files directly inside ``path`` below an artifact root, named relative to that root.

    ``path`` is relative to the root; MLflow clients also send ``/`` or ``/plots`` for it.
    """
    sub = check_relative(path.strip("/"))
    files = _svc(lh).files.list(lh.principal, f"{root}/{sub}" if sub else root)
    out: dict[str, Any] = {"root_uri": messages.artifact_uri(root, SCHEME)}
    if files:
        out["files"] = [
            messages.file_message(ArtifactFile(f"{sub}/{f.path}" if sub else f.path, f.is_dir, f.size)) for f in files
        ]
    return out


# -- logged models (MLflow 3) ----------------------------------------------------------------


def _model(lh: Any, model: Any) -> dict[str, Any]:
    return {"model": messages.logged_model_message(model, scheme=SCHEME)}


def create_logged_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().CreateLoggedModel)
    model = _svc(lh).models.create(
        lh.principal,
        _required(m, "experiment_id"),
        name=m.name or None,
        source_run_id=m.source_run_id or None,
        model_type=m.model_type or None,
        tags={t.key: t.value for t in m.tags},
        params={p.key: p.value for p in m.params},
    )
    return _model(lh, model)


def get_logged_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    allow = str(req.params.get("allow_deleted", "false")).lower() == "true"
    return _model(lh, _svc(lh).models.get(lh.principal, req.path_params["model_id"], allow_deleted=allow))


def finalize_logged_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    pb = _pb()
    m = parse_message(req, pb.FinalizeLoggedModel)
    status = messages.STATUS_OF_MESSAGE.get(pb.LoggedModelStatus.Name(_required(m, "status")))
    if status is None:
        raise InvalidArgumentError(
            "status must be LOGGED_MODEL_READY, LOGGED_MODEL_PENDING or LOGGED_MODEL_UPLOAD_FAILED."
        )
    return _model(lh, _svc(lh).models.finalize(lh.principal, req.path_params["model_id"], status))


def delete_logged_model(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    _svc(lh).models.delete(lh.principal, req.path_params["model_id"])
    return {}


def search_logged_models(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SearchLoggedModels)
    datasets = [
        {"dataset_name": d.dataset_name, **({"dataset_digest": d.dataset_digest} if d.dataset_digest else {})}
        for d in m.datasets
    ]
    order_by = [
        {
            "field_name": o.field_name,
            "ascending": o.ascending if o.HasField("ascending") else True,
            **({"dataset_name": o.dataset_name} if o.dataset_name else {}),
            **({"dataset_digest": o.dataset_digest} if o.dataset_digest else {}),
        }
        for o in m.order_by
    ]
    page = _svc(lh).models.search(
        lh.principal,
        list(m.experiment_ids),
        filter_string=m.filter or None,
        datasets=datasets or None,
        max_results=m.max_results if m.HasField("max_results") else 100,
        order_by=order_by or None,
        page_token=m.page_token or None,
    )
    out: dict[str, Any] = {}
    if page.items:
        out["models"] = [messages.logged_model_message(x, scheme=SCHEME) for x in page.items]
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def set_logged_model_tags(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SetLoggedModelTags)
    _svc(lh).models.set_tags(lh.principal, req.path_params["model_id"], {t.key: t.value for t in m.tags})
    return {}


def delete_logged_model_tag(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    _svc(lh).models.delete_tag(lh.principal, req.path_params["model_id"], req.path_params["tag_key"])
    return {}


def log_logged_model_params(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().LogLoggedModelParamsRequest)
    _svc(lh).models.log_params(lh.principal, req.path_params["model_id"], {p.key: p.value for p in m.params})
    return {}


def list_logged_model_artifacts(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    model = _svc(lh).models.get(lh.principal, req.path_params["model_id"])
    return _listing(lh, model.artifact_path, str(req.params.get("artifact_directory_path") or ""))


_MODEL = "/logged-models/{model_id}"

ROUTES: list[Route] = [
    Route("POST", "/experiments/create", create_experiment),
    Route("GET", "/experiments/get", get_experiment),
    Route("GET", "/experiments/get-by-name", get_experiment_by_name),
    Route("POST", "/experiments/search", search_experiments),
    Route("GET", "/experiments/search", search_experiments),
    Route("POST", "/experiments/update", update_experiment),
    Route("POST", "/experiments/delete", delete_experiment),
    Route("POST", "/experiments/restore", restore_experiment),
    Route("POST", "/experiments/set-experiment-tag", set_experiment_tag),
    Route("POST", "/experiments/delete-experiment-tag", delete_experiment_tag),
    Route("POST", "/runs/create", create_run),
    Route("GET", "/runs/get", get_run),
    Route("POST", "/runs/update", update_run),
    Route("POST", "/runs/delete", delete_run),
    Route("POST", "/runs/restore", restore_run),
    Route("POST", "/runs/search", search_runs),
    Route("POST", "/runs/log-metric", log_metric),
    Route("POST", "/runs/log-parameter", log_param),
    Route("POST", "/runs/log-batch", log_batch),
    Route("POST", "/runs/set-tag", set_tag),
    Route("POST", "/runs/delete-tag", delete_tag),
    Route("POST", "/runs/log-inputs", log_inputs),
    Route("POST", "/runs/outputs", log_outputs),
    Route("POST", "/runs/log-model", log_model),
    Route("GET", "/metrics/get-history", get_metric_history),
    Route("GET", "/artifacts/list", list_run_artifacts),
    Route("POST", "/logged-models/search", search_logged_models),
    Route("POST", "/logged-models", create_logged_model),
    Route("GET", _MODEL, get_logged_model),
    Route("PATCH", _MODEL, finalize_logged_model),
    Route("DELETE", _MODEL, delete_logged_model),
    Route("PATCH", _MODEL + "/tags", set_logged_model_tags),
    Route("DELETE", _MODEL + "/tags/{tag_key}", delete_logged_model_tag),
    Route("POST", _MODEL + "/params", log_logged_model_params),
    Route("GET", _MODEL + "/artifacts/directories", list_logged_model_artifacts),
]

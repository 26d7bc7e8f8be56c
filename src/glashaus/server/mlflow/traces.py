"""MLflow 3 tracing on ``glashaus serve``: the routes and messages the ``mlflow`` client (3.18) uses.

A thin face over :class:`glashaus.tracing.TracingService`. The client sends each span as it
ends to the OTLP path (``POST /v1/traces``, an ``ExportTraceServiceRequest`` in protobuf, the
experiment in the ``x-mlflow-experiment-id`` header), then the trace's info when its root span
ends (``StartTraceV3``, ``POST /api/3.0/mlflow/traces``); the reply's tag
``mlflow.trace.spansLocation = TRACKING_STORE`` tells it the spans are stored here (it then
uploads no ``traces.json``, and reads spans back with ``GetTrace``/``BatchGetTraces``).
``GET /version`` answers the MLflow version whose protocol this server speaks: the client
sends spans to servers of 3.4 or later only.

>>> sorted({r.path for r in ROUTES if r.path.startswith("/api/3.0/mlflow/traces/")})[:2]
['/api/3.0/mlflow/traces/batchGet', '/api/3.0/mlflow/traces/batchGetInfos']
"""

from __future__ import annotations

import functools
import gzip
import json
import zlib
from typing import Any

from starlette.responses import PlainTextResponse, Response

from glashaus.errors import InvalidArgumentError
from glashaus.lakehouse import services
from glashaus.server.mlflow.protocol import MlflowRequest, Route, parse_message
from glashaus.tracing.entities import Span, Trace, TraceInfo
from glashaus.tracing.service import SPANS_LOCATION_TAG, TracingService

#: The MLflow version whose REST protocol this server speaks (the client checks it before logging spans).
MLFLOW_PROTOCOL_VERSION = "3.18.0"
OTLP_TRACES_PATH = "/v1/traces"
EXPERIMENT_HEADER = "x-mlflow-experiment-id"
V3 = "/api/3.0/mlflow/traces"
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}
_STATUS_CODE = {v: k for k, v in _STATUS.items()}
SPAN_TYPE = "mlflow.spanType"


def _pb() -> Any:
    from mlflow.protos import service_pb2

    return service_pb2


def _svc(lh: Any) -> TracingService:
    return services(lh).tracing


def _json(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True)


# -- OpenTelemetry values <-> JSON text ----------------------------------------------------------


def _decode(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value (arrays as lists, key-value lists as dicts)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_decode(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _decode(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def _encode(target: Any, value: Any) -> None:
    """Fill an OTLP ``AnyValue`` from a Python value (JSON's types)."""
    if value is None:
        return
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, list):
        target.array_value.SetInParent()
        for item in value:
            _encode(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        target.kvlist_value.SetInParent()
        for key, item in value.items():
            kv = target.kvlist_value.values.add()
            kv.key = str(key)
            _encode(kv.value, item)
    else:
        target.string_value = str(value)


def _attributes(pairs: Any) -> dict[str, str]:
    return {kv.key: json.dumps(_decode(kv.value), ensure_ascii=False) for kv in pairs}


def _span_of(proto: Any) -> Span:
    if len(proto.trace_id) != 16 or len(proto.span_id) != 8:
        raise InvalidArgumentError("an OTLP span needs a 16-byte trace_id and an 8-byte span_id.")
    attributes = _attributes(proto.attributes)
    span_type = json.loads(attributes[SPAN_TYPE]) if SPAN_TYPE in attributes else None
    return Span(
        trace_id="tr-" + proto.trace_id.hex(),
        span_id=proto.span_id.hex(),
        name=proto.name,
        start_time_ns=proto.start_time_unix_nano,
        end_time_ns=proto.end_time_unix_nano or None,
        parent_span_id=proto.parent_span_id.hex() if proto.parent_span_id else None,
        span_type=span_type if isinstance(span_type, str) else None,
        kind=proto.kind,
        status_code=_STATUS.get(proto.status.code, "UNSET"),
        status_message=proto.status.message,
        attributes=attributes,
        events=[
            {"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": _attributes(e.attributes)}
            for e in proto.events
        ],
    )


def _otel_span(span: Span) -> Any:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtelSpan
    from opentelemetry.proto.trace.v1.trace_pb2 import Status

    proto = OtelSpan(
        trace_id=bytes.fromhex(span.trace_id.removeprefix("tr-")),
        span_id=bytes.fromhex(span.span_id),
        name=span.name,
        kind=span.kind,  # type: ignore[arg-type]
        start_time_unix_nano=span.start_time_ns,
        end_time_unix_nano=span.end_time_ns or 0,
        status=Status(code=_STATUS_CODE.get(span.status_code, 0), message=span.status_message),  # type: ignore[arg-type]
    )
    if span.parent_span_id:
        proto.parent_span_id = bytes.fromhex(span.parent_span_id)
    for key, text in span.attributes.items():
        kv = proto.attributes.add()
        kv.key = key
        _encode(kv.value, json.loads(text))
    for event in span.events:
        e = proto.events.add()
        e.name = event.get("name", "")
        e.time_unix_nano = int(event.get("time_unix_nano") or 0)
        for key, text in (event.get("attributes") or {}).items():
            kv = e.attributes.add()
            kv.key = key
            _encode(kv.value, json.loads(text))
    return proto


# -- trace infos <-> MLflow's TraceInfoV3 ----------------------------------------------------------


def _info_proto(info: TraceInfo) -> Any:
    pb = _pb()
    proto = pb.TraceInfoV3(trace_id=info.trace_id, state=pb.TraceInfoV3.State.Value(info.state))
    proto.trace_location.type = pb.TraceLocation.TraceLocationType.Value("MLFLOW_EXPERIMENT")
    proto.trace_location.mlflow_experiment.experiment_id = info.experiment_id
    if info.client_request_id:
        proto.client_request_id = info.client_request_id
    if info.request_preview is not None:
        proto.request_preview = info.request_preview
    if info.response_preview is not None:
        proto.response_preview = info.response_preview
    proto.request_time.FromMilliseconds(info.request_time)
    if info.execution_duration is not None:
        proto.execution_duration.FromMilliseconds(info.execution_duration)
    proto.trace_metadata.update(info.metadata)
    proto.tags.update(info.tags)
    return proto


def _info_json(info: TraceInfo) -> dict[str, Any]:
    return _json(_info_proto(info))


def _trace_json(trace: Trace) -> dict[str, Any]:
    pb = _pb()
    proto = pb.Trace(trace_info=_info_proto(trace.info))
    proto.spans.extend(_otel_span(s) for s in trace.spans)
    return _json(proto)


def _info_of(proto: Any) -> TraceInfo:
    pb = _pb()
    location = proto.trace_location
    if not location.HasField("mlflow_experiment") or not location.mlflow_experiment.experiment_id:
        raise InvalidArgumentError("a trace's trace_location must name an MLflow experiment (mlflow_experiment).")
    return TraceInfo(
        trace_id=proto.trace_id,
        experiment_id=location.mlflow_experiment.experiment_id,
        request_time=proto.request_time.ToMilliseconds(),
        execution_duration=proto.execution_duration.ToMilliseconds() if proto.HasField("execution_duration") else None,
        state=pb.TraceInfoV3.State.Name(proto.state),
        request_preview=proto.request_preview if proto.HasField("request_preview") else None,
        response_preview=proto.response_preview if proto.HasField("response_preview") else None,
        client_request_id=proto.client_request_id or None,
        # The spans are stored here: the client then uploads no traces.json and reads them with GetTrace.
        tags={**dict(proto.tags), SPANS_LOCATION_TAG: "TRACKING_STORE"},
        metadata=dict(proto.trace_metadata),
    )


# -- handlers -------------------------------------------------------------------------------------


def version(lh: Any, req: MlflowRequest) -> Response:
    return PlainTextResponse(MLFLOW_PROTOCOL_VERSION)


def log_spans(lh: Any, req: MlflowRequest) -> Response:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    experiment_id = req.headers.get(EXPERIMENT_HEADER)
    if not experiment_id:
        raise InvalidArgumentError(f"the {EXPERIMENT_HEADER} header must name the experiment the spans belong to.")
    body = req.body
    encoding = req.headers.get("content-encoding", "").lower()
    try:
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding not in ("", "identity"):
            raise InvalidArgumentError(f"unsupported Content-Encoding {encoding!r}: send gzip, deflate or none.")
        request = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, OSError, zlib.error, EOFError):
        raise InvalidArgumentError(
            "the body is no OTLP ExportTraceServiceRequest (protobuf, Content-Type application/x-protobuf)."
        ) from None
    spans = [_span_of(s) for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    _svc(lh).log_spans(lh.principal, experiment_id, spans)
    return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


def start_trace(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().StartTraceV3)
    info = _svc(lh).start_trace(lh.principal, _info_of(m.trace.trace_info))
    return {"trace": {"trace_info": _info_json(info)}}


def get_trace_info(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    info = _svc(lh).get_trace_info(lh.principal, req.path_params["trace_id"])
    return {"trace": {"trace_info": _info_json(info)}}


def get_trace(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().GetTrace)
    if not m.trace_id:
        raise InvalidArgumentError("Missing value for required parameter 'trace_id'.")
    return {"trace": _trace_json(_svc(lh).get_trace(lh.principal, m.trace_id))}


def batch_get_traces(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().BatchGetTraces)
    traces = _svc(lh).batch_get_traces(lh.principal, list(m.trace_ids))
    if m.experiment_ids:
        traces = [t for t in traces if t.info.experiment_id in set(m.experiment_ids)]
    return {"traces": [_trace_json(t) for t in traces]} if traces else {}


def batch_get_trace_infos(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().BatchGetTraceInfos)
    traces = _svc(lh).batch_get_traces(lh.principal, list(m.trace_ids))
    infos = [t.info for t in traces if not m.experiment_ids or t.info.experiment_id in set(m.experiment_ids)]
    return {"trace_infos": [_info_json(i) for i in infos]} if infos else {}


def search_traces(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().SearchTracesV3)
    experiments = []
    for location in m.locations:
        if not location.HasField("mlflow_experiment"):
            raise InvalidArgumentError("traces are searched in MLflow experiments: give locations as experiment ids.")
        experiments.append(location.mlflow_experiment.experiment_id)
    page = _svc(lh).search_traces(
        lh.principal,
        experiments,
        filter_string=m.filter or None,
        order_by=list(m.order_by) or None,
        max_results=m.max_results if m.HasField("max_results") else 100,
        page_token=m.page_token or None,
    )
    out: dict[str, Any] = {}
    if page.items:
        out["traces"] = [_info_json(i) for i in page.items]
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def delete_traces(lh: Any, req: MlflowRequest, *, message: str = "DeleteTraces") -> dict[str, Any]:
    m = parse_message(req, getattr(_pb(), message))
    if not m.experiment_id:
        raise InvalidArgumentError("Missing value for required parameter 'experiment_id'.")
    deleted = _svc(lh).delete_traces(
        lh.principal,
        m.experiment_id,
        trace_ids=list(m.request_ids) or None,
        max_timestamp_millis=m.max_timestamp_millis if m.HasField("max_timestamp_millis") else None,
        max_traces=m.max_traces if m.HasField("max_traces") else None,
    )
    return {"traces_deleted": deleted}


def set_trace_tag(lh: Any, req: MlflowRequest, *, message: str = "SetTraceTag") -> dict[str, Any]:
    m = parse_message(req, getattr(_pb(), message))
    _svc(lh).set_trace_tag(lh.principal, req.path_params["trace_id"], m.key, m.value)
    return {}


def delete_trace_tag(lh: Any, req: MlflowRequest, *, message: str = "DeleteTraceTag") -> dict[str, Any]:
    m = parse_message(req, getattr(_pb(), message))
    _svc(lh).delete_trace_tag(lh.principal, req.path_params["trace_id"], m.key)
    return {}


def link_traces_to_run(lh: Any, req: MlflowRequest) -> dict[str, Any]:
    m = parse_message(req, _pb().LinkTracesToRun)
    if not m.run_id:
        raise InvalidArgumentError("Missing value for required parameter 'run_id'.")
    _svc(lh).link_traces_to_run(lh.principal, list(m.trace_ids), m.run_id)
    return {}


def _v3(method: str, path: str, handler: Any) -> list[Route]:
    return [Route(method, prefix + path, handler, absolute=True) for prefix in (V3, "/ajax-api/3.0/mlflow/traces")]


# The fixed paths come before /{trace_id}, which would take "get" or "search" as an id.
ROUTES = [
    Route("GET", "/version", version, absolute=True),
    Route("POST", OTLP_TRACES_PATH, log_spans, absolute=True, raw_body=True),
    *_v3("POST", "", start_trace),
    *_v3("GET", "/get", get_trace),
    *_v3("GET", "/batchGet", batch_get_traces),
    *_v3("POST", "/batchGetInfos", batch_get_trace_infos),
    *_v3("POST", "/search", search_traces),
    *_v3("POST", "/delete-traces", functools.partial(delete_traces, message="DeleteTracesV3")),
    *_v3("GET", "/{trace_id}", get_trace_info),
    *_v3("PATCH", "/{trace_id}/tags", functools.partial(set_trace_tag, message="SetTraceTagV3")),
    *_v3("DELETE", "/{trace_id}/tags", functools.partial(delete_trace_tag, message="DeleteTraceTagV3")),
    Route("POST", "/traces/delete-traces", delete_traces),
    Route("POST", "/traces/link-to-run", link_traces_to_run),
    Route("PATCH", "/traces/{trace_id}/tags", set_trace_tag),
    Route("DELETE", "/traces/{trace_id}/tags", delete_trace_tag),
]

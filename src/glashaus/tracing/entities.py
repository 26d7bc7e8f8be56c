"""What the tracing service returns: traces (their info) and their spans, named as MLflow names them.

Times are milliseconds since the epoch for traces (as MLflow's ``TraceInfo``) and nanoseconds
for spans (as OpenTelemetry's). Span attribute values are JSON text, as MLflow keeps them
(``"\\"LLM\\""`` is the string ``LLM``).

>>> info = TraceInfo("tr-1", "1", request_time=5, execution_duration=2, state="OK")
>>> info.end_time
7
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The states of MLflow's TraceInfoV3.
TRACE_STATES = ("STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS")


@dataclass(frozen=True)
class TraceInfo:
    trace_id: str
    experiment_id: str
    request_time: int
    execution_duration: int | None = None
    state: str = "OK"
    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    #: The runs the trace is linked to (``link_traces_to_run``), besides its ``mlflow.sourceRun``.
    run_ids: list[str] = field(default_factory=list)

    @property
    def end_time(self) -> int | None:
        return None if self.execution_duration is None else self.request_time + self.execution_duration


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    name: str
    start_time_ns: int
    end_time_ns: int | None = None
    parent_span_id: str | None = None
    #: MLflow's span type (``LLM``, ``CHAIN``, ``TOOL``, ...), from the ``mlflow.spanType`` attribute.
    span_type: str | None = None
    #: OpenTelemetry's span kind number (1 = internal).
    kind: int = 1
    #: ``UNSET``, ``OK`` or ``ERROR``.
    status_code: str = "UNSET"
    status_message: str = ""
    #: Attribute values as JSON text.
    attributes: dict[str, str] = field(default_factory=dict)
    #: Each event: ``{"name", "time_unix_nano", "attributes": {key: value}}``.
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Trace:
    """A trace's info and its spans (parents before their children, then by start time)."""

    info: TraceInfo
    spans: list[Span] = field(default_factory=list)

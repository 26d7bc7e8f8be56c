"""What the tracking service returns: experiments, runs, metrics, logged models, files.

Plain typed values, named as MLflow names them (the MLflow faces translate them into
MLflow's messages field by field). Times are milliseconds since the epoch.

>>> Metric("rmse", 0.25, timestamp=1767225600000, step=3).step
3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, NamedTuple, TypeVar, get_args

RunStatus = Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]
LoggedModelStatus = Literal["PENDING", "READY", "FAILED"]
Lifecycle = Literal["active", "deleted"]
ViewType = Literal["active", "deleted", "all"]

RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
LOGGED_MODEL_STATUSES: tuple[str, ...] = get_args(LoggedModelStatus)

#: Tags MLflow gives meaning to.
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
LOGGED_MODELS_TAG = "mlflow.log-model.history"
CONTEXT_TAG = "mlflow.data.context"

T = TypeVar("T")


class Metric(NamedTuple):
    """One logged metric value (a tuple: there may be hundreds of thousands of them)."""

    key: str
    value: float
    timestamp: int
    step: int = 0
    #: MLflow 3: the logged model and the dataset the value is about, if any.
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    #: The MLflow name: the securable's name, or a free-form name mapped into ``main.default``.
    name: str
    #: The governed name (``catalog.schema.object``) whose grants decide who may use it.
    securable: str
    owner: str
    lifecycle_stage: Lifecycle
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)
    #: The volume folder its files live in, as its creator wrote it (``/Volumes/...``); None: managed storage.
    artifact_location: str | None = None

    @property
    def artifact_path(self) -> str:
        """Where its files live, relative to the tracking artifact root (``<experiment_id>``)."""
        return self.experiment_id


@dataclass(frozen=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DatasetInput:
    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelOutput:
    model_id: str
    step: int = 0


@dataclass(frozen=True)
class Run:
    run_id: str
    experiment_id: str
    name: str
    user_id: str
    status: RunStatus
    start_time: int
    end_time: int | None
    lifecycle_stage: Lifecycle
    params: dict[str, str] = field(default_factory=dict)
    #: The newest value of each metric (by step, then timestamp, then value).
    metrics: dict[str, Metric] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    outputs: list[ModelOutput] = field(default_factory=list)

    @property
    def artifact_path(self) -> str:
        """``<experiment_id>/<run_id>/artifacts``, relative to the tracking artifact root."""
        return f"{self.experiment_id}/{self.run_id}/artifacts"


@dataclass(frozen=True)
class LoggedModel:
    """An MLflow 3 logged model: a model's files and facts, before (or without) registration."""

    model_id: str
    experiment_id: str
    name: str
    creation_time: int
    last_updated_time: int
    status: LoggedModelStatus
    lifecycle_stage: Lifecycle
    creator: str
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)

    @property
    def artifact_path(self) -> str:
        """``<experiment_id>/models/<model_id>/artifacts``, relative to the tracking artifact root."""
        return f"{self.experiment_id}/models/{self.model_id}/artifacts"


@dataclass(frozen=True)
class ArtifactFile:
    """A file or folder below an artifact path (``path`` relative to the folder listed)."""

    path: str
    is_dir: bool
    size: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of search results; pass ``next_page_token`` back for the next one."""

    items: list[T]
    next_page_token: str | None = None

"""MLflow's tracking store over a lakehouse, in-process: ``glashaus:`` tracking URIs.

>>> import mlflow
>>> previous = mlflow.get_tracking_uri()
>>> mlflow.set_tracking_uri(f"glashaus:{lh.root}?user=alice")
>>> mlflow.set_experiment("main.shop.reco_training").name
'main.shop.reco_training'
>>> mlflow.set_tracking_uri(previous)

The URI is ``glashaus:<lakehouse path or URI>[?user=<name>&metastore=<url>]``; the
user defaults as in :func:`glashaus.connect` (``GLASHAUS_USER``, then the OS user).
Every call goes through the same :class:`~glashaus.tracking.TrackingService` as the
server's MLflow routes, so grants are checked and audited; as for any embedded
lakehouse, that protects against mistakes, not attackers. Run and logged-model files
live in managed storage and travel through the ``glashaus-artifacts:`` repository
(:mod:`glashaus.integrations.mlflow_artifacts`). MLflow's entities are read from the same
JSON messages the server answers with (:mod:`glashaus.tracking.messages`, the one way
Glashaus writes MLflow JSON), through MLflow's own parser (``ParseDict``, ``from_proto``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

from google.protobuf import json_format
from mlflow.entities import Experiment, LoggedModel, Metric, Run, RunInfo, ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2, service_pb2
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking.abstract_store import AbstractStore

import glashaus
from glashaus.errors import GlashausError
from glashaus.lakehouse import Lakehouse, services
from glashaus.tracking import entities, messages
from glashaus.tracking.service import TrackingService

SCHEME = "glashaus"
ARTIFACT_SCHEME = "glashaus-artifacts"
_VIEW: dict[int, entities.ViewType] = {
    ViewType.ACTIVE_ONLY: "active",
    ViewType.DELETED_ONLY: "deleted",
    ViewType.ALL: "all",
}
_OPEN: dict[tuple[str, str | None, str | None], Lakehouse] = {}
_LOCK = threading.Lock()


def open_lakehouse(uri: str) -> Lakehouse:
    """The lakehouse a ``glashaus:`` URI names, opened once per process (per path, user, metastore)."""
    if not uri or not uri.startswith(f"{SCHEME}:"):
        raise MlflowException(
            f"not a Glashaus tracking URI: {uri!r}; use glashaus:<lakehouse path>, e.g. glashaus:./lakehouse",
            error_code=databricks_pb2.INVALID_PARAMETER_VALUE,
        )
    rest = uri[len(SCHEME) + 1 :]
    path, _, query = rest.partition("?")
    path = path.removeprefix("//")
    options = dict(urllib.parse.parse_qsl(query))
    if not path:
        raise MlflowException(
            f"the tracking URI {uri!r} names no lakehouse: glashaus:<path>",
            error_code=databricks_pb2.INVALID_PARAMETER_VALUE,
        )
    key = (path, options.get("user"), options.get("metastore"))
    with _LOCK:
        if key not in _OPEN:
            with mlflow_errors():
                _OPEN[key] = glashaus.open_embedded(path, user=options.get("user"), metastore=options.get("metastore"))
        return _OPEN[key]


@contextlib.contextmanager
def mlflow_errors() -> Iterator[None]:
    """A GlashausError as the MlflowException with the same code (so MLflow's client logic works)."""
    try:
        yield
    except GlashausError as exc:
        # .keys(): a protobuf enum wrapper has no `in` of its own
        code = exc.code if exc.code in databricks_pb2.ErrorCode.keys() else "INVALID_PARAMETER_VALUE"  # noqa: SIM118
        raise MlflowException(str(exc), error_code=databricks_pb2.ErrorCode.Value(code)) from None


def _governed(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with mlflow_errors():
            return method(*args, **kwargs)

    return wrapper


def _entity(message: dict[str, Any], proto: type, entity: Any) -> Any:
    return entity.from_proto(json_format.ParseDict(message, proto(), ignore_unknown_fields=True))


def _experiment(e: entities.Experiment) -> Experiment:
    return _entity(messages.experiment_message(e, scheme=ARTIFACT_SCHEME), service_pb2.Experiment, Experiment)


def _run(r: entities.Run) -> Run:
    return _entity(messages.run_message(r, scheme=ARTIFACT_SCHEME), service_pb2.Run, Run)


def _model(m: entities.LoggedModel) -> LoggedModel:
    return _entity(messages.logged_model_message(m, scheme=ARTIFACT_SCHEME), service_pb2.LoggedModel, LoggedModel)


def _metric(m: Any) -> entities.Metric:
    return entities.Metric(
        m.key,
        m.value,
        m.timestamp,
        m.step or 0,
        getattr(m, "model_id", None),
        getattr(m, "dataset_name", None),
        getattr(m, "dataset_digest", None),
    )


class GlashausStore(AbstractStore):
    """``mlflow.store.tracking.AbstractStore`` over :class:`~glashaus.tracking.TrackingService`."""

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__()
        self.lakehouse = open_lakehouse(store_uri or "")

    @property
    def _svc(self) -> TrackingService:
        return services(self.lakehouse).tracking

    @property
    def _who(self) -> Any:
        return self.lakehouse.principal

    # -- experiments ----------------------------------------------------------------------

    @_governed
    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        page = self._svc.search_experiments(
            self._who,
            view=_VIEW[view_type],
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )
        return PagedList([_experiment(e) for e in page.items], page.next_page_token)

    @_governed
    def create_experiment(self, name: str, artifact_location: str | None = None, tags: Any = None) -> str:
        given = {t.key: t.value for t in tags or []}
        if artifact_location:  # a volume folder the caller may write; anything else is refused
            return self._svc.create_experiment_with(
                self._who, name, artifact_location=artifact_location, tags=given
            ).experiment_id
        return self._svc.create_experiment(self._who, name, tags=given).experiment_id

    @_governed
    def get_experiment(self, experiment_id: str) -> Experiment:
        return _experiment(self._svc.get_experiment(self._who, experiment_id))

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        try:
            with mlflow_errors():
                return _experiment(self._svc.get_experiment_by_name(self._who, experiment_name))
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    @_governed
    def delete_experiment(self, experiment_id: str) -> None:
        self._svc.delete_experiment(self._who, experiment_id)

    @_governed
    def restore_experiment(self, experiment_id: str) -> None:
        self._svc.restore_experiment(self._who, experiment_id)

    @_governed
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._svc.rename_experiment(self._who, experiment_id, new_name)

    @_governed
    def set_experiment_tag(self, experiment_id: str, tag: Any) -> None:
        self._svc.set_experiment_tag(self._who, experiment_id, tag.key, tag.value)

    @_governed
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._svc.delete_experiment_tag(self._who, experiment_id, key)

    # -- runs -------------------------------------------------------------------------------

    @_governed
    def create_run(
        self, experiment_id: str, user_id: str | None, start_time: int | None, tags: Any, run_name: str | None
    ) -> Run:
        run = self._svc.create_run(
            self._who,
            experiment_id,
            run_name=run_name or None,
            start_time=start_time,
            tags={t.key: t.value for t in tags or []},
        )
        return _run(run)

    @_governed
    def get_run(self, run_id: str) -> Run:
        return _run(self._svc.get_run(self._who, run_id))

    @_governed
    def update_run_info(self, run_id: str, run_status: Any, end_time: int | None, run_name: str | None) -> RunInfo:
        from mlflow.entities import RunStatus

        status = RunStatus.to_string(run_status) if isinstance(run_status, int) else run_status
        run = self._svc.update_run(self._who, run_id, status=status, end_time=end_time, run_name=run_name or None)
        return _run(run).info

    @_governed
    def delete_run(self, run_id: str) -> None:
        self._svc.delete_run(self._who, run_id)

    @_governed
    def restore_run(self, run_id: str) -> None:
        self._svc.restore_run(self._who, run_id)

    @_governed
    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        run_view_type: int,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Run], Any]:
        page = self._svc.search_runs(
            self._who,
            experiment_ids,
            filter_string=filter_string or None,
            view=_VIEW[run_view_type],
            max_results=max_results,
            order_by=order_by or None,
            page_token=page_token,
        )
        return [_run(r) for r in page.items], page.next_page_token

    @_governed
    def log_batch(self, run_id: str, metrics: Any, params: Any, tags: Any) -> None:
        self._svc.log_batch(
            self._who,
            run_id,
            metrics=[_metric(m) for m in metrics],
            params=[(p.key, p.value) for p in params],
            tags=[(t.key, t.value) for t in tags],
        )

    def log_metric(self, run_id: str, metric: Any) -> None:
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id: str, param: Any) -> None:
        self.log_batch(run_id, [], [param], [])

    def set_tag(self, run_id: str, tag: Any) -> None:
        self.log_batch(run_id, [], [], [tag])

    @_governed
    def delete_tag(self, run_id: str, key: str) -> None:
        self._svc.delete_tag(self._who, run_id, key)

    @_governed
    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList:
        page = self._svc.get_metric_history(
            self._who, run_id, metric_key, max_results=max_results, page_token=page_token
        )
        return PagedList(
            [
                Metric(m.key, m.value, m.timestamp, m.step, m.model_id, m.dataset_name, m.dataset_digest, m.run_id)
                for m in page.items
            ],
            page.next_page_token,
        )

    @_governed
    def log_inputs(self, run_id: str, datasets: Any = None, models: Any = None) -> None:
        items = [
            entities.DatasetInput(
                entities.Dataset(
                    d.dataset.name,
                    d.dataset.digest,
                    d.dataset.source_type,
                    d.dataset.source,
                    d.dataset.schema,
                    d.dataset.profile,
                ),
                {t.key: t.value for t in d.tags or []},
            )
            for d in datasets or []
        ]
        self._svc.log_inputs(self._who, run_id, datasets=items, models=[m.model_id for m in models or []])

    @_governed
    def log_outputs(self, run_id: str, models: Any) -> None:
        self._svc.log_outputs(self._who, run_id, [entities.ModelOutput(m.model_id, m.step or 0) for m in models])

    @_governed
    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        self._svc.record_logged_model(self._who, run_id, mlflow_model.get_tags_dict())

    # -- logged models (MLflow 3) -------------------------------------------------------------

    @_governed
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Any = None,
        params: Any = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        model = self._svc.models.create(
            self._who,
            experiment_id,
            name=name,
            source_run_id=source_run_id,
            model_type=model_type,
            tags={t.key: t.value for t in tags or []},
            params={p.key: p.value for p in params or []},
        )
        return _model(model)

    @_governed
    def log_logged_model_params(self, model_id: str, params: Any) -> None:
        self._svc.models.log_params(self._who, model_id, {p.key: p.value for p in params})

    @_governed
    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return _model(self._svc.models.get(self._who, model_id, allow_deleted=allow_deleted))

    @_governed
    def delete_logged_model(self, model_id: str) -> None:
        self._svc.models.delete(self._who, model_id)

    @_governed
    def finalize_logged_model(self, model_id: str, status: Any) -> LoggedModel:
        return _model(self._svc.models.finalize(self._who, model_id, str(status)))

    @_governed
    def set_logged_model_tags(self, model_id: str, tags: Any) -> None:
        self._svc.models.set_tags(self._who, model_id, {t.key: t.value for t in tags})

    @_governed
    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._svc.models.delete_tag(self._who, model_id, key)

    @_governed
    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        page = self._svc.models.search(
            self._who,
            experiment_ids,
            filter_string=filter_string,
            datasets=datasets,
            max_results=max_results or 100,
            order_by=order_by,
            page_token=page_token,
        )
        return PagedList([_model(m) for m in page.items], page.next_page_token)

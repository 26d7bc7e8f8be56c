"""Runs of an experiment and what is logged to them: params, metrics, tags, inputs, outputs.

The run half of the tracking service (:class:`~glashaus.tracking.service.TrackingService`
binds these operations as its own): reading a run needs ``EXECUTE`` on its experiment,
creating, logging to, deleting and restoring one ``MODIFY`` (and an active run to log
to). A ``log_batch`` is one transaction: a refused param leaves none of the batch behind.

>>> run = svc.create_run(alice, exp_id, run_name="tuned")
>>> svc.log_batch(alice, run.run_id, metrics=[Metric("rmse", 0.3, ts)])
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus import mlflow_checks as checks
from glashaus.access import Principal, request
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.metastore import affected
from glashaus.tracking import messages, records, rules, writes
from glashaus.tracking.entities import (
    CONTEXT_TAG,
    LOGGED_MODELS_TAG,
    RUN_NAME_TAG,
    RUN_STATUSES,
    USER_TAG,
    DatasetInput,
    Metric,
    ModelOutput,
    Page,
    Run,
    ViewType,
)
from glashaus.tracking.records import now_ms
from glashaus.tracking.rows import (
    DatasetRow,
    MetricRow,
    RunInputRow,
    RunOutputRow,
    RunRow,
    RunTagRow,
)
from glashaus.tracking.run_names import memorable_name
from glashaus.tracking.search import run_query

if TYPE_CHECKING:
    from glashaus.tracking.service import TrackingService

T = TypeVar("T")


class RunTracking:
    """create_run, get_run, update_run, delete_run, restore_run, search_runs; log_batch and the other logging."""

    def __init__(self, service: TrackingService) -> None:
        self.service = service
        self.metastore = service.metastore

    # -- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        who: Principal,
        experiment_id: str,
        *,
        run_name: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
    ) -> Run:
        """Start a run (status RUNNING). Its user is the caller, whatever a client claims."""
        tags = dict(tags or {})
        for key, value in tags.items():
            tags[key] = checks.check_run_tag(key, value)
        tagged = tags.get(RUN_NAME_TAG)
        if run_name and tagged and run_name != tagged:
            raise InvalidArgumentError(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
                f"(run_name='{run_name}', mlflow.runName='{tagged}')."
            )
        name = run_name or tagged or memorable_name()
        tags[RUN_NAME_TAG] = name
        tags[USER_TAG] = who.name
        with request():
            row, _ = self.service.experiment_for(who, experiment_id, "MODIFY", action="run.create", active=True)
            run_id = uuid.uuid4().hex
            with self.metastore.session() as s:
                s.add(
                    RunRow(
                        run_id=run_id,
                        experiment_id=row.id,
                        name=name[:250],
                        user_id=who.name,
                        status="RUNNING",
                        start_time=now_ms() if start_time is None else int(start_time),
                        end_time=None,
                        lifecycle_stage="active",
                        deleted_time=None,
                    )
                )
                s.flush()
                s.execute(sa.insert(RunTagRow), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])
                return records.load_runs(s, [run_id])[run_id]

    def get_run(self, who: Principal, run_id: str) -> Run:
        with request():
            self.service.run_for(who, run_id, "EXECUTE", action="run.get")
            with self.metastore.session() as s:
                return records.load_runs(s, [run_id])[run_id]

    def update_run(
        self,
        who: Principal,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Change a run's status (``FINISHED``, ``FAILED``, ``KILLED``, ...), end time or name."""
        if status is not None and status not in RUN_STATUSES:
            raise InvalidArgumentError(f"Invalid run status {status!r}; one of {', '.join(RUN_STATUSES)}.")
        if run_name:
            run_name = checks.check_run_tag(RUN_NAME_TAG, run_name)
        with request():
            self.service.run_for(who, run_id, "MODIFY", action="run.update", active=True)
            with self.metastore.session() as s:
                values: dict[str, Any] = {}
                if status is not None:
                    values["status"] = status
                if end_time is not None:
                    values["end_time"] = int(end_time)
                if run_name:
                    values["name"] = run_name[:250]
                    writes.upsert(s, RunTagRow, run_id, {RUN_NAME_TAG: run_name})
                if values:
                    s.execute(sa.update(RunRow).where(RunRow.run_id == run_id).values(**values))
                return records.load_runs(s, [run_id])[run_id]

    def delete_run(self, who: Principal, run_id: str) -> None:
        """Mark a run deleted (restorable; nothing is erased)."""
        with request():
            self.service.run_for(who, run_id, "MODIFY", action="run.delete")
            with self.metastore.session() as s:
                s.execute(
                    sa.update(RunRow)
                    .where(RunRow.run_id == run_id)
                    .values(lifecycle_stage="deleted", deleted_time=now_ms())
                )

    def restore_run(self, who: Principal, run_id: str) -> None:
        with request():
            self.service.run_for(who, run_id, "MODIFY", action="run.restore")
            with self.metastore.session() as s:
                s.execute(
                    sa.update(RunRow).where(RunRow.run_id == run_id).values(lifecycle_stage="active", deleted_time=None)
                )

    def search_runs(
        self,
        who: Principal,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        view: ViewType = "active",
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Page[Run]:
        """Runs of the given experiments (``EXECUTE`` on each) matching an MLflow filter string.

        >>> svc.log_batch(alice, run_id, metrics=[Metric("rmse", 0.25, ts)], params={"model": "gbm"})
        >>> page = svc.search_runs(alice, [exp_id], filter_string="metrics.rmse < 0.3 and params.model = 'gbm'",
        ...                        order_by=["metrics.rmse"])
        >>> [r.run_id for r in page.items] == [run_id]
        True
        """
        return self._search_runs(
            who,
            experiment_ids,
            records.load_runs,
            filter_string=filter_string,
            view=view,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )

    def search_run_messages(
        self,
        who: Principal,
        experiment_ids: Sequence[str],
        *,
        scheme: str,
        filter_string: str | None = None,
        view: ViewType = "active",
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Page[dict[str, Any]]:
        """:meth:`search_runs` for the MLflow faces: each run as MLflow's ``Run`` message (a dict).

        Same checks, same runs, same order; the stored rows become messages directly
        (:func:`glashaus.tracking.messages.run_messages`), with no entities in between.

        >>> page = svc.search_run_messages(alice, [exp_id], scheme="mlflow-artifacts")
        >>> page.items[0]["info"]["run_id"] == run_id
        True
        """

        def load(s: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
            return messages.run_messages(records.fetch_runs(s, ids), scheme=scheme)

        return self._search_runs(
            who,
            experiment_ids,
            load,
            filter_string=filter_string,
            view=view,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )

    def _search_runs(
        self,
        who: Principal,
        experiment_ids: Sequence[str],
        load: Callable[[Session, list[str]], dict[str, T]],
        *,
        filter_string: str | None,
        view: ViewType,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> Page[T]:
        rules.check_max_results(max_results)
        if view not in ("active", "deleted", "all"):
            raise InvalidArgumentError(f"Invalid view {view!r}: one of active, deleted, all.")
        with request():
            # One audited decision per experiment (however often it is named); the query reads
            # only the experiments allowed, so every run returned is one the caller may read.
            numbers: list[int] = []
            for experiment_id in dict.fromkeys(map(str, experiment_ids)):
                row, _ = self.service.experiment_for(who, experiment_id, "EXECUTE", action="run.search")
                if row.id not in numbers:
                    numbers.append(row.id)
            if not numbers:
                return Page([])
            offset = rules.page_offset(page_token)
            query = run_query(
                numbers,
                filter_string=filter_string,
                order_by=order_by,
                view=view,
                dialect=self.metastore.engine.dialect.name,
            )
            with self.metastore.session() as s:
                ids = list(s.scalars(query.offset(offset).limit(max_results + 1)))
                more = len(ids) > max_results
                ids = ids[:max_results]
                found = load(s, ids)
            token = rules.page_token(offset + max_results) if more else None
            return Page([found[i] for i in ids], token)

    # -- logging -----------------------------------------------------------------------------

    def log_batch(
        self,
        who: Principal,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: dict[str, str] | Sequence[tuple[str, str]] = (),
        tags: dict[str, str] | Sequence[tuple[str, str]] = (),
    ) -> None:
        """Log metrics, params and tags to a run in one transaction (all or nothing).

        Params are immutable: logging a key again with another value is refused.

        >>> svc.log_batch(alice, run_id, metrics=[Metric("rmse", 0.3, ts, step=2)],
        ...               params={"lr": "0.1"})
        >>> svc.log_batch(alice, run_id, params={"lr": "0.2"})
        Traceback (most recent call last):
        glashaus.errors.InvalidArgumentError: ...
        """
        metrics = list(metrics)
        param_items = list(params.items()) if isinstance(params, dict) else list(params)
        tag_items = list(tags.items()) if isinstance(tags, dict) else list(tags)
        checks.check_batch(metrics=len(metrics), params=len(param_items), tags=len(tag_items))
        for i, m in enumerate(metrics):
            checks.check_metric(m.key, m.value, m.timestamp, m.step, path=f"metrics[{i}]" if len(metrics) > 1 else "")
        param_items = [(k, checks.check_param(k, v, path=f"params[{i}]")) for i, (k, v) in enumerate(param_items)]
        tag_items = [(k, checks.check_run_tag(k, v, path=f"tags[{i}]")) for i, (k, v) in enumerate(tag_items)]
        keys = [k for k, _ in param_items]
        if len(set(keys)) != len(keys):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            raise InvalidArgumentError(
                f"Duplicate parameter keys have been submitted: {dupes}. Please ensure "
                "the request contains only one param value per param key."
            )
        with request():
            self.service.run_for(who, run_id, "MODIFY", action="run.log", active=True)
            for attempt in range(3):  # a concurrent writer may insert the same key first: read again
                try:
                    with self.metastore.session() as s:
                        writes.write_batch(s, run_id, metrics, param_items, tag_items)
                    return
                except sa.exc.IntegrityError:
                    if attempt == 2:
                        raise

    def log_metric(self, who: Principal, run_id: str, metric: Metric) -> None:
        self.log_batch(who, run_id, metrics=[metric])

    def log_param(self, who: Principal, run_id: str, key: str, value: str) -> None:
        self.log_batch(who, run_id, params=[(key, value)])

    def set_tag(self, who: Principal, run_id: str, key: str, value: str) -> None:
        self.log_batch(who, run_id, tags=[(key, value)])

    def delete_tag(self, who: Principal, run_id: str, key: str) -> None:
        with request():
            self.service.run_for(who, run_id, "MODIFY", action="run.log", active=True)
            with self.metastore.session() as s:
                gone = affected(s.execute(sa.delete(RunTagRow).where(RunTagRow.run_id == run_id, RunTagRow.key == key)))
            if not gone:
                raise NotFoundError(f"No tag with name: {key} in run with id {run_id}")

    def get_metric_history(
        self, who: Principal, run_id: str, key: str, *, max_results: int | None = None, page_token: str | None = None
    ) -> Page[Metric]:
        """Every value logged for ``key`` in the run, by step then time."""
        if not key:
            raise InvalidArgumentError("Missing value for required parameter 'metric_key'.")
        with request():
            self.service.run_for(who, run_id, "EXECUTE", action="run.read")
            offset = rules.page_offset(page_token)
            m = MetricRow
            query = (
                sa.select(m.key, m.value, m.timestamp, m.step, m.is_nan)
                .where(m.run_id == run_id, m.key == key)
                .order_by(m.step, m.timestamp, m.id)
                .offset(offset)
            )
            if max_results is not None:
                query = query.limit(rules.check_max_results(max_results, limit=25_000) + 1)
            with self.metastore.session() as s:
                rows = s.execute(query).all()
            more = max_results is not None and len(rows) > max_results
            rows = rows[:max_results] if max_results is not None else rows
            items = [Metric(k, float("nan") if nan else v, ts, step, run_id=run_id) for k, v, ts, step, nan in rows]
            return Page(items, rules.page_token(offset + max_results) if more and max_results else None)

    def log_inputs(
        self, who: Principal, run_id: str, *, datasets: Sequence[DatasetInput] = (), models: Sequence[str] = ()
    ) -> None:
        """Record the datasets (and logged models) a run read; repeats are recorded once."""
        for item in datasets:
            checks.check_dataset_input(item.dataset, item.tags)
        with request():
            run, _ = self.service.run_for(who, run_id, "MODIFY", action="run.log", active=True)
            with self.metastore.session() as s:
                for item in datasets:
                    d = item.dataset
                    dataset_id = s.scalar(
                        sa.select(DatasetRow.id).where(
                            DatasetRow.experiment_id == run.experiment_id,
                            DatasetRow.name == d.name,
                            DatasetRow.digest == d.digest,
                        )
                    )
                    if dataset_id is None:
                        dataset_id = uuid.uuid4().hex
                        s.add(
                            DatasetRow(
                                id=dataset_id,
                                experiment_id=run.experiment_id,
                                name=d.name,
                                digest=d.digest,
                                source_type=d.source_type,
                                source=d.source,
                                schema=d.schema,
                                profile=d.profile,
                            )
                        )
                        s.flush()
                    if (
                        s.scalar(
                            sa.select(RunInputRow.id).where(
                                RunInputRow.run_id == run_id, RunInputRow.dataset_id == dataset_id
                            )
                        )
                        is None
                    ):
                        s.add(
                            RunInputRow(
                                run_id=run_id,
                                dataset_id=dataset_id,
                                tags=dict(item.tags),
                                context=item.tags.get(CONTEXT_TAG),
                            )
                        )
                for model_id in models:
                    if (
                        s.scalar(
                            sa.select(RunInputRow.id).where(
                                RunInputRow.run_id == run_id, RunInputRow.model_id == model_id
                            )
                        )
                        is None
                    ):
                        s.add(RunInputRow(run_id=run_id, model_id=str(model_id), tags={}))

    def log_outputs(self, who: Principal, run_id: str, outputs: Sequence[ModelOutput]) -> None:
        """Record the logged models a run produced (MLflow 3)."""
        with request():
            self.service.run_for(who, run_id, "MODIFY", action="run.log", active=True)
            with self.metastore.session() as s:
                for out in outputs:
                    row = s.get(RunOutputRow, (run_id, out.model_id))
                    if row is None:
                        s.add(RunOutputRow(run_id=run_id, model_id=out.model_id, step=int(out.step)))
                    else:
                        row.step = int(out.step)

    def record_logged_model(self, who: Principal, run_id: str, model: dict[str, Any]) -> None:
        """MLflow 2's model record: appended to the run's ``mlflow.log-model.history`` tag."""
        with request():
            self.service.run_for(who, run_id, "MODIFY", action="run.log", active=True)
            with self.metastore.session() as s:
                tag = s.get(RunTagRow, (run_id, LOGGED_MODELS_TAG))
                try:
                    history = json.loads(tag.value) if tag is not None else []
                except (ValueError, RecursionError):
                    history = None
                if not isinstance(history, list):  # the tag is writable: someone set it by hand
                    raise InvalidArgumentError(
                        f"run {run_id}'s tag {LOGGED_MODELS_TAG!r} is not a JSON list of models, so no model can "
                        "be added to it: delete the tag (MlflowClient().delete_tag) and log the model again."
                    )
                value = json.dumps([*history, model])
                checks.check_run_tag(LOGGED_MODELS_TAG, value)
                writes.upsert(s, RunTagRow, run_id, {LOGGED_MODELS_TAG: value})

    def run_artifact_path(self, run_id: str) -> str:
        """``<experiment_id>/<run_id>/artifacts`` for a run (an address, not an access)."""
        with self.metastore.session() as s:
            number = s.scalar(sa.select(RunRow.experiment_id).where(RunRow.run_id == run_id))
        if number is None:
            raise NotFoundError(f"Run with id={run_id} not found")
        return f"{number}/{run_id}/artifacts"

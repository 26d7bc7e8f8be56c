"""Experiment tracking, governed: experiments, runs, params, metrics, tags, inputs.

Every experiment is a securable (kind ``experiment``) in a schema; every call asks
:meth:`~glashaus.access.Access.authorize` first, which audits the decision:

==================================================  ===============================
creating an experiment                              ``CREATE MODEL`` on the schema
reading it, its runs, metrics, files, models        ``EXECUTE`` on the experiment
logging (runs, params, metrics, tags, inputs,       ``MODIFY`` on the experiment
files, logged models), deleting/restoring runs
renaming, deleting, restoring the experiment        ``MANAGE`` on the experiment
==================================================  ===============================

Owners (and owners of the schema or catalog, and admins) may do all of it. MLflow's
rules apply as MLflow applies them (size limits, immutable params, runs and
experiments that must be active to be logged to), written as Glashaus's own checks
(:mod:`glashaus.mlflow_checks`), never by calling MLflow's private functions.

>>> exp = svc.create_experiment(alice, "main.shop.reco_training")            # doctest: +SKIP
>>> run = svc.create_run(alice, exp.experiment_id, run_name="baseline")      # doctest: +SKIP
>>> svc.log_batch(alice, run.run_id, metrics=[Metric("rmse", 0.3, ts)])       # doctest: +SKIP
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus import mlflow_checks as checks
from glashaus.access import Access, Principal, request
from glashaus.catalog import Catalog, Name
from glashaus.catalog.tables import SecurableRow
from glashaus.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from glashaus.metastore import Metastore
from glashaus.tracking import messages, names, records, rules, writes
from glashaus.tracking.records import now_ms
from glashaus.tracking.entities import (
    CONTEXT_TAG,
    LOGGED_MODELS_TAG,
    RUN_NAME_TAG,
    RUN_STATUSES,
    USER_TAG,
    DatasetInput,
    Experiment,
    Metric,
    ModelOutput,
    Page,
    Run,
    ViewType,
)
from glashaus.tracking.rules import mlflow_rules
from glashaus.tracking.run_names import memorable_name
from glashaus.tracking.search import run_query
from glashaus.tracking.tables import (
    DatasetRow,
    ExperimentRow,
    ExperimentTagRow,
    MetricRow,
    RunInputRow,
    RunOutputRow,
    RunRow,
    RunTagRow,
    SequenceRow,
)

T = TypeVar("T")

#: Experiment tag keys Glashaus reserves (shown to MLflow clients, never stored).
RESERVED_PREFIX = "glashaus."


class Locations(Protocol):
    """Where an experiment's files live (``storage.layout.Layout`` provides it)."""

    def experiment_location(self, experiment_id: str) -> str: ...


def experiment_number(experiment_id: Any) -> int:
    """MLflow experiment ids are decimal strings; Glashaus numbers them from 1."""
    text = str(experiment_id).strip() if experiment_id is not None else ""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise InvalidArgumentError(f"Invalid experiment ID {experiment_id!r:.80}: experiment IDs are whole numbers.")
    if int(text) == 0:
        raise NotFoundError(
            "experiment '0' (MLflow's Default experiment) does not exist: in Glashaus every experiment lives in "
            "a schema. Choose one first, e.g. mlflow.set_experiment('main.default.my_experiment')."
        )
    return int(text)


class TrackingService:
    def __init__(self, *, catalog: Catalog, access: Access, metastore: Metastore, locations: Locations) -> None:
        self.catalog = catalog
        self.access = access
        self.metastore = metastore
        self.locations = locations
        # Logged models and files are halves of this service that share its governance helpers.
        from glashaus.tracking.files import RunFiles
        from glashaus.tracking.logged_models import LoggedModels

        self.models = LoggedModels(self)
        self.files = RunFiles(self)

    # -- governance ----------------------------------------------------------------------

    def authorize(self, who: Principal, privilege: str, securable: str, *, action: str,
                  details: dict[str, Any] | None = None) -> None:
        self.access.authorize(who, privilege, Name(*securable.split(".")), action=action, details=details)

    def _experiment(self, s: Session, experiment_id: Any) -> tuple[ExperimentRow, str]:
        number = experiment_number(experiment_id)
        found = s.execute(sa.select(ExperimentRow, SecurableRow.full_name)
                          .join(SecurableRow, SecurableRow.id == ExperimentRow.securable_id)
                          .where(ExperimentRow.id == number)).first()
        if found is None:
            raise NotFoundError(f"No Experiment with id={experiment_id} exists.")
        return found[0], found[1]

    def experiment_for(self, who: Principal, experiment_id: Any, privilege: str, *, action: str,
                       active: bool = False) -> tuple[ExperimentRow, str]:
        """The experiment row and its securable name, once ``who`` may do ``privilege`` on it."""
        with self.metastore.session() as s:
            row, securable = self._experiment(s, experiment_id)
        self.authorize(who, privilege, securable, action=action, details={"experiment_id": str(row.id)})
        if active and row.lifecycle_stage != "active":
            raise InvalidArgumentError(f"The experiment {row.id} must be in the 'active' state. Current state is "
                                       f"{row.lifecycle_stage}; restore it first.")
        return row, securable

    def run_for(self, who: Principal, run_id: Any, privilege: str, *, action: str,
                active: bool = False) -> tuple[RunRow, str]:
        """The run row and its experiment's securable name, once ``who`` may do ``privilege`` on it."""
        if not isinstance(run_id, str) or not run_id:
            raise InvalidArgumentError("Missing value for required parameter 'run_id'.")
        with self.metastore.session() as s:
            found = s.execute(sa.select(RunRow, SecurableRow.full_name)
                              .join(ExperimentRow, ExperimentRow.id == RunRow.experiment_id)
                              .join(SecurableRow, SecurableRow.id == ExperimentRow.securable_id)
                              .where(RunRow.run_id == run_id)).first() if len(run_id) <= 32 else None
        if found is None:
            raise NotFoundError(f"Run with id={run_id} not found")
        run, securable = found
        self.authorize(who, privilege, securable, action=action, details={"run_id": run_id})
        if active and run.lifecycle_stage != "active":
            raise InvalidArgumentError(f"The run {run_id} must be in the 'active' state. Current state is "
                                       f"{run.lifecycle_stage}; restore it first.")
        return run, securable

    # -- experiments -----------------------------------------------------------------------

    def create_experiment(self, who: Principal, name: str, *, tags: dict[str, str] | None = None) -> Experiment:
        """Create an experiment (a securable; see :mod:`glashaus.tracking.names` for where it lives)."""
        tags = dict(tags or {})
        checks.check_experiment_name(name)
        for key, value in tags.items():
            checks.check_experiment_tag(key, value)
        _refuse_reserved(tags)
        stored = names.canonical(name)
        with request():
            with self.metastore.session() as s:
                existing = s.scalar(sa.select(ExperimentRow.lifecycle_stage).where(ExperimentRow.name == stored))
            if existing is not None:
                state = "" if existing == "active" else " in deleted state (restore it, or pick another name)"
                raise AlreadyExistsError(f"Experiment '{name}' already exists{state}.")
            target = names.securable_name(name)
            if target.catalog == "system":
                raise InvalidArgumentError(f"cannot create experiment {name!r}: the system catalog is written only "
                                           "by Glashaus; name it in another catalog, e.g. 'main.default.<name>'.")
            schema = self.catalog.get(target.parent, kind="schema")  # type: ignore[arg-type]
            self.access.authorize(who, "CREATE MODEL", schema, action="experiment.create",
                                  details={"name": target.full, "mlflow_name": name})
            securable = self.catalog.create("experiment", target, owner=who.name, spec={"mlflow_name": stored})
            now = now_ms()
            try:
                with self.metastore.session() as s:
                    # Never an id given out before: a dropped experiment's files stay in its folder.
                    number = s.scalar(sa.update(SequenceRow).where(SequenceRow.name == "experiment")
                                      .values(value=SequenceRow.value + 1).returning(SequenceRow.value))
                    row = ExperimentRow(id=number, securable_id=securable.id, name=stored,
                                        lifecycle_stage="active", creation_time=now, last_update_time=now)
                    s.add(row)
                    s.flush()
                    s.add_all(ExperimentTagRow(experiment_id=row.id, key=k, value=v) for k, v in tags.items())
                    number = row.id
            except sa.exc.IntegrityError:
                self.catalog.drop(target)  # another process took the name meanwhile: leave nothing behind
                raise AlreadyExistsError(f"Experiment '{name}' already exists.") from None
            self.catalog.update(target, storage_location=self.locations.experiment_location(str(number)))
            return self._load_experiment(number)

    def _load_experiment(self, number: int) -> Experiment:
        with self.metastore.session() as s:
            return records.load_experiments(s, records.experiment_query().where(ExperimentRow.id == number))[0]

    def get_experiment(self, who: Principal, experiment_id: str) -> Experiment:
        with request():
            row, _ = self.experiment_for(who, experiment_id, "EXECUTE", action="experiment.get")
            return self._load_experiment(row.id)

    def experiment_id_of(self, name: str) -> str:
        """The id of the experiment called ``name`` (no privilege needed to learn an id)."""
        with self.metastore.session() as s:
            number = s.scalar(sa.select(ExperimentRow.id).where(ExperimentRow.name == names.canonical(name)))
        if number is None:
            raise NotFoundError(f"Could not find experiment with name '{name}'")
        return str(number)

    def get_experiment_by_name(self, who: Principal, name: str) -> Experiment:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("Missing value for required parameter 'experiment_name'.")
        with request():
            number = self.experiment_id_of(name)
            self.experiment_for(who, number, "EXECUTE", action="experiment.get")
            return self._load_experiment(int(number))

    def search_experiments(
        self,
        who: Principal,
        *,
        view: ViewType = "active",
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """Experiments the caller may read (``EXECUTE``), filtered and ordered as MLflow does."""
        rules.check_max_results(max_results)
        utils = rules.search_utils().SearchExperimentsUtils
        with request(), mlflow_rules():
            query = records.experiment_query()
            if view != "all":
                query = query.where(ExperimentRow.lifecycle_stage == view)
            with self.metastore.session() as s:
                found = records.load_experiments(s, query)
            visible = [e for e in found if self._may_read(who, e.securable)]
            matched = utils.filter(visible, filter_string)
            keys = [utils.parse_order_by_for_search_experiments(o)
                    for o in (order_by or ["creation_time DESC", "experiment_id ASC"])]
            for type_, key, ascending in reversed(keys):
                matched.sort(key=lambda e, k=key: _experiment_sort_value(e, k), reverse=not ascending)
            offset = rules.page_offset(page_token)
            page = matched[offset : offset + max_results]
            more = offset + max_results < len(matched)
            return Page(page, rules.page_token(offset + max_results) if more else None)

    def _may_read(self, who: Principal, securable: str) -> bool:
        s = self.catalog.get(Name(*securable.split(".")), details=False)
        return self.access.allows(who, "EXECUTE", s) or self.access.allows(who, "MANAGE", s)

    def rename_experiment(self, who: Principal, experiment_id: str, new_name: str) -> Experiment:
        """Change a free-form MLflow name (a three-part name is the securable's and stays)."""
        checks.check_experiment_name(new_name)
        with request():
            row, _ = self.experiment_for(who, experiment_id, "MANAGE", action="experiment.rename",
                                         active=True)
            if names.three_part(row.name) or names.three_part(new_name):
                raise InvalidArgumentError(
                    f"experiment {row.name!r} cannot be renamed to {new_name!r}: a three-part name is the "
                    "experiment's place in the catalog; create a new experiment there instead."
                )
            try:
                with self.metastore.session() as s:
                    s.execute(sa.update(ExperimentRow).where(ExperimentRow.id == row.id)
                              .values(name=new_name, last_update_time=now_ms()))
            except sa.exc.IntegrityError:
                raise AlreadyExistsError(f"Experiment '{new_name}' already exists.") from None
            return self._load_experiment(row.id)

    def delete_experiment(self, who: Principal, experiment_id: str) -> None:
        """Mark the experiment and its runs deleted (restorable; the securable and files stay)."""
        self._set_experiment_stage(who, experiment_id, "deleted")

    def restore_experiment(self, who: Principal, experiment_id: str) -> None:
        self._set_experiment_stage(who, experiment_id, "active")

    def _set_experiment_stage(self, who: Principal, experiment_id: str, stage: str) -> None:
        with request():
            row, _ = self.experiment_for(who, experiment_id, "MANAGE", action=f"experiment.{_verb(stage)}")
            if row.lifecycle_stage == stage:
                raise InvalidArgumentError(f"Cannot {_verb(stage)} experiment {row.id}: it is already {stage}.")
            now = now_ms()
            with self.metastore.session() as s:
                s.execute(sa.update(ExperimentRow).where(ExperimentRow.id == row.id)
                          .values(lifecycle_stage=stage, last_update_time=now))
                old = "active" if stage == "deleted" else "deleted"
                s.execute(sa.update(RunRow).where(RunRow.experiment_id == row.id, RunRow.lifecycle_stage == old)
                          .values(lifecycle_stage=stage, deleted_time=now if stage == "deleted" else None))

    def set_experiment_tag(self, who: Principal, experiment_id: str, key: str, value: str) -> None:
        checks.check_experiment_tag(key, value)
        _refuse_reserved({key: value})
        with request():
            row, _ = self.experiment_for(who, experiment_id, "MODIFY", action="experiment.tag", active=True)
            with self.metastore.session() as s:
                tag = s.get(ExperimentTagRow, (row.id, key))
                if tag is None:
                    s.add(ExperimentTagRow(experiment_id=row.id, key=key, value=value))
                else:
                    tag.value = value

    def delete_experiment_tag(self, who: Principal, experiment_id: str, key: str) -> None:
        with request():
            row, _ = self.experiment_for(who, experiment_id, "MODIFY", action="experiment.tag", active=True)
            with self.metastore.session() as s:
                gone = s.execute(sa.delete(ExperimentTagRow).where(ExperimentTagRow.experiment_id == row.id,
                                                                    ExperimentTagRow.key == key)).rowcount
            if not gone:
                raise NotFoundError(f"No tag with name: {key} in experiment with id {experiment_id}")

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
            row, _ = self.experiment_for(who, experiment_id, "MODIFY", action="run.create", active=True)
            run_id = uuid.uuid4().hex
            with self.metastore.session() as s:
                s.add(RunRow(run_id=run_id, experiment_id=row.id, name=name[:250], user_id=who.name,
                             status="RUNNING", start_time=now_ms() if start_time is None else int(start_time),
                             end_time=None, lifecycle_stage="active", deleted_time=None))
                s.flush()
                s.execute(sa.insert(RunTagRow), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])
                return records.load_runs(s, [run_id])[run_id]

    def get_run(self, who: Principal, run_id: str) -> Run:
        with request():
            self.run_for(who, run_id, "EXECUTE", action="run.get")
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
            self.run_for(who, run_id, "MODIFY", action="run.update", active=True)
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
            self.run_for(who, run_id, "MODIFY", action="run.delete")
            with self.metastore.session() as s:
                s.execute(sa.update(RunRow).where(RunRow.run_id == run_id)
                          .values(lifecycle_stage="deleted", deleted_time=now_ms()))

    def restore_run(self, who: Principal, run_id: str) -> None:
        with request():
            self.run_for(who, run_id, "MODIFY", action="run.restore")
            with self.metastore.session() as s:
                s.execute(sa.update(RunRow).where(RunRow.run_id == run_id)
                          .values(lifecycle_stage="active", deleted_time=None))

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

        >>> svc.search_runs(bob, ["3"], filter_string="metrics.rmse < 0.3 and params.model = 'gbm'",
        ...                 order_by=["metrics.rmse"])                          # doctest: +SKIP
        """
        return self._search_runs(who, experiment_ids, records.load_runs, filter_string=filter_string, view=view,
                                 max_results=max_results, order_by=order_by, page_token=page_token)

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

        >>> page = svc.search_run_messages(bob, ["3"], scheme="mlflow-artifacts")     # doctest: +SKIP
        >>> page.items[0]["info"]["run_id"]                                         # doctest: +SKIP
        """
        def load(s: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
            return messages.run_messages(records.fetch_runs(s, ids), scheme=scheme)

        return self._search_runs(who, experiment_ids, load, filter_string=filter_string, view=view,
                                 max_results=max_results, order_by=order_by, page_token=page_token)

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
                row, _ = self.experiment_for(who, experiment_id, "EXECUTE", action="run.search")
                if row.id not in numbers:
                    numbers.append(row.id)
            if not numbers:
                return Page([])
            offset = rules.page_offset(page_token)
            query = run_query(numbers, filter_string=filter_string, order_by=order_by, view=view,
                              dialect=self.metastore.engine.dialect.name)
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
        ...               params={"lr": "0.1"})                                     # doctest: +SKIP
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
            raise InvalidArgumentError(f"Duplicate parameter keys have been submitted: {dupes}. Please ensure "
                                       "the request contains only one param value per param key.")
        with request():
            self.run_for(who, run_id, "MODIFY", action="run.log", active=True)
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
            self.run_for(who, run_id, "MODIFY", action="run.log", active=True)
            with self.metastore.session() as s:
                gone = s.execute(sa.delete(RunTagRow).where(RunTagRow.run_id == run_id, RunTagRow.key == key)).rowcount
            if not gone:
                raise NotFoundError(f"No tag with name: {key} in run with id {run_id}")

    def get_metric_history(
        self, who: Principal, run_id: str, key: str, *, max_results: int | None = None, page_token: str | None = None
    ) -> Page[Metric]:
        """Every value logged for ``key`` in the run, by step then time."""
        if not key:
            raise InvalidArgumentError("Missing value for required parameter 'metric_key'.")
        with request():
            self.run_for(who, run_id, "EXECUTE", action="run.read")
            offset = rules.page_offset(page_token)
            m = MetricRow
            query = (sa.select(m.key, m.value, m.timestamp, m.step, m.is_nan).where(m.run_id == run_id, m.key == key)
                     .order_by(m.step, m.timestamp, m.id).offset(offset))
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
            run, _ = self.run_for(who, run_id, "MODIFY", action="run.log", active=True)
            with self.metastore.session() as s:
                for item in datasets:
                    d = item.dataset
                    dataset_id = s.scalar(sa.select(DatasetRow.id).where(
                        DatasetRow.experiment_id == run.experiment_id, DatasetRow.name == d.name,
                        DatasetRow.digest == d.digest))
                    if dataset_id is None:
                        dataset_id = uuid.uuid4().hex
                        s.add(DatasetRow(id=dataset_id, experiment_id=run.experiment_id, name=d.name,
                                         digest=d.digest, source_type=d.source_type, source=d.source,
                                         schema=d.schema, profile=d.profile))
                        s.flush()
                    if s.scalar(sa.select(RunInputRow.id).where(RunInputRow.run_id == run_id,
                                                                RunInputRow.dataset_id == dataset_id)) is None:
                        s.add(RunInputRow(run_id=run_id, dataset_id=dataset_id, tags=dict(item.tags),
                                          context=item.tags.get(CONTEXT_TAG)))
                for model_id in models:
                    if s.scalar(sa.select(RunInputRow.id).where(RunInputRow.run_id == run_id,
                                                                RunInputRow.model_id == model_id)) is None:
                        s.add(RunInputRow(run_id=run_id, model_id=str(model_id), tags={}))

    def log_outputs(self, who: Principal, run_id: str, outputs: Sequence[ModelOutput]) -> None:
        """Record the logged models a run produced (MLflow 3)."""
        with request():
            self.run_for(who, run_id, "MODIFY", action="run.log", active=True)
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
            self.run_for(who, run_id, "MODIFY", action="run.log", active=True)
            with self.metastore.session() as s:
                tag = s.get(RunTagRow, (run_id, LOGGED_MODELS_TAG))
                try:
                    history = json.loads(tag.value) if tag is not None else []
                except (ValueError, RecursionError):
                    history = None
                if not isinstance(history, list):  # the tag is writable: someone set it by hand
                    raise InvalidArgumentError(
                        f"run {run_id}'s tag {LOGGED_MODELS_TAG!r} is not a JSON list of models, so no model can "
                        "be added to it: delete the tag (MlflowClient().delete_tag) and log the model again.")
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


def _refuse_reserved(tags: dict[str, str]) -> None:
    reserved = [k for k in tags if str(k).startswith(RESERVED_PREFIX)]
    if reserved:
        raise InvalidArgumentError(f"experiment tags starting with {RESERVED_PREFIX!r} are Glashaus's own "
                                   f"(read-only): {reserved}.")


def _verb(stage: str) -> str:
    return "delete" if stage == "deleted" else "restore"


def _experiment_sort_value(e: Experiment, key: str) -> tuple[bool, Any]:
    value = int(e.experiment_id) if key == "experiment_id" else getattr(e, key)
    return (value is None, value if value is not None else 0)


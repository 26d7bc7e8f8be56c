"""Experiment tracking, governed: experiments, runs, params, metrics, tags, inputs.

Every experiment is a securable (kind ``experiment``) in a schema, created through the
tables service (the catalog's only writer); every call asks the guard first
(:class:`~glashaus.access.guard.Guard`: :meth:`~glashaus.access.Access.authorize`, which
audits the decision):

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

>>> exp = svc.create_experiment(alice, "main.shop.churn_training")
>>> run = svc.create_run(alice, exp.experiment_id, run_name="baseline")
>>> svc.log_batch(alice, run.run_id, metrics=[Metric("rmse", 0.3, ts)])
>>> svc.get_run(alice, run.run_id).metrics["rmse"].value
0.3
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus import mlflow_checks as checks
from glashaus.access import Principal, request
from glashaus.access.guard import Check
from glashaus.catalog import Name
from glashaus.catalog.rows import SecurableRow
from glashaus.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from glashaus.metastore import Metastore, affected
from glashaus.tables import TablesService
from glashaus.tracking import names, records, rules
from glashaus.tracking.entities import (
    Experiment,
    Page,
    ViewType,
)
from glashaus.tracking.locations import SPEC_KEY as LOCATION_KEY
from glashaus.tracking.records import now_ms
from glashaus.tracking.rows import (
    ExperimentRow,
    ExperimentTagRow,
    RunRow,
    SequenceRow,
)
from glashaus.tracking.rules import mlflow_rules

T = TypeVar("T")

#: Experiment tag keys Glashaus reserves (shown to MLflow clients, never stored).
RESERVED_PREFIX = "glashaus."
#: MLflow's default experiment: where a run goes when no experiment is set (``mlflow.start_run()``).
DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"


class Locations(Protocol):
    """Where an experiment's files live (``storage.layout.Layout`` provides it)."""

    def experiment_location(self, experiment_id: str) -> str: ...


def experiment_number(experiment_id: Any) -> int:
    """MLflow experiment ids are decimal strings; ``0`` is the default experiment, the others count from 1."""
    text = str(experiment_id).strip() if experiment_id is not None else ""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise InvalidArgumentError(f"Invalid experiment ID {experiment_id!r:.80}: experiment IDs are whole numbers.")
    return int(text)


#: Creating an experiment: CREATE MODEL on its schema (experiments are ML assets, as models are).
CREATE_EXPERIMENT = Check.create("experiment", "experiment.create")


class TrackingService:
    def __init__(self, *, tables: TablesService, metastore: Metastore, locations: Locations) -> None:
        self.tables = tables
        self.guard = tables.guard
        self.access = tables.access
        self.metastore = metastore
        self.locations = locations
        # Runs, logged models and files are parts of this service that share its governance helpers
        # (experiment_for, run_for: the experiment found by id, then the guard).
        from glashaus.tracking.files import RunFiles
        from glashaus.tracking.locations import ExperimentLocations
        from glashaus.tracking.logged_models import LoggedModels
        from glashaus.tracking.model_folders import ModelFolders
        from glashaus.tracking.runs import RunTracking

        # Where each experiment's files live (managed storage, or a volume folder its creator chose).
        self.experiment_locations = ExperimentLocations(self)
        self.runs = RunTracking(self)
        self.models = LoggedModels(self)
        self.files = RunFiles(self)
        # Where runs' models lie, for the registry (runs:/, models:/m-<id>, mlflow-artifacts:/ sources).
        self.model_folders = ModelFolders(self)
        self.create_run = self.runs.create_run
        self.get_run = self.runs.get_run
        self.update_run = self.runs.update_run
        self.delete_run = self.runs.delete_run
        self.restore_run = self.runs.restore_run
        self.search_runs = self.runs.search_runs
        self.search_run_messages = self.runs.search_run_messages
        self.log_batch = self.runs.log_batch
        self.log_metric = self.runs.log_metric
        self.log_param = self.runs.log_param
        self.set_tag = self.runs.set_tag
        self.delete_tag = self.runs.delete_tag
        self.get_metric_history = self.runs.get_metric_history
        self.log_inputs = self.runs.log_inputs
        self.log_outputs = self.runs.log_outputs
        self.record_logged_model = self.runs.record_logged_model
        self.run_artifact_path = self.runs.run_artifact_path

    # -- governance ----------------------------------------------------------------------

    def authorize(
        self, who: Principal, privilege: str, securable: str, *, action: str, details: dict[str, Any] | None = None
    ) -> None:
        """``privilege`` on the experiment called ``securable`` (found by id first), audited as ``action``."""
        self.guard.allow(
            who,
            Check(privilege, action, kinds=("experiment",), details=False),
            Name.of(securable.split(".")),
            details=details,
        )

    def _experiment(self, s: Session, experiment_id: Any) -> tuple[ExperimentRow, str]:
        number = experiment_number(experiment_id)
        found = s.execute(
            sa.select(ExperimentRow, SecurableRow.full_name)
            .join(SecurableRow, SecurableRow.id == ExperimentRow.securable_id)
            .where(ExperimentRow.id == number)
        ).first()
        if found is None:
            if number == DEFAULT_EXPERIMENT_ID:
                raise NotFoundError(
                    "experiment '0' (MLflow's Default experiment) is not in this lakehouse: an admin's next "
                    "glashaus.connect() creates it; or choose an experiment first, e.g. "
                    "mlflow.set_experiment('main.default.my_experiment')."
                )
            raise NotFoundError(f"No Experiment with id={experiment_id} exists.")
        return found[0], found[1]

    def experiment_for(
        self, who: Principal, experiment_id: Any, privilege: str, *, action: str, active: bool = False
    ) -> tuple[ExperimentRow, str]:
        """The experiment row and its securable name, once ``who`` may do ``privilege`` on it."""
        with self.metastore.session() as s:
            row, securable = self._experiment(s, experiment_id)
        self.authorize(who, privilege, securable, action=action, details={"experiment_id": str(row.id)})
        if active and row.lifecycle_stage != "active":
            raise InvalidArgumentError(
                f"The experiment {row.id} must be in the 'active' state. Current state is "
                f"{row.lifecycle_stage}; restore it first."
            )
        return row, securable

    def run_for(
        self, who: Principal, run_id: Any, privilege: str, *, action: str, active: bool = False
    ) -> tuple[RunRow, str]:
        """The run row and its experiment's securable name, once ``who`` may do ``privilege`` on it."""
        if not isinstance(run_id, str) or not run_id:
            raise InvalidArgumentError("Missing value for required parameter 'run_id'.")
        with self.metastore.session() as s:
            found = (
                s.execute(
                    sa.select(RunRow, SecurableRow.full_name)
                    .join(ExperimentRow, ExperimentRow.id == RunRow.experiment_id)
                    .join(SecurableRow, SecurableRow.id == ExperimentRow.securable_id)
                    .where(RunRow.run_id == run_id)
                ).first()
                if len(run_id) <= 32
                else None
            )
        if found is None:
            raise NotFoundError(f"Run with id={run_id} not found")
        run, securable = found
        self.authorize(who, privilege, securable, action=action, details={"run_id": run_id})
        if active and run.lifecycle_stage != "active":
            raise InvalidArgumentError(
                f"The run {run_id} must be in the 'active' state. Current state is "
                f"{run.lifecycle_stage}; restore it first."
            )
        return run, securable

    # -- experiments -----------------------------------------------------------------------

    def create_experiment(self, who: Principal, name: str, *, tags: dict[str, str] | None = None) -> Experiment:
        """Create an experiment named as MLflow names it: ``main.shop.reco_training``, or a free-form name
        placed in ``main.default``. It is a securable (kind ``experiment``; see :mod:`glashaus.tracking.names`
        for where it lives): creating it needs ``CREATE MODEL`` on its schema.

        >>> lh.experiments.create("main.shop.ferns_training", tags={"team": "reco"}).name
        'main.shop.ferns_training'
        """
        return self._create_experiment(who, name, tags=tags)

    def create_experiment_with(
        self,
        who: Principal,
        name: str,
        *,
        artifact_location: str | None = None,
        default_schema: Name | None = None,
        tags: dict[str, str] | None = None,
    ) -> Experiment:
        """An experiment as MLflow's ``create_experiment`` asks for it: its files in a volume folder
        (``artifact_location``: ``/Volumes/<catalog>/<schema>/<volume>[/<path>]`` or ``dbfs:/Volumes/...``,
        which ``who`` must be allowed to write, ``WRITE VOLUME``, audited; anything else is refused:
        :mod:`glashaus.tracking.locations`), a free-form name placed in ``default_schema`` (the server's,
        ``glashaus serve --default-schema``; ``main.default`` when None).

        >>> e = svc.create_experiment_with(alice, "ferns_in_a_volume", artifact_location="/Volumes/main/shop/images/exp")
        >>> e.artifact_location, e.securable.startswith("main.default.ferns_in_a_volume_")
        ('/Volumes/main/shop/images/exp', True)
        """
        return self._create_experiment(
            who, name, tags=tags, artifact_location=artifact_location, schema=default_schema or names.DEFAULT_SCHEMA
        )

    def ensure_default_experiment(self, who: Principal) -> Experiment | None:
        """MLflow's experiment ``0``, ``Default``, where ``mlflow.start_run()`` logs when no experiment is set.

        Created once, by the lakehouse's first admin (who owns it: its owner and the admins read and
        log to it; grant ``EXECUTE``/``MODIFY`` on its securable to share it). Its securable is
        ``main.default.default_0``. Nothing happens when it exists, or when an experiment already
        took the name ``Default``.

        >>> svc.ensure_default_experiment(lh.principal) is None   # made with the lakehouse
        True
        >>> lh.experiments.get("0").name
        'Default'
        """
        with self.metastore.session() as s:
            taken = s.scalar(
                sa.select(ExperimentRow.id).where(
                    sa.or_(ExperimentRow.id == DEFAULT_EXPERIMENT_ID, ExperimentRow.name == DEFAULT_EXPERIMENT_NAME)
                )
            )
        if taken is not None:
            return None
        return self._create_experiment(who, DEFAULT_EXPERIMENT_NAME, number=DEFAULT_EXPERIMENT_ID, suffix="0")

    def _create_experiment(
        self,
        who: Principal,
        name: str,
        *,
        tags: dict[str, str] | None = None,
        number: int | None = None,
        suffix: str | None = None,
        artifact_location: str | None = None,
        schema: Name = names.DEFAULT_SCHEMA,
    ) -> Experiment:
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
            target = names.securable_name(name, suffix=suffix, schema=schema)
            if target.catalog == "system":
                raise InvalidArgumentError(
                    f"cannot create experiment {name!r}: the system catalog is written only "
                    "by Glashaus; name it in another catalog, e.g. 'main.default.<name>'."
                )
            spec = {"mlflow_name": stored}
            folder = None
            if artifact_location is not None:  # a volume folder the caller may write (checked and audited first)
                folder = self.experiment_locations.choose(who, artifact_location)
                spec[LOCATION_KEY] = artifact_location
            created = self.tables.create_securable(
                who, CREATE_EXPERIMENT, target, spec=spec, details={"mlflow_name": name}
            )
            now = now_ms()
            try:
                with self.metastore.session() as s:
                    # Never an id given out before: a dropped experiment's files stay in its folder.
                    # (The default experiment's 0 is below every id the counter gives out.)
                    if number is None:
                        number = s.scalar(
                            sa.update(SequenceRow)
                            .where(SequenceRow.name == "experiment")
                            .values(value=SequenceRow.value + 1)
                            .returning(SequenceRow.value)
                        )
                    row = ExperimentRow(
                        id=number,
                        securable_id=created.securable.id,
                        name=stored,
                        lifecycle_stage="active",
                        creation_time=now,
                        last_update_time=now,
                    )
                    s.add(row)
                    s.flush()
                    s.add_all(ExperimentTagRow(experiment_id=row.id, key=k, value=v) for k, v in tags.items())
                    number = row.id
            except BaseException as exc:
                created.undo()  # leave nothing behind
                if isinstance(exc, sa.exc.IntegrityError):  # another process took the name meanwhile
                    raise AlreadyExistsError(f"Experiment '{name}' already exists.") from None
                raise
            created.locate(folder or self.locations.experiment_location(str(number)))
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
            keys = [
                utils.parse_order_by_for_search_experiments(o)
                for o in (order_by or ["creation_time DESC", "experiment_id ASC"])
            ]
            for _type, key, ascending in reversed(keys):
                matched.sort(key=lambda e, k=key: _experiment_sort_value(e, k), reverse=not ascending)
            offset = rules.page_offset(page_token)
            page = matched[offset : offset + max_results]
            more = offset + max_results < len(matched)
            return Page(page, rules.page_token(offset + max_results) if more else None)

    def _may_read(self, who: Principal, securable: str) -> bool:
        """EXECUTE or MANAGE on the experiment (unaudited: searches list only these)."""
        return self.guard.may_see(who, Name.of(securable.split(".")))

    def rename_experiment(self, who: Principal, experiment_id: str, new_name: str) -> Experiment:
        """Change a free-form MLflow name (a three-part name is the securable's and stays)."""
        checks.check_experiment_name(new_name)
        with request():
            row, _ = self.experiment_for(who, experiment_id, "MANAGE", action="experiment.rename", active=True)
            if names.three_part(row.name) or names.three_part(new_name):
                raise InvalidArgumentError(
                    f"experiment {row.name!r} cannot be renamed to {new_name!r}: a three-part name is the "
                    "experiment's place in the catalog; create a new experiment there instead."
                )
            try:
                with self.metastore.session() as s:
                    s.execute(
                        sa.update(ExperimentRow)
                        .where(ExperimentRow.id == row.id)
                        .values(name=new_name, last_update_time=now_ms())
                    )
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
                s.execute(
                    sa.update(ExperimentRow)
                    .where(ExperimentRow.id == row.id)
                    .values(lifecycle_stage=stage, last_update_time=now)
                )
                old = "active" if stage == "deleted" else "deleted"
                s.execute(
                    sa.update(RunRow)
                    .where(RunRow.experiment_id == row.id, RunRow.lifecycle_stage == old)
                    .values(lifecycle_stage=stage, deleted_time=now if stage == "deleted" else None)
                )

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
                gone = affected(
                    s.execute(
                        sa.delete(ExperimentTagRow).where(
                            ExperimentTagRow.experiment_id == row.id, ExperimentTagRow.key == key
                        )
                    )
                )
            if not gone:
                raise NotFoundError(f"No tag with name: {key} in experiment with id {experiment_id}")


def _refuse_reserved(tags: dict[str, str]) -> None:
    reserved = [k for k in tags if str(k).startswith(RESERVED_PREFIX)]
    if reserved:
        raise InvalidArgumentError(
            f"experiment tags starting with {RESERVED_PREFIX!r} are Glashaus's own (read-only): {reserved}."
        )


def _verb(stage: str) -> str:
    return "delete" if stage == "deleted" else "restore"


def _experiment_sort_value(e: Experiment, key: str) -> tuple[bool, Any]:
    value = int(e.experiment_id) if key == "experiment_id" else getattr(e, key)
    return (value is None, value if value is not None else 0)

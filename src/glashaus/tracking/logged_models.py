"""MLflow 3 logged models: a model's files and facts in an experiment, before registration.

``mlflow.sklearn.log_model(...)`` creates one (status PENDING), uploads its files to
``<experiment_id>/models/<model_id>/artifacts`` and finalizes it (READY). Reading
needs ``EXECUTE`` on the experiment, everything else ``MODIFY`` (see service.py).
Search uses MLflow's own filter and ordering rules over the experiments' models.

>>> m = svc.models.create(alice, exp_id, name="reco", source_run_id=run_id)
>>> svc.models.finalize(alice, m.model_id, "READY").status
'READY'
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from glashaus import mlflow_checks as checks
from glashaus.access import Principal, request
from glashaus.catalog.rows import SecurableRow
from glashaus.errors import InvalidArgumentError, NotFoundError
from glashaus.metastore import affected
from glashaus.tracking import records, rules
from glashaus.tracking.entities import LOGGED_MODEL_STATUSES, LoggedModel, Page
from glashaus.tracking.rows import (
    ExperimentRow,
    LoggedModelParamRow,
    LoggedModelRow,
    LoggedModelTagRow,
    RunRow,
)
from glashaus.tracking.rules import mlflow_rules
from glashaus.tracking.run_names import memorable_name

if TYPE_CHECKING:
    from glashaus.tracking.service import TrackingService


class LoggedModels:
    def __init__(self, service: TrackingService) -> None:
        self.service = service
        self.metastore = service.metastore

    def model_for(
        self,
        who: Principal,
        model_id: Any,
        privilege: str,
        *,
        action: str,
        active: bool = False,
        allow_deleted: bool = True,
    ) -> tuple[LoggedModelRow, str]:
        """The logged model's row and its experiment's securable, once ``who`` may do ``privilege``."""
        if not isinstance(model_id, str) or not model_id:
            raise InvalidArgumentError("Missing value for required parameter 'model_id'.")
        with self.metastore.session() as s:
            found = (
                s.execute(
                    sa.select(LoggedModelRow, SecurableRow.full_name)
                    .join(ExperimentRow, ExperimentRow.id == LoggedModelRow.experiment_id)
                    .join(SecurableRow, SecurableRow.id == ExperimentRow.securable_id)
                    .where(LoggedModelRow.model_id == model_id)
                ).first()
                if len(model_id) <= 64
                else None
            )
        if found is None or (not allow_deleted and found[0].lifecycle_stage != "active"):
            raise NotFoundError(f"Logged model with ID '{model_id}' not found.")
        row, securable = found
        self.service.authorize(who, privilege, securable, action=action, details={"model_id": model_id})
        if active and row.lifecycle_stage != "active":
            raise InvalidArgumentError(f"The logged model {model_id} is deleted; it cannot be changed.")
        return row, securable

    def _load(self, model_id: str) -> LoggedModel:
        with self.metastore.session() as s:
            row = s.get(LoggedModelRow, model_id)
            if row is None:  # deleted by another request meanwhile
                raise NotFoundError(f"Logged model with ID '{model_id}' not found.")
            return records.load_logged_models(s, [row])[0]

    def create(
        self,
        who: Principal,
        experiment_id: str,
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        model_type: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> LoggedModel:
        """A new logged model (status PENDING) in an experiment; ``MODIFY`` on it."""
        tags, params = dict(tags or {}), dict(params or {})
        checks.check_logged_model_name(name)
        tags = {k: checks.check_run_tag(k, v) for k, v in tags.items()}
        params = {k: checks.check_param(k, v) for k, v in params.items()}
        with request():
            row, _ = self.service.experiment_for(
                who, experiment_id, "MODIFY", action="logged_model.create", active=True
            )
            if source_run_id:
                with self.metastore.session() as s:
                    source_exists = s.get(RunRow, source_run_id) is not None
                # Access control, not existence: a run the caller may not read cannot be named as the source
                # (audited, denied). A run id that does not exist is recorded as given, as MLflow's server
                # does (mlflow.log_model with a run of another tracking server); ids are random, so
                # "accepted" tells nothing about other people's runs.
                if source_exists:
                    self.service.run_for(who, source_run_id, "EXECUTE", action="logged_model.source_run")
            with self.metastore.session() as s:
                model_id = f"m-{uuid.uuid4().hex}"
                now = records.now_ms()
                s.add(
                    LoggedModelRow(
                        model_id=model_id,
                        experiment_id=row.id,
                        name=name or memorable_name(),
                        creation_time=now,
                        last_updated_time=now,
                        status="PENDING",
                        lifecycle_stage="active",
                        model_type=model_type,
                        source_run_id=source_run_id,
                        creator=who.name,
                    )
                )
                s.flush()
                _insert(s, LoggedModelTagRow, model_id, tags)
                _insert(s, LoggedModelParamRow, model_id, params)
            return self._load(model_id)

    def get(self, who: Principal, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        with request():
            self.model_for(who, model_id, "EXECUTE", action="logged_model.get", allow_deleted=allow_deleted)
            return self._load(model_id)

    def finalize(self, who: Principal, model_id: str, status: str) -> LoggedModel:
        """Mark the model READY (its files are complete) or FAILED."""
        if status not in LOGGED_MODEL_STATUSES:
            raise InvalidArgumentError(
                f"Invalid logged model status {status!r}: one of {', '.join(LOGGED_MODEL_STATUSES)}."
            )
        with request():
            self.model_for(who, model_id, "MODIFY", action="logged_model.finalize", active=True)
            self._touch(model_id, status=status)
            return self._load(model_id)

    def set_tags(self, who: Principal, model_id: str, tags: dict[str, str]) -> None:
        tags = {k: checks.check_run_tag(k, v) for k, v in tags.items()}
        with request():
            self.model_for(who, model_id, "MODIFY", action="logged_model.tag", active=True)
            with self.metastore.session() as s:
                s.execute(
                    sa.delete(LoggedModelTagRow).where(
                        LoggedModelTagRow.model_id == model_id, LoggedModelTagRow.key.in_(list(tags))
                    )
                )
                _insert(s, LoggedModelTagRow, model_id, tags)
            self._touch(model_id)

    def delete_tag(self, who: Principal, model_id: str, key: str) -> None:
        with request():
            self.model_for(who, model_id, "MODIFY", action="logged_model.tag", active=True)
            with self.metastore.session() as s:
                gone = affected(
                    s.execute(
                        sa.delete(LoggedModelTagRow).where(
                            LoggedModelTagRow.model_id == model_id, LoggedModelTagRow.key == key
                        )
                    )
                )
            if not gone:
                raise NotFoundError(f"No tag with key {key!r} on logged model {model_id}.")
            self._touch(model_id)

    def log_params(self, who: Principal, model_id: str, params: dict[str, str]) -> None:
        """Add params (immutable, as a run's: a key logged again must keep its value)."""
        params = {k: checks.check_param(k, v) for k, v in params.items()}
        with request():
            self.model_for(who, model_id, "MODIFY", action="logged_model.log", active=True)
            with self.metastore.session() as s:
                existing = dict(
                    s.execute(
                        sa.select(LoggedModelParamRow.key, LoggedModelParamRow.value).where(
                            LoggedModelParamRow.model_id == model_id, LoggedModelParamRow.key.in_(list(params))
                        )
                    ).all()
                )
                changed = sorted(k for k, v in params.items() if k in existing and existing[k] != v)
                if changed:
                    raise InvalidArgumentError(
                        f"Changing param values is not allowed: {changed} of logged model "
                        f"{model_id} were already logged with other values."
                    )
                _insert(s, LoggedModelParamRow, model_id, {k: v for k, v in params.items() if k not in existing})

    def delete(self, who: Principal, model_id: str) -> None:
        """Mark the logged model deleted (its files stay)."""
        with request():
            self.model_for(who, model_id, "MODIFY", action="logged_model.delete", active=True)
            self._touch(model_id, lifecycle_stage="deleted")

    def search(
        self,
        who: Principal,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int = 100,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        """Active logged models of the experiments (``EXECUTE`` on each), MLflow's filter and order."""
        rules.check_max_results(max_results)
        utils = rules.search_utils()
        with request(), mlflow_rules():
            numbers = []
            for experiment_id in experiment_ids:
                row, _ = self.service.experiment_for(who, experiment_id, "EXECUTE", action="logged_model.search")
                numbers.append(row.id)
            offset = 0
            ids = [str(n) for n in numbers]
            if page_token:
                offset = rules.logged_model_offset(page_token, ids, filter_string, order_by)
            with self.metastore.session() as s:
                rows = s.scalars(
                    sa.select(LoggedModelRow).where(
                        LoggedModelRow.experiment_id.in_(numbers), LoggedModelRow.lifecycle_stage == "active"
                    )
                )
                found = records.load_logged_models(s, rows)
            by_id = {m.model_id: m for m in found}
            entities = [_entity(m) for m in found]
            matched = utils.SearchLoggedModelsUtils.filter_logged_models(entities, filter_string, datasets)
            ordered = utils.SearchLoggedModelsUtils.sort(matched, order_by)
            page = ordered[offset : offset + max_results]
            token = None
            if offset + max_results < len(ordered):
                token = utils.SearchLoggedModelsPaginationToken(
                    experiment_ids=ids, filter_string=filter_string, order_by=order_by, offset=offset + max_results
                ).encode()
            return Page([by_id[e.model_id] for e in page], token)

    def _touch(self, model_id: str, **values: Any) -> None:
        with self.metastore.session() as s:
            s.execute(
                sa.update(LoggedModelRow)
                .where(LoggedModelRow.model_id == model_id)
                .values(last_updated_time=records.now_ms(), **values)
            )


def _insert(s: Any, table: type, model_id: str, values: dict[str, str]) -> None:
    if values:
        s.execute(sa.insert(table), [{"model_id": model_id, "key": k, "value": v} for k, v in values.items()])


def _entity(m: LoggedModel) -> Any:
    """The model as MLflow's own entity, so MLflow's search rules apply unchanged."""
    from mlflow.entities import LoggedModel as MlflowLoggedModel
    from mlflow.entities import LoggedModelStatus
    from mlflow.entities import Metric as MlflowMetric

    return MlflowLoggedModel(
        experiment_id=m.experiment_id,
        model_id=m.model_id,
        name=m.name,
        artifact_location=m.artifact_path,
        creation_timestamp=m.creation_time,
        last_updated_timestamp=m.last_updated_time,
        model_type=m.model_type,
        source_run_id=m.source_run_id,
        status=LoggedModelStatus(m.status),
        status_message=m.status_message,
        tags=m.tags,
        params=m.params,
        metrics=[
            MlflowMetric(x.key, x.value, x.timestamp, x.step, x.model_id, x.dataset_name, x.dataset_digest, x.run_id)
            for x in m.metrics
        ],
    )

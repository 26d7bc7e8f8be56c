"""Loading runs, experiments and logged models from the metastore, many at a time.

A page of search results is loaded with one query per table (runs, params, latest
metrics, tags, inputs, outputs), whatever the page size: no query per run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus.catalog.tables import SecurableRow
from glashaus.tracking.entities import Dataset, DatasetInput, Experiment, LoggedModel, Metric, ModelOutput, Run
from glashaus.tracking.tables import (
    DatasetRow,
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    LoggedModelParamRow,
    LoggedModelRow,
    LoggedModelTagRow,
    LoggedModelMetricRow,
    ParamRow,
    RunInputRow,
    RunOutputRow,
    RunRow,
    RunTagRow,
)

#: IN lists stay below every database's bound-parameter limit.
CHUNK = 500

_NAN = float("nan")
_MAX = 1.7976931348623157e308


def now_ms() -> int:
    return int(time.time() * 1000)


def stored_value(value: float) -> tuple[float, bool]:
    """MLflow's SQL encoding: NaN is 0 with ``is_nan``; +/-inf the largest finite double."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (_MAX if value > 0 else -_MAX), False
    return float(value), False


def chunks(values: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def load_runs(s: Session, run_ids: list[str]) -> dict[str, Run]:
    """Full runs (params, latest metrics, tags, inputs, outputs) by id; unknown ids are left out.

    Plain Core queries on the session's connection: no ORM objects for thousands of rows.
    """
    rows: dict[str, Any] = {}
    params: dict[str, dict[str, str]] = {}
    metrics: dict[str, dict[str, Metric]] = {}
    tags: dict[str, dict[str, str]] = {}
    inputs: dict[str, list[DatasetInput]] = {}
    model_inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[ModelOutput]] = {}
    conn = s.connection()
    r, p, lm, t = RunRow.__table__.c, ParamRow.__table__.c, LatestMetricRow.__table__.c, RunTagRow.__table__.c
    inp, ds, out = RunInputRow.__table__.c, DatasetRow.__table__.c, RunOutputRow.__table__.c
    for ids in chunks(run_ids):
        for row in conn.execute(sa.select(r.run_id, r.experiment_id, r.name, r.user_id, r.status, r.start_time,
                                          r.end_time, r.lifecycle_stage).where(r.run_id.in_(ids))):
            rows[row[0]] = row
        for run_id, key, value in conn.execute(sa.select(p.run_id, p.key, p.value).where(p.run_id.in_(ids))):
            params.setdefault(run_id, {})[key] = value
        for run_id, key, value, ts, step, is_nan in conn.execute(
            sa.select(lm.run_id, lm.key, lm.value, lm.timestamp, lm.step, lm.is_nan).where(lm.run_id.in_(ids))
        ):
            metrics.setdefault(run_id, {})[key] = Metric(key, _NAN if is_nan else value, ts, step)
        for run_id, key, value in conn.execute(sa.select(t.run_id, t.key, t.value).where(t.run_id.in_(ids))):
            tags.setdefault(run_id, {})[key] = value
        query = (sa.select(inp.run_id, inp.model_id, inp.tags, ds.name, ds.digest, ds.source_type, ds.source,
                           ds.schema, ds.profile)
                 .select_from(RunInputRow.__table__.outerjoin(DatasetRow.__table__, ds.id == inp.dataset_id))
                 .where(inp.run_id.in_(ids)).order_by(inp.id))
        for run_id, model_id, input_tags, *dataset in conn.execute(query):
            if model_id is not None:
                model_inputs.setdefault(run_id, []).append(model_id)
            elif dataset[0] is not None:
                inputs.setdefault(run_id, []).append(DatasetInput(Dataset(*dataset), dict(input_tags or {})))
        for run_id, model_id, step in conn.execute(sa.select(out.run_id, out.model_id, out.step)
                                                   .where(out.run_id.in_(ids))):
            outputs.setdefault(run_id, []).append(ModelOutput(model_id, step))
    return {
        run_id: Run(run_id, str(exp), name, user, status, start, end, stage, params.get(run_id, {}),
                    metrics.get(run_id, {}), tags.get(run_id, {}), inputs.get(run_id, []),
                    model_inputs.get(run_id, []), outputs.get(run_id, []))
        for run_id, exp, name, user, status, start, end, stage in rows.values()
    }


def experiment_query() -> sa.Select:
    return (sa.select(ExperimentRow, SecurableRow.full_name, SecurableRow.owner)
            .join(SecurableRow, SecurableRow.id == ExperimentRow.securable_id))


def load_experiments(s: Session, query: sa.Select) -> list[Experiment]:
    """Experiments (with tags) for an :func:`experiment_query`, in its order."""
    found = s.execute(query).all()
    tags: dict[int, dict[str, str]] = {}
    ids = [row.id for row, _, _ in found]
    for part in chunks(ids):
        for exp_id, key, value in s.execute(sa.select(ExperimentTagRow.experiment_id, ExperimentTagRow.key,
                                                      ExperimentTagRow.value)
                                            .where(ExperimentTagRow.experiment_id.in_(part))):
            tags.setdefault(exp_id, {})[key] = value
    return [
        Experiment(str(row.id), row.name, full_name, owner, row.lifecycle_stage,  # type: ignore[arg-type]
                   row.creation_time, row.last_update_time, tags.get(row.id, {}))
        for row, full_name, owner in found
    ]


def load_logged_models(s: Session, rows: Iterable[LoggedModelRow]) -> list[LoggedModel]:
    rows = list(rows)
    ids = [r.model_id for r in rows]
    tags: dict[str, dict[str, str]] = {}
    params: dict[str, dict[str, str]] = {}
    metrics: dict[str, list[Metric]] = {}
    m = LoggedModelMetricRow
    for part in chunks(ids):
        for model_id, key, value in s.execute(sa.select(LoggedModelTagRow.model_id, LoggedModelTagRow.key,
                                                        LoggedModelTagRow.value)
                                              .where(LoggedModelTagRow.model_id.in_(part))):
            tags.setdefault(model_id, {})[key] = value
        for model_id, key, value in s.execute(sa.select(LoggedModelParamRow.model_id, LoggedModelParamRow.key,
                                                        LoggedModelParamRow.value)
                                              .where(LoggedModelParamRow.model_id.in_(part))):
            params.setdefault(model_id, {})[key] = value
        for row in s.execute(sa.select(m.model_id, m.key, m.value, m.is_nan, m.timestamp, m.step, m.dataset_name,
                                       m.dataset_digest, m.run_id).where(m.model_id.in_(part)).order_by(m.id)):
            model_id, key, value, is_nan, ts, step, dname, ddigest, run_id = row
            metrics.setdefault(model_id, []).append(
                Metric(key, _NAN if is_nan else value, ts, step, model_id, dname, ddigest, run_id))
    return [
        LoggedModel(r.model_id, str(r.experiment_id), r.name, r.creation_time, r.last_updated_time,
                    r.status, r.lifecycle_stage, r.creator, r.model_type, r.source_run_id,  # type: ignore[arg-type]
                    r.status_message, tags.get(r.model_id, {}), params.get(r.model_id, {}),
                    metrics.get(r.model_id, []))
        for r in rows
    ]

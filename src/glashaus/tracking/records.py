"""Loading runs, experiments and logged models from the metastore, many at a time.

A page of search results is loaded with one query per table (runs, params, latest
metrics, tags, inputs, outputs), whatever the page size: no query per run. The rows
become entities (:func:`load_runs`) or, for the MLflow faces, MLflow's messages
directly (:func:`glashaus.tracking.messages.run_messages`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus.catalog.rows import SecurableRow
from glashaus.tracking.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    Lifecycle,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    ModelOutput,
    Run,
)
from glashaus.tracking.rows import (
    DatasetRow,
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    LoggedModelMetricRow,
    LoggedModelParamRow,
    LoggedModelRow,
    LoggedModelTagRow,
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


class RunRows(NamedTuple):
    """The rows of some runs, one list of plain tuples per table (see :func:`fetch_runs`)."""

    #: run_id, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage
    runs: list[Any]
    #: run_id, key, value
    params: list[Any]
    #: run_id, key, value, timestamp, step, is_nan (newest value per key)
    metrics: list[Any]
    #: run_id, key, value
    tags: list[Any]
    #: run_id, model_id, tags, then the dataset's name, digest, source_type, source, schema, profile
    inputs: list[Any]
    #: run_id, model_id, step
    outputs: list[Any]


def fetch_runs(s: Session, run_ids: list[str]) -> RunRows:
    """Everything stored about the given runs: one query per table (per 500 runs), whatever their size.

    Plain Core queries on the session's connection, fetched whole: no ORM objects and no
    per-row conversions for the tens of thousands of rows a page of results may hold
    (``is_nan`` stays the database's 0/1 or boolean).

    >>> svc.log_batch(alice, run_id, metrics=[Metric(f"m{i}", 0.5, ts) for i in range(50)])
    >>> with metastore.session() as s:
    ...     rows = fetch_runs(s, [run_id])
    >>> len(rows.metrics)
    50
    """
    out = RunRows([], [], [], [], [], [])
    conn = s.connection()
    r, p, lm, t = RunRow.__table__.c, ParamRow.__table__.c, LatestMetricRow.__table__.c, RunTagRow.__table__.c
    inp, ds, o = RunInputRow.__table__.c, DatasetRow.__table__.c, RunOutputRow.__table__.c
    is_nan = sa.type_coerce(lm.is_nan, sa.Integer)
    for ids in chunks(run_ids):
        out.runs.extend(
            conn.execute(
                sa.select(
                    r.run_id, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage
                ).where(r.run_id.in_(ids))
            ).all()
        )
        out.params.extend(conn.execute(sa.select(p.run_id, p.key, p.value).where(p.run_id.in_(ids))).all())
        out.metrics.extend(
            conn.execute(
                sa.select(lm.run_id, lm.key, lm.value, lm.timestamp, lm.step, is_nan).where(lm.run_id.in_(ids))
            ).all()
        )
        out.tags.extend(conn.execute(sa.select(t.run_id, t.key, t.value).where(t.run_id.in_(ids))).all())
        out.inputs.extend(
            conn.execute(
                sa.select(
                    inp.run_id,
                    inp.model_id,
                    inp.tags,
                    ds.name,
                    ds.digest,
                    ds.source_type,
                    ds.source,
                    ds.schema,
                    ds.profile,
                )
                .select_from(RunInputRow.__table__.outerjoin(DatasetRow.__table__, ds.id == inp.dataset_id))
                .where(inp.run_id.in_(ids))
                .order_by(inp.id)
            ).all()
        )
        out.outputs.extend(conn.execute(sa.select(o.run_id, o.model_id, o.step).where(o.run_id.in_(ids))).all())
    return out


def run_inputs(rows: RunRows) -> tuple[dict[str, list[DatasetInput]], dict[str, list[str]]]:
    """Dataset inputs and logged-model inputs per run, in the order they were logged."""
    datasets: dict[str, list[DatasetInput]] = {}
    models: dict[str, list[str]] = {}
    for run_id, model_id, input_tags, *dataset in rows.inputs:
        if model_id is not None:
            models.setdefault(run_id, []).append(model_id)
        elif dataset[0] is not None:
            datasets.setdefault(run_id, []).append(DatasetInput(Dataset(*dataset), dict(input_tags or {})))
    return datasets, models


def load_runs(s: Session, run_ids: list[str]) -> dict[str, Run]:
    """Full runs (params, latest metrics, tags, inputs, outputs) by id; unknown ids are left out."""
    rows = fetch_runs(s, run_ids)
    params: dict[str, dict[str, str]] = {}
    metrics: dict[str, dict[str, Metric]] = {}
    tags: dict[str, dict[str, str]] = {}
    outputs: dict[str, list[ModelOutput]] = {}
    for run_id, key, value in rows.params:
        params.setdefault(run_id, {})[key] = value
    for run_id, key, value, ts, step, nan in rows.metrics:
        metrics.setdefault(run_id, {})[key] = Metric(key, _NAN if nan else value, ts, step)
    for run_id, key, value in rows.tags:
        tags.setdefault(run_id, {})[key] = value
    inputs, model_inputs = run_inputs(rows)
    for run_id, model_id, step in rows.outputs:
        outputs.setdefault(run_id, []).append(ModelOutput(model_id, step))
    return {
        run_id: Run(
            run_id,
            str(exp),
            name,
            user,
            status,
            start,
            end,
            stage,
            params.get(run_id, {}),
            metrics.get(run_id, {}),
            tags.get(run_id, {}),
            inputs.get(run_id, []),
            model_inputs.get(run_id, []),
            outputs.get(run_id, []),
        )
        for run_id, exp, name, user, status, start, end, stage in rows.runs
    }


def experiment_query() -> sa.Select:
    return sa.select(ExperimentRow, SecurableRow.full_name, SecurableRow.owner, SecurableRow.spec).join(
        SecurableRow, SecurableRow.id == ExperimentRow.securable_id
    )


def load_experiments(s: Session, query: sa.Select) -> list[Experiment]:
    """Experiments (with tags) for an :func:`experiment_query`, in its order."""
    found = s.execute(query).all()
    tags: dict[int, dict[str, str]] = {}
    ids = [row.id for row, *_ in found]
    for part in chunks(ids):
        for exp_id, key, value in s.execute(
            sa.select(ExperimentTagRow.experiment_id, ExperimentTagRow.key, ExperimentTagRow.value).where(
                ExperimentTagRow.experiment_id.in_(part)
            )
        ):
            tags.setdefault(exp_id, {})[key] = value
    return [
        Experiment(
            str(row.id),
            row.name,
            full_name,
            owner,
            row.lifecycle_stage,
            row.creation_time,
            row.last_update_time,
            tags.get(row.id, {}),
            (spec or {}).get("artifact_location"),
        )
        for row, full_name, owner, spec in found
    ]


def load_logged_models(s: Session, rows: Iterable[LoggedModelRow]) -> list[LoggedModel]:
    rows = list(rows)
    ids = [r.model_id for r in rows]
    tags: dict[str, dict[str, str]] = {}
    params: dict[str, dict[str, str]] = {}
    metrics: dict[str, list[Metric]] = {}
    m = LoggedModelMetricRow
    for part in chunks(ids):
        for model_id, key, value in s.execute(
            sa.select(LoggedModelTagRow.model_id, LoggedModelTagRow.key, LoggedModelTagRow.value).where(
                LoggedModelTagRow.model_id.in_(part)
            )
        ):
            tags.setdefault(model_id, {})[key] = value
        for model_id, key, value in s.execute(
            sa.select(LoggedModelParamRow.model_id, LoggedModelParamRow.key, LoggedModelParamRow.value).where(
                LoggedModelParamRow.model_id.in_(part)
            )
        ):
            params.setdefault(model_id, {})[key] = value
        for row in s.execute(
            sa.select(
                m.model_id, m.key, m.value, m.is_nan, m.timestamp, m.step, m.dataset_name, m.dataset_digest, m.run_id
            )
            .where(m.model_id.in_(part))
            .order_by(m.id)
        ):
            model_id, key, number, is_nan, ts, step, dname, ddigest, run_id = row
            metrics.setdefault(model_id, []).append(
                Metric(key, _NAN if is_nan else number, ts, step, model_id, dname, ddigest, run_id)
            )
    return [
        LoggedModel(
            r.model_id,
            str(r.experiment_id),
            r.name,
            r.creation_time,
            r.last_updated_time,
            cast(LoggedModelStatus, r.status),
            cast(Lifecycle, r.lifecycle_stage),
            r.creator,
            r.model_type,
            r.source_run_id,
            r.status_message,
            tags.get(r.model_id, {}),
            params.get(r.model_id, {}),
            metrics.get(r.model_id, []),
        )
        for r in rows
    ]

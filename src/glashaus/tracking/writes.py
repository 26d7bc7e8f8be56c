"""What logging writes: a run's params, metrics and tags, inside the caller's transaction.

Params are immutable (a key logged again must keep its value). Each metric value goes
to the history once (MLflow's primary key: key, step, timestamp, value) and may
replace the run's newest value of that key (by step, then timestamp, then value);
values about a logged model are also kept for that model.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from glashaus.errors import InvalidArgumentError
from glashaus.tracking.entities import RUN_NAME_TAG, Metric
from glashaus.tracking.records import stored_value
from glashaus.tracking.rows import LatestMetricRow, LoggedModelMetricRow, MetricRow, ParamRow, RunRow, RunTagRow


def write_batch(
    s: Session, run_id: str, metrics: list[Metric], params: list[tuple[str, str]], tags: list[tuple[str, str]]
) -> None:
    """Params (refusing changed values), metrics (history and newest) and tags of one run, in ``s``."""
    if params:
        keys = [k for k, _ in params]
        existing = dict(
            s.execute(
                sa.select(ParamRow.key, ParamRow.value).where(ParamRow.run_id == run_id, ParamRow.key.in_(keys))
            ).all()
        )
        changed = [
            {"key": k, "old_value": existing[k], "new_value": v}
            for k, v in params
            if k in existing and existing[k] != v
        ]
        if changed:
            raise InvalidArgumentError(
                f"Changing param values is not allowed. Params were already logged='{changed}' for run ID='{run_id}'."
            )
        new = [{"run_id": run_id, "key": k, "value": v} for k, v in params if k not in existing]
        if new:
            s.execute(sa.insert(ParamRow), new)
    if metrics:
        write_metrics(s, run_id, metrics)
    if tags:
        name = dict(tags).get(RUN_NAME_TAG)
        if name:
            s.execute(sa.update(RunRow).where(RunRow.run_id == run_id).values(name=name[:250]))
        upsert(s, RunTagRow, run_id, dict(tags))


def write_metrics(s: Session, run_id: str, metrics: list[Metric]) -> None:
    history: dict[tuple[str, int, int, float, bool], dict[str, Any]] = {}
    about_models: list[dict[str, Any]] = []
    newest: dict[str, tuple[int, int, float, bool]] = {}
    for m in metrics:
        value, is_nan = stored_value(m.value)
        step, ts = int(m.step), int(m.timestamp)
        # The same value at the same step and time is one history entry (MLflow's primary key).
        history.setdefault(
            (m.key, step, ts, value, is_nan),
            {"run_id": run_id, "key": m.key, "value": value, "timestamp": ts, "step": step, "is_nan": is_nan},
        )
        if m.model_id:
            about_models.append(
                {
                    "model_id": m.model_id,
                    "run_id": run_id,
                    "key": m.key,
                    "value": value,
                    "timestamp": ts,
                    "step": step,
                    "is_nan": is_nan,
                    "dataset_name": m.dataset_name,
                    "dataset_digest": m.dataset_digest,
                }
            )
        if m.key not in newest or (step, ts, value) > newest[m.key][:3]:
            newest[m.key] = (step, ts, value, is_nan)
    s.execute(insert_new(s, MetricRow), list(history.values()))
    if about_models:
        s.execute(sa.insert(LoggedModelMetricRow), about_models)
    lm = LatestMetricRow
    current = {
        key: (step, ts, value)
        for key, step, ts, value in s.execute(
            sa.select(lm.key, lm.step, lm.timestamp, lm.value).where(lm.run_id == run_id, lm.key.in_(list(newest)))
        )
    }
    inserts, updates = [], []
    for key, (step, ts, value, is_nan) in newest.items():
        row = {"run_id": run_id, "key": key, "value": value, "timestamp": ts, "step": step, "is_nan": is_nan}
        if key not in current:
            inserts.append(row)
        elif (step, ts, value) > current[key]:
            updates.append(row)
    if inserts:
        s.execute(sa.insert(LatestMetricRow), inserts)
    if updates:
        s.execute(sa.update(LatestMetricRow), updates)


def insert_new(s: Session, table: Any) -> Any:  # Any: a mapped class (its __table__)
    """An INSERT that skips rows whose unique key exists already (SQLite and PostgreSQL)."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(table.__table__).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sa.insert(table.__table__).prefix_with("OR IGNORE")
    return sa.insert(table.__table__)


def upsert(s: Session, table: Any, run_id: str, values: dict[str, str]) -> None:  # a (run_id, key, value) class
    """Insert or replace ``key -> value`` rows of a (run_id, key) table."""
    existing = set(s.scalars(sa.select(table.key).where(table.run_id == run_id, table.key.in_(list(values)))))
    new = [{"run_id": run_id, "key": k, "value": v} for k, v in values.items() if k not in existing]
    old = [{"run_id": run_id, "key": k, "value": v} for k, v in values.items() if k in existing]
    if new:
        s.execute(sa.insert(table), new)
    if old:
        s.execute(sa.update(table), old)

"""``system.ml.runs`` and ``system.ml.metrics``: runs and metrics as tables in SQL.

They are computed from the metastore when a query names them (always current, no copy
to keep in sync) and hold only what the reader may see: the runs of experiments on
which the reader has EXECUTE. Each experiment that contributes rows is authorized and
audited (``sql.select.system_ml``), like a table read.

>>> lh.sql("SELECT experiment, run_name, metrics['rmse'] FROM system.ml.runs "
...        "ORDER BY metrics['rmse'] LIMIT 5").fetchall()
[('main.shop.reco_training', 'baseline', None)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from glashaus.access import Principal
from glashaus.access.guard import Check
from glashaus.catalog.rows import SecurableRow
from glashaus.tracking.rows import ExperimentRow, LatestMetricRow, MetricRow, ParamRow, RunRow, RunTagRow

RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("experiment_id", pa.string()),
        ("experiment", pa.string()),
        ("run_name", pa.string()),
        ("user_id", pa.string()),
        ("status", pa.string()),
        ("start_time", pa.timestamp("ms", tz="UTC")),
        ("end_time", pa.timestamp("ms", tz="UTC")),
        ("lifecycle_stage", pa.string()),
        ("params", pa.map_(pa.string(), pa.string())),
        ("metrics", pa.map_(pa.string(), pa.float64())),
        ("tags", pa.map_(pa.string(), pa.string())),
    ]
)
METRICS = pa.schema(
    [
        ("run_id", pa.string()),
        ("experiment", pa.string()),
        ("key", pa.string()),
        ("value", pa.float64()),
        ("step", pa.int64()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
    ]
)
_BATCH = 500  # ids per IN (...) list

#: Each experiment contributing rows to a query of system.ml.* is a read of it.
SELECT_SYSTEM_ML = Check("EXECUTE", "sql.select.system_ml", kinds=("experiment",))


def readable_experiments(service: Any, who: Principal) -> dict[int, str]:
    """Experiment id -> securable name, for the experiments ``who`` may EXECUTE (each authorized, audited)."""
    with service.metastore.session() as s:
        rows = s.execute(
            sa.select(ExperimentRow.id, SecurableRow.full_name).join(
                SecurableRow, SecurableRow.id == ExperimentRow.securable_id
            )
        ).all()
    readable = {}
    for experiment_id, full_name in rows:
        securable = service.guard.find(who, full_name, kinds=("experiment",), details=False)
        if service.access.allows(who, "EXECUTE", securable):
            service.guard.allow(who, SELECT_SYSTEM_ML, securable, details={"experiment_id": str(experiment_id)})
            readable[experiment_id] = full_name
    return readable


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + _BATCH] for i in range(0, len(values), _BATCH)] or [[]]


def runs_table(service: Any, who: Principal) -> pa.Table:
    """Every run the reader may see, one row each, with its params, latest metrics and tags as maps."""
    experiments = readable_experiments(service, who)
    runs: list[Any] = []
    params: dict[str, list[tuple[str, str]]] = {}
    metrics: dict[str, list[tuple[str, float]]] = {}
    tags: dict[str, list[tuple[str, str]]] = {}
    with service.metastore.session() as s:
        for ids in _chunks(list(experiments)):
            runs += (
                s.execute(
                    sa.select(RunRow).where(RunRow.experiment_id.in_(ids)).order_by(RunRow.start_time, RunRow.run_id)
                )
                .scalars()
                .all()
            )
        run_ids = [r.run_id for r in runs]
        for ids in _chunks(run_ids):
            for p in s.execute(
                sa.select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(ParamRow.run_id.in_(ids))
            ):
                params.setdefault(p.run_id, []).append((p.key, p.value))
            for m in s.execute(
                sa.select(
                    LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value, LatestMetricRow.is_nan
                ).where(LatestMetricRow.run_id.in_(ids))
            ):
                metrics.setdefault(m.run_id, []).append((m.key, float("nan") if m.is_nan else m.value))
            for t in s.execute(
                sa.select(RunTagRow.run_id, RunTagRow.key, RunTagRow.value).where(RunTagRow.run_id.in_(ids))
            ):
                tags.setdefault(t.run_id, []).append((t.key, t.value))
    columns = {
        "run_id": [r.run_id for r in runs],
        "experiment_id": [str(r.experiment_id) for r in runs],
        "experiment": [experiments[r.experiment_id] for r in runs],
        "run_name": [r.name for r in runs],
        "user_id": [r.user_id for r in runs],
        "status": [r.status for r in runs],
        "start_time": [r.start_time for r in runs],
        "end_time": [r.end_time for r in runs],
        "lifecycle_stage": [r.lifecycle_stage for r in runs],
        "params": [sorted(params.get(r.run_id, [])) for r in runs],
        "metrics": [sorted(metrics.get(r.run_id, [])) for r in runs],
        "tags": [sorted(tags.get(r.run_id, [])) for r in runs],
    }
    return pa.table(columns, schema=RUNS)


def metrics_table(service: Any, who: Principal) -> pa.Table:
    """Every metric value (the whole history: one row per key, step and timestamp) of the runs the reader may see."""
    experiments = readable_experiments(service, who)
    rows: list[Any] = []
    with service.metastore.session() as s:
        for ids in _chunks(list(experiments)):
            rows += s.execute(
                sa.select(
                    MetricRow.run_id,
                    RunRow.experiment_id,
                    MetricRow.key,
                    MetricRow.value,
                    MetricRow.is_nan,
                    MetricRow.step,
                    MetricRow.timestamp,
                )
                .join(RunRow, RunRow.run_id == MetricRow.run_id)
                .where(RunRow.experiment_id.in_(ids))
                .order_by(MetricRow.run_id, MetricRow.key, MetricRow.step, MetricRow.timestamp)
            ).all()
    return pa.table(
        {
            "run_id": [r.run_id for r in rows],
            "experiment": [experiments[r.experiment_id] for r in rows],
            "key": [r.key for r in rows],
            "value": [float("nan") if r.is_nan else r.value for r in rows],
            "step": [r.step for r in rows],
            "timestamp": [r.timestamp for r in rows],
        },
        schema=METRICS,
    )


def providers(service: Any) -> dict[str, Callable[[Principal], pa.Table]]:
    """The virtual system tables this capability offers to SQL, by full name."""
    return {
        "system.ml.runs": lambda who: runs_table(service, who),
        "system.ml.metrics": lambda who: metrics_table(service, who),
    }

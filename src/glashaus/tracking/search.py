"""MLflow's run search (filter strings, ``order_by``) as one SQL query over the metastore.

MLflow's own parser (``SearchUtils``) reads the filter and the ordering; this module
only turns its parsed clauses into SQLAlchemy expressions, every value a bound
parameter. Semantics follow MLflow's SQL store:

- ``metrics.x > 0.5`` compares the newest value of ``x``; a NaN matches only ``!=``;
- ``params``/``tags`` take ``=``, ``!=``, ``LIKE``, ``ILIKE``, ``IS NULL``, ``IS NOT NULL``;
  ``LIKE`` is case-sensitive on every database (SQLite uses GLOB for it);
- attributes: ``status``, ``run_name``, ``user_id``, ``run_id`` (also ``IN``),
  ``start_time``, ``end_time`` (and the aliases ``created``, ``Run name``);
- ``datasets.name|digest|context``;
- ordering: the given keys (missing values last, NaN just before them), then
  ``start_time DESC`` and ``run_id``.

>>> query = run_query([1], filter_string="metrics.rmse < 0.3", order_by=["metrics.rmse"],
...                   view="active", dialect="sqlite")
>>> "metrics" in str(query)
True
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from glashaus.catalog.names import check_int64
from glashaus.errors import InvalidArgumentError
from glashaus.tracking.rows import DatasetRow, LatestMetricRow, ParamRow, RunInputRow, RunRow, RunTagRow
from glashaus.tracking.rules import mlflow_rules, search_utils

_ATTRIBUTES = {
    "run_id": RunRow.run_id,
    "run_name": RunRow.name,
    "status": RunRow.status,
    "user_id": RunRow.user_id,
    "start_time": RunRow.start_time,
    "end_time": RunRow.end_time,
}
# Row classes with run_id, key and value columns (Any: mypy has no structural type for mapped classes).
_ENTITIES: dict[str, Any] = {"metric": LatestMetricRow, "parameter": ParamRow, "tag": RunTagRow}


def _glob(pattern: str) -> str:
    """A LIKE pattern as a (case-sensitive) SQLite GLOB pattern."""
    return "".join({"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(ch, ch) for ch in pattern)


def compare(column: Any, comparator: str, value: Any, dialect: str) -> Any:
    """``column <comparator> value`` with MLflow's comparators (value bound, never pasted)."""
    if comparator == "LIKE":
        return column.op("GLOB")(_glob(value)) if dialect == "sqlite" else column.like(value)
    if comparator == "ILIKE":
        return column.ilike(value)
    if comparator == "IN":
        return column.in_(list(value))
    if comparator == "NOT IN":
        return ~column.in_(list(value))
    ops = {
        "=": column.__eq__,
        "!=": column.__ne__,
        ">": column.__gt__,
        ">=": column.__ge__,
        "<": column.__lt__,
        "<=": column.__le__,
    }
    if comparator not in ops:
        raise InvalidArgumentError(f"unsupported comparator {comparator!r} in the filter.")
    return ops[comparator](value)


def _attribute(key: str) -> Any:
    if key == "artifact_uri":
        raise InvalidArgumentError(
            "searching or ordering runs by artifact_uri is not supported; "
            "filter on run_id, run_name, status, user_id, start_time or end_time."
        )
    return _ATTRIBUTES[key]


def filters(filter_string: str | None, dialect: str) -> list[Any]:
    """SQL conditions on ``ml_runs`` for an MLflow filter string (AND-ed together)."""
    if not filter_string:
        return []
    utils = search_utils().SearchUtils
    conditions = []
    with mlflow_rules():
        parsed = utils.parse_search_filter(filter_string)
        for clause in parsed:
            type_, comparator, value = clause["type"], clause["comparator"].upper(), clause["value"]
            key = utils.translate_key_alias(clause["key"])
            if utils.is_string_attribute(type_, key, comparator) or utils.is_numeric_attribute(type_, key, comparator):
                if isinstance(value, int):  # bound as a 64-bit integer: a larger one is the caller's error
                    value = check_int64(value, what=f"the value compared with {key}")
                conditions.append(compare(_attribute(key), comparator, value, dialect))
            elif utils.is_dataset(type_, comparator):
                column = {"name": DatasetRow.name, "digest": DatasetRow.digest, "context": RunInputRow.context}[key]
                conditions.append(
                    sa.select(RunInputRow.id)
                    .join(DatasetRow, DatasetRow.id == RunInputRow.dataset_id)
                    .where(RunInputRow.run_id == RunRow.run_id, compare(column, comparator, value, dialect))
                    .exists()
                )
            elif (
                utils.is_metric(type_, comparator)
                or utils.is_param(type_, comparator)
                or utils.is_tag(type_, comparator)
            ):
                entity = _ENTITIES[type_]
                where = [entity.run_id == RunRow.run_id, entity.key == key]
                if comparator in ("IS NULL", "IS NOT NULL"):
                    exists = sa.select(entity.run_id).where(*where).exists()
                    conditions.append(~exists if comparator == "IS NULL" else exists)
                    continue
                if entity is LatestMetricRow:
                    try:
                        value = float(value)
                    except (TypeError, ValueError):
                        raise InvalidArgumentError(
                            f"metric {key!r} must be compared with a number, got {value!r}."
                        ) from None
                    test = compare(entity.value, comparator, value, dialect)
                    # A NaN is stored as 0: it satisfies only '!='.
                    test = (
                        sa.or_(test, entity.is_nan.is_(True))
                        if comparator == "!="
                        else sa.and_(test, entity.is_nan.is_(False))
                    )
                else:
                    test = compare(entity.value, comparator, value, dialect)
                conditions.append(sa.select(entity.run_id).where(*where, test).exists())
            else:
                raise InvalidArgumentError(f"Invalid search expression type '{type_}'.")
    return conditions


def run_query(
    experiment_ids: list[int],
    *,
    filter_string: str | None,
    order_by: list[str] | None,
    view: str,
    dialect: str,
) -> sa.Select:
    """``SELECT run_id FROM ml_runs ...`` filtered and ordered as MLflow would.

    Built once per distinct search (MLflow's parser is slow next to the query itself,
    and a client paging or polling asks the same again): a ``Select`` is immutable, and
    every value in it is a bound parameter. Bad input raises every time (errors are not kept).
    """
    return _run_query(tuple(experiment_ids), filter_string, tuple(order_by or ()), view, dialect)


@functools.lru_cache(maxsize=256)
def _run_query(
    experiment_ids: tuple[int, ...], filter_string: str | None, order_by: tuple[str, ...], view: str, dialect: str
) -> sa.Select:
    query = sa.select(RunRow.run_id).where(RunRow.experiment_id.in_(experiment_ids))
    if view != "all":
        query = query.where(RunRow.lifecycle_stage == view)
    query = query.where(*filters(filter_string, dialect))
    utils = search_utils().SearchUtils
    ordering: list[Any] = []
    seen: set[tuple[str, str]] = set()
    with mlflow_rules():
        for n, clause in enumerate(order_by):
            type_, key, ascending = utils.parse_order_by_for_search_runs(clause)
            key = utils.translate_key_alias(key)
            if (type_, key) in seen:
                raise InvalidArgumentError(f"`order_by` contains duplicate fields: {list(order_by)}")
            seen.add((type_, key))
            if type_ == "attribute":
                column = _attribute(key)
                missing = sa.case((column.is_(None), 1), else_=0)
            else:
                entity = aliased(_ENTITIES[type_], name=f"order_{n}")
                query = query.outerjoin(entity, sa.and_(entity.run_id == RunRow.run_id, entity.key == key))
                column = entity.value
                missing = (
                    sa.case((entity.is_nan.is_(True), 1), (column.is_(None), 2), else_=0)
                    if type_ == "metric"
                    else sa.case((column.is_(None), 1), else_=0)
                )
            ordering += [missing, column if ascending else column.desc()]
    if ("attribute", "start_time") not in seen:
        ordering.append(RunRow.start_time.desc())
    ordering.append(RunRow.run_id)
    return query.order_by(*ordering)

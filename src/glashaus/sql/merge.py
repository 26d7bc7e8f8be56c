"""Translating ``MERGE INTO`` clauses into delta-rs merge builder calls.

Conditions and values must be plain comparisons and expressions over the target and
source columns (see :mod:`glashaus.sql.delta_expr`); anything computed belongs in the
``USING`` subquery, which DuckDB evaluates.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from glashaus.catalog.names import validate_part
from glashaus.errors import SqlError
from glashaus.sql.delta_expr import quote, to_delta
from glashaus.sql.resolve import DIALECT


def merge_assignments(whens: exp.Expr | None, source_alias: str, source_columns: list[str]) -> set[tuple[str, str]]:
    """(source column, target column) pairs that MERGE clauses copy or compute from the source."""
    pairs: set[tuple[str, str]] = set()
    for when in whens.expressions if whens is not None else []:
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            if not then.expressions or isinstance(then.expressions[0], exp.Star):
                pairs |= {(c, c) for c in source_columns}
                continue
            assigned = [(eq.this.name.lower(), eq.expression) for eq in then.expressions]
        elif isinstance(then, exp.Insert):
            if then.this is None or isinstance(then.this, exp.Star):
                pairs |= {(c, c) for c in source_columns}
                continue
            values = then.expression.expressions if isinstance(then.expression, exp.Tuple) else [then.expression]
            assigned = [(c.name.lower(), v) for c, v in zip(then.this.expressions, values, strict=False)]
        else:
            continue
        for target_column, value in assigned:
            for column in value.find_all(exp.Column):
                if column.table.lower() == source_alias:
                    pairs.add((column.name.lower(), target_column))
    return pairs


def merge_clause(when: exp.When, qualifiers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    matched = bool(when.args.get("matched"))
    by_source = bool(when.args.get("source"))
    condition = when.args.get("condition")
    kwargs: dict[str, Any] = {}
    if condition is not None:
        translated = to_delta(condition, qualifiers=qualifiers)
        if translated is None:
            raise SqlError(f"MERGE condition {condition.sql(DIALECT)!r} is too complex; use plain comparisons.")
        kwargs["predicate"] = translated
    then = when.args.get("then")
    if (isinstance(then, exp.Var) and then.name.upper() == "DELETE") or (isinstance(then, exp.Delete)):
        if not matched and not by_source:
            raise SqlError("WHEN NOT MATCHED cannot DELETE: there is no target row to delete.")
        return ("when_not_matched_by_source_delete" if by_source else "when_matched_delete"), kwargs
    if isinstance(then, exp.Update):
        if not then.expressions or isinstance(then.expressions[0], exp.Star):
            return "when_matched_update_all", kwargs
        updates = {}
        for eq in then.expressions:
            column = validate_part(eq.this.name, what="column")
            value = to_delta(eq.expression, qualifiers=qualifiers)
            if value is None:
                raise SqlError(
                    f"MERGE SET {column} = {eq.expression.sql(DIALECT)} is too complex; compute it in USING."
                )
            updates[quote(column)] = value
        kwargs["updates"] = updates
        return ("when_not_matched_by_source_update" if by_source else "when_matched_update"), kwargs
    if isinstance(then, exp.Insert):
        if isinstance(then.this, exp.Star) or then.this is None:
            return "when_not_matched_insert_all", kwargs
        columns = [validate_part(c.name, what="column") for c in then.this.expressions]
        values = then.expression.expressions if isinstance(then.expression, exp.Tuple) else [then.expression]
        if len(columns) != len(values):
            raise SqlError("MERGE INSERT names a different number of columns and values.")
        updates = {}
        for column, value in zip(columns, values, strict=True):
            translated = to_delta(value, qualifiers=qualifiers)
            if translated is None:
                raise SqlError(f"MERGE INSERT value {value.sql(DIALECT)} is too complex; compute it in USING.")
            updates[quote(column)] = translated
        kwargs["updates"] = updates
        return "when_not_matched_insert", kwargs
    raise SqlError(f"unsupported MERGE clause: {when.sql(DIALECT)}")

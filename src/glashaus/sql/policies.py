"""ALTER TABLE ... SET/DROP ROW FILTER and ALTER COLUMN ... SET/DROP MASK: SQL faces over the tables service.

The forms (Unity Catalog's words, with an expression where Databricks names a function)::

    ALTER TABLE main.shop.orders SET ROW FILTER region = 'north' OR is_member('admins')
    ALTER TABLE main.shop.orders SET ROW FILTER (region = 'north')      -- parentheses optional
    ALTER TABLE main.shop.orders DROP ROW FILTER
    ALTER TABLE main.shop.customers ALTER COLUMN email SET MASK
        CASE WHEN is_member('pii_readers') THEN email ELSE '***' END
    ALTER TABLE main.shop.customers ALTER COLUMN email DROP MASK

The Glashaus dialect (``dialect.py``, ``statements.py``) parses each statement into a
``RowFilter`` or ``ColumnMask`` tree, keeping the expression as typed. This module
validates the table name and column part by part and passes the expression as text
to the same :meth:`TablesService.set_row_filter` / ``set_column_mask`` as
``lh.set_row_filter`` / ``lh.set_column_mask``, which authorize (``MANAGE``, audited)
and validate it (one expression over the table's columns: no queries, no other
tables, no file functions, no second statement). Nothing is pasted into SQL here.

Databricks' function forms (``SET ROW FILTER fn ON (col)``, ``SET MASK fn USING
COLUMNS (...)``) are refused with the expression form to write instead: Glashaus has
no SQL functions yet.

>>> _ = lh.sql("ALTER TABLE main.shop.orders SET ROW FILTER region = 'north'")
>>> lh.sql("SELECT DISTINCT region FROM main.shop.orders").fetchall()
[('north',)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard, cast

from sqlglot import exp

from glashaus.access import Principal
from glashaus.catalog.names import parse_name, validate_part
from glashaus.errors import InvalidArgumentError, SqlError
from glashaus.sql.result import Result
from glashaus.sql.statements import ColumnMask, RowFilter
from glashaus.sql.tokenreader import name_parts
from glashaus.tables.service import TablesService

Action = Literal["SET ROW FILTER", "DROP ROW FILTER", "SET MASK", "DROP MASK"]


@dataclass(frozen=True)
class PolicyStatement:
    """One validated statement: the table's full name, the column (masks), the expression (SET)."""

    action: Action
    table: str
    column: str | None = None
    expression: str | None = None
    #: The expression is one bare name: a column, or perhaps a SQL function named without arguments.
    name_only: bool = False


# -- reading -------------------------------------------------------------------------------


def handles(statement: exp.Expr) -> TypeGuard[RowFilter | ColumnMask]:
    """Whether a parsed statement is one of this module's."""
    return isinstance(statement, RowFilter | ColumnMask)


def from_statement(statement: RowFilter | ColumnMask) -> PolicyStatement:
    """Validate a parsed statement: a three-part table name, a valid column, an expression for SET."""
    table = _table_name(statement.this)
    column = None
    if isinstance(statement, ColumnMask):
        column = validate_part(statement.args["column"].name, what="column")
    action = cast(Action, f"{statement.args['action']} {'ROW FILTER' if column is None else 'MASK'}")  # SET or DROP
    if action in ("DROP ROW FILTER", "DROP MASK"):
        return PolicyStatement(action, table, column)
    function = statement.args.get("function")
    if function:
        _refuse_function_form(action, table, column, function)
    expression = statement.args.get("expression") or ""
    if not expression:
        example = (
            "region = 'north' OR is_member('admins')"
            if column is None
            else f"CASE WHEN is_member('pii_readers') THEN {column} ELSE '***' END"
        )
        raise SqlError(
            f"ALTER TABLE {table} {action} needs an expression, e.g. "
            f"ALTER TABLE {table} {_clause(action, column)} {example}."
        )
    return PolicyStatement(action, table, column, expression, bool(statement.args.get("name_only")))


def _table_name(table: exp.Table) -> str:
    parts = name_parts(table)
    if len(parts) != 3:
        raise SqlError(
            f"ALTER TABLE needs a three-part table name, catalog.schema.table "
            f"(e.g. main.shop.orders); got {'.'.join(parts)!r}."
        )
    clean = [validate_part(p, what="table name part") for p in parts]
    return parse_name(".".join(clean), allow_version=False).full


def _clause(action: Action, column: str | None) -> str:
    return action if column is None else f"ALTER COLUMN {column} {action}"


def _refuse_function_form(action: Action, table: str, column: str | None, function: str) -> None:
    example = (
        "region = 'north' OR is_member('admins')"
        if action == "SET ROW FILTER"
        else f"CASE WHEN is_member('pii_readers') THEN {column} ELSE '***' END"
    )
    raise SqlError(
        f"ALTER TABLE {table} {_clause(action, column)} {function} ... names a SQL function, as Databricks "
        f"does; Glashaus has no SQL functions yet. Write the expression itself instead (current_user() and "
        f"is_member('group') are available): ALTER TABLE {table} {_clause(action, column)} {example}."
    )


# -- running ---------------------------------------------------------------------------------


def execute(tables: TablesService, who: Principal, statement: PolicyStatement) -> Result:
    """Run one statement through the tables service, as ``who`` (MANAGE on the table, audited)."""
    table, column, expression = statement.table, statement.column, statement.expression
    if statement.action in ("SET ROW FILTER", "DROP ROW FILTER"):
        tables.set_row_filter(who, table, expression)
        message = f"row filter of {table} set" if expression is not None else f"{table} has no row filter now"
        return Result.status("ALTER TABLE", message, table=table)
    assert column is not None
    try:
        tables.set_column_mask(who, table, column, expression)
    except InvalidArgumentError as exc:
        if not statement.name_only:
            raise
        # A bare word that is not a column: most likely Databricks' function form.
        raise InvalidArgumentError(
            f"{exc} If {expression} is a SQL function: Glashaus has no SQL functions yet; write the mask "
            f"expression itself, e.g. ALTER TABLE {table} ALTER COLUMN {column} SET MASK "
            f"CASE WHEN is_member('pii_readers') THEN {column} ELSE '***' END."
        ) from None
    message = f"mask of {table}.{column} set" if expression is not None else f"{table}.{column} has no mask now"
    return Result.status("ALTER TABLE", message, table=table)

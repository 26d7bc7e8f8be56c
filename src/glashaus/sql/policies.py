"""ALTER TABLE ... SET/DROP ROW FILTER and ALTER COLUMN ... SET/DROP MASK: SQL faces over the tables service.

The forms (Unity Catalog's words, with an expression where Databricks names a function)::

    ALTER TABLE main.shop.orders SET ROW FILTER region = 'north' OR is_member('admins')
    ALTER TABLE main.shop.orders SET ROW FILTER (region = 'north')      -- parentheses optional
    ALTER TABLE main.shop.orders DROP ROW FILTER
    ALTER TABLE main.shop.customers ALTER COLUMN email SET MASK
        CASE WHEN is_member('pii_readers') THEN email ELSE '***' END
    ALTER TABLE main.shop.customers ALTER COLUMN email DROP MASK

sqlglot reads these as an opaque ``Command`` (or an ``Alter`` whose action is a
``Command``), so each statement's text is read by regexes anchored at both ends.
The table name and column are validated part by part; the expression is passed as
text to the same :meth:`TablesService.set_row_filter` / ``set_column_mask`` as
``lh.set_row_filter`` / ``lh.set_column_mask``, which authorize (``MANAGE``, audited)
and validate it (one expression over the table's columns: no queries, no other
tables, no file functions, no second statement). Nothing is pasted into SQL here.

Databricks' function forms (``SET ROW FILTER fn ON (col)``, ``SET MASK fn USING
COLUMNS (...)``) are refused with the expression form to write instead: Glashaus has
no SQL functions yet.

>>> lh.sql("ALTER TABLE main.shop.orders SET ROW FILTER region = 'north'")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp

from glashaus.access import Principal
from glashaus.catalog.names import parse_name, validate_part
from glashaus.errors import InvalidArgumentError, SqlError
from glashaus.sql.resolve import DIALECT
from glashaus.sql.result import Result
from glashaus.tables.service import TablesService

Action = Literal["SET ROW FILTER", "DROP ROW FILTER", "SET MASK", "DROP MASK"]

_QUOTED = r"\"(?:[^\"]|\"\")*\""
_PART = rf"(?:[A-Za-z0-9_]+|{_QUOTED})"
_NAME = rf"{_PART}(?:\s*\.\s*{_PART})*"
_TABLE = rf"^\s*ALTER\s+TABLE\s+(?P<name>{_NAME})\s+"
_COLUMN = rf"(?:ALTER|CHANGE)(?:\s+COLUMN)?\s+(?P<column>{_PART})\s+"
_END = r"\s*;?\s*$"
_FORMS: list[tuple[Action, re.Pattern[str]]] = [
    ("SET ROW FILTER", re.compile(rf"{_TABLE}SET\s+ROW\s+FILTER\b\s*(?P<expression>.*?){_END}", re.I | re.S)),
    ("DROP ROW FILTER", re.compile(rf"{_TABLE}DROP\s+ROW\s+FILTER{_END}", re.I | re.S)),
    ("SET MASK", re.compile(rf"{_TABLE}{_COLUMN}SET\s+MASK\b\s*(?P<expression>.*?){_END}", re.I | re.S)),
    ("DROP MASK", re.compile(rf"{_TABLE}{_COLUMN}DROP\s+MASK{_END}", re.I | re.S)),
]
#: Statements that are ours to read (or to refuse with this module's syntax help).
_OURS = re.compile(
    r"^\s*ALTER\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+.*?\b(?:SET|DROP)\s+(?:ROW\s+FILTER|MASK)",
    re.I | re.S,
)
_LEADING_COMMENTS = re.compile(r"^\s*(?:/\*.*?\*/\s*)+", re.S)
# Databricks' forms that name a SQL function rather than giving an expression.
_FILTER_FUNCTION = re.compile(rf"^(?P<function>{_NAME})\s+ON\s*\(.*\)$", re.I | re.S)
_MASK_FUNCTION = re.compile(rf"^(?P<function>{_NAME})(?P<using>\s+USING\s+COLUMNS\s*\(.*\))?$", re.I | re.S)

_SYNTAX = (
    "ALTER TABLE <table> SET ROW FILTER <boolean expression>, ALTER TABLE <table> DROP ROW FILTER, "
    "ALTER TABLE <table> ALTER COLUMN <column> SET MASK <expression>, "
    "ALTER TABLE <table> ALTER COLUMN <column> DROP MASK"
)


@dataclass(frozen=True)
class PolicyStatement:
    """One validated statement: the table's full name, the column (masks), the expression (SET)."""

    action: Action
    table: str
    column: str | None = None
    expression: str | None = None


# -- reading -------------------------------------------------------------------------------


def handles(statement: exp.Expression) -> bool:
    """Whether a parsed statement is one of ours (sqlglot reads them as a Command or an Alter)."""
    return isinstance(statement, exp.Command | exp.Alter) and bool(_OURS.match(_text(statement)))


def from_statement(statement: exp.Expression) -> PolicyStatement:
    return read(_text(statement))


def read(sql: str) -> PolicyStatement:
    """Read one statement's text with the anchored forms; refuse anything else with the syntax."""
    if re.match(r"^\s*ALTER\s+(?:VIEW|MATERIALIZED\s+VIEW)\b", sql, re.I):
        raise SqlError("row filters and column masks are set on tables, not views: a view's readers see its "
                       "tables through the filters and masks of those tables (set them there, with ALTER TABLE).")
    for action, form in _FORMS:
        m = form.match(sql)
        if m is None:
            continue
        table = _table_name(m["name"])
        column = validate_part(_unquote(m["column"]), what="column") if "column" in form.groupindex else None
        if action in ("DROP ROW FILTER", "DROP MASK"):
            return PolicyStatement(action, table, column)
        expression = _strip_parentheses(m["expression"])
        if not expression:
            example = ("region = 'north' OR is_member('admins')" if column is None
                       else f"CASE WHEN is_member('pii_readers') THEN {column} ELSE '***' END")
            raise SqlError(f"ALTER TABLE {table} {action} needs an expression, e.g. "
                           f"ALTER TABLE {table} {_clause(action, column)} {example}.")
        _refuse_function_form(action, table, column, expression)
        return PolicyStatement(action, table, column, expression)
    first = " ".join(sql.split())[:120]
    raise SqlError(f"cannot read {first!r}. Supported forms: {_SYNTAX}. The expression may be written with or "
                   "without surrounding parentheses.")


def _text(statement: exp.Expression) -> str:
    if isinstance(statement, exp.Command):
        # The raw text sqlglot kept (it adds a leading comment as /* */ when regenerating).
        return f"{statement.this} {statement.args.get('expression') or ''}"
    return _LEADING_COMMENTS.sub("", statement.sql(dialect=DIALECT))


def _table_name(text: str) -> str:
    parts = [validate_part(_unquote(p.strip()), what="table name part") for p in re.findall(_PART, text)]
    if len(parts) != 3:
        raise SqlError(f"ALTER TABLE needs a three-part table name, catalog.schema.table "
                       f"(e.g. main.shop.orders); got {'.'.join(parts)!r}.")
    return parse_name(".".join(parts), allow_version=False).full


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def _strip_parentheses(text: str) -> str:
    """``(expr)`` -> ``expr`` when the first parenthesis closes at the very end (strings respected)."""
    text = text.strip()
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except sqlglot.errors.TokenError:
        return text  # the policy parser says what is wrong with it
    if len(tokens) < 2 or tokens[0].token_type != sqlglot.TokenType.L_PAREN:
        return text
    depth = 0
    for i, token in enumerate(tokens):
        if token.token_type == sqlglot.TokenType.L_PAREN:
            depth += 1
        elif token.token_type == sqlglot.TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                if i != len(tokens) - 1:
                    return text  # (a) OR (b): the parentheses are part of the expression
                return text[tokens[0].end + 1:tokens[-1].start].strip()
    return text


def _clause(action: Action, column: str | None) -> str:
    return action if column is None else f"ALTER COLUMN {column} {action}"


def _refuse_function_form(action: Action, table: str, column: str | None, expression: str) -> None:
    if action == "SET ROW FILTER":
        m = _FILTER_FUNCTION.match(expression)
        example = "region = 'north' OR is_member('admins')"
    else:
        m = _MASK_FUNCTION.match(expression)
        if m is not None and not m["using"] and "." not in m["function"]:
            return  # a bare name may be the column itself; the policy check tells a column from anything else
        example = f"CASE WHEN is_member('pii_readers') THEN {column} ELSE '***' END"
    if m is None:
        return
    raise SqlError(
        f"ALTER TABLE {table} {_clause(action, column)} {m['function']} ... names a SQL function, as Databricks "
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
        bare = expression is not None and _MASK_FUNCTION.match(expression)
        if not bare:
            raise
        # A bare word that is not a column: most likely Databricks' function form.
        raise InvalidArgumentError(
            f"{exc} If {expression} is a SQL function: Glashaus has no SQL functions yet; write the mask "
            f"expression itself, e.g. ALTER TABLE {table} ALTER COLUMN {column} SET MASK "
            f"CASE WHEN is_member('pii_readers') THEN {column} ELSE '***' END."
        ) from None
    message = f"mask of {table}.{column} set" if expression is not None else f"{table}.{column} has no mask now"
    return Result.status("ALTER TABLE", message, table=table)

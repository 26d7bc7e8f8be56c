"""Checks every piece of user SQL text gets before and after sqlglot reads it.

Used by the governed SQL engine (``sql/``) and by row filter and column mask
expressions (``access/policies.py``), so both refuse the same things the same way:

- **Nesting.** sqlglot's parser is recursive (about 25 Python frames per level of
  parentheses): a few dozen levels exhaust Python's recursion limit. Statements that
  nest parentheses, brackets, braces or CASE more than :data:`MAX_NESTING` levels deep
  are refused from their tokens, before parsing; a ``RecursionError`` from anything
  else that walks a deep tree becomes the same clear error (:func:`too_deep`).
- **Functions.** Functions that read files, run SQL text, or reveal the server's
  environment (settings, the lakehouse's paths, versions, statistics of rows a row
  filter hides) are refused wherever they appear (:func:`refused_function`).

>>> check_nesting("SELECT ((1))")
>>> refused_function("current_setting")[:41]
'function current_setting() is not allowed'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.tokens import Token

from glashaus.errors import GlashausError, SqlError, UngovernedAccessError

DIALECT = "duckdb"

#: Deepest nesting of parentheses, brackets, braces and CASE ... END a statement may have.
#: sqlglot reads about 40 levels with Python's default recursion limit; the rest is headroom
#: for the caller's own stack (a server thread, a notebook, a test runner).
MAX_NESTING = 30

_OPEN = {sqlglot.TokenType.L_PAREN, sqlglot.TokenType.L_BRACKET, sqlglot.TokenType.L_BRACE, sqlglot.TokenType.CASE}
_CLOSE = {sqlglot.TokenType.R_PAREN, sqlglot.TokenType.R_BRACKET, sqlglot.TokenType.R_BRACE, sqlglot.TokenType.END}


def nesting(text: str, *, tokens: Sequence[Token] | None = None) -> int:
    """How deeply ``text`` nests parentheses, brackets, braces and CASE (0 when it cannot be tokenized).

    ``tokens``: the text's tokens when the caller has them already (they are not read again).

    >>> nesting("SELECT (1 + (2)), CASE WHEN x THEN [1] END")
    2
    """
    if tokens is None:
        try:
            tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
        except sqlglot.errors.TokenError:
            return 0  # the parser says what is wrong with it
    depth = deepest = 0
    for token in tokens:
        if token.token_type in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type in _CLOSE:
            depth = max(depth - 1, 0)
    return deepest


def check_nesting(
    text: str,
    *,
    what: str = "the SQL statement",
    error: type[GlashausError] = SqlError,
    tokens: Sequence[Token] | None = None,
) -> None:
    """Refuse ``text`` (with ``error``) when it nests deeper than :data:`MAX_NESTING` levels."""
    depth = nesting(text, tokens=tokens)
    if depth > MAX_NESTING:
        raise error(
            f"{what} nests parentheses, brackets or CASE expressions {depth} levels deep; at most "
            f"{MAX_NESTING} levels are allowed. Flatten it: name intermediate results in a WITH clause, "
            "or use IN (...) lists and AND/OR chains instead of nesting."
        )


def too_deep(what: str = "the SQL statement", error: type[GlashausError] = SqlError) -> GlashausError:
    """The error for a statement too deep to read (a ``RecursionError`` while reading or rewriting it)."""
    return error(
        f"{what} is nested too deeply to be read (at most {MAX_NESTING} levels of parentheses, brackets, "
        "subqueries or CASE, and no extremely long chains of operators). Flatten it: name intermediate "
        "results in a WITH clause, or use IN (...) lists instead of long OR chains."
    )


# -- functions ----------------------------------------------------------------------------------

_FILE_FUNCTION = re.compile(r"^(read_|scan_|parquet_|glob$|sniff_|iceberg_|delta_)", re.IGNORECASE)
#: Functions that run SQL given as text: the text would escape every check here.
_SQL_TEXT_FUNCTIONS = {
    "query",
    "query_table",
    "json_execute_serialized_sql",
    "json_serialize_sql",
    "json_serialize_plan",
    "json_deserialize_sql",
}
#: Functions that reveal the server's environment (settings hold the lakehouse's root path, the
#: text of the current query holds the file paths of every table read) or the statistics of
#: rows a row filter hides (stats() reports the Parquet files' min/max).
_ENVIRONMENT_FUNCTIONS = {
    "current_setting",
    "current_query",
    "getenv",
    "getvariable",
    "which_secret",
    "version",
    "current_version",
    "current_database",
    "current_catalog",
    "current_schema",
    "current_schemas",
    "in_search_path",
    "pg_postmaster_start_time",
    "pg_conf_load_time",
    "get_block_size",
    "stats",
    "write_log",
    "parse_duckdb_log_message",
}
_ENVIRONMENT_PREFIX = re.compile(r"^(duckdb_|pragma_)", re.IGNORECASE)
#: sqlglot's typed nodes for some of them (they do not parse as Anonymous), by DuckDB's name.
_ENVIRONMENT_NODES = {
    getattr(exp, cls): name
    for cls, name in (
        ("CurrentVersion", "version"),
        ("CurrentDatabase", "current_database"),
        ("CurrentCatalog", "current_catalog"),
        ("CurrentSchema", "current_schema"),
        ("CurrentSchemas", "current_schemas"),
    )
    if hasattr(exp, cls)
}


def function_name(node: exp.Func) -> str:
    """The name DuckDB will call ``node`` by, lower case (``read_csv``, ``current_setting``, ``version``)."""
    if isinstance(node, exp.Anonymous):
        # A quoted name ("read_text"(...)) is the same function to DuckDB: compare the bare name.
        this = node.this
        return (this.name if isinstance(this, exp.Identifier) else str(this)).lower()
    if isinstance(node, exp.ReadCSV):
        return "read_csv"
    if isinstance(node, exp.ReadParquet):
        return "read_parquet"
    return _ENVIRONMENT_NODES.get(type(node)) or (node.sql_name() or "").lower()


def refused_function(name: str) -> str | None:
    """Why a function of this name may not appear in governed SQL, or None when it may.

    >>> refused_function("upper") is None
    True
    """
    name = name.lower()
    if _FILE_FUNCTION.match(name):
        return (
            f"function {name}() is not allowed: it reads files directly, which would bypass the catalog's "
            "access rules; query catalog tables by name instead (catalog.schema.table)."
        )
    if name in _SQL_TEXT_FUNCTIONS:
        return (
            f"function {name}() is not allowed: it runs SQL given as text, which would bypass the catalog's "
            "access rules; write the query itself, naming catalog tables (catalog.schema.table)."
        )
    if name in _ENVIRONMENT_FUNCTIONS or _ENVIRONMENT_PREFIX.match(name):
        return (
            f"function {name}() is not allowed: it reveals the server's settings, paths or file statistics, "
            "which governed SQL may not see; query catalog tables by name (catalog.schema.table), and ask an "
            "admin for server details."
        )
    return None


def check_functions(expression: exp.Expr) -> None:
    """Refuse functions that read files, run SQL text or reveal the environment, wherever they appear."""
    for node in expression.find_all(exp.Func):
        reason = refused_function(function_name(node))
        if reason is not None:
            raise UngovernedAccessError(reason)

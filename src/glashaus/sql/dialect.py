"""Glashaus SQL: DuckDB's dialect of sqlglot plus Unity Catalog's statements; the one parser of ``lh.sql``.

:class:`Glashaus` is a sqlglot dialect (``sqlglot.parse(sql, read="glashaus")``). Its
tokenizer is DuckDB's, with backticks quoting names as in Databricks
(`` `alice@example.com` ``). Its parser splits a script into statements exactly as
sqlglot does (at each ``;`` token, so a ``;`` inside a string, a quoted name or a
comment splits nothing), reads Glashaus's own statements (``statements.py``) and hands
every other statement to DuckDB's parser. :func:`parse` adds what the engine needs
around that: statements that reach outside the catalog are refused from their first
word before anything is parsed, and errors become :class:`SqlError`.

>>> [type(s).__name__ for s in parse("SELECT 1; SHOW GRANTS ON METASTORE")]
['Select', 'ShowGrants']
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Iterator, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.parsers.duckdb import DuckDBParser
from sqlglot.tokens import Token, TokenType

from glashaus.access.sqltext import check_nesting, too_deep
from glashaus.errors import SqlError, UngovernedAccessError
from glashaus.sql import statements

#: The dialect trees are generated in for DuckDB (Glashaus's own statements never reach DuckDB).
DIALECT = "duckdb"

#: First words of statements that reach outside the catalog (files, settings, extensions, databases).
_UNGOVERNED = frozenset(
    {
        "COPY",
        "ATTACH",
        "DETACH",
        "INSTALL",
        "LOAD",
        "EXPORT",
        "IMPORT",
        "PRAGMA",
        "SET",
        "RESET",
        "CALL",
        "CHECKPOINT",
        "VACUUM",
        "USE",
        "FORCE",
    }
)
# Kept as a regex on purpose: it runs only when sqlglot's tokenizer cannot read the text at all,
# so that an attempt like "COPY t TO '/x" (unclosed quote) is still refused and audited as one.
_UNGOVERNED_START = re.compile(
    r"^\s*(COPY|ATTACH|DETACH|INSTALL|LOAD|EXPORT|IMPORT|PRAGMA|SET|RESET|CALL|"
    r"CHECKPOINT|VACUUM|USE)\b",
    re.IGNORECASE,
)


class Glashaus(DuckDB):
    """DuckDB's SQL as sqlglot reads it, plus GRANT/REVOKE/SHOW GRANTS/OWNER TO, row filters, masks,
    CREATE/DROP CATALOG|VOLUME and SHOW CATALOGS|SCHEMAS|TABLES|VIEWS|VOLUMES (``statements.py``)."""

    class Tokenizer(DuckDB.Tokenizer):
        # Backticks quote names in Unity Catalog's statements; DuckDB's own statements refuse them (below).
        IDENTIFIERS = ['"', "`"]

    class Parser(DuckDBParser):  # DuckDB.Parser, by the name mypy accepts as a base class
        def parse(self, raw_tokens: list[Token], sql: str) -> list[exp.Expr | None]:
            """One tree per statement: ours from ``statements.py``, the others from DuckDB's parser."""
            check_nesting(sql, tokens=raw_tokens)  # before sqlglot's recursive parser sees the statements
            chunks = split(raw_tokens)
            edits = [e for chunk in chunks if not statements.reads(chunk) for e in _version_suffixes(chunk, sql)]
            if edits:  # t@v3 -> t VERSION AS OF 3 (DuckDB's statements only), then read the new text
                for start, end, text in reversed(edits):
                    sql = f"{sql[:start]}{text}{sql[end:]}"
                chunks = split(self.dialect.tokenize(sql))
            trees: list[exp.Expr | None] = []
            with quiet_fallback():
                for chunk in chunks:
                    if statements.reads(chunk):
                        trees.append(statements.read(chunk, sql))
                    else:
                        _refuse_backticks(chunk, sql)
                        trees.extend(super().parse(chunk, sql))
            return trees


def parse(sql: str) -> list[exp.Expr]:
    """The statements of ``sql`` as trees; ungoverned statements, syntax errors and deep nesting are refused.

    Raises :class:`UngovernedAccessError` when a statement starts with COPY, ATTACH, INSTALL,
    SET, ... (before anything is parsed, so a syntax error elsewhere cannot hide it), and
    :class:`SqlError` for anything sqlglot or the statement grammar cannot read.
    """
    dialect = _GLASHAUS
    try:
        tokens = dialect.tokenize(sql)
    except sqlglot.errors.TokenError as exc:
        start = _UNGOVERNED_START.match(sql)
        if start:
            raise _ungoverned(start.group(1).upper()) from None
        raise SqlError(f"SQL syntax error: {exc}.") from None
    word = ungoverned_verb(tokens)
    if word:
        raise _ungoverned(word)
    try:
        trees = dialect.parser().parse(tokens, sql)
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise SqlError(f"SQL syntax error{where}: {first.get('description', exc)}. Check the statement.") from None
    except sqlglot.errors.TokenError as exc:  # a rewritten t@v3 statement read again
        raise SqlError(f"SQL syntax error: {exc}.") from None
    except RecursionError:  # deep without brackets (NOT NOT ..., - - ...): the same answer
        raise too_deep() from None
    # A trailing comment after the last ';' parses as an empty statement: skip it.
    found = [t for t in trees if t is not None and not isinstance(t, exp.Semicolon)]
    if not found:
        raise SqlError("empty SQL statement.")
    return found


def split(tokens: Sequence[Token]) -> list[list[Token]]:
    """The statements of a script, as sqlglot's parser splits it (a ``;`` carrying a comment stays alone)."""
    chunks: list[list[Token]] = [[]]
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.SEMICOLON:
            if token.comments:
                chunks.append([token])
            if i < len(tokens) - 1:
                chunks.append([])
        else:
            chunks[-1].append(token)
    return chunks


def ungoverned_verb(tokens: Sequence[Token]) -> str | None:
    """The first word of any statement that reaches outside the catalog (comments skipped), else None."""
    for before, token in zip([None, *tokens], tokens, strict=False):
        if (before is None or before.token_type == TokenType.SEMICOLON) and token.token_type != TokenType.SEMICOLON:
            word = token.text.upper()
            if word in _UNGOVERNED and token.token_type not in (TokenType.STRING, TokenType.IDENTIFIER):
                return word
    return None


def _ungoverned(word: str) -> UngovernedAccessError:
    return UngovernedAccessError(
        f"{word} is not allowed: SQL may only reach catalog objects. "
        "Use lh.read/lh.write or the CLI to move data in and out."
    )


def _version_suffixes(tokens: Sequence[Token], sql: str) -> list[tuple[int, int, str]]:
    """``t@v3`` spans in one statement, with ``VERSION AS OF 3`` to put there (so that an alias may follow)."""
    edits = []
    for prev, at, version in zip(tokens, tokens[1:], tokens[2:], strict=False):
        digits = version.text[1:]
        if (
            at.token_type == TokenType.PARAMETER
            and at.text == "@"
            and prev.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
            and prev.end + 1 == at.start
            and at.end + 1 == version.start
            and version.text[:1] in ("v", "V")
            and digits.isascii()
            and digits.isdigit()
        ):
            edits.append((at.start, version.end + 1, f" VERSION AS OF {int(digits)}"))
    return edits


def _refuse_backticks(tokens: Sequence[Token], sql: str) -> None:
    """DuckDB quotes names with double quotes; a backtick-quoted name outside our statements is an error."""
    for token in tokens:
        if token.token_type == TokenType.IDENTIFIER and sql[token.start : token.start + 1] == "`":
            raise SqlError(
                f"SQL syntax error at line {token.line}, column {token.col}: `{token.text}` is quoted with "
                f'backticks; DuckDB SQL quotes names with double quotes ("{token.text}"). Backticks are read '
                "only in GRANT, REVOKE, SHOW, ALTER ... OWNER TO, row filter, mask, catalog and volume statements."
            )


# -- sqlglot's fallback warning ------------------------------------------------------------------------
# sqlglot logs "... Falling back to parsing as a 'Command'" for a statement it does not know. lh.sql
# refuses every such Command itself, naming the statements it supports, so the log line would only
# alarm an operator. It is dropped through logging's public filter API, and only for records emitted
# while this thread (or task) is inside Glashaus's parser: a context variable, not a global switch,
# so other threads' sqlglot warnings still go out.
_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("glashaus_sql_quiet", default=False)
_FALLBACK = "Falling back to parsing as a 'Command'"


class _FallbackFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_QUIET.get() and _FALLBACK in record.getMessage())


logging.getLogger("sqlglot").addFilter(_FallbackFilter())  # once, at import; it acts only inside quiet_fallback()


@contextlib.contextmanager
def quiet_fallback() -> Iterator[None]:
    """Drop sqlglot's Command-fallback warnings emitted by this thread (or task) while inside."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


_GLASHAUS = Glashaus()

"""The statements Glashaus adds to DuckDB's SQL, read from sqlglot's tokens into sqlglot trees.

DuckDB's dialect in sqlglot has no tree for Unity Catalog's governance statements; it
falls back to an opaque ``Command`` (or fails) for ``GRANT ... ON SCHEMA``, ``READ
VOLUME``, ``SHOW GRANTS``, ``ALTER ... OWNER TO``, row filters, column masks,
``CREATE CATALOG``/``VOLUME`` and ``SHOW TABLES IN ...``. sqlglot's parser has no
public hook that reads tokens (its cursor methods are private), so this module is a
small recursive descent over the tokens sqlglot's tokenizer gives (strings, quoting,
comments and escapes are sqlglot's; the cursor is ``tokenreader.py``), producing
sqlglot trees:

- ``GRANT``/``REVOKE``: sqlglot's own :class:`exp.Grant`/:class:`exp.Revoke`, shaped as
  sqlglot shapes the forms it knows (``ON METASTORE`` is a kind-less securable named
  ``METASTORE``), so one reader (``grants.from_ast``) serves both;
- ``CREATE``/``DROP CATALOG|VOLUME``: sqlglot's :class:`exp.Create`/:class:`exp.Drop`;
- the rest: the node types below.

Only syntax is checked here; names, privileges and principals are validated by the
modules that act on the trees (``grants.py``, ``policies.py``, ``engine.py``). The
dialect (``dialect.py``) decides which statements are read here (:func:`reads`).

>>> from glashaus.sql.dialect import parse
>>> parse("GRANT READ VOLUME ON VOLUME main.shop.files TO `ann@example.com`")[0].args["kind"]
'VOLUME'
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from glashaus.errors import SqlError
from glashaus.sql.tokenreader import TokenReader, closing, is_part, is_word, keyword, leading_name, to_table

GRANT_SYNTAX = (
    "GRANT <privilege>[, ...] ON {CATALOG|SCHEMA|TABLE|VIEW|VOLUME} <name> TO <principal>, "
    "GRANT <privilege> ON METASTORE TO <principal>, REVOKE <privilege>[, ...] ON ... FROM <principal>, "
    "SHOW GRANTS [<principal>] ON {METASTORE|<kind> <name>}, ALTER <kind> <name> OWNER TO <principal>"
)
POLICY_SYNTAX = (
    "ALTER TABLE <table> SET ROW FILTER <boolean expression>, ALTER TABLE <table> DROP ROW FILTER, "
    "ALTER TABLE <table> ALTER COLUMN <column> SET MASK <expression>, "
    "ALTER TABLE <table> ALTER COLUMN <column> DROP MASK"
)
CONTAINER_SYNTAX = (
    "CREATE {CATALOG|VOLUME} [IF NOT EXISTS] <name> [COMMENT '<text>'], "
    "DROP {CATALOG|VOLUME} [IF EXISTS] <name> [CASCADE]"
)
SHOW_SYNTAX = (
    "SHOW CATALOGS, SHOW SCHEMAS IN <catalog>, SHOW {TABLES|VIEWS|VOLUMES} IN <catalog.schema>, "
    "SHOW GRANTS [<principal>] ON {METASTORE|<kind> <name>}"
)
_GRANT_HINT = "Quote principals with backticks or double quotes (e.g. `alice@example.com`)."
_POLICY_HINT = "The expression may be written with or without surrounding parentheses."

#: Securable kinds written in GRANT, SHOW GRANTS and ALTER ... OWNER TO.
KINDS = ("CATALOG", "SCHEMA", "TABLE", "VIEW", "VOLUME")
_LISTS = ("CATALOGS", "SCHEMAS", "TABLES", "VIEWS", "VOLUMES")
#: Characters of a principal written without quotes (``alice@example.com``, ``svc-etl+1``).
_PRINCIPAL_CHARS = frozenset("_.@+-")


class ShowObjects(exp.Expression):
    """``SHOW CATALOGS`` / ``SHOW {SCHEMAS|TABLES|VIEWS|VOLUMES} [IN|FROM <parent>]``: this is the listed word."""

    arg_types = {"this": True, "parent": False}


class ShowGrants(exp.Expression):
    """``SHOW GRANTS [<principal>] ON ...``; kind and securable shaped as in :class:`exp.Grant`."""

    arg_types = {"principal": False, "kind": False, "securable": True}


class SetOwner(exp.Expression):
    """``ALTER <kind> <name> [SET] OWNER TO <principal>``."""

    arg_types = {"kind": True, "this": True, "principal": True}


class RowFilter(exp.Expression):
    """``ALTER TABLE <table> SET ROW FILTER <expression>`` (``expression`` as typed) or ``DROP ROW FILTER``.

    ``function`` holds the name when the filter names a SQL function (Databricks'
    ``SET ROW FILTER fn ON (columns)``), which Glashaus refuses with advice.
    """

    arg_types = {"this": True, "action": True, "expression": False, "function": False}


class ColumnMask(exp.Expression):
    """``ALTER TABLE <table> ALTER COLUMN <column> SET MASK <expression>`` or ``DROP MASK``.

    ``function`` holds the name of Databricks' function form (``SET MASK fn USING COLUMNS
    (...)``, ``SET MASK catalog.schema.fn``); ``name_only`` says the expression is one
    bare name (a column, or a function named without its arguments).
    """

    arg_types = {
        "this": True,
        "column": True,
        "action": True,
        "expression": False,
        "function": False,
        "name_only": False,
    }


# -- which statements are ours -----------------------------------------------------------------------


def reads(tokens: Sequence[Token]) -> bool:
    """Whether one statement's tokens are one of the statements read here (sqlglot reads the rest)."""
    words = [keyword(t) for t in tokens[:3]]
    first = words[0] if words else None
    if first in ("GRANT", "REVOKE", "SHOW"):
        return True
    if first in ("CREATE", "DROP"):
        return len(words) > 1 and words[1] in ("CATALOG", "VOLUME")
    if first == "ALTER" and len(words) > 1 and words[1] in (*KINDS, "MATERIALIZED"):
        return _alter_form(tokens) is not None
    return False


def _alter_form(tokens: Sequence[Token]) -> str | None:
    """'policy' for an ALTER that sets or drops a filter or mask, 'owner' for OWNER TO, else None."""
    words = [keyword(t) for t in tokens]
    kind = words[1] if len(words) > 1 else None
    for i, word in enumerate(words):
        # SET ROW ... / SET MASK: a misspelt form (SET ROW FILTERS) is still answered with this syntax
        if (
            kind in ("TABLE", "VIEW", "MATERIALIZED")
            and word in ("SET", "DROP")
            and words[i + 1 : i + 2] in (["ROW"], ["MASK"])
        ):
            return "policy"
    if any(a == "OWNER" and b == "TO" for a, b in itertools.pairwise(words)):
        return "owner"
    return None


def read(tokens: Sequence[Token], sql: str) -> exp.Expr:
    """The tree of one statement (its tokens, without the ``;``) that :func:`reads` accepted."""
    reader = TokenReader(tokens, sql)
    first = reader.word()
    if first in ("GRANT", "REVOKE"):
        return _grant(reader, first)
    if first == "SHOW":
        return _show(reader)
    if first in ("CREATE", "DROP"):
        return _container(reader, first)
    return _alter(reader)


# -- GRANT / REVOKE / SHOW GRANTS / OWNER TO ----------------------------------------------------------


def _grant(r: TokenReader, verb: str) -> exp.Expr:
    grant_option = verb == "REVOKE" and r.accept("GRANT", "OPTION", "FOR")
    privileges = [_privilege(r, verb)]
    while r.accept_type(TokenType.COMMA):
        privileges.append(_privilege(r, verb))
    if not r.accept("ON"):
        raise r.unreadable(GRANT_SYNTAX, _GRANT_HINT)
    kind, securable = _securable(r)
    prep = r.word()
    if prep not in ("TO", "FROM"):
        raise r.unreadable(GRANT_SYNTAX, _GRANT_HINT)
    if (verb, prep) not in (("GRANT", "TO"), ("REVOKE", "FROM")):
        raise SqlError(
            f"{verb} ... {prep} is not valid: write GRANT ... TO <principal> or REVOKE ... FROM <principal>."
        )
    principals = [_grantee(r)]
    while r.accept_type(TokenType.COMMA):
        principals.append(_grantee(r))
    args = {"privileges": privileges, "kind": kind, "securable": securable, "principals": principals}
    if verb == "GRANT":
        grant_option = r.accept("WITH", "GRANT", "OPTION")
        r.end(GRANT_SYNTAX, _GRANT_HINT)
        return exp.Grant(**args, grant_option=grant_option)
    cascade = r.word() if r.peek_word() in ("CASCADE", "RESTRICT") else None
    r.end(GRANT_SYNTAX, _GRANT_HINT)
    return exp.Revoke(**args, grant_option=grant_option, cascade=cascade)


def _privilege(r: TokenReader, verb: str) -> exp.GrantPrivilege:
    """Words up to ``,``, ``ON`` or ``(``: ``SELECT``, ``USE SCHEMA``, ``READ VOLUME``, ``ALL PRIVILEGES``."""
    words: list[str] = []
    while r.peek_word() != "ON" and is_word(r.peek()):
        words.append(r.word() or "")  # never None after is_word()
    if not words:
        raise SqlError(f"{verb} needs a comma-separated list of privileges, e.g. {verb} SELECT, MODIFY ON ...")
    columns = None
    if r.accept_type(TokenType.L_PAREN):  # a column list: refused by the reader, with advice
        columns = []
        while not r.accept_type(TokenType.R_PAREN):
            part = r.part()
            if part is None:
                raise r.unreadable(GRANT_SYNTAX, _GRANT_HINT)
            columns.append(exp.column(part))
            r.accept_type(TokenType.COMMA)
    return exp.GrantPrivilege(this=exp.var(" ".join(words)), expressions=columns)


def _securable(r: TokenReader) -> tuple[str | None, exp.Table]:
    """``METASTORE``, ``<kind> <name>`` or a name alone (kind None, refused by the reader)."""
    nxt = r.peek(1)
    if is_word(r.peek()) and nxt is not None and is_part(nxt) and keyword(nxt) not in ("TO", "FROM"):
        kind = r.word()
        return kind, to_table(r.name(GRANT_SYNTAX, _GRANT_HINT))
    return None, to_table(r.name(GRANT_SYNTAX, _GRANT_HINT))


def _grantee(r: TokenReader) -> exp.GrantPrincipal:
    kind = None
    nxt = r.peek(1)
    if r.peek_word() in ("ROLE", "GROUP") and nxt is not None and nxt.token_type != TokenType.COMMA:
        kind = r.word()
    return exp.GrantPrincipal(this=_principal(r), kind=kind)


def _principal(r: TokenReader) -> exp.Identifier:
    """A quoted name (backticks, double or single quotes) or an unquoted run like ``alice@example.com``."""
    token = r.peek()
    if token is None:
        raise r.unreadable(GRANT_SYNTAX, _GRANT_HINT)
    if token.token_type == TokenType.IDENTIFIER or token.token_type == TokenType.STRING:
        r.check_quotes(token)
        r.i += 1
        return exp.Identifier(this=token.text, quoted=True)
    run: list[Token] = []
    while token is not None and _principal_text(r.raw(token)) and (not run or run[-1].end + 1 == token.start):
        run.append(token)
        r.i += 1
        token = r.peek()
    if not run:
        raise r.unreadable(GRANT_SYNTAX, _GRANT_HINT)
    return exp.Identifier(this="".join(r.raw(t) for t in run), quoted=False)


def _principal_text(raw: str) -> bool:
    return bool(raw) and all(c.isalnum() or c in _PRINCIPAL_CHARS for c in raw)


def _show(r: TokenReader) -> exp.Expr:
    what = r.word()
    if what == "GRANTS":
        principal = None if r.peek_word() == "ON" else _principal(r)
        if not r.accept("ON"):
            raise r.unreadable(GRANT_SYNTAX, _GRANT_HINT)
        kind, securable = _securable(r)
        r.end(GRANT_SYNTAX, _GRANT_HINT)
        return ShowGrants(principal=principal, kind=kind, securable=securable)
    if what not in _LISTS:
        shown = f"SHOW {what}" if what else "SHOW without what to show"
        raise SqlError(f"{shown} is not supported. Supported: {SHOW_SYNTAX}.")
    parent = None
    if r.peek_word() in ("IN", "FROM"):
        if what == "CATALOGS":
            raise SqlError(
                "SHOW CATALOGS lists every catalog you can see; it takes no IN. "
                "Use SHOW SCHEMAS IN <catalog> for the schemas of one."
            )
        r.word()
        parent = to_table(r.name(SHOW_SYNTAX, ""))
    r.end(SHOW_SYNTAX, "")
    return ShowObjects(this=what, parent=parent)


# -- CREATE / DROP CATALOG | VOLUME --------------------------------------------------------------------


def _container(r: TokenReader, verb: str) -> exp.Expr:
    kind = r.word()
    if verb == "CREATE":
        exists = r.accept("IF", "NOT", "EXISTS")
        name = to_table(r.name(CONTAINER_SYNTAX, ""))
        properties = None
        if r.accept("COMMENT"):
            comment = r.peek()
            if comment is None or comment.token_type != TokenType.STRING:
                raise r.unreadable(CONTAINER_SYNTAX, "")
            r.i += 1
            properties = exp.Properties(expressions=[exp.SchemaCommentProperty(this=exp.Literal.string(comment.text))])
        r.end(CONTAINER_SYNTAX, "")
        return exp.Create(this=name, kind=kind, exists=exists, properties=properties)
    exists = r.accept("IF", "EXISTS")
    name = to_table(r.name(CONTAINER_SYNTAX, ""))
    cascade = r.accept("CASCADE")
    restrict = not cascade and r.accept("RESTRICT")
    r.end(CONTAINER_SYNTAX, "")
    return exp.Drop(this=name, kind=kind, exists=exists, cascade=cascade, restrict=restrict)


# -- ALTER: OWNER TO, ROW FILTER, MASK -------------------------------------------------------------------


def _alter(r: TokenReader) -> exp.Expr:
    form = _alter_form(r.tokens)
    kind = r.word()
    if kind == "MATERIALIZED":
        r.accept("VIEW")
        kind = "MATERIALIZED VIEW"
    if form == "policy" and kind != "TABLE":
        raise SqlError(
            "row filters and column masks are set on tables, not views: a view's readers see its "
            "tables through the filters and masks of those tables (set them there, with ALTER TABLE)."
        )
    syntax, hint = (POLICY_SYNTAX, _POLICY_HINT) if form == "policy" else (GRANT_SYNTAX, _GRANT_HINT)
    table = to_table(r.name(syntax, hint))
    if form == "owner" and (r.accept("OWNER", "TO") or r.accept("SET", "OWNER", "TO")):
        principal = _principal(r)
        r.end(syntax, hint)
        return SetOwner(kind=kind, this=table, principal=principal)
    if r.accept("SET", "ROW", "FILTER"):
        return RowFilter(this=table, action="SET", **_expression(r, "filter"))
    if r.accept("DROP", "ROW", "FILTER"):
        r.end(syntax, hint)
        return RowFilter(this=table, action="DROP")
    if r.peek_word() in ("ALTER", "CHANGE"):
        r.word()
        r.accept("COLUMN")
        column = r.part()
        if column is not None:
            if r.accept("SET", "MASK"):
                return ColumnMask(this=table, column=column, action="SET", **_expression(r, "mask"))
            if r.accept("DROP", "MASK"):
                r.end(syntax, hint)
                return ColumnMask(this=table, column=column, action="DROP")
    raise r.unreadable(syntax, hint)


def _expression(r: TokenReader, what: str) -> dict:
    """The rest of the statement as typed, without parentheses around all of it; or Databricks' function form."""
    tokens = list(r.tokens[r.i :])
    r.i = len(r.tokens)
    if tokens and tokens[0].token_type == TokenType.L_PAREN and closing(tokens, 0) == len(tokens) - 1:
        inner = r.sql[tokens[0].end + 1 : tokens[-1].start].strip()
        tokens = tokens[1:-1]
    else:
        inner = r.sql[tokens[0].start : tokens[-1].end + 1] if tokens else ""
    name = leading_name(tokens)
    rest = tokens[name:]
    function = r.sql[tokens[0].start : tokens[name - 1].end + 1] if name else None
    if what == "filter":
        # fn ON (columns)
        if (
            name
            and len(rest) >= 3
            and keyword(rest[0]) == "ON"
            and rest[1].token_type == TokenType.L_PAREN
            and closing(rest, 1) == len(rest) - 1
        ):
            return {"function": function}
        return {"expression": inner}
    # fn USING COLUMNS (columns), schema.fn, or a bare name (a column or a function: told apart later)
    using = (
        len(rest) >= 4
        and keyword(rest[0]) == "USING"
        and keyword(rest[1]) == "COLUMNS"
        and rest[2].token_type == TokenType.L_PAREN
        and closing(rest, 2) == len(rest) - 1
    )
    if name and (using or (not rest and name > 1)):
        return {"function": function}
    return {"expression": inner, "name_only": bool(name) and not rest}

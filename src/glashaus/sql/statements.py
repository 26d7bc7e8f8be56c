"""The statements Glashaus adds to DuckDB's SQL, read from sqlglot's tokens into sqlglot trees.

DuckDB's dialect in sqlglot has no tree for Unity Catalog's governance statements; it
falls back to an opaque ``Command`` (or fails) for ``GRANT ... ON SCHEMA``, ``READ
VOLUME``, ``SHOW GRANTS``, ``ALTER ... OWNER TO``, row filters, column masks,
``CREATE CATALOG``/``VOLUME`` and ``SHOW TABLES IN ...``. sqlglot's parser has no
public hook that reads tokens (its cursor methods are private), so this module is a
small recursive descent over the tokens sqlglot's tokenizer gives (strings, quoting,
comments and escapes are sqlglot's), producing sqlglot trees:

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
#: Tokens that are quoted or literal text, never a keyword (whatever their text says).
_LITERALS = frozenset({TokenType.IDENTIFIER, TokenType.NUMBER} | {t for t in TokenType if t.name.endswith("STRING")})
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

    arg_types = {"this": True, "column": True, "action": True, "expression": False, "function": False,
                 "name_only": False}


# -- which statements are ours -----------------------------------------------------------------------


def reads(tokens: Sequence[Token]) -> bool:
    """Whether one statement's tokens are one of the statements read here (sqlglot reads the rest)."""
    words = [_word(t) for t in tokens[:3]]
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
    words = [_word(t) for t in tokens]
    kind = words[1] if len(words) > 1 else None
    for i, word in enumerate(words):
        # SET ROW ... / SET MASK: a misspelt form (SET ROW FILTERS) is still answered with this syntax
        if kind in ("TABLE", "VIEW", "MATERIALIZED") and word in ("SET", "DROP") and \
                words[i + 1:i + 2] in (["ROW"], ["MASK"]):
            return "policy"
    if any(a == "OWNER" and b == "TO" for a, b in itertools.pairwise(words)):
        return "owner"
    return None


def read(tokens: Sequence[Token], sql: str) -> exp.Expression:
    """The tree of one statement (its tokens, without the ``;``) that :func:`reads` accepted."""
    reader = _Reader(tokens, sql)
    first = reader.word()
    if first in ("GRANT", "REVOKE"):
        return _grant(reader, first)
    if first == "SHOW":
        return _show(reader)
    if first in ("CREATE", "DROP"):
        return _container(reader, first)
    return _alter(reader)


# -- GRANT / REVOKE / SHOW GRANTS / OWNER TO ----------------------------------------------------------


def _grant(r: _Reader, verb: str) -> exp.Expression:
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
        raise SqlError(f"{verb} ... {prep} is not valid: write GRANT ... TO <principal> or "
                       "REVOKE ... FROM <principal>.")
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


def _privilege(r: _Reader, verb: str) -> exp.GrantPrivilege:
    """Words up to ``,``, ``ON`` or ``(``: ``SELECT``, ``USE SCHEMA``, ``READ VOLUME``, ``ALL PRIVILEGES``."""
    words = []
    while r.peek_word() != "ON" and _is_word(r.peek()):
        words.append(r.word())
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


def _securable(r: _Reader) -> tuple[str | None, exp.Table]:
    """``METASTORE``, ``<kind> <name>`` or a name alone (kind None, refused by the reader)."""
    nxt = r.peek(1)
    if _is_word(r.peek()) and nxt is not None and _is_part(nxt) and _word(nxt) not in ("TO", "FROM"):
        kind = r.word()
        return kind, _table(r.name(GRANT_SYNTAX, _GRANT_HINT))
    return None, _table(r.name(GRANT_SYNTAX, _GRANT_HINT))


def _grantee(r: _Reader) -> exp.GrantPrincipal:
    kind = None
    nxt = r.peek(1)
    if r.peek_word() in ("ROLE", "GROUP") and nxt is not None and nxt.token_type != TokenType.COMMA:
        kind = r.word()
    return exp.GrantPrincipal(this=_principal(r), kind=kind)


def _principal(r: _Reader) -> exp.Identifier:
    """A quoted name (backticks, double or single quotes) or an unquoted run like ``alice@example.com``."""
    token = r.peek()
    if token is None:
        raise r.unreadable(GRANT_SYNTAX, _GRANT_HINT)
    if token.token_type == TokenType.IDENTIFIER or token.token_type == TokenType.STRING:
        r.check_quotes(token)
        r.i += 1
        return exp.Identifier(this=token.text, quoted=True)
    run = []
    while token is not None and _principal_text(r.raw(token)) and (not run or run[-1].end + 1 == token.start):
        run.append(token)
        r.i += 1
        token = r.peek()
    if not run:
        raise r.unreadable(GRANT_SYNTAX, _GRANT_HINT)
    return exp.Identifier(this="".join(r.raw(t) for t in run), quoted=False)


def _principal_text(raw: str) -> bool:
    return bool(raw) and all(c.isalnum() or c in _PRINCIPAL_CHARS for c in raw)


def _show(r: _Reader) -> exp.Expression:
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
            raise SqlError("SHOW CATALOGS lists every catalog you can see; it takes no IN. "
                           "Use SHOW SCHEMAS IN <catalog> for the schemas of one.")
        r.word()
        parent = _table(r.name(SHOW_SYNTAX, ""))
    r.end(SHOW_SYNTAX, "")
    return ShowObjects(this=what, parent=parent)


# -- CREATE / DROP CATALOG | VOLUME --------------------------------------------------------------------


def _container(r: _Reader, verb: str) -> exp.Expression:
    kind = r.word()
    if verb == "CREATE":
        exists = r.accept("IF", "NOT", "EXISTS")
        name = _table(r.name(CONTAINER_SYNTAX, ""))
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
    name = _table(r.name(CONTAINER_SYNTAX, ""))
    cascade = r.accept("CASCADE")
    restrict = not cascade and r.accept("RESTRICT")
    r.end(CONTAINER_SYNTAX, "")
    return exp.Drop(this=name, kind=kind, exists=exists, cascade=cascade, restrict=restrict)


# -- ALTER: OWNER TO, ROW FILTER, MASK -------------------------------------------------------------------


def _alter(r: _Reader) -> exp.Expression:
    form = _alter_form(r.tokens)
    kind = r.word()
    if kind == "MATERIALIZED":
        r.accept("VIEW")
        kind = "MATERIALIZED VIEW"
    if form == "policy" and kind != "TABLE":
        raise SqlError("row filters and column masks are set on tables, not views: a view's readers see its "
                       "tables through the filters and masks of those tables (set them there, with ALTER TABLE).")
    syntax, hint = (POLICY_SYNTAX, _POLICY_HINT) if form == "policy" else (GRANT_SYNTAX, _GRANT_HINT)
    table = _table(r.name(syntax, hint))
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


def _expression(r: _Reader, what: str) -> dict:
    """The rest of the statement as typed, without parentheses around all of it; or Databricks' function form."""
    tokens = list(r.tokens[r.i:])
    r.i = len(r.tokens)
    if tokens and tokens[0].token_type == TokenType.L_PAREN and _closing(tokens, 0) == len(tokens) - 1:
        inner = r.sql[tokens[0].end + 1:tokens[-1].start].strip()
        tokens = tokens[1:-1]
    else:
        inner = r.sql[tokens[0].start:tokens[-1].end + 1] if tokens else ""
    name = _leading_name(tokens)
    rest = tokens[name:]
    function = r.sql[tokens[0].start:tokens[name - 1].end + 1] if name else None
    if what == "filter":
        # fn ON (columns)
        if name and len(rest) >= 3 and _word(rest[0]) == "ON" and rest[1].token_type == TokenType.L_PAREN \
                and _closing(rest, 1) == len(rest) - 1:
            return {"function": function}
        return {"expression": inner}
    # fn USING COLUMNS (columns), schema.fn, or a bare name (a column or a function: told apart later)
    using = len(rest) >= 4 and _word(rest[0]) == "USING" and _word(rest[1]) == "COLUMNS" and \
        rest[2].token_type == TokenType.L_PAREN and _closing(rest, 2) == len(rest) - 1
    if name and (using or (not rest and name > 1)):
        return {"function": function}
    return {"expression": inner, "name_only": bool(name) and not rest}


def _leading_name(tokens: Sequence[Token]) -> int:
    """How many tokens at the start spell a dotted name (part.part...), 0 if none."""
    i = 0
    while i < len(tokens) and _is_part(tokens[i]):
        i += 1
        if i + 1 < len(tokens) and tokens[i].token_type == TokenType.DOT and _is_part(tokens[i + 1]):
            i += 1
            continue
        break
    return i


def _closing(tokens: Sequence[Token], start: int) -> int | None:
    """The index of the parenthesis that closes the one at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i].token_type == TokenType.L_PAREN:
            depth += 1
        elif tokens[i].token_type == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return i
    return None


# -- tokens ------------------------------------------------------------------------------------------------


def _word(token: Token | None) -> str | None:
    """The upper-case keyword a token spells; None for quoted or literal text."""
    if token is None or token.token_type in _LITERALS:
        return None
    return " ".join(token.text.upper().split())


def _is_word(token: Token | None) -> bool:
    """Whether a token is one unquoted word (a keyword or a bare name)."""
    word = _word(token)
    return bool(word) and word.replace("_", "").isalnum()  # type: ignore[union-attr]


def _is_part(token: Token) -> bool:
    """Whether a token can be one part of a name: quoted, or one word of letters, digits and underscores."""
    return token.token_type == TokenType.IDENTIFIER or _is_word(token)


def _table(parts: list[exp.Identifier]) -> exp.Table:
    """A name as sqlglot's table node: catalog.db.this, extra parts kept (and refused by the readers)."""
    if len(parts) > 3:
        return exp.Table(this=exp.Dot.build(parts[2:]), db=parts[1], catalog=parts[0])
    padded = [None] * (3 - len(parts)) + parts
    return exp.Table(this=padded[2], db=padded[1], catalog=padded[0])


def name_parts(table: exp.Table) -> list[str]:
    """The parts of a name read here, in order (a fourth part and beyond included, for the caller to refuse).

    >>> name_parts(_table([exp.to_identifier(p) for p in "a.b.c.d".split(".")]))
    ['a', 'b', 'c', 'd']
    """
    this = table.this
    tail = this.flatten() if isinstance(this, exp.Dot) else [this]
    return [p.name for p in (table.args.get("catalog"), table.args.get("db"), *tail) if p is not None]


class _Reader:
    """A cursor over one statement's tokens."""

    def __init__(self, tokens: Sequence[Token], sql: str) -> None:
        self.tokens = tokens
        self.sql = sql
        self.i = 0

    def peek(self, ahead: int = 0) -> Token | None:
        i = self.i + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def peek_word(self) -> str | None:
        token = self.peek()
        if token is None:
            return None
        word = _word(token)
        return "" if word is None else word  # "": a token that is not a keyword

    def word(self) -> str | None:
        word = _word(self.peek())
        if word is not None:
            self.i += 1
        return word

    def accept(self, *words: str) -> bool:
        """Consume ``words`` (one token each, or sqlglot's multi-word keyword tokens) if they come next."""
        i, wanted = self.i, list(words)
        while wanted:
            token = self.tokens[i] if i < len(self.tokens) else None
            got = (_word(token) or "\0").split()
            if got != wanted[:len(got)]:
                return False
            wanted, i = wanted[len(got):], i + 1
        self.i = i
        return True

    def accept_type(self, token_type: TokenType) -> bool:
        token = self.peek()
        if token is not None and token.token_type == token_type:
            self.i += 1
            return True
        return False

    def raw(self, token: Token) -> str:
        return self.sql[token.start:token.end + 1]

    def check_quotes(self, token: Token) -> None:
        raw = self.raw(token)
        if len(raw) >= 2 and raw[0] in "\"`'" and raw[0] in raw[1:-1]:
            raise SqlError(f"{raw} is not a valid name: a quoted name may not contain its quote character "
                           "(names are letters, digits and underscores; principals also . @ + -).")

    def part(self) -> exp.Identifier | None:
        token = self.peek()
        if token is None or not _is_part(token):
            return None
        self.i += 1
        if token.token_type == TokenType.IDENTIFIER:
            self.check_quotes(token)
            return exp.Identifier(this=token.text, quoted=True)
        return exp.Identifier(this=token.text, quoted=False)

    def name(self, syntax: str, hint: str) -> list[exp.Identifier]:
        """``part(.part)*`` (blanks around the dots allowed, as in SQL)."""
        first = self.part()
        if first is None:
            raise self.unreadable(syntax, hint)
        parts = [first]
        while self.accept_type(TokenType.DOT):
            part = self.part()
            if part is None:
                raise self.unreadable(syntax, hint)
            parts.append(part)
        return parts

    def end(self, syntax: str, hint: str) -> None:
        if self.i < len(self.tokens):
            raise self.unreadable(syntax, hint)

    def unreadable(self, syntax: str, hint: str) -> SqlError:
        text = self.sql[self.tokens[0].start:self.tokens[-1].end + 1] if self.tokens else ""
        first = " ".join(text.split())[:120]
        return SqlError(f"cannot read {first!r}. Supported forms: {syntax}.{' ' + hint if hint else ''}")

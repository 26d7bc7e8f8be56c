"""Reading one statement's sqlglot tokens: a cursor and the small rules a grammar over them needs.

sqlglot's tokenizer does the lexing (quotes, escapes, comments, multi-word keywords);
these helpers tell keywords from quoted or literal text, read dotted names, and build
sqlglot's nodes for them. ``statements.py`` is the grammar built on them.

>>> from glashaus.sql.dialect import Glashaus
>>> sql = "ALTER TABLE main.`shop`.orders OWNER TO ann"
>>> reader = TokenReader(Glashaus().tokenize(sql), sql)
>>> reader.accept("ALTER", "TABLE"), [p.name for p in reader.name("", "")], reader.word()
(True, ['main', 'shop', 'orders'], 'OWNER')
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from glashaus.errors import SqlError

#: Tokens that are quoted or literal text, never a keyword (whatever their text says).
LITERALS = frozenset({TokenType.IDENTIFIER, TokenType.NUMBER} | {t for t in TokenType if t.name.endswith("STRING")})


def leading_name(tokens: Sequence[Token]) -> int:
    """How many tokens at the start spell a dotted name (part.part...), 0 if none."""
    i = 0
    while i < len(tokens) and is_part(tokens[i]):
        i += 1
        if i + 1 < len(tokens) and tokens[i].token_type == TokenType.DOT and is_part(tokens[i + 1]):
            i += 1
            continue
        break
    return i


def closing(tokens: Sequence[Token], start: int) -> int | None:
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


def keyword(token: Token | None) -> str | None:
    """The upper-case keyword a token spells; None for quoted or literal text."""
    if token is None or token.token_type in LITERALS:
        return None
    return " ".join(token.text.upper().split())


def is_word(token: Token | None) -> bool:
    """Whether a token is one unquoted word (a keyword or a bare name)."""
    text = keyword(token)
    return bool(text and text.replace("_", "").isalnum())


def is_part(token: Token) -> bool:
    """Whether a token can be one part of a name: quoted, or one word of letters, digits and underscores."""
    return token.token_type == TokenType.IDENTIFIER or is_word(token)


def to_table(parts: list[exp.Identifier]) -> exp.Table:
    """A name as sqlglot's table node: catalog.db.this, extra parts kept (and refused by the readers)."""
    if len(parts) > 3:
        return exp.Table(this=exp.Dot.build(parts[2:]), db=parts[1], catalog=parts[0])
    padded = [None] * (3 - len(parts)) + parts
    return exp.Table(this=padded[2], db=padded[1], catalog=padded[0])


def name_parts(table: exp.Table) -> list[str]:
    """The parts of a name read here, in order (a fourth part and beyond included, for the caller to refuse).

    >>> name_parts(to_table([exp.to_identifier(p) for p in "a.b.c.d".split(".")]))
    ['a', 'b', 'c', 'd']
    """
    this = table.this
    tail = this.flatten() if isinstance(this, exp.Dot) else [this]
    return [p.name for p in (table.args.get("catalog"), table.args.get("db"), *tail) if p is not None]


class TokenReader:
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
        text = keyword(token)
        return "" if text is None else text  # "": a token that is not a keyword

    def word(self) -> str | None:
        text = keyword(self.peek())
        if text is not None:
            self.i += 1
        return text

    def accept(self, *words: str) -> bool:
        """Consume ``words`` (one token each, or sqlglot's multi-word keyword tokens) if they come next."""
        i, wanted = self.i, list(words)
        while wanted:
            token = self.tokens[i] if i < len(self.tokens) else None
            got = (keyword(token) or "\0").split()
            if got != wanted[: len(got)]:
                return False
            wanted, i = wanted[len(got) :], i + 1
        self.i = i
        return True

    def accept_type(self, token_type: TokenType) -> bool:
        token = self.peek()
        if token is not None and token.token_type == token_type:
            self.i += 1
            return True
        return False

    def raw(self, token: Token) -> str:
        return self.sql[token.start : token.end + 1]

    def check_quotes(self, token: Token) -> None:
        raw = self.raw(token)
        if len(raw) >= 2 and raw[0] in "\"`'" and raw[0] in raw[1:-1]:
            raise SqlError(
                f"{raw} is not a valid name: a quoted name may not contain its quote character "
                "(names are letters, digits and underscores; principals also . @ + -)."
            )

    def part(self) -> exp.Identifier | None:
        token = self.peek()
        if token is None or not is_part(token):
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
        text = self.sql[self.tokens[0].start : self.tokens[-1].end + 1] if self.tokens else ""
        first = " ".join(text.split())[:120]
        return SqlError(f"cannot read {first!r}. Supported forms: {syntax}.{' ' + hint if hint else ''}")

"""GRANT, REVOKE, SHOW GRANTS and ALTER ... OWNER TO: thin SQL faces over the tables service.

Unity Catalog syntax::

    GRANT SELECT, MODIFY ON TABLE main.shop.orders TO `alice@example.com`
    GRANT CREATE CATALOG ON METASTORE TO analysts
    REVOKE USE SCHEMA ON SCHEMA main.shop FROM analysts
    SHOW GRANTS ON TABLE main.shop.orders          -- or SHOW GRANTS bob ON ..., ON METASTORE
    ALTER TABLE main.shop.orders OWNER TO analysts  -- also SET OWNER TO

Each statement is read into a :class:`GrantStatement`, from sqlglot's AST where
sqlglot parses the form (``exp.Grant``/``exp.Revoke`` for privileges it knows) and
otherwise from a strict regex anchored at both ends. Either way every piece is
validated before use: privileges by :func:`check_privilege`, names part by part by
:func:`validate_part`, principals by :meth:`Principal.user`. Nothing is ever pasted
into SQL; the statement then calls the same ``TablesService`` method as
``lh.grant``/``lh.revoke``/``lh.show_grants``/``lh.set_owner`` (one implementation).
The securable kind written must be the object's kind.

>>> lh.sql("GRANT SELECT ON TABLE main.shop.orders TO analysts")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import sqlglot
from sqlglot import exp

from glashaus.access import Principal
from glashaus.access.privileges import check_grantable, check_privilege
from glashaus.catalog.names import parse_name, validate_part
from glashaus.errors import InvalidArgumentError, InvalidNameError, NotFoundError, SqlError
from glashaus.sql.resolve import DIALECT
from glashaus.sql.result import Result
from glashaus.tables.service import TablesService

Verb = Literal["GRANT", "REVOKE", "SHOW GRANTS", "OWNER"]

#: Securable kinds written in SQL, and how many name parts each takes.
KINDS = {"CATALOG": 1, "SCHEMA": 2, "TABLE": 3, "VIEW": 3, "VOLUME": 3}

_SYNTAX = (
    "GRANT <privilege>[, ...] ON {CATALOG|SCHEMA|TABLE|VIEW|VOLUME} <name> TO <principal>, "
    "GRANT <privilege> ON METASTORE TO <principal>, REVOKE <privilege>[, ...] ON ... FROM <principal>, "
    "SHOW GRANTS [<principal>] ON {METASTORE|<kind> <name>}, ALTER <kind> <name> OWNER TO <principal>"
)

_QUOTED = r"`[^`]*`|\"[^\"]*\""
_PART = rf"(?:[A-Za-z0-9_]+|{_QUOTED})"
_NAME = rf"{_PART}(?:\.{_PART})*"
_WHO = rf"(?:[A-Za-z0-9_.@+\-]+|{_QUOTED})"
_KIND = r"CATALOG|SCHEMA|TABLE|VIEW|VOLUME"
_ON = rf"ON\s+(?:(?P<metastore>METASTORE)|(?P<kind>{_KIND})\s+(?P<name>{_NAME}))"
_END = r"\s*;?\s*$"
# Words separated by blanks or commas; each step eats a letter, so a long input cannot backtrack badly.
_PRIVILEGES = r"[A-Za-z]+(?:\s*,\s*[A-Za-z]+|\s+(?!ON\b)[A-Za-z]+)*"
_GRANT = re.compile(
    rf"^\s*(?P<verb>GRANT|REVOKE)\s+(?P<privileges>{_PRIVILEGES})\s+{_ON}"
    rf"\s+(?P<prep>TO|FROM)\s+(?P<principal>{_WHO}){_END}",
    re.I,
)
_SHOW_GRANTS = re.compile(rf"^\s*SHOW\s+GRANTS(?:\s+(?P<principal>{_WHO}))?\s+{_ON}{_END}", re.I)
_OWNER = re.compile(
    rf"^\s*ALTER\s+(?P<kind>{_KIND})\s+(?P<name>{_NAME})\s+(?:SET\s+)?OWNER\s+TO\s+(?P<principal>{_WHO}){_END}",
    re.I,
)
#: Statements that are ours to read (or to refuse with this module's syntax help).
_OURS = re.compile(rf"^\s*(GRANT|REVOKE|SHOW\s+GRANTS|ALTER\s+({_KIND})\b.*\bOWNER\s+TO)\b", re.I | re.S)

_SHOW_SCHEMA = pa.schema([
    ("principal", pa.string()), ("privilege", pa.string()), ("on", pa.string()),
    ("inherited", pa.bool_()), ("granted_by", pa.string()),
])


@dataclass(frozen=True)
class GrantStatement:
    """One validated statement: every field is checked, lower-cased where names are."""

    verb: Verb
    kind: str  # 'metastore', 'catalog', 'schema', 'table', 'view' or 'volume'
    name: str | None  # the full name; None for the metastore
    principal: str | None  # None only for SHOW GRANTS without a principal
    privileges: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        return "the metastore" if self.name is None else f"{self.kind} {self.name}"


# -- reading -------------------------------------------------------------------------------

# sqlglot logs "... Falling back to parsing as a 'Command'" for GRANT forms it does not know
# (READ VOLUME, ...); here that is expected (the regex reads them), so the warning would only
# alarm an operator. It is dropped through logging's public filter API, and only for
# records emitted while this thread (or task) is inside read(): a context variable, not a
# global switch, so other threads' sqlglot warnings still go out.
_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("glashaus_grants_quiet", default=False)
_FALLBACK = "Falling back to parsing as a 'Command'"


class _FallbackFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_QUIET.get() and _FALLBACK in record.getMessage())


_SQLGLOT_LOG = logging.getLogger("sqlglot")
_FILTER = _FallbackFilter()
_SQLGLOT_LOG.addFilter(_FILTER)  # once, at import; it acts only inside _fallback_quiet()


@contextlib.contextmanager
def _fallback_quiet() -> Iterator[None]:
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


def handles(statement: exp.Expression) -> bool:
    """Whether a parsed statement is one of ours (sqlglot reads some as a generic Command)."""
    if isinstance(statement, exp.Grant | exp.Revoke):
        return True
    return isinstance(statement, exp.Command) and bool(_OURS.match(statement.sql(dialect=DIALECT)))


def match(sql: str) -> GrantStatement | None:
    """The statement, when the whole of ``sql`` is exactly one of ours; None otherwise.

    Run before sqlglot splits a script, so that a backtick-quoted principal (DuckDB's
    tokenizer does not know backticks) is read whole and then refused if invalid.
    """
    if not _OURS.match(sql) or not (_GRANT.match(sql) or _SHOW_GRANTS.match(sql) or _OWNER.match(sql)):
        return None
    return read(sql)


def read(sql: str) -> GrantStatement:
    """One statement's text: sqlglot's AST where it parses the form, else the anchored regex."""
    tree: list[exp.Expression] = []
    if re.match(r"^\s*(GRANT|REVOKE)\b", sql, re.I):  # sqlglot has no tree for the other two
        dialect = sqlglot.Dialect.get_or_raise(DIALECT)
        # Forms sqlglot does not know fall back to a Command, with a log warning: the regex reads them.
        with _fallback_quiet():
            try:
                tree = [s for s in dialect.parser().parse(dialect.tokenize(sql), sql) if s is not None]
            except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
                tree = []
    if len(tree) == 1 and isinstance(tree[0], exp.Grant | exp.Revoke):
        return from_ast(tree[0])
    return from_text(sql)


def from_statement(statement: exp.Expression) -> GrantStatement:
    if isinstance(statement, exp.Grant | exp.Revoke):
        return from_ast(statement)
    return from_text(statement.sql(dialect=DIALECT))


def from_text(sql: str) -> GrantStatement:
    """Read a statement with the anchored regexes; refuse anything else with the syntax."""
    m = _GRANT.match(sql)
    if m:
        verb = m["verb"].upper()
        prep = m["prep"].upper()
        if (verb, prep) not in (("GRANT", "TO"), ("REVOKE", "FROM")):
            raise SqlError(f"{verb} ... {prep} is not valid: write GRANT ... TO <principal> or "
                           "REVOKE ... FROM <principal>.")
        privileges = [p.strip() for p in m["privileges"].split(",")]
        kind, name = _securable(m["metastore"], m["kind"], _split_name(m["name"]))
        return _statement(verb, kind, name, _principal(m["principal"]), privileges)
    m = _SHOW_GRANTS.match(sql)
    if m:
        kind, name = _securable(m["metastore"], m["kind"], _split_name(m["name"]))
        principal = _principal(m["principal"]) if m["principal"] else None
        return GrantStatement("SHOW GRANTS", kind, name, principal)
    m = _OWNER.match(sql)
    if m:
        kind, name = _securable(None, m["kind"], _split_name(m["name"]))
        return GrantStatement("OWNER", kind, name, _principal(m["principal"]))
    first = " ".join(sql.split())[:120]
    raise SqlError(f"cannot read {first!r}. Supported forms: {_SYNTAX}. Quote principals with backticks "
                   "or double quotes (e.g. `alice@example.com`).")


def from_ast(node: exp.Grant | exp.Revoke) -> GrantStatement:
    """Read sqlglot's GRANT/REVOKE tree, refusing every part Unity Catalog does not have."""
    verb = "GRANT" if isinstance(node, exp.Grant) else "REVOKE"
    known = {"privileges", "kind", "securable", "principals", "grant_option", "cascade"}
    extra = sorted(k for k, v in node.args.items() if v and k not in known)
    if extra:
        raise SqlError(f"{verb} with {', '.join(extra)} is not supported. Supported forms: {_SYNTAX}.")
    if node.args.get("grant_option"):
        raise SqlError(f"{verb} ... WITH GRANT OPTION is not supported: grant MANAGE to let a principal "
                       "grant and revoke privileges on a securable.")
    if node.args.get("cascade"):
        raise SqlError("REVOKE ... CASCADE is not supported: revoking removes exactly the grant named.")
    privileges = []
    for p in node.args.get("privileges") or []:
        if p.expressions:
            raise SqlError(f"column-level privileges ({p.sql(dialect=DIALECT)}) are not supported: grant on the "
                           "table and hide columns with a column mask.")
        privileges.append(p.this.name if isinstance(p.this, exp.Expression) else str(p.this))
    principals = node.args.get("principals") or []
    if len(principals) != 1:
        raise SqlError(f"{verb} names {len(principals)} principals; name exactly one per statement "
                       "(grant to a group to reach many).")
    who = principals[0]
    if who.args.get("kind"):
        raise SqlError(f"{verb} ... {'TO' if verb == 'GRANT' else 'FROM'} {who.args['kind']} is not supported: "
                       "name the user, service principal or group alone.")
    if not isinstance(who.this, exp.Identifier):
        raise SqlError(f"{who.sql(dialect=DIALECT)!r} is not a principal name.")
    kind, securable = node.args.get("kind"), node.args.get("securable")
    parts = _table_parts(securable)
    metastore = None
    bare = isinstance(securable, exp.Table) and isinstance(securable.this, exp.Identifier) and not securable.this.quoted
    if not kind and len(parts) == 1 and parts[0].upper() == "METASTORE" and bare:
        metastore = parts[0]
    elif not kind:
        raise SqlError(f"{verb} ... ON needs the securable's kind: ON {{CATALOG|SCHEMA|TABLE|VIEW|VOLUME}} "
                       f"<name> or ON METASTORE (e.g. ON TABLE {'.'.join(parts) or 'main.shop.orders'}).")
    kind, name = _securable(metastore, kind, parts)
    return _statement(verb, kind, name, _principal(who.this.name), privileges)


def _table_parts(node: exp.Expression | None) -> list[str]:
    if isinstance(node, exp.Table) and (node.this is None or isinstance(node.this, exp.Identifier)):
        parts = (node.args.get("catalog"), node.args.get("db"), node.this)
        if all(p is None or isinstance(p, exp.Identifier) for p in parts) and not node.args.get("alias"):
            return [p.name for p in parts if p is not None]
    shown = node.sql(dialect=DIALECT) if isinstance(node, exp.Expression) else repr(node)
    raise InvalidNameError(f"{shown!r} is not a securable name; use catalog[.schema[.object]], "
                           "e.g. main.shop.orders.")


def _split_name(text: str | None) -> list[str]:
    if text is None:
        return []
    return [_unquote(p) for p in re.findall(_PART, text)]


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"" else text


def _securable(metastore: str | None, kind: str | None, parts: list[str]) -> tuple[str, str | None]:
    if metastore:
        return "metastore", None
    kind = str(kind).upper()
    if kind not in KINDS:
        raise SqlError(f"securables of kind {kind} are not supported here; use CATALOG, SCHEMA, TABLE, VIEW, "
                       "VOLUME or METASTORE.")
    clean = [validate_part(p, what=f"{kind.lower()} name part") for p in parts]
    if len(clean) != KINDS[kind]:
        shape = ("catalog", "catalog.schema", "catalog.schema.name")[KINDS[kind] - 1]
        raise InvalidNameError(f"a {kind.lower()} name is {shape}; got {'.'.join(clean)!r}.")
    return kind.lower(), parse_name(".".join(clean), levels=KINDS[kind], allow_version=False).full


def _principal(text: str) -> str:
    name = _unquote(text)
    try:
        return Principal.user(name).name
    except InvalidNameError:
        raise InvalidNameError(
            f"principal {name!r} is not a valid user, group or service principal name: use 1-255 letters, "
            "digits and _ . @ + - (quote it with backticks or double quotes, e.g. `alice@example.com`)."
        ) from None


def _statement(verb: Verb, kind: str, name: str | None, principal: str, privileges: list[str]) -> GrantStatement:
    if not privileges or any(not p for p in privileges):
        raise SqlError(f"{verb} needs a comma-separated list of privileges, e.g. {verb} SELECT, MODIFY ON ...")
    checked = []
    for p in privileges:
        p = check_grantable(check_privilege(p), kind)
        if p not in checked:
            checked.append(p)
    return GrantStatement(verb, kind, name, principal, tuple(checked))


# -- running ---------------------------------------------------------------------------------


def execute(tables: TablesService, who: Principal, statement: GrantStatement) -> Result:
    """Run one statement through the tables service, as ``who``."""
    _check_kind(tables, who, statement)
    on = statement.name  # None: the metastore
    if statement.verb == "SHOW GRANTS":
        if statement.principal is not None and not tables.access.directory.exists(statement.principal):
            raise NotFoundError(f"principal {statement.principal!r} does not exist; SHOW GRANTS ON ... alone "
                                "lists every principal's grants.")
        rows = [r for r in tables.show_grants(who, on)
                if statement.principal is None or r["principal"] == statement.principal]
        return Result(pa.Table.from_pylist(rows, schema=_SHOW_SCHEMA), statement="SHOW GRANTS")
    if statement.verb == "OWNER":
        s = tables.set_owner(who, on, statement.principal)  # type: ignore[arg-type]
        return Result.status(f"ALTER {statement.kind.upper()}", f"owner of {statement.target} is now {s.owner}",
                             table=s.full_name)
    assert statement.principal is not None
    changed, unchanged = [], []
    for privilege in statement.privileges:
        if statement.verb == "GRANT":
            done = tables.grant(who, privilege, on=on, to=statement.principal)
        else:
            done = tables.revoke(who, privilege, on=on, frm=statement.principal)
        (changed if done else unchanged).append(privilege)
    if statement.verb == "GRANT":
        message = f"granted {', '.join(changed)} on {statement.target} to {statement.principal}" if changed else ""
        note = f"{statement.principal} already held {', '.join(unchanged)} on {statement.target}"
    else:
        message = f"revoked {', '.join(changed)} on {statement.target} from {statement.principal}" if changed else ""
        note = f"{statement.principal} held no direct {', '.join(unchanged)} grant on {statement.target}"
    message = "; ".join(m for m in (message, note if unchanged else "") if m)
    return Result.status(statement.verb, message, table=on)


def _check_kind(tables: TablesService, who: Principal, statement: GrantStatement) -> None:
    """The kind written must be the object's: ON VIEW for a view, ON TABLE for a table."""
    if statement.name == "metastore":
        # TablesService reads on="metastore" as the metastore itself: refuse rather than act on the wrong thing.
        raise InvalidArgumentError("a catalog called 'metastore' cannot be named in grants (the name means the "
                                   "metastore itself); rename the catalog to manage its grants.")
    if statement.name is None or statement.kind in ("catalog", "schema"):
        return  # the number of name parts decides these
    actual = tables.catalog.get(parse_name(statement.name, allow_version=False), details=False,
                                visible=tables.access.visible_to(who)).kind
    if actual != statement.kind:
        raise InvalidArgumentError(
            f"{statement.name} is a {actual}, not a {statement.kind}: write {actual.upper()} {statement.name} "
            f"instead of {statement.kind.upper()} {statement.name}."
        )

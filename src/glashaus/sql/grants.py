"""GRANT, REVOKE, SHOW GRANTS and ALTER ... OWNER TO: thin SQL faces over the tables service.

Unity Catalog syntax::

    GRANT SELECT, MODIFY ON TABLE main.shop.orders TO `alice@example.com`
    GRANT CREATE CATALOG ON METASTORE TO analysts
    REVOKE USE SCHEMA ON SCHEMA main.shop FROM analysts
    SHOW GRANTS ON TABLE main.shop.orders          -- or SHOW GRANTS bob ON ..., ON METASTORE
    ALTER TABLE main.shop.orders OWNER TO analysts  -- also SET OWNER TO

The Glashaus dialect (``dialect.py``, ``statements.py``) parses each statement into a
tree: sqlglot's ``exp.Grant``/``exp.Revoke``, or ``ShowGrants``/``SetOwner``. This
module reads a tree into a :class:`GrantStatement`, validating every piece before use:
privileges by :func:`check_privilege`, names part by part by :func:`validate_part`,
principals by :meth:`Principal.user`. Nothing is ever pasted into SQL; the statement
then calls the same ``TablesService`` method as ``lh.grant``/``lh.revoke``/
``lh.show_grants``/``lh.set_owner`` (one implementation). The securable kind written
must be the object's kind.

>>> _ = lh.sql("GRANT SELECT ON TABLE main.shop.orders TO analysts")
>>> lh.sql("SHOW GRANTS analysts ON TABLE main.shop.orders").to_arrow().column("privilege").to_pylist()
['SELECT']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
from sqlglot import exp

from glashaus.access import Principal
from glashaus.access.privileges import check_grantable, check_privilege
from glashaus.catalog.names import parse_name, validate_part
from glashaus.errors import (
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    SqlError,
)
from glashaus.sql.dialect import DIALECT, parse
from glashaus.sql.result import Result
from glashaus.sql.statements import GRANT_SYNTAX, SetOwner, ShowGrants
from glashaus.tables.service import TablesService

Verb = Literal["GRANT", "REVOKE", "SHOW GRANTS", "OWNER"]

#: Securable kinds written in SQL, and how many name parts each takes.
KINDS = {"CATALOG": 1, "SCHEMA": 2, "TABLE": 3, "VIEW": 3, "VOLUME": 3}

_SYNTAX = GRANT_SYNTAX

_SHOW_SCHEMA = pa.schema(
    [
        ("principal", pa.string()),
        ("privilege", pa.string()),
        ("on", pa.string()),
        ("inherited", pa.bool_()),
        ("granted_by", pa.string()),
    ]
)


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


def handles(statement: exp.Expr) -> bool:
    """Whether a parsed statement is one of this module's."""
    return isinstance(statement, exp.Grant | exp.Revoke | ShowGrants | SetOwner)


def read(sql: str) -> GrantStatement:
    """One statement's text, parsed by the Glashaus dialect and read; anything else is refused with the syntax.

    >>> read("GRANT READ VOLUME ON VOLUME main.shop.files TO `ann@example.com`").privileges
    ('READ VOLUME',)
    """
    trees = parse(sql)
    if len(trees) != 1 or not handles(trees[0]):
        first = " ".join(sql.split())[:120]
        raise SqlError(
            f"cannot read {first!r}. Supported forms: {_SYNTAX}. Quote principals with backticks "
            "or double quotes (e.g. `alice@example.com`)."
        )
    return from_statement(trees[0])


def from_statement(statement: exp.Expr) -> GrantStatement:
    """Read one parsed statement of this module (see :func:`handles`)."""
    if isinstance(statement, exp.Grant | exp.Revoke):
        return from_ast(statement)
    if isinstance(statement, ShowGrants):
        kind, name = _securable_of("SHOW GRANTS", statement.args.get("kind"), statement.args["securable"])
        who = statement.args.get("principal")
        return GrantStatement("SHOW GRANTS", kind, name, _principal(who.name) if who is not None else None)
    assert isinstance(statement, SetOwner)
    kind, name = _securable(None, statement.args["kind"], _table_parts(statement.this))
    return GrantStatement("OWNER", kind, name, _principal(statement.args["principal"].name))


def from_ast(node: exp.Grant | exp.Revoke) -> GrantStatement:
    """Read a GRANT/REVOKE tree (sqlglot's own shape), refusing every part Unity Catalog does not have."""
    verb: Verb = "GRANT" if isinstance(node, exp.Grant) else "REVOKE"
    known = {"privileges", "kind", "securable", "principals", "grant_option", "cascade"}
    extra = sorted(k for k, v in node.args.items() if v and k not in known)
    if extra:
        raise SqlError(f"{verb} with {', '.join(extra)} is not supported. Supported forms: {_SYNTAX}.")
    if node.args.get("grant_option"):
        raise SqlError(
            f"{verb} ... WITH GRANT OPTION is not supported: grant MANAGE to let a principal "
            "grant and revoke privileges on a securable."
        )
    if node.args.get("cascade"):
        raise SqlError(
            f"REVOKE ... {str(node.args['cascade']).upper()} is not supported: revoking removes exactly "
            "the grant named."
        )
    privileges = []
    for p in node.args.get("privileges") or []:
        if p.expressions:
            raise SqlError(
                f"column-level privileges ({p.sql(dialect=DIALECT)}) are not supported: grant on the "
                "table and hide columns with a column mask."
            )
        privileges.append(p.this.name if isinstance(p.this, exp.Expression) else str(p.this))
    principals = node.args.get("principals") or []
    if len(principals) != 1:
        raise SqlError(
            f"{verb} names {len(principals)} principals; name exactly one per statement "
            "(grant to a group to reach many)."
        )
    who = principals[0]
    if who.args.get("kind"):
        raise SqlError(
            f"{verb} ... {'TO' if verb == 'GRANT' else 'FROM'} {who.args['kind']} is not supported: "
            "name the user, service principal or group alone."
        )
    if not isinstance(who.this, exp.Identifier):
        raise SqlError(f"{who.sql(dialect=DIALECT)!r} is not a principal name.")
    kind, name = _securable_of(verb, node.args.get("kind"), node.args.get("securable"))
    return _statement(verb, kind, name, _principal(who.this.name), privileges)


def _securable_of(verb: str, kind: str | None, securable: exp.Expr | None) -> tuple[str, str | None]:
    """``ON <kind> <name>`` or ``ON METASTORE`` (sqlglot's shape: a kind-less, unquoted name METASTORE)."""
    parts = _table_parts(securable)
    bare = isinstance(securable, exp.Table) and isinstance(securable.this, exp.Identifier) and not securable.this.quoted
    if not kind and len(parts) == 1 and parts[0].upper() == "METASTORE" and bare:
        return _securable(parts[0], None, parts)
    if not kind:
        raise SqlError(
            f"{verb} ... ON needs the securable's kind: ON {{CATALOG|SCHEMA|TABLE|VIEW|VOLUME}} "
            f"<name> or ON METASTORE (e.g. ON TABLE {'.'.join(parts) or 'main.shop.orders'}). "
            f"Supported forms: {_SYNTAX}."
        )
    return _securable(None, kind, parts)


def _table_parts(node: exp.Expr | None) -> list[str]:
    if isinstance(node, exp.Table) and (node.this is None or isinstance(node.this, exp.Identifier)):
        parts = (node.args.get("catalog"), node.args.get("db"), node.this)
        if all(p is None or isinstance(p, exp.Identifier) for p in parts) and not node.args.get("alias"):
            return [p.name for p in parts if p is not None]
    shown = node.sql(dialect=DIALECT) if isinstance(node, exp.Expression) else repr(node)
    raise InvalidNameError(f"{shown!r} is not a securable name; use catalog[.schema[.object]], e.g. main.shop.orders.")


def _securable(metastore: str | None, kind: str | None, parts: list[str]) -> tuple[str, str | None]:
    if metastore:
        return "metastore", None
    kind = str(kind).upper()
    if kind not in KINDS:
        raise SqlError(
            f"securables of kind {kind} are not supported here; use CATALOG, SCHEMA, TABLE, VIEW, "
            f"VOLUME or METASTORE. Supported forms: {_SYNTAX}."
        )
    clean = [validate_part(p, what=f"{kind.lower()} name part") for p in parts]
    if len(clean) != KINDS[kind]:
        shape = ("catalog", "catalog.schema", "catalog.schema.name")[KINDS[kind] - 1]
        raise InvalidNameError(f"a {kind.lower()} name is {shape}; got {'.'.join(clean)!r}.")
    return kind.lower(), parse_name(".".join(clean), levels=KINDS[kind], allow_version=False).full


def _principal(name: str) -> str:
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
            raise NotFoundError(
                f"principal {statement.principal!r} does not exist; SHOW GRANTS ON ... alone "
                "lists every principal's grants."
            )
        rows = [
            r.to_dict()
            for r in tables.show_grants(who, on)
            if statement.principal is None or r.principal == statement.principal
        ]
        return Result(pa.Table.from_pylist(rows, schema=_SHOW_SCHEMA), statement="SHOW GRANTS")
    if statement.verb == "OWNER":
        assert on is not None and statement.principal is not None, "OWNER TO names a securable and a principal"
        s = tables.set_owner(who, on, statement.principal)
        return Result.status(
            f"ALTER {statement.kind.upper()}", f"owner of {statement.target} is now {s.owner}", table=s.full_name
        )
    assert statement.principal is not None
    changed: list[str] = []
    unchanged: list[str] = []
    for privilege in statement.privileges:
        if statement.verb == "GRANT":
            done = tables.grant(who, privilege, on=on, to=statement.principal)
        else:
            done = tables.revoke(who, privilege, on=on, from_=statement.principal)
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
        raise InvalidArgumentError(
            "a catalog called 'metastore' cannot be named in grants (the name means the "
            "metastore itself); rename the catalog to manage its grants."
        )
    if statement.name is None or statement.kind in ("catalog", "schema"):
        return  # the number of name parts decides these
    actual = tables.catalog.get(
        parse_name(statement.name, allow_version=False), details=False, visible=tables.access.visible_to(who)
    ).kind
    if actual != statement.kind:
        raise InvalidArgumentError(
            f"{statement.name} is a {actual}, not a {statement.kind}: write {actual.upper()} {statement.name} "
            f"instead of {statement.kind.upper()} {statement.name}."
        )

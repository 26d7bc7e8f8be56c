"""Checking user SQL and rewriting catalog names into governed scans.

User SQL may only reach catalog objects. Before anything runs, every table
reference is checked: table functions (``read_parquet``, ``query``, ...), quoted
paths (``FROM '/etc/passwd'``), file-reading functions and functions that reveal the
server's environment (``current_setting``, ...) are refused; each
``catalog.schema.table`` is authorized through the tables service and replaced by a
scan of the exact Delta files of the version read; views are expanded with their
owner's rights. DuckDB itself runs sandboxed on top of this (no file access outside
the lakehouse root, no COPY/ATTACH/INSTALL), as a second wall.

The scan that replaces a table reference carries every clause the reference had
(``TABLESAMPLE``, ``PIVOT``/``UNPIVOT``, column aliases ``AS x(a, b)``, the joins of a
parenthesized join), or the statement is refused: nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlglot  # noqa: F401 (the docstring examples)
from sqlglot import exp

from glashaus.access import Principal
from glashaus.access.policies import policy_select
from glashaus.access.sqltext import check_functions, function_name
from glashaus.catalog.names import parse_name
from glashaus.errors import InvalidNameError, SqlError, UngovernedAccessError
from glashaus.lineage import Source
from glashaus.sql.dialect import parse
from glashaus.tables.service import ScanSource, TablesService

DIALECT = "duckdb"
_ALLOWED_TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
_MAX_VIEW_DEPTH = 16
#: Clauses of a table reference moved onto the scan that replaces it (DuckDB takes each on a subquery).
_CARRIED = ("joins", "laterals", "pivots", "sample")
#: What clauses are called in messages (any other clause sqlglot may attach is refused under its own name).
_CLAUSE_NAMES = {
    "sample": "TABLESAMPLE",
    "pivots": "PIVOT/UNPIVOT",
    "alias": "a column alias list",
    "version": "time travel",
    "when": "time travel",
    "joins": "JOIN",
    "laterals": "LATERAL",
    "hints": "table hints WITH (...)",
    "system_time": "FOR SYSTEM_TIME",
    "format": "FILE_FORMAT",
    "pattern": "PATTERN",
    "ordinality": "WITH ORDINALITY",
    "only": "ONLY",
    "partition": "PARTITION (...)",
    "changes": "CHANGES (...)",
    "rows_from": "ROWS FROM (...)",
    "indexed": "INDEXED BY",
}

__all__ = ["DIALECT", "Resolved", "Resolver", "check_functions", "table_clauses"]


@dataclass
class Resolved:
    """A query rewritten for DuckDB, with what it read."""

    expression: exp.Expr
    registrations: dict[str, Any] = field(default_factory=dict)
    scan_names: dict[str, str] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    schemas: dict[str, pa.Schema] = field(default_factory=dict)
    #: Every view expanded, at any depth.
    views: set[str] = field(default_factory=set)
    #: Whether ``expression`` already carries the value-size checks (``sql/bounds.py``).
    bounded: bool = False


def table_clauses(table: exp.Table, *, allowed: tuple[str, ...] = ()) -> list[str]:
    """The clauses ``table`` carries beyond its name, a plain alias and ``allowed``, as SQL calls them.

    >>> table_clauses(sqlglot.parse_one("SELECT * FROM a.b.c AS x TABLESAMPLE 1 ROWS").find(exp.Table))
    ['TABLESAMPLE']
    """
    found = []
    for key, value in table.args.items():
        if key in ("this", "db", "catalog", *allowed) or value is None or value is False or value == []:
            continue
        if key == "alias" and not value.columns and not isinstance(value.this, exp.Placeholder | exp.Parameter):
            continue  # a plain alias
        found.append(_CLAUSE_NAMES.get(key) or key.upper())
    return found


class Resolver:
    """Rewrites one statement's table references for one principal."""

    def __init__(self, tables: TablesService, who: Principal, *, action: str = "sql.select") -> None:
        self.tables = tables
        self.who = who
        self.action = action
        self._counter = 0

    def resolve(self, expression: exp.Expr) -> Resolved:
        check_functions(expression)
        resolved = Resolved(expression)
        resolved.expression = self._rewrite(expression.copy(), resolved, principal=self.who, depth=0)
        return resolved

    def _rewrite(self, expression: exp.Expr, out: Resolved, *, principal: Principal, depth: int) -> exp.Expr:
        if depth > _MAX_VIEW_DEPTH:
            raise SqlError("views nest too deeply (or refer to themselves).")
        ctes = {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}
        for table in list(expression.find_all(exp.Table)):
            replacement = self._replace(table, ctes, out, principal=principal, depth=depth, top=depth == 0)
            if replacement is not None:
                if table is expression:
                    expression = replacement
                else:
                    table.replace(replacement)
        return expression

    def _replace(
        self, table: exp.Table, ctes: set[str], out: Resolved, *, principal: Principal, depth: int, top: bool
    ) -> exp.Expr | None:
        if isinstance(table.this, exp.Func):
            fname = function_name(table.this)
            if fname in _ALLOWED_TABLE_FUNCTIONS:
                return None
            raise UngovernedAccessError(
                f"table function {fname.lower()}() is not allowed: it reads outside the catalog. "
                "Query catalog tables by name (catalog.schema.table)."
            )
        if not isinstance(table.this, exp.Identifier):
            raise UngovernedAccessError(f"{table.sql(DIALECT)!r} is not a catalog table name.")
        parts = [p.name for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p is not None]
        if len(parts) == 1 and parts[0].lower() in ctes:
            return None
        if table.this.quoted and any(ch in table.this.name for ch in "/\\.:*"):
            raise UngovernedAccessError(
                f"{table.this.name!r} looks like a file path; SQL may only name catalog tables (catalog.schema.table)."
            )
        if len(parts) != 3:
            raise SqlError(
                f"table {'.'.join(parts)!r} must be named with three parts, catalog.schema.table "
                "(e.g. main.shop.orders)."
            )
        try:
            name = parse_name(".".join(parts), allow_version=False)
        except InvalidNameError as exc:
            raise SqlError(str(exc)) from None
        refused = table_clauses(table, allowed=(*_CARRIED, "alias", "version", "when"))
        if refused:
            raise SqlError(
                f"{' and '.join(refused)} on {name.full} is not supported in Glashaus SQL; "
                "remove it (TABLESAMPLE, PIVOT/UNPIVOT, column aliases, joins and time travel are)."
            )
        version, as_of = _time_travel(table)
        alias = table.alias or name.parts[-1]  # three parts: the object name
        provider = self.tables.virtual_tables.get(name.full)
        if provider is not None:  # computed for this reader (system.ml.runs): no versions, no lineage
            if version is not None or as_of is not None:
                raise SqlError(f"{name.full} is computed when queried; it has no versions to travel to.")
            view_name = f"__glashaus_virtual_{len(out.registrations)}"
            out.registrations[view_name] = provider(self.who)
            return _scan_of(table, exp.select("*").from_(exp.to_identifier(view_name, quoted=True)), alias)
        securable = self.tables.catalog.get(
            name, kind=("table", "view"), details=False, visible=self.tables.access.visible_to(self.who)
        )
        if securable.kind == "view":
            if version is not None or as_of is not None:
                raise SqlError(f"{name.full} is a view; time travel applies to tables only.")
            self.tables.access.authorize(principal, "SELECT", securable, action=self.action, reader=self.who)
            if top:
                out.sources.setdefault(name.full, Source(name.full, "view", None))
            out.views.add(name.full)
            owner = Principal(securable.owner)
            inner = parse(securable.spec["sql"])[0]
            check_functions(inner)
            inner = self._rewrite(inner, out, principal=owner, depth=depth + 1)
            return _scan_of(table, inner, alias)
        scan = self.tables.scan(principal, securable, version=version, as_of=as_of, action=self.action, reader=self.who)
        key = f"{name.full}@v{scan.version}"
        if top or name.full not in out.sources:
            out.sources[name.full] = Source(name.full, "table", scan.version)
        out.schemas[name.full] = scan.schema
        source = self._scan_expression(scan, scan.schema, out, key)
        return _scan_of(table, source, alias)

    def _scan_expression(self, scan: ScanSource, schema: pa.Schema, out: Resolved, key: str) -> exp.Expr:
        uris = scan.files
        if uris and not scan.partitioned and self.tables.layout.is_local:
            # Plain Parquet scan of exactly this version's files: as fast as raw DuckDB.
            files = exp.Array(expressions=[exp.Literal.string(u) for u in uris])
            reader = exp.Anonymous(
                this="read_parquet",
                expressions=[files, exp.EQ(this=exp.var("union_by_name"), expression=exp.true())],
            )
            source: exp.Expr = exp.Table(this=reader)
        else:
            view_name = out.scan_names.get(key)
            if view_name is None:
                view_name = out.scan_names[key] = f"__glashaus_scan_{len(out.scan_names)}"
                out.registrations[view_name] = scan.dataset() if uris else schema.empty_table()
            source = exp.to_identifier(view_name, quoted=True)
        # The reader's row filter and column masks sit inside the scan itself, so every
        # query shape (SELECT *, joins, CTEs, views, UNION) sees only the filtered rows.
        return policy_select(scan.policy, schema, source)


def _scan_of(table: exp.Table, query: exp.Expr, alias: str) -> exp.Subquery:
    """``(query) AS alias``, carrying the clauses of the table reference it replaces.

    The alias keeps its column list (``AS x(a, b)`` renames the scan's columns); TABLESAMPLE,
    PIVOT/UNPIVOT, LATERAL and the joins of a parenthesized join (``FROM (a JOIN b ON ...)``)
    move onto the subquery, where DuckDB applies them exactly as on the table.
    """
    given = table.args.get("alias")
    columns = [c.copy() for c in given.columns] if given is not None else []
    scan = exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias), columns=columns))
    for key in _CARRIED:
        value = table.args.get(key)
        if value:
            scan.set(key, value)
    return scan


def _time_travel(table: exp.Table) -> tuple[int | None, str | None]:
    """``t@v3``, ``t VERSION AS OF 3``, ``t TIMESTAMP AS OF '...'``, ``t AT (VERSION => 3)``."""
    alias = table.args.get("alias")
    if alias is not None and isinstance(alias.this, exp.Placeholder | exp.Parameter):
        text = alias.this.name if isinstance(alias.this, exp.Placeholder) else alias.this.this.name
        match = re.fullmatch(r"v(\d+)", text or "", re.IGNORECASE)
        if not match:
            raise SqlError(f"unknown table suffix '@{text}': use '@v<N>' for a version, e.g. orders@v3.")
        table.set("alias", None)
        return int(match.group(1)), None
    version = table.args.get("version")
    if isinstance(version, exp.Version):
        how = str(version.args.get("kind") or "AS OF").upper()
        if how != "AS OF":  # FOR SYSTEM_TIME BETWEEN/FROM/ALL: a range of versions, which a scan is not
            raise SqlError(
                f"time travel {how} reads several versions; Glashaus reads one: use VERSION AS OF n "
                "or TIMESTAMP AS OF '...' (lh.changes(...) gives the rows changed between versions)."
            )
        value = version.expression
        kind = str(version.this).upper()
        table.set("version", None)
        return _travel_value(kind, value)
    when = table.args.get("when")
    if isinstance(when, exp.HistoricalData):
        how = str(when.this).upper()
        if how != "AT":  # BEFORE (...) would silently read a different version
            raise SqlError(f"{how} (...) is not supported; use AT (VERSION => n) or AT (TIMESTAMP => '...').")
        kind = str(when.args.get("kind") or "").upper()
        table.set("when", None)
        return _travel_value(kind, when.expression)
    return None, None


def _travel_value(kind: str, value: exp.Expr | None) -> tuple[int | None, str | None]:
    if value is None:
        raise SqlError(f"{kind} AS OF needs a value, e.g. VERSION AS OF 3.")
    if kind == "VERSION":
        if not (isinstance(value, exp.Literal) and not value.is_string and value.name.isdigit()):
            raise SqlError(f"VERSION AS OF needs a whole number, not {value.sql(DIALECT)}.")
        return int(value.name), None
    if kind == "TIMESTAMP":
        if isinstance(value, exp.Cast):
            value = value.this
        if not (isinstance(value, exp.Literal) and value.is_string):
            raise SqlError(f"TIMESTAMP AS OF needs a timestamp literal, not {value.sql(DIALECT)}.")
        return None, value.name
    raise SqlError(f"unknown time travel kind {kind!r}: use VERSION AS OF or TIMESTAMP AS OF.")

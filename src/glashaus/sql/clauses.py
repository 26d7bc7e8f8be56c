"""Which clauses each statement honours; every other clause is refused, never dropped.

The engine reads DDL and DML statements itself and maps them onto the tables service
(``CREATE TABLE`` onto ``create_table``, ``DELETE`` onto ``delete_rows`` or a rewrite,
...). sqlglot parses far more than that mapping carries: ``CREATE TEMP TABLE``,
``DELETE ... LIMIT 1``, ``INSERT ... ON CONFLICT``, ``DROP TEMP TABLE``, a sample on a
DELETE's target. Each such clause would silently change what the statement does, so
:func:`check_statement` refuses any argument a statement's handler does not read, by
the name SQL gives it.

>>> check_statement(exp.maybe_parse("DELETE FROM main.shop.t WHERE id = 1 LIMIT 1", dialect="duckdb"))
Traceback (most recent call last):
...
glashaus.errors.SqlError: DELETE ... LIMIT is not supported in Glashaus SQL; narrow the WHERE clause instead.
"""

from __future__ import annotations

from sqlglot import exp

from glashaus.errors import SqlError, UngovernedAccessError
from glashaus.sql.resolve import DIALECT, table_clauses

#: The arguments each statement's handler reads (all others are refused when set).
_HONOURED: dict[type, set[str]] = {
    exp.Create: {"this", "kind", "expression", "exists", "properties", "replace", "indexes"},
    exp.Insert: {"this", "expression", "overwrite", "by_name", "with_"},
    exp.Delete: {"this", "where", "with_"},
    exp.Update: {"this", "expressions", "where", "with_", "from_"},  # FROM: refused by the handler, with advice
    exp.Merge: {"this", "using", "on", "whens", "with_"},
    exp.Drop: {"this", "kind", "tables", "exists", "cascade", "restrict"},  # RESTRICT is the default
    exp.Describe: {"this", "kind"},
}
#: What the refused arguments are called in SQL.
_WORDS = {
    "returning": "RETURNING",
    "order": "ORDER BY",
    "limit": "LIMIT",
    "using": "USING",
    "conflict": "ON CONFLICT",
    "alternative": "OR REPLACE / OR IGNORE",
    "ignore": "IGNORE",
    "where": "WHERE",
    "partition": "PARTITION",
    "default": "DEFAULT VALUES",
    "temporary": "TEMP/TEMPORARY",
    "materialized": "MATERIALIZED",
    "purge": "PURGE",
    "unique": "UNIQUE",
    "clone": "CLONE",
    "concurrently": "CONCURRENTLY",
    "refresh": "REFRESH",
    "no_schema_binding": "WITH NO SCHEMA BINDING",
    "options": "OPTION (...)",
    "hint": "hints",
    "using_cond": "USING ... condition",
    "tables": "several tables",
    "cluster": "CLUSTER",
}
#: What to write instead.
_ADVICE = {
    "default": "INSERT needs VALUES (...) or SELECT ...",
    "returning": "run a SELECT afterwards to see the rows",
    "order": "narrow the WHERE clause instead",
    "limit": "narrow the WHERE clause instead",
    "conflict": "use MERGE INTO ... WHEN MATCHED / WHEN NOT MATCHED",
    "alternative": "use MERGE INTO ... WHEN MATCHED / WHEN NOT MATCHED",
    "using": "use WHERE ... IN (SELECT ...) or MERGE INTO ... WHEN MATCHED THEN DELETE",
    "temporary": "Glashaus has no temporary tables, and DROP TABLE would drop the permanent one",
    "materialized": "Glashaus views are not materialized; DROP VIEW drops a view",
}
#: Properties of CREATE the engine honours, by kind of object.
_PROPERTIES: dict[str, tuple[type, ...]] = {
    "TABLE": (exp.SchemaCommentProperty, exp.PartitionedByProperty),
    "VIEW": (exp.SchemaCommentProperty,),
    "SCHEMA": (exp.SchemaCommentProperty,),
}
_PROPERTY_WORDS: dict[type, str] = {
    exp.FileFormatProperty: "USING/FORMAT (Glashaus tables are Delta tables)",
    exp.Property: "table properties (TBLPROPERTIES, WITH (...))",
    exp.LocationProperty: "LOCATION (Glashaus manages where tables live)",
}
_PROPERTY_ADVICE = {
    exp.TemporaryProperty: "Glashaus tables and views are permanent, governed objects; create an ordinary one "
    "and DROP it when done, or keep the rows in a WITH clause.",
    exp.MaterializedProperty: "a view is computed when read; for stored results use CREATE TABLE ... AS SELECT.",
}


def check_statement(statement: exp.Expr) -> None:
    """Refuse ``statement`` if it carries a clause its handler would not honour."""
    honoured = _HONOURED.get(type(statement))
    if honoured is None:
        return
    verb = type(statement).__name__.upper()
    for key, value in statement.args.items():
        if key in honoured or value is None or value is False or value == []:
            continue
        if key == "kind" and isinstance(statement, exp.Describe):
            continue
        advice = _ADVICE.get(key, "remove it: Glashaus would run the statement without it")
        raise SqlError(f"{verb} ... {_WORDS.get(key, key.upper())} is not supported in Glashaus SQL; {advice}.")
    if isinstance(statement, exp.Create):
        _check_properties(statement)


def _check_properties(statement: exp.Create) -> None:
    kind = str(statement.args.get("kind") or "").upper()
    if kind not in _PROPERTIES:
        return  # CREATE MACRO, FUNCTION, INDEX, ...: the handler refuses the kind itself
    props = statement.args.get("properties")
    allowed = _PROPERTIES[kind]
    for prop in props.expressions if props is not None else []:
        if isinstance(prop, allowed):
            continue
        words = _PROPERTY_WORDS.get(type(prop)) or prop.sql(dialect=DIALECT) or type(prop).__name__.upper()
        advice = next(
            (text for cls, text in _PROPERTY_ADVICE.items() if isinstance(prop, cls)),
            "Glashaus would create the object without it; remove it.",
        )
        raise SqlError(f"CREATE {kind} with {words} is not supported in Glashaus SQL: {advice}")


def target(node: exp.Expr, *, alias: bool = False) -> str:
    """The catalog name a statement writes to or drops (``alias``: a plain alias may follow it).

    A target must be a bare name: a sample, pivot, time travel or column list on it would
    make the statement act on something other than the table it names.
    """
    if isinstance(node, exp.Table):
        if node.this is not None and not isinstance(node.this, exp.Identifier):
            raise UngovernedAccessError(f"{node.sql(DIALECT)!r} is not a catalog name.")
        clauses = table_clauses(node, allowed=()) if alias else table_clauses(node, allowed=("alias",))
        if not alias and node.alias:
            clauses.insert(0, "an alias")
        if clauses:
            parts = (node.args.get("catalog"), node.args.get("db"), node.this)
            name = ".".join(p.name for p in parts if isinstance(p, exp.Identifier))
            raise SqlError(
                f"{' and '.join(clauses)} on {name}, which this statement writes or drops, is not "
                "supported: name the table alone."
            )
        parts = (node.args.get("catalog"), node.args.get("db"), node.this)
        return ".".join(p.name for p in parts if isinstance(p, exp.Identifier))
    if isinstance(node, exp.Identifier):
        return node.name
    raise SqlError(f"expected a catalog name, got {node.sql(DIALECT)!r}.")


def with_ctes(statement: exp.Expr, query: exp.Expr) -> exp.Expr:
    """``query`` with the WITH clause written before ``statement`` (``WITH x AS (...) INSERT ...``)."""
    outer = statement.args.get("with_")
    if outer is None or not isinstance(query, exp.Query):
        return query
    query = query.copy()
    inner = query.args.get("with_")
    ctes = [c.copy() for c in outer.expressions] + (list(inner.expressions) if inner is not None else [])
    query.set("with_", exp.With(expressions=ctes, recursive=outer.args.get("recursive")))
    return query

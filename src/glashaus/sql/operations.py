"""The SQL capability's operations on ``lh`` (see :mod:`glashaus.declare`): every statement, views, descriptions.

``sql`` runs :meth:`~glashaus.sql.engine.SqlEngine.execute` (audit and lineage tables too);
``create_view`` is the statement it builds, run the same way; ``describe`` finds a view's
columns by planning its query. ``lh`` (generated, ``glashaus/facades.py``) calls each as the caller.
"""

from __future__ import annotations

from sqlglot import exp

from glashaus.access import Principal
from glashaus.catalog import Securable
from glashaus.catalog.names import parse_name
from glashaus.declare import Operation
from glashaus.sql.dialect import DIALECT
from glashaus.sql.engine import SqlEngine


def create_view(
    engine: SqlEngine, who: Principal, name: str, sql: str, *, comment: str | None = None, replace: bool = False
) -> Securable:
    """Create the view ``name`` over the query ``sql`` (``replace=True``: or replace it), as ``CREATE VIEW``.

    Needs CREATE TABLE on its schema (and MANAGE on the view it replaces). The view runs with
    its owner's rights: SELECT on the view is enough to read it.

    >>> lh.create_view("main.shop.big_orders", "SELECT * FROM main.shop.orders WHERE quantity > 10").kind
    'view'
    >>> lh.sql("SELECT count(*) FROM main.shop.big_orders").scalar()
    1
    """
    verb = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
    n = parse_name(name, allow_version=False)
    # Quoted, so that a name SQL reserves (main.shop.select) is a name; the comment is a literal.
    target = exp.table_(n.object, db=n.schema, catalog=n.catalog, quoted=True).sql(dialect=DIALECT)
    comment_sql = "" if comment is None else f" COMMENT {exp.Literal.string(comment).sql(dialect=DIALECT)}"
    engine.execute(who, f"{verb} {target}{comment_sql} AS {sql}")
    return engine.tables.get(who, n.full, kind="view")


OPERATIONS = [
    Operation("", "sql", "POST", "/sql", tag="sql", reply="result", cli="glashaus sql", calls=SqlEngine.execute),
    Operation(
        "",
        "create_view",
        "POST",
        "/views/{name}",
        tag="tables",
        calls=create_view,
        privilege="CREATE TABLE",
        audit="view.create",
    ),
    Operation(
        "",
        "describe",
        "GET",
        "/tables/{name}",
        tag="tables",
        calls=SqlEngine.describe,
        privilege="USE",
        audit="{kind}.describe",
    ),
]

"""Column-level lineage of a query, from sqlglot's lineage walk.

Best effort by design: table-level lineage is always recorded; when a query is too
unusual for sqlglot to trace column by column, no column edges are recorded rather
than wrong ones.
"""

from __future__ import annotations

import logging

import pyarrow as pa
from sqlglot import exp
from sqlglot.lineage import lineage
from sqlglot.optimizer.qualify import qualify

from glashaus.sql.resolve import DIALECT

log = logging.getLogger(__name__)


def column_lineage(
    query: exp.Expr, schemas: dict[str, pa.Schema], target_columns: list[str]
) -> list[tuple[str, str, str]]:
    """(source table, source column, target column) for each output column of ``query``.

    >>> s = pa.schema([("a", pa.int64())])
    >>> column_lineage(sqlglot.parse_one("SELECT a AS b FROM c.d.e"), {"c.d.e": s}, ["b"])
    [('c.d.e', 'a', 'b')]
    """
    if not schemas:
        return []
    mapping: dict = {}
    for full, schema in schemas.items():
        catalog, db, object_name = full.split(".")
        mapping.setdefault(catalog, {}).setdefault(db, {})[object_name] = {f.name: "VARCHAR" for f in schema}
    try:
        plain = query.copy()
        for table in plain.find_all(exp.Table):
            for key in ("version", "when"):
                table.set(key, None)
            alias = table.args.get("alias")
            if alias is not None and isinstance(alias.this, exp.Placeholder | exp.Parameter):
                table.set("alias", None)
        qualified = qualify(plain, schema=mapping, dialect=DIALECT, validate_qualify_columns=False)
        if not isinstance(qualified, exp.Query):  # column lineage exists for queries only
            return []
        outputs = qualified.named_selects
        edges: set[tuple[str, str, str]] = set()
        for output, target in zip(outputs, target_columns, strict=False):
            root = lineage(output, qualified, schema=mapping, dialect=DIALECT)
            for node in root.walk():
                if node.downstream or not isinstance(node.source, exp.Table):
                    continue
                table = node.source
                parts = [p.name for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p is not None]
                full = ".".join(parts).lower()
                if full in schemas:
                    edges.add((full, node.name.split(".")[-1].strip('"').lower(), target))
        return sorted(edges)
    except Exception as exc:  # noqa: BLE001 - lineage must never fail a write
        log.debug("no column lineage for %s: %s", query.sql(DIALECT)[:200], exc)
        return []

"""Translating simple SQL expressions for delta-rs (which evaluates them with DataFusion).

Only a conservative subset is translated: columns, literals, comparisons, AND/OR/NOT,
IN lists, IS NULL, BETWEEN, LIKE, arithmetic and casts. Anything else returns
``None`` and the caller evaluates the statement in DuckDB instead, so the two
engines never disagree about what a function means.

>>> to_delta(sqlglot.parse_one("a > 1 AND b IS NULL"))
'"a" > 1 AND "b" IS NULL'
"""

from __future__ import annotations

from sqlglot import exp

_SIMPLE = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.And,
    exp.Or,
    exp.Not,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.In,
    exp.Is,
    exp.Between,
    exp.Like,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Cast,
    exp.DataType,
    exp.Tuple,
    exp.Star,
)


def to_delta(expression: exp.Expr, *, qualifiers: dict[str, str] | None = None) -> str | None:
    """Delta SQL for ``expression``, or ``None`` when it is outside the safe subset.

    ``qualifiers`` maps table aliases to the names delta-rs knows (``target``/``source``;
    ``""`` drops the qualifier); a column with any other qualifier makes the expression
    untranslatable, and so does an unqualified column when both sides are in play.
    """
    expression = expression.copy()
    for node in expression.walk():
        if not isinstance(node, _SIMPLE):
            return None
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            return None
        if isinstance(node, exp.Column):
            qualifier = node.table.lower() if node.table else None
            if qualifier:
                if not qualifiers or qualifier not in qualifiers:
                    return None
                node.set("table", exp.to_identifier(qualifiers[qualifier]) if qualifiers[qualifier] else None)
            elif qualifiers and len(set(qualifiers.values())) > 1:
                return None  # ambiguous between target and source
            node.this.set("quoted", True)
            if node.this.name != node.this.name.lower():
                node.this.set("this", node.this.name.lower())
    return expression.sql(dialect="postgres")


def quote(identifier: str) -> str:
    return exp.to_identifier(identifier, quoted=True).sql(dialect="postgres")

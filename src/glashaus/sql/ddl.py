"""Reading CREATE TABLE statements: column types, NOT NULL, PRIMARY KEY, CHECK, PARTITIONED BY.

Anything else a definition may say (DEFAULT, UNIQUE, GENERATED, ...) is refused: a table
must never be created without a rule its creator wrote.

>>> table_definition(sqlglot.parse_one("CREATE TABLE a.b.c (id INT NOT NULL)").this)[0]
id: int32 not null
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from glashaus.catalog.names import validate_part
from glashaus.errors import SqlError
from glashaus.sql.delta_expr import to_delta
from glashaus.sql.resolve import DIALECT


def table_property(statement: exp.Create, kind: type[exp.Expr]) -> str | None:
    props = statement.args.get("properties")
    if props is None:
        return None
    for prop in props.expressions:
        if isinstance(prop, kind):
            return prop.this.name
    return None


def partitioned_by(statement: exp.Create) -> list[str] | None:
    props = statement.args.get("properties")
    if props is None:
        return None
    for prop in props.expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            node = prop.this
            items = node.expressions if isinstance(node, exp.Schema | exp.Tuple) else [node]
            return [validate_part(i.name, what="partition column") for i in items]
    return None


def table_definition(schema: exp.Schema) -> tuple[pa.Schema, list[str], dict[str, str], list[str]]:
    fields: list[pa.Field] = []
    not_null: list[str] = []
    checks: dict[str, str] = {}
    primary_key: list[str] = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            column = validate_part(item.name, what="column")
            nullable = True
            for constraint in item.args.get("constraints") or []:
                kind = constraint.kind
                if isinstance(kind, exp.NotNullColumnConstraint) and not kind.args.get("allow_null"):
                    nullable = False
                elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                    primary_key.append(column)
                    nullable = False
                elif isinstance(kind, exp.CheckColumnConstraint):
                    checks[f"{column}_check_{len(checks) + 1}"] = check_sql(kind.this)
                elif not isinstance(kind, exp.NotNullColumnConstraint):  # NULL (allowed) is the default
                    # DEFAULT, UNIQUE, GENERATED, COLLATE, ... would be dropped without a word: refuse them.
                    raise SqlError(
                        f"column option {constraint.sql(DIALECT)!r} of {column!r} is not supported: Glashaus "
                        "tables take NOT NULL, PRIMARY KEY and CHECK (...) only."
                    )
            fields.append(pa.field(column, arrow_type(item.args.get("kind"), column), nullable=nullable))
            if not nullable:
                not_null.append(column)
        elif isinstance(item, exp.PrimaryKey):
            primary_key += [validate_part(c.name, what="primary key column") for c in item.expressions]
        elif isinstance(item, exp.Constraint):
            for inner in item.expressions:
                if isinstance(inner, exp.CheckColumnConstraint):
                    checks[validate_part(item.this.name, what="constraint")] = check_sql(inner.this)
                else:
                    raise SqlError(
                        f"constraint {item.sql(DIALECT)!r} is not supported: only CONSTRAINT name "
                        "CHECK (...) is (and PRIMARY KEY (...))."
                    )
        elif isinstance(item, exp.CheckColumnConstraint):
            checks[f"check_{len(checks) + 1}"] = check_sql(item.this)
        else:
            raise SqlError(
                f"unsupported table element {item.sql(DIALECT)!r}: list columns as name TYPE [NOT NULL] "
                "[PRIMARY KEY] [CHECK (...)], then PRIMARY KEY (...) or CONSTRAINT name CHECK (...)."
            )
    return pa.schema(fields), not_null, checks, primary_key


def check_sql(expression: exp.Expr) -> str:
    translated = to_delta(expression)
    if translated is None:
        raise SqlError(f"CHECK ({expression.sql(DIALECT)}) is too complex; use comparisons of columns and literals.")
    return translated


_TYPES: dict[str, pa.DataType] = {
    "BOOLEAN": pa.bool_(),
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INT": pa.int32(),
    "BIGINT": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "TEXT": pa.string(),
    "CHAR": pa.string(),
    "DATE": pa.date32(),
    "BLOB": pa.binary(),
    "BINARY": pa.binary(),
    "VARBINARY": pa.binary(),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMPNTZ": pa.timestamp("us"),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "TIMESTAMPLTZ": pa.timestamp("us", tz="UTC"),
}


def arrow_type(kind: exp.DataType | None, column: str) -> pa.DataType:
    if kind is None:
        raise SqlError(f"column {column!r} needs a type.")
    name = kind.this.name if hasattr(kind.this, "name") else str(kind.this)
    name = name.upper()
    if name == "DECIMAL":
        params = [int(p.name) for p in kind.expressions] or [38, 9]
        precision, scale = params[0], params[1] if len(params) > 1 else 0
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise SqlError(
                f"column {column!r} has type {kind.sql(DIALECT)}: DECIMAL(p, s) needs 1 <= p <= 38 and 0 <= s <= p."
            )
        return pa.decimal128(precision, scale)
    if name in _TYPES:
        return _TYPES[name]
    raise SqlError(
        f"column {column!r} has type {kind.sql(DIALECT)}, which Glashaus tables do not support; "
        f"use one of {', '.join(sorted(_TYPES))}, DECIMAL(p, s)."
    )

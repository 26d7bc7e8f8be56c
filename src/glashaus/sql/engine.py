"""Governed SQL: DuckDB for the computing, Delta for every write, the catalog for names.

Over 500 lines: one short handler per statement kind, dispatched on the parsed tree; what
they share already lives beside it (ddl.py, merge.py, clauses.py, resolve.py, sandbox.py).

``lh.sql`` parses each statement with the Glashaus dialect of sqlglot (``dialect.py``:
DuckDB's SQL plus Unity Catalog's statements), refuses what could reach outside the
catalog, and dispatches on the tree's type: queries run in a sandboxed DuckDB over
governed scans; DDL goes to the catalog; GRANT/REVOKE/OWNER TO and row filters and
masks go to ``grants.py`` and ``policies.py``; INSERT, CTAS, MERGE, DELETE and UPDATE
are computed in DuckDB where needed and committed to Delta in one atomic commit each,
with lineage.

>>> lh.sql("SELECT region, count(*) AS n FROM main.shop.orders GROUP BY 1 ORDER BY 1").fetchall()
[('east', 1), ('north', 2), ('south', 1)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import pyarrow as pa
from sqlglot import exp

from glashaus.access import Principal, request
from glashaus.access.sqltext import too_deep
from glashaus.catalog import Securable
from glashaus.catalog.names import parse_name, validate_part
from glashaus.errors import SchemaMismatchError, SqlError, UngovernedAccessError
from glashaus.frames import duck_type
from glashaus.sql import grants, policies
from glashaus.sql.clauses import check_statement, target, with_ctes
from glashaus.sql.ddl import partitioned_by, table_definition, table_property
from glashaus.sql.delta_expr import quote, to_delta
from glashaus.sql.dialect import DIALECT, parse
from glashaus.sql.limits import EMBEDDED_LIMITS, QueryLimits
from glashaus.sql.lineage import column_lineage
from glashaus.sql.merge import merge_assignments, merge_clause
from glashaus.sql.resolve import Resolved, Resolver, check_functions
from glashaus.sql.result import Result
from glashaus.sql.sandbox import Sandbox
from glashaus.sql.statements import ShowObjects
from glashaus.sql.tokenreader import name_parts
from glashaus.tables.results import Column, Description
from glashaus.tables.service import TablesService

_UNGOVERNED = (exp.Copy, exp.Attach, exp.Detach, exp.Install, exp.Pragma, exp.Set, exp.Use, exp.Export)
_SUPPORTED = (
    "SELECT, CREATE CATALOG/SCHEMA/TABLE/VIEW/VOLUME, CREATE TABLE AS SELECT, INSERT INTO, MERGE INTO, DELETE, "
    "UPDATE, DROP, DESCRIBE, SHOW, GRANT, REVOKE, SHOW GRANTS, ALTER ... OWNER TO, "
    "ALTER TABLE ... SET/DROP ROW FILTER, ALTER TABLE ... ALTER COLUMN ... SET/DROP MASK"
)


class SqlEngine:
    """Governed SQL for one lakehouse: checks, rewrites and dispatches statements; DuckDB runs in ``sandbox``."""

    def __init__(self, tables: TablesService, *, limits: QueryLimits = EMBEDDED_LIMITS) -> None:
        self.tables = tables
        self.sandbox = Sandbox(root=tables.layout.root, local=tables.layout.is_local, limits=limits)

    @property
    def limits(self) -> QueryLimits:
        """The time, memory and spill limits every query of this lakehouse runs under."""
        return self.sandbox.limits

    @property
    def open_queries(self) -> int:
        """Queries running now, or whose rows are not all read yet (a server's load; tests of cancellation)."""
        return self.sandbox.open_queries

    def close(self) -> None:
        self.sandbox.close()

    def _run(self, resolved: Resolved) -> pa.Table:
        return self.sandbox.run(resolved)

    def _query(self, resolved: Resolved) -> Result:
        return self.sandbox.query(resolved)

    # -- entry point ------------------------------------------------------------------

    def execute(self, who: Principal, query: str) -> Result:
        """Run governed SQL (DuckDB dialect); catalog names resolve to governed tables.

        One or more statements; the result is the last one's. SQL refused for reaching
        outside the catalog is audited as a denied attempt.

        >>> lh.sql("SELECT count(*) FROM main.shop.orders@v1").scalar()
        4
        """
        if not isinstance(query, str) or not query.strip():
            raise SqlError("empty SQL statement.")
        try:
            return self._execute(who, query)
        except UngovernedAccessError as exc:
            self.tables.access.refuse(who, action="sql.refused", reason=str(exc), details={"sql": query[:2000]})
            raise
        except RecursionError:  # a tree too deep for sqlglot (or for us) anywhere on the way
            raise too_deep() from None

    def _execute(self, who: Principal, sql: str) -> Result:
        result = None
        for statement in parse(sql):  # every statement is read (and checked) before any runs
            with request():
                result = self._statement(who, statement)
        assert result is not None, "parse() refuses SQL without a statement"
        return result

    def _statement(self, who: Principal, statement: exp.Expr) -> Result:
        if isinstance(statement, _UNGOVERNED):
            raise UngovernedAccessError(
                f"{type(statement).__name__.upper()} is not allowed: SQL may only reach catalog objects."
            )
        if isinstance(statement, exp.Query):
            resolved = Resolver(self.tables, who).resolve(statement)
            return self._query(resolved)
        if policies.handles(statement):
            return policies.execute(self.tables, who, policies.from_statement(statement))
        if grants.handles(statement):
            return grants.execute(self.tables, who, grants.from_statement(statement))
        if isinstance(statement, ShowObjects):
            return self._show(who, statement)
        if isinstance(statement, exp.Command):  # a statement neither sqlglot nor the Glashaus dialect knows
            raise SqlError(
                f"unsupported statement: {statement.sql(dialect=DIALECT).strip()[:80]!r}. Supported: {_SUPPORTED}."
            )
        check_statement(statement)  # a clause the handler would not honour is refused, never dropped
        handlers: dict[type, Callable[[Principal, Any], Result]] = {
            exp.Create: self._create,
            exp.Insert: self._insert,
            exp.Delete: self._delete,
            exp.Update: self._update,
            exp.Merge: self._merge,
            exp.Drop: self._drop,
            exp.Describe: self._describe,
        }
        handler = handlers.get(type(statement))
        if handler is None:
            raise SqlError(f"statement {type(statement).__name__.upper()} is not supported. Supported: {_SUPPORTED}.")
        return handler(who, statement)

    # -- DDL ----------------------------------------------------------------------------

    def _container(self, who: Principal, verb: str, statement: exp.Create | exp.Drop) -> Result:
        """CREATE/DROP CATALOG or VOLUME (read by the Glashaus dialect into sqlglot's Create/Drop)."""
        kind = str(statement.args["kind"]).lower()
        name = ".".join(validate_part(p, what=f"{kind} name part") for p in name_parts(statement.this))
        exists = bool(statement.args.get("exists"))
        if isinstance(statement, exp.Drop):  # verb == "DROP"
            gone = self.tables.drop(who, name, kind=kind, if_exists=exists, cascade=bool(statement.args.get("cascade")))
            return Result.status(f"DROP {kind.upper()}", f"dropped {len(gone)} securable(s)", table=name)
        comment = table_property(statement, exp.SchemaCommentProperty)
        make = self.tables.create_catalog if kind == "catalog" else self.tables.create_volume
        s = make(who, name, comment=comment, if_not_exists=exists)
        return Result.status(f"CREATE {kind.upper()}", f"created {kind} {s.full_name}", table=s.full_name)

    def _show(self, who: Principal, statement: ShowObjects) -> Result:
        what = statement.name
        parent = statement.args.get("parent")
        kind = {"TABLES": "table", "VIEWS": "view", "VOLUMES": "volume"}.get(what)
        if what == "CATALOGS":
            items = self.tables.list(who)
        elif parent is None:
            raise SqlError(f"SHOW {what} needs IN <{'catalog' if what == 'SCHEMAS' else 'catalog.schema'}>.")
        else:
            name = ".".join(validate_part(p, what="name part") for p in name_parts(parent))
            items = self.tables.list(who, name, kind=kind)
        return Result(
            pa.table(
                {
                    "name": [s.full_name for s in items],
                    "kind": [s.kind for s in items],
                    "owner": [s.owner for s in items],
                    "comment": [s.comment for s in items],
                }
            ),
            statement=f"SHOW {what}",
        )

    def _create(self, who: Principal, statement: exp.Create) -> Result:
        kind = str(statement.args.get("kind") or "").upper()
        if kind in ("CATALOG", "VOLUME"):
            return self._container(who, "CREATE", statement)
        exists = bool(statement.args.get("exists"))
        replace = bool(statement.args.get("replace"))
        into = statement.this
        comment = table_property(statement, exp.SchemaCommentProperty)
        if kind == "SCHEMA":
            name = target(into)
            s = self.tables.create_schema(who, name, comment=comment, if_not_exists=exists)
            return Result.status("CREATE SCHEMA", f"created schema {s.full_name}", table=s.full_name)
        if kind == "VIEW":
            query = statement.expression
            if not isinstance(query, exp.Query):
                raise SqlError("CREATE VIEW needs AS SELECT ...")
            if isinstance(into, exp.Schema):
                raise SqlError(
                    "CREATE VIEW name (columns) is not supported: name the columns in the SELECT "
                    "(SELECT a AS x, b AS y ...)."
                )
            check_functions(query)
            name = target(into)
            if exists and not replace and self.tables.catalog.exists(parse_name(name)):
                existing = self.tables.get(who, name)
                if existing.kind == "view":  # another kind holding the name is refused below
                    return Result.status(
                        "CREATE VIEW", f"view {existing.full_name} exists already", table=existing.full_name
                    )
            # Resolve once now: proves the view only reaches catalog objects the creator can read.
            resolved = Resolver(self.tables, who, action="view.create").resolve(query)
            if parse_name(name).full in resolved.views:
                raise SqlError(
                    f"view {parse_name(name).full} would read itself (through {sorted(resolved.views)}); "
                    "a view may only read other tables and views."
                )
            sources = sorted(resolved.sources)
            # The view's columns (no rows read): their names pass the same check as a table's.
            probe = dataclasses.replace(
                resolved, expression=exp.subquery(resolved.expression, "v").select("*").limit(0)
            )
            s = self.tables.create_view(
                who,
                name,
                sql=query.sql(dialect=DIALECT),
                sources=sources,
                comment=comment,
                replace=replace,
                schema=self._run(probe).schema,
            )
            self.tables.lineage.record(
                principal=who.name,
                target=s.full_name,
                target_kind="view",
                target_version=None,
                sources=list(resolved.sources.values()),
                operation="CREATE VIEW",
                statement=statement.sql(dialect=DIALECT),
            )
            return Result.status("CREATE VIEW", f"created view {s.full_name}", table=s.full_name)
        if kind != "TABLE":
            raise SqlError(f"CREATE {kind} is not supported; use CATALOG, SCHEMA, TABLE, VIEW or VOLUME.")
        if isinstance(into, exp.Schema):
            name = target(into.this)
            schema, _not_null, checks, primary_key = table_definition(into)
            s = self.tables.create_table(
                who,
                name,
                schema=schema,
                primary_key=primary_key,
                constraints=checks,
                partition_by=partitioned_by(statement),
                comment=comment,
                if_not_exists=exists,
                replace=replace,
            )
            # CHECK constraints are a commit of their own: report the version the table is at.
            version = self.tables.version(who, s.full_name)
            return Result.status("CREATE TABLE", f"created table {s.full_name}", table=s.full_name, version=version)
        query = statement.expression
        if not isinstance(query, exp.Query):
            raise SqlError("CREATE TABLE needs a column list or AS SELECT ...")
        name = target(into)
        resolved = Resolver(self.tables, who).resolve(query)
        data = self._run(resolved)
        if exists and self.tables.catalog.exists(parse_name(name)):
            return Result.status("CREATE TABLE", f"table {name} exists already", table=name)
        s = self.tables.create_table(
            who,
            name,
            data=data,
            partition_by=partitioned_by(statement),
            comment=comment,
            replace=replace,
            statement=statement.sql(dialect=DIALECT),
            sources=list(resolved.sources.values()),
            column_lineage=self._columns(resolved, query, data.column_names),
        )
        version = self.tables.version(who, s.full_name)
        return Result.status(
            "CREATE TABLE AS SELECT",
            f"created table {s.full_name}",
            table=s.full_name,
            version=version,
            rows=data.num_rows,
        )

    def _drop(self, who: Principal, statement: exp.Drop) -> Result:
        kind = str(statement.args.get("kind") or "").lower()
        if kind in ("catalog", "volume"):
            return self._container(who, "DROP", statement)
        if kind not in ("table", "view", "schema"):
            raise SqlError(f"DROP {kind.upper()} is not supported here.")
        gone: list[Securable] = []
        for dropped in statement.args.get("tables") or [statement.this]:
            gone += self.tables.drop(
                who,
                target(dropped),
                kind=kind,
                if_exists=bool(statement.args.get("exists")),
                cascade=bool(statement.args.get("cascade")),
            )
        return Result.status(f"DROP {kind.upper()}", f"dropped {len(gone)} securable(s)")

    def describe(self, who: Principal, name: str) -> Description:
        """Owner, comment, tags, columns (with comments and tags), keys, constraints, version, size.

        The tables service's description; a view's columns come from planning its query. A reader
        whose view of the table is filtered or masked sees no row counts or sizes.

        >>> lh.describe("main.shop.orders").columns[0].name
        'order_id'
        """
        info = self.tables.describe(who, name)
        if info.kind == "view":
            probe = exp.select("*").from_(exp.to_table(info.name)).limit(0)
            schema = self._run(Resolver(self.tables, who, action="view.describe").resolve(probe)).schema
            comments = info.column_comments or {}
            info = dataclasses.replace(
                info,
                columns=tuple(
                    Column(name=f.name, type=str(f.type), nullable=f.nullable, comment=comments.get(f.name))
                    for f in schema
                ),
            )
        return info

    def _describe(self, who: Principal, statement: exp.Describe) -> Result:
        columns = self.describe(who, target(statement.this)).columns or ()
        return Result(
            pa.table(
                {
                    "column": [c.name for c in columns],
                    "type": [c.type for c in columns],
                    "nullable": [c.nullable for c in columns],
                    "comment": [c.comment for c in columns],
                }
            ),
            statement="DESCRIBE",
        )

    # -- DML ------------------------------------------------------------------------------

    def _insert(self, who: Principal, statement: exp.Insert) -> Result:
        into = statement.this
        columns: list[str] | None = None
        if isinstance(into, exp.Schema):
            columns = [validate_part(c.name, what="column") for c in into.expressions]
            into = into.this
        name = target(into, alias=True)
        query = statement.expression
        if not isinstance(query, exp.Query | exp.Values):
            raise SqlError("INSERT needs VALUES (...) or SELECT ...")
        if isinstance(query, exp.Values):
            query = exp.select("*").from_(query.copy())
        query = with_ctes(statement, query)
        resolved = Resolver(self.tables, who).resolve(query)
        data = self._run(resolved)
        table_schema = self.tables.schema(who, parse_name(name))
        table_columns = table_schema.names
        if statement.args.get("by_name"):  # BY NAME: the query's column names say where each value goes
            if columns is not None:
                raise SqlError("INSERT ... BY NAME takes its columns from the query; drop the column list.")
            columns = [validate_part(c, what="column") for c in data.column_names]
            missing = [c for c in columns if c.lower() not in [t.lower() for t in table_columns]]
            if missing:
                raise SqlError(
                    f"INSERT ... BY NAME into {name}: the query has column(s) {missing} that the table "
                    f"does not have; its columns are {table_columns}."
                )
        if columns is None:
            if data.num_columns > len(table_columns):
                raise SqlError(
                    f"INSERT into {name} gives {data.num_columns} values per row but the table has "
                    f"{len(table_columns)} columns."
                )
            columns = table_columns[: data.num_columns]
        elif len(columns) != data.num_columns:
            raise SqlError(f"INSERT into {name} names {len(columns)} columns but gives {data.num_columns} values.")
        data = data.rename_columns(columns)
        data = _decimal_literals_to_float(data, table_schema)
        mode: Literal["overwrite", "append"] = "overwrite" if statement.args.get("overwrite") else "append"
        commit = self.tables.write(
            who,
            name,
            data,
            mode=mode,
            operation="INSERT",
            statement=statement.sql(dialect=DIALECT),
            sources=list(resolved.sources.values()),
            column_lineage=self._columns(resolved, query, columns),
        )
        return Result.status(
            "INSERT", f"inserted {data.num_rows} row(s)", table=commit.table, version=commit.version, rows=data.num_rows
        )

    def _delete(self, who: Principal, statement: exp.Delete) -> Result:
        name = target(statement.this, alias=True)
        where = statement.args.get("where")
        predicate = where.this if where is not None else None
        delta = to_delta(predicate, qualifiers=_alias_map(statement.this)) if predicate is not None else None
        if predicate is not None and (delta is None or statement.args.get("with_")):
            # Outside the subset delta-rs evaluates like DuckDB (or naming a WITH's results):
            # compute the survivors in DuckDB and replace the table's contents in one commit.
            keep = (
                exp.select("*")
                .from_(statement.this.copy())
                .where(exp.not_(exp.func("coalesce", exp.paren(predicate.copy()), exp.false())))
            )
            return self._rewrite(who, name, with_ctes(statement, keep), "DELETE")
        if delta is None and predicate is not None:
            raise SqlError("DELETE condition cannot be evaluated.")
        if predicate is not None:
            _check_columns(name, self.tables.schema(who, parse_name(name)), [predicate])
        commit = self.tables.delete_rows(who, name, predicate=delta)
        return Result.status(
            "DELETE", f"deleted {commit.rows} row(s)", table=name, version=commit.version, rows=commit.rows
        )

    def _update(self, who: Principal, statement: exp.Update) -> Result:
        name = target(statement.this, alias=True)
        if statement.args.get("from_") or statement.args.get("from"):
            raise SqlError("UPDATE ... FROM is not supported; use MERGE INTO ... USING ... instead.")
        where = statement.args.get("where")
        predicate = where.this if where is not None else None
        qualifiers = _alias_map(statement.this)
        assignments: dict[str, exp.Expr] = {}
        for eq in statement.expressions:
            column = validate_part(eq.this.name, what="column")
            assignments[column] = eq.expression
        schema = self.tables.schema(who, parse_name(name))
        _check_columns(name, schema, [exp.column(c) for c in assignments])
        delta_updates = {quote(c): to_delta(e, qualifiers=qualifiers) for c, e in assignments.items()}
        delta_predicate = to_delta(predicate, qualifiers=qualifiers) if predicate is not None else None
        native_updates = {c: v for c, v in delta_updates.items() if v is not None}
        native = len(native_updates) == len(delta_updates) and (predicate is None or delta_predicate)
        if native and not statement.args.get("with_"):
            _check_columns(name, schema, [*assignments.values(), *([predicate] if predicate is not None else [])])
            commit = self.tables.update_rows(who, name, updates=native_updates, predicate=delta_predicate)
            return Result.status(
                "UPDATE", f"updated {commit.rows} row(s)", table=name, version=commit.version, rows=commit.rows
            )
        condition = (
            exp.func("coalesce", exp.paren(predicate.copy()), exp.false()) if predicate is not None else exp.true()
        )
        projections = []
        for field in schema:
            ref = exp.column(field.name, quoted=True)
            if field.name in assignments:
                value = exp.Case(ifs=[exp.If(this=condition.copy(), true=assignments[field.name].copy())], default=ref)
                projections.append(exp.alias_(exp.cast(value, duck_type(field.type)), field.name, quoted=True))
            else:
                projections.append(ref)
        rewritten = exp.select(*projections).from_(statement.this.copy())
        return self._rewrite(who, name, with_ctes(statement, rewritten), "UPDATE")

    def _rewrite(self, who: Principal, name: str, query: exp.Expr, operation: str) -> Result:
        resolved = Resolver(self.tables, who).resolve(query)
        data = self._run(resolved)
        # Replace exactly the version that was read: rows appended meanwhile survive.
        read = resolved.sources[parse_name(name).full].version
        commit = self.tables.write(who, name, data, mode="overwrite", operation=operation, read_version=read)
        return Result.status(
            operation,
            f"{operation.lower()} rewrote the table ({data.num_rows} row(s) remain)",
            table=name,
            version=commit.version,
            rows=data.num_rows,
        )

    def _merge(self, who: Principal, statement: exp.Merge) -> Result:
        into = statement.this
        name = target(into, alias=True)
        using = statement.args["using"]
        source_alias = (using.alias or (using.name if isinstance(using, exp.Table) else "source")).lower()
        target_alias = (into.alias or into.name).lower()
        source_query = with_ctes(statement, exp.select("*").from_(using.copy()))
        resolved = Resolver(self.tables, who).resolve(source_query)
        source = self._run(resolved)
        qualifiers = {target_alias: "target", source_alias: "source"}
        on = to_delta(statement.args["on"], qualifiers=qualifiers)
        if on is None:
            raise SqlError(
                "MERGE ... ON must compare columns with plain operators (e.g. t.id = s.id); "
                "move computed keys into the USING subquery."
            )
        whens = statement.args.get("whens")
        clauses = [merge_clause(when, qualifiers) for when in (whens.expressions if whens is not None else [])]

        def build(merger: Any) -> Any:
            for method, kwargs in clauses:
                merger = getattr(merger, method)(**kwargs)
            return merger

        # Column lineage: target column <- source column (per clause) <- catalog table column.
        through: dict[str, list[tuple[str, str]]] = {}
        for table, column, output in self._columns(resolved, source_query, source.column_names):
            through.setdefault(output, []).append((table, column))
        columns = [
            (table, column, target_column)
            for source_column, target_column in merge_assignments(whens, source_alias, source.column_names)
            for table, column in through.get(source_column, [])
        ]
        commit = self.tables.merge_rows(
            who,
            name,
            source,
            predicate=on,
            build=build,
            sources=list(resolved.sources.values()),
            statement=statement.sql(dialect=DIALECT),
            column_lineage=columns,
        )
        return Result.status(
            "MERGE", f"merged {source.num_rows} source row(s)", table=name, version=commit.version, rows=source.num_rows
        )

    # -- lineage ---------------------------------------------------------------------------

    def _columns(self, resolved: Resolved, query: exp.Expr, target_columns: list[str]) -> list[tuple[str, str, str]]:
        return column_lineage(query, resolved.schemas, target_columns)


def _check_columns(table: str, schema: pa.Schema, expressions: list[exp.Expr]) -> None:
    """Columns that delta-rs would reject (or, in SET, silently ignore) are named here first."""
    for expression in expressions:
        for column in [expression] if isinstance(expression, exp.Column) else expression.find_all(exp.Column):
            if column.name.lower() not in schema.names:
                raise SqlError(f"column {column.name!r} does not exist in {table}; its columns are {schema.names}.")


def _decimal_literals_to_float(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """DuckDB types a literal like ``1.5`` as DECIMAL; SQL assigns it to a DOUBLE column as a number.

    Likewise ``sum()`` of integers is a HUGEINT, which reaches Arrow as DECIMAL(38, 0):
    SQL assigns it to an integer column when the values fit (checked by the cast).
    """
    for i, column in enumerate(data.column_names):
        source = data.schema.field(i).type
        if column in schema.names and pa.types.is_decimal(source):
            target = schema.field(column).type
            if pa.types.is_floating(target) or (pa.types.is_integer(target) and source.scale == 0):
                try:
                    data = data.set_column(i, column, data.column(i).cast(target, safe=True))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise SchemaMismatchError(
                        f"column {column!r} is {target}; the values computed for it do not fit ({exc})."
                    ) from None
    return data


def _alias_map(table: exp.Table) -> dict[str, str]:
    """Qualifiers that mean the target table itself: dropped in Delta predicates."""
    names = {table.name.lower()}
    if table.alias:
        names.add(table.alias.lower())
    return dict.fromkeys(names, "")

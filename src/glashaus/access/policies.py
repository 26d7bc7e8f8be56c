"""Row filters and column masks: what a principal may see of a table's rows and columns.

- A **row filter** is a boolean SQL expression bound to a table; a row is visible when
  it is true.
- A **column mask** is a SQL expression bound to a column; readers see its value in
  place of the column's (the expression may use the column itself).
- A **tag policy** masks every column that carries a tag (``pii``, or ``class=email``)
  for everyone outside the groups it names. Tag keys and values match whatever their
  case (``PII`` is masked by a ``pii`` policy): a policy that missed a tag for its
  spelling would fail open.

Expressions may call ``current_user()`` and ``is_member('group')``; both are
evaluated for the *reader* before the query runs, so one rewritten scan serves one
reader. The same :func:`policy_select` is used by every read path (SQL, ``read``,
change feed), so there is no path around them.

>>> policies.set_row_filter(table, "region = 'north' OR is_member('admins')", columns=["region"]).spec["row_filter"]
"region = 'north' OR is_member('admins')"
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa
import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

from glashaus.access.directory import Directory
from glashaus.access.principal import Principal
from glashaus.access.rows import TagPolicyRow
from glashaus.access.sqltext import check_nesting, function_name, refused_function, too_deep
from glashaus.catalog import Catalog, Securable
from glashaus.catalog.rows import utcnow
from glashaus.errors import InvalidArgumentError, NotFoundError, UngovernedAccessError
from glashaus.frames import duck_type
from glashaus.metastore import Metastore, affected

DIALECT = "duckdb"

#: What a reader who does not manage a table sees in place of a filter's or mask's expression.
HIDDEN = "(hidden)"


@dataclass(frozen=True)
class ReadPolicy:
    """A reader's view of one table: a row filter and masked columns (SQL, reader-bound)."""

    row_filter: exp.Expr | None = None
    masks: dict[str, exp.Expr] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.row_filter is not None or bool(self.masks)


@dataclass(frozen=True)
class TagPolicy:
    name: str
    tag_key: str
    tag_value: str | None
    mask: str
    except_groups: tuple[str, ...]
    created_by: str


def parse_policy_expression(text: str, *, what: str, columns: list[str]) -> exp.Expr:
    """Parse and check a filter or mask expression: columns of the table, no table access."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError(f"{what} may not be empty.")
    check_nesting(text, what=what, error=InvalidArgumentError)
    try:
        expression = sqlglot.parse_one(text, read=DIALECT)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as exc:  # TokenError: e.g. an unclosed quote
        errors = getattr(exc, "errors", None)
        raise InvalidArgumentError(
            f"{what} {text!r} is not a SQL expression: {errors[0]['description'] if errors else exc}."
        ) from None
    except RecursionError:
        raise too_deep(what, InvalidArgumentError) from None
    semicolons = [t for t in sqlglot.tokenize(text, read=DIALECT) if t.token_type == sqlglot.TokenType.SEMICOLON]
    if isinstance(expression, exp.Block) or semicolons:
        raise InvalidArgumentError(f"{what} {text!r} must be one expression, not several statements.")
    if isinstance(expression, exp.Query | exp.Command) or expression.find(exp.Query, exp.Table) is not None:
        raise InvalidArgumentError(f"{what} {text!r} must be an expression over the table's columns, without queries.")
    for func in expression.find_all(exp.Func):  # the same list as user SQL: files, SQL text, environment
        name = function_name(func)
        reason = refused_function(name)
        if reason is not None:
            raise UngovernedAccessError(f"{what} may not call {name}(): {reason}")
    known = {c.lower() for c in columns}
    for column in expression.find_all(exp.Column):
        if column.table or column.name.lower() not in known:
            raise InvalidArgumentError(
                f"{what} {text!r} refers to {column.sql(DIALECT)!r}, which is not a column of the table "
                f"(columns: {', '.join(columns)})."
            )
    return expression


class Policies:
    def __init__(self, metastore: Metastore, catalog: Catalog, directory: Directory) -> None:
        self.metastore = metastore
        self.catalog = catalog
        self.directory = directory

    # -- defining ----------------------------------------------------------------------

    def set_row_filter(self, securable: Securable, expression: str | None, *, columns: list[str]) -> Securable:
        value = None
        if expression is not None:
            parse_policy_expression(expression, what="row filter", columns=columns)
            value = expression
        return self.catalog.update(securable.name, spec={"row_filter": value})

    def set_column_mask(
        self, securable: Securable, column: str, expression: str | None, *, columns: list[str]
    ) -> Securable:
        column = column.lower()
        if column not in [c.lower() for c in columns]:
            raise NotFoundError(f"{securable.full_name} has no column {column!r} (columns: {', '.join(columns)}).")
        masks = dict(securable.spec.get("column_masks") or {})
        if expression is None:
            masks.pop(column, None)
        else:
            parse_policy_expression(expression, what=f"mask of {column}", columns=columns)
            masks[column] = expression
        return self.catalog.update(securable.name, spec={"column_masks": masks})

    def create_tag_policy(
        self, name: str, *, tag: str, mask: str, except_groups: list[str], created_by: str
    ) -> TagPolicy:
        key, _, given = tag.partition("=")
        key, value = key.strip(), given.strip() or None
        if not key:
            raise InvalidArgumentError("a tag policy needs a tag, e.g. 'pii' or 'class=email'.")
        parse_policy_expression(mask, what="tag policy mask", columns=["value"])
        for group in except_groups:
            if not self.directory.exists(group):
                raise NotFoundError(f"group {group!r} does not exist; create it first.")
        try:
            with self.metastore.session() as s:
                s.add(
                    TagPolicyRow(
                        name=name.lower(),
                        tag_key=key,
                        tag_value=value,
                        mask=mask,
                        except_groups=json.dumps(sorted(g.lower() for g in except_groups)),
                        created_by=created_by,
                        created_at=utcnow(),
                    )
                )
        except sa.exc.IntegrityError:
            raise InvalidArgumentError(f"a tag policy named {name!r} exists already.") from None
        return self.tag_policies()[name.lower()]

    def drop_tag_policy(self, name: str) -> None:
        with self.metastore.session() as s:
            result = s.execute(sa.delete(TagPolicyRow).where(TagPolicyRow.name == name.lower()))
            if not affected(result):
                raise NotFoundError(f"tag policy {name!r} does not exist.")

    def tag_policies(self) -> dict[str, TagPolicy]:
        with self.metastore.session() as s:
            return {
                r.name: TagPolicy(
                    r.name, r.tag_key, r.tag_value, r.mask, tuple(json.loads(r.except_groups)), r.created_by
                )
                for r in s.scalars(sa.select(TagPolicyRow).order_by(TagPolicyRow.name))
            }

    # -- applying ----------------------------------------------------------------------

    def may_apply(self, securable: Securable) -> bool:
        """Cheap test: could any filter or mask apply to this table for someone?"""
        spec = securable.spec or {}
        return bool(spec.get("row_filter") or spec.get("column_masks") or self.tag_policies())

    def for_reader(self, principal: Principal, securable: Securable, schema: pa.Schema) -> ReadPolicy:
        """The filter and masks ``principal`` reads ``securable`` through (maybe none)."""
        spec = securable.spec or {}
        row_filter = spec.get("row_filter")
        masks_sql = dict(spec.get("column_masks") or {})
        tag_masks = self._tag_masks(securable, principal)
        if not row_filter and not masks_sql and not tag_masks:
            return ReadPolicy()
        groups = self.directory.groups_of(principal.name) | {principal.name}
        columns = schema.names
        bound_filter = None
        if row_filter:
            bound_filter = _bind(
                parse_policy_expression(row_filter, what="row filter", columns=columns), principal, groups
            )
        masks: dict[str, exp.Expr] = {}
        for column, mask in masks_sql.items():
            if column in columns:
                masks[column] = _bind(
                    parse_policy_expression(mask, what=f"mask of {column}", columns=columns), principal, groups
                )
        for column, mask in tag_masks.items():
            if column in columns and column not in masks:
                # A tag policy's mask speaks of 'value': the column it lands on.
                expression = parse_policy_expression(mask, what="tag policy mask", columns=["value"])
                expression = expression.transform(
                    lambda n, c=column: exp.column(c, quoted=True) if isinstance(n, exp.Column) else n
                )
                masks[column] = _bind(expression, principal, groups)
        return ReadPolicy(bound_filter, masks)

    def restricts(self, principal: Principal, securable: Securable, schema: pa.Schema) -> bool:
        """Whether ``principal``'s view of ``securable`` differs from the table: a filter that can hide a row, a
        mask that can change a value.

        Decided on the expressions bound for ``principal``: a filter such as ``region = 'north' OR
        is_member('admins')`` is ``TRUE`` for an admin (hides nothing), a mask such as ``CASE WHEN
        is_member('pii_readers') THEN email ELSE '***' END`` is ``email`` for a PII reader. Only an
        expression that simplifies to exactly ``TRUE`` (or the column itself) counts as not applying;
        anything else (``x AND TRUE``: NULL hides the row) restricts. Reads still apply the bound
        expressions as they are; this decides who may rewrite a table and see its statistics.
        """
        policy = self.for_reader(principal, securable, schema)
        if policy.row_filter is not None and not _is_true(policy.row_filter):
            return True
        return any(not _is_column(mask, column) for column, mask in policy.masks.items())

    def _tag_masks(self, securable: Securable, principal: Principal) -> dict[str, str]:
        policies = self.tag_policies()
        if not policies:
            return {}
        if not securable.column_tags:
            securable = self.catalog.get(securable.name)  # the lean lookup skipped tags
        if not securable.column_tags:
            return {}
        groups = self.directory.groups_of(principal.name) | {principal.name}
        found: dict[str, str] = {}
        for column, tags in securable.column_tags.items():
            # 'PII' and 'pii' on one column are both kept: each may match a policy.
            pairs = {(key.casefold(), (value or "").casefold()) for key, value in tags.items()}
            keys = {key for key, _ in pairs}
            for policy in policies.values():
                key = policy.tag_key.casefold()
                wanted = key in keys if policy.tag_value is None else (key, policy.tag_value.casefold()) in pairs
                if wanted and not groups & set(policy.except_groups):
                    found.setdefault(column, policy.mask)
        return found


def _is_true(expression: exp.Expr) -> bool:
    simplified = simplify(expression.copy(), dialect=DIALECT)
    return isinstance(simplified, exp.Boolean) and simplified.this is True


def _is_column(expression: exp.Expr, column: str) -> bool:
    simplified = simplify(expression.copy(), dialect=DIALECT)
    return isinstance(simplified, exp.Column) and not simplified.table and simplified.name.lower() == column.lower()


def _bind(expression: exp.Expr, principal: Principal, groups: frozenset[str] | set[str]) -> exp.Expr:
    """Replace current_user() and is_member('g') by literals for this reader."""

    def visit(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.CurrentUser) or (
            isinstance(node, exp.Anonymous) and str(node.this).lower() == "current_user"
        ):
            return exp.Literal.string(principal.name)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in ("is_member", "is_account_group_member"):
            args = node.expressions
            if len(args) != 1 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
                raise InvalidArgumentError("is_member() takes one group name in quotes, e.g. is_member('analysts').")
            return exp.true() if args[0].name.lower() in groups else exp.false()
        return node

    return expression.copy().transform(visit)


def policy_select(policy: ReadPolicy, schema: pa.Schema, source: exp.Expr) -> exp.Select:
    """``SELECT <columns, masked> FROM source WHERE <filter>``: the one way policies are applied."""
    projections: list[exp.Expr] = []
    for f in schema:
        column = exp.column(f.name, quoted=True)
        mask = policy.masks.get(f.name)
        if mask is None:
            projections.append(column)
        else:
            projections.append(
                exp.alias_(
                    exp.cast(exp.paren(mask.copy()), exp.DataType.build(duck_type(f.type), dialect=DIALECT)),
                    f.name,
                    quoted=True,
                )
            )
    select = exp.select(*projections).from_(source)
    if policy.row_filter is not None:
        # NULL counts as false: a row is shown only when the filter is true.
        select = select.where(exp.func("coalesce", exp.paren(policy.row_filter.copy()), exp.false()))
    return select

"""Row filters, column masks and tag policies: the tables service's part, over :class:`~glashaus.access.policies.Policies`.

Defining a filter or mask needs MANAGE on the table (tag policies: admins); reading applies
the reader's filter and masks (:func:`~glashaus.access.policies.policy_select`, run here by
:meth:`PolicyRules.apply`, the one place outside SQL where DuckDB applies them).

The rule for writers, :meth:`PolicyRules.rewrite_rule`, is the one the storage layer's
rewrite gate asks before every commit that can remove or rewrite rows (overwrite, schema
change, merge, delete, update, restore, optimize, vacuum, ``CREATE OR REPLACE``): a writer
whose view of the table is filtered or masked may only append. What such a reader sees
*about* a table is narrowed the same way (:meth:`PolicyRules.restricted`): no row counts,
sizes or operation metrics; policy expressions are for the table's managers
(:func:`~glashaus.access.guard.hide_policy_expressions`).

>>> _ = svc.set_row_filter(alice, "main.shop.orders", "region = 'north' OR is_member('admins')")
>>> _ = svc.grant(alice, "USE SCHEMA", on="main.shop", to="bob")
>>> _ = svc.grant(alice, "SELECT", on="main.shop.orders", to="bob")
>>> lh.as_user("bob").sql("SELECT DISTINCT region FROM main.shop.orders").fetchall()
[('north',)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from glashaus.access import SYSTEM, Access, Principal, request
from glashaus.access.guard import Check, Guard, refuse_system
from glashaus.access.policies import HIDDEN, Policies, ReadPolicy, TagPolicy, policy_select
from glashaus.catalog import Securable
from glashaus.catalog.names import validate_part
from glashaus.deprecation import renamed_keywords
from glashaus.errors import PermissionDeniedError
from glashaus.storage.delta import DeltaStore, arrow_schema
from glashaus.tables.checks import location

ROW_FILTER = Check("MANAGE", "table.row_filter", kinds=("table",), system="filter")
COLUMN_MASK = Check("MANAGE", "table.column_mask", kinds=("table",), system="mask")

#: The name DuckDB gives the rows a policy is applied to (never a catalog name: those have dots).
_ROWS = exp.to_identifier("__glashaus_rows", quoted=True)


class PolicyRules:
    """set_row_filter, set_column_mask, tag policies, and their use on reads and writes."""

    def __init__(self, *, access: Access, guard: Guard, store: DeltaStore, policies: Policies) -> None:
        self.access = access
        self.guard = guard
        self.store = store
        self.policies = policies

    # -- defining -------------------------------------------------------------------------

    @renamed_keywords(name="table")
    def set_row_filter(self, who: Principal, table: str, expression: str | None) -> Securable:
        """Show only rows where ``expression`` is true (``None`` removes the filter); needs MANAGE.

        ``current_user()`` and ``is_member('group')`` are evaluated for each reader.

        >>> _ = lh.set_row_filter("main.shop.orders", "region = 'north' OR is_member('admins')")
        >>> lh.sql("SELECT count(*) FROM main.shop.orders").scalar()   # alice is an admin
        4
        """
        with self.guard.require(who, ROW_FILTER, table, details={"expression": expression}) as allowed:
            columns = arrow_schema(self.store.table(location(allowed.found))).names
            return allowed.shown(self.policies.set_row_filter(allowed.found, expression, columns=columns))

    @renamed_keywords(name="table")
    def set_column_mask(self, who: Principal, table: str, column: str, expression: str | None) -> Securable:
        """Show ``expression`` in place of the column (``None`` removes the mask); needs MANAGE.

        >>> _ = lh.set_column_mask("main.shop.customers", "email",
        ...                        "CASE WHEN is_member('pii_readers') THEN email ELSE '***' END")
        >>> lh.sql("SELECT email FROM main.shop.customers LIMIT 1").scalar()
        '***'
        """
        with self.guard.require(
            who, COLUMN_MASK, table, details={"column": column, "expression": expression}
        ) as allowed:
            columns = arrow_schema(self.store.table(location(allowed.found))).names
            return allowed.shown(self.policies.set_column_mask(allowed.found, column, expression, columns=columns))

    def create_tag_policy(
        self, who: Principal, name: str, *, tag: str, mask: str, except_groups: list[str]
    ) -> TagPolicy:
        """Mask every column tagged ``tag`` (``'pii'`` or ``'class=email'``) for all outside ``except_groups``.

        The mask is an expression over ``value``, the column's value. Admins only.

        >>> lh.create_tag_policy("hide_pii", tag="pii", mask="'***'", except_groups=["analysts"]).name
        'hide_pii'
        """
        validate_part(name, what="policy name")
        with request():
            self.access.require_admin(who, action="tag_policy.create", details={"name": name, "tag": tag})
            return self.policies.create_tag_policy(
                name, tag=tag, mask=mask, except_groups=except_groups, created_by=who.name
            )

    def drop_tag_policy(self, who: Principal, name: str) -> None:
        """Remove the tag policy ``name`` (admins only): the columns it masked show their values again."""
        with request():
            self.access.require_admin(who, action="tag_policy.drop", details={"name": name})
            self.policies.drop_tag_policy(name)

    def tag_policies(self, who: Principal) -> list[TagPolicy]:
        """The tag policies in force (names, tags; masks and exempt groups for admins, ``"(hidden)"`` otherwise).

        As with a table's filters and masks, whoever does not manage a policy (only admins
        manage tag policies) learns that it is there and which tag it masks, not what its
        mask says nor which groups see the real values: :data:`HIDDEN` stands in for them.
        """
        with request():
            everything = self.access.is_admin(who)
            self.access.audit.record(
                principal=who.name,
                action="tag_policy.list",
                securable=None,
                securable_kind="metastore",
                decision="allow",
                reason="admin"
                if everything
                else (f"{who.name} is not an admin: shown the tag policies without their masks and exempt groups"),
            )
            found = list(self.policies.tag_policies().values())
        if everything:
            return found
        return [dataclasses.replace(p, mask=HIDDEN, except_groups=(HIDDEN,)) for p in found]

    # -- applying -------------------------------------------------------------------------

    def rewrite_rule(self, who: Principal, securable: Securable, kind: str) -> None:
        """THE rule for every commit that can remove or rewrite rows; the store's rewrite gate asks it.

        A writer to whom a row filter or column mask of the table applies may only append:
        an overwrite, merge, delete or update computed from the rows they see would destroy
        the rows they do not see (or write masked values back), and a restore, optimize,
        vacuum, schema change or replacement acts on rows they cannot see. The system
        catalog is rewritten only by Glashaus itself. A refusal is audited
        (``table.change_filtered``) and nothing is written.
        """
        if securable.name.catalog == "system":
            if who != SYSTEM:
                refuse_system(securable.name, kind)
            return  # the system catalog takes no filters, masks or tags (refuse_system)
        if not self.restricted(who, securable, managers_see_all=False):
            return
        reason = (
            f"{securable.full_name} has a row filter or column mask that applies to {who.name}, who may "
            f"only append to it (this was a {kind}); a principal the filter and masks do not apply to can "
            "update, delete, merge, overwrite, restore, optimize, vacuum or replace it."
        )
        self.access.refuse(
            who,
            action="table.change_filtered",
            reason=reason,
            details={"table": securable.full_name, "operation": kind},
        )
        raise PermissionDeniedError(reason)

    def restricted(self, who: Principal, securable: Securable, *, managers_see_all: bool = True) -> bool:
        """Whether ``who`` sees ``securable`` through a row filter or column mask.

        With ``managers_see_all`` (what a reader may learn *about* the table) the table's
        managers (owners, MANAGE holders, admins) are never restricted: they could lift the
        policies anyway.
        """
        if securable.kind != "table" or not self.policies.may_apply(securable):
            return False
        if managers_see_all and self.access.allows(who, "MANAGE", securable):
            return False
        schema = arrow_schema(self.store.table(location(securable)))
        return self.policies.restricts(who, securable, schema)

    def may_apply(self, securable: Securable) -> bool:
        """Cheap test: could any filter or mask apply to this table for someone?"""
        return self.policies.may_apply(securable)

    def for_reader(self, who: Principal, securable: Securable, schema: pa.Schema) -> ReadPolicy:
        """The filter and masks ``who`` reads ``securable`` through (maybe none)."""
        return self.policies.for_reader(who, securable, schema)

    def as_reader(self, who: Principal, securable: Securable, data: pa.Table) -> pa.Table:
        """Apply ``who``'s row filter and column masks to rows read outside SQL."""
        policy = self.policies.for_reader(who, securable, data.schema)
        if not policy:
            return data
        return pa.Table.from_batches(list(self.apply(policy, data, data.schema)), schema=data.schema)

    @staticmethod
    def apply(
        policy: ReadPolicy,
        rows: Any,
        schema: pa.Schema,
        *,
        columns: list[str] | None = None,
        batch_size: int = 1_000_000,
    ) -> Iterator[pa.RecordBatch]:
        """``rows`` (an Arrow table or dataset of ``schema``) through ``policy``, as record batches.

        The one :func:`policy_select` on a DuckDB connection that may read no file; ``columns``
        picks the columns returned (after the filter, which may need others), each batch cast
        back to the stored types.
        """
        wanted = pa.schema([schema.field(c) for c in columns]) if columns else schema
        con = duckdb.connect()
        try:
            con.execute("SET enable_external_access = false")
            con.register(_ROWS.name, rows)
            query = policy_select(policy, schema, _ROWS)
            if columns:
                query = exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(query.subquery("t"))
            for batch in con.sql(query.sql(dialect="duckdb")).to_arrow_reader(batch_size):
                yield batch.cast(wanted)
        finally:
            con.close()

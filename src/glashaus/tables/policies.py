"""Row filters, column masks and tag policies: the tables service's part, over :class:`~glashaus.access.policies.Policies`.

Mixed into :class:`~glashaus.tables.TablesService`: defining a policy needs MANAGE on
the table (tag policies: admins); reading applies the reader's filter and masks
(:func:`~glashaus.access.policies.policy_select`).

The rule for writers, :meth:`PoliciesMixin.rewrite_rule`, is the one the storage layer's
rewrite gate asks before every commit that can remove or rewrite rows (overwrite, schema
change, merge, delete, update, restore, optimize, vacuum, ``CREATE OR REPLACE``): a writer
whose view of the table is filtered or masked may only append. What such a reader sees
*about* a table is narrowed the same way (:meth:`PoliciesMixin.restricted`): no row counts,
sizes or operation metrics; policy expressions are for the table's managers.

>>> svc.set_row_filter(alice, "main.shop.orders", "region = 'north' OR is_member('admins')")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import duckdb
import pyarrow as pa
from sqlglot import exp

from glashaus.access import SYSTEM, Access, Principal, request
from glashaus.access.policies import HIDDEN, Policies, TagPolicy, policy_select
from glashaus.catalog import Securable, parse_name
from glashaus.catalog.names import validate_part
from glashaus.errors import PermissionDeniedError
from glashaus.storage.delta import DeltaStore, arrow_schema
from glashaus.tables.checks import location, refuse_system


class PoliciesMixin:
    """set_row_filter, set_column_mask, tag policies, and their use on reads and writes."""

    access: Access
    store: DeltaStore
    policies: Policies
    table: Callable[..., Securable]
    _shown: Callable[[Principal, Securable], Securable]

    def set_row_filter(self, who: Principal, name: str, expression: str | None) -> Securable:
        """Bind a boolean SQL expression to a table (None removes it); needs MANAGE."""
        n = parse_name(name, allow_version=False)
        refuse_system(n, "filter")
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MANAGE", securable, action="table.row_filter",
                                  details={"expression": expression})
            columns = arrow_schema(self.store.table(location(securable))).names
            return self._shown(who, self.policies.set_row_filter(securable, expression, columns=columns))

    def set_column_mask(self, who: Principal, name: str, column: str, expression: str | None) -> Securable:
        """Bind a mask expression to a column (None removes it); needs MANAGE."""
        n = parse_name(name, allow_version=False)
        refuse_system(n, "mask")
        with request():
            securable = self.table(n, who=who)
            self.access.authorize(who, "MANAGE", securable, action="table.column_mask",
                                  details={"column": column, "expression": expression})
            columns = arrow_schema(self.store.table(location(securable))).names
            return self._shown(who, self.policies.set_column_mask(securable, column, expression, columns=columns))

    def create_tag_policy(
        self, who: Principal, name: str, *, tag: str, mask: str, except_groups: list[str]
    ) -> TagPolicy:
        """Mask every column carrying ``tag`` for everyone outside ``except_groups`` (admins only)."""
        validate_part(name, what="policy name")
        with request():
            self.access.require_admin(who, action="tag_policy.create", details={"name": name, "tag": tag})
            return self.policies.create_tag_policy(
                name, tag=tag, mask=mask, except_groups=except_groups, created_by=who.name
            )

    def drop_tag_policy(self, who: Principal, name: str) -> None:
        with request():
            self.access.require_admin(who, action="tag_policy.drop", details={"name": name})
            self.policies.drop_tag_policy(name)

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
        self.access.refuse(who, action="table.change_filtered", reason=reason,
                           details={"table": securable.full_name, "operation": kind})
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

    def _policies_shown(self, who: Principal, securable: Securable) -> Securable:
        """``securable`` with its filter and mask expressions replaced by :data:`HIDDEN` unless ``who`` manages it.

        The expressions (and the groups and values they name) are the managers' business;
        everyone else learns only that a filter or mask is there.
        """
        spec = securable.spec or {}
        if not spec.get("row_filter") and not spec.get("column_masks"):
            return securable
        if self.access.allows(who, "MANAGE", securable):
            return securable
        hidden = dict(spec)
        if spec.get("row_filter"):
            hidden["row_filter"] = HIDDEN
        if spec.get("column_masks"):
            hidden["column_masks"] = {column: HIDDEN for column in spec["column_masks"]}
        return dataclasses.replace(securable, spec=hidden)

    def _as_reader(self, who: Principal, securable: Securable, data: pa.Table) -> pa.Table:
        """Apply ``who``'s row filter and column masks to rows read outside SQL."""
        policy = self.policies.for_reader(who, securable, data.schema)
        if not policy:
            return data
        con = duckdb.connect()
        try:
            con.execute("SET enable_external_access = false")
            con.register("__glashaus_rows", data)
            query = policy_select(policy, data.schema, exp.to_identifier("__glashaus_rows", quoted=True))
            return con.sql(query.sql(dialect="duckdb")).to_arrow_table().cast(data.schema)
        finally:
            con.close()


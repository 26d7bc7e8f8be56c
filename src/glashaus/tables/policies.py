"""Row filters, column masks and tag policies: the tables service's part, over :class:`~glashaus.access.policies.Policies`.

Mixed into :class:`~glashaus.tables.TablesService`: defining a policy needs MANAGE on
the table (tag policies: admins); reading applies the reader's filter and masks
(:func:`~glashaus.access.policies.policy_select`); a filtered or masked writer may only append.

>>> svc.set_row_filter(alice, "main.shop.orders", "region = 'north' OR is_member('admins')")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa
from sqlglot import exp

from glashaus.access import Access, Principal, request
from glashaus.access.policies import Policies, TagPolicy, policy_select
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

    def _refuse_if_filtered(self, who: Principal, securable: Securable) -> None:
        """Changes that replace rows need the whole table: refuse them to a filtered or masked writer.

        Otherwise an UPDATE would write masked values back, or an overwrite computed
        from the visible rows would delete the hidden ones.
        """
        if not self.policies.may_apply(securable):
            return
        schema = arrow_schema(self.store.table(location(securable)))
        if self.policies.for_reader(who, securable, schema):
            reason = (
                f"{securable.full_name} has a row filter or column mask that applies to {who.name}, who may "
                "only append to it; a principal the filter and masks do not apply to can update, delete, "
                "merge or overwrite it."
            )
            self.access.refuse(who, action="table.change_filtered", reason=reason,
                               details={"table": securable.full_name})
            raise PermissionDeniedError(reason)

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


"""Views: a query registered under a name, read with its owner's rights (the tables service's part).

The SQL engine checks the query, lists its sources and finds its columns before it calls
:meth:`Views.create_view`; reading a view expands it (``sql/resolve.py``).

>>> query = "SELECT order_id FROM main.shop.orders WHERE quantity > 10"
>>> view = svc.create_view(alice, "main.shop.big", sql=query, sources=["main.shop.orders"],
...                        schema=pa.schema([("order_id", pa.int64())]))
>>> lh.sql("SELECT * FROM main.shop.big").fetchall()
[(3,)]
"""

from __future__ import annotations

import pyarrow as pa

from glashaus.access import Access, Principal
from glashaus.access.guard import Check, Guard
from glashaus.catalog import Catalog, Securable
from glashaus.storage.schema import check_names

CREATE_VIEW = Check.create("view", "view.create")
#: Replacing a view drops the old one: MANAGE on it, as DROP VIEW needs.
REPLACE_VIEW = Check("MANAGE", "view.drop", kinds=("view",))


class Views:
    """create_view."""

    def __init__(self, *, catalog: Catalog, access: Access, guard: Guard) -> None:
        self.catalog = catalog
        self.access = access
        self.guard = guard

    def create_view(
        self,
        who: Principal,
        name: str,
        *,
        sql: str,
        sources: list[str],
        schema: pa.Schema,
        comment: str | None = None,
        replace: bool = False,
    ) -> Securable:
        """Register a view; the SQL engine has validated ``sql``, listed its ``sources`` and found its ``schema``.

        The view's column names pass the same check as a table's (a name SQL cannot write,
        such as ``''``, would make every read of the view fail).
        """
        n = CREATE_VIEW.parse(name)
        check_names(schema, table_name=f"view {n.full}")
        with self.guard.require(who, CREATE_VIEW, n) as allowed:
            if replace and self.catalog.exists(n):
                self.guard.allow(who, REPLACE_VIEW, self.catalog.get(n, kind="view"))
                self.access.forget(self.catalog.drop(n, kind="view"))
            return allowed.shown(
                self.catalog.create("view", n, owner=who.name, comment=comment, spec={"sql": sql, "sources": sources})
            )

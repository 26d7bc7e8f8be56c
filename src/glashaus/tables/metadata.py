"""Comments, tags and properties of securables: the tables service's part, over the catalog.

Each change needs MANAGE on the securable (audited as ``<kind>.comment``, ``.tag``,
``.untag``, ``.properties``).

>>> svc.set_tags(alice, "main.shop.customers", {"pii": "email"}, column="email").column_tags
{'email': {'pii': 'email'}}
"""

from __future__ import annotations

from glashaus.access import Principal
from glashaus.access.guard import Check, Guard
from glashaus.catalog import Catalog, Securable
from glashaus.catalog.names import validate_part
from glashaus.errors import NotFoundError
from glashaus.storage.delta import DeltaStore, arrow_schema
from glashaus.tables.checks import location

COMMENT = Check("MANAGE", "{kind}.comment", levels=(1, 2, 3), system="comment on")
TAG = Check("MANAGE", "{kind}.tag", levels=(1, 2, 3), system="tag")
UNTAG = Check("MANAGE", "{kind}.untag", levels=(1, 2, 3), system="untag")
PROPERTIES = Check("MANAGE", "{kind}.properties", levels=(1, 2, 3), system="set properties on")


class Metadata:
    """set_comment, set_tags, unset_tags, set_properties."""

    def __init__(self, *, catalog: Catalog, guard: Guard, store: DeltaStore) -> None:
        self.catalog = catalog
        self.guard = guard
        self.store = store

    def set_comment(self, who: Principal, name: str, comment: str, *, column: str | None = None) -> Securable:
        """Set the comment of a securable, or of one of its columns; needs MANAGE.

        >>> lh.set_comment("main.shop.orders", "One row per order.").comment
        'One row per order.'
        """
        with self.guard.require(who, COMMENT, name) as allowed:
            n = allowed.name
            if column is not None:
                return allowed.shown(self.catalog.set_column_comment(n, self._column(allowed.found, column), comment))
            return allowed.shown(self.catalog.update(n, comment=comment))

    def set_tags(self, who: Principal, name: str, tags: dict[str, str], *, column: str | None = None) -> Securable:
        """Add or change tags of a securable, or of one of its columns (tag policies mask tagged columns); needs MANAGE.

        >>> lh.set_tags("main.shop.orders", {"domain": "sales"}).tags
        {'domain': 'sales'}
        """
        with self.guard.require(who, TAG, name) as allowed:
            column = None if column is None else self._column(allowed.found, column)
            return allowed.shown(self.catalog.set_tags(allowed.name, tags, column=column))

    def unset_tags(self, who: Principal, name: str, keys: list[str], *, column: str | None = None) -> Securable:
        """Remove the tags ``keys`` of a securable, or of one of its columns; needs MANAGE."""
        with self.guard.require(who, UNTAG, name) as allowed:
            return allowed.shown(self.catalog.unset_tags(allowed.name, keys, column=column))

    def set_properties(self, who: Principal, name: str, properties: dict[str, str]) -> Securable:
        """Set key-value properties of a securable; needs MANAGE."""
        with self.guard.require(who, PROPERTIES, name) as allowed:
            return allowed.shown(self.catalog.update(allowed.name, properties=properties))

    def _column(self, securable: Securable, column: str) -> str:
        """``column`` in lower case; for a table it must be one of its columns."""
        col = validate_part(column, what="column")
        if securable.kind == "table":
            names = arrow_schema(self.store.table(location(securable))).names
            if col not in names:
                raise NotFoundError(f"column {col!r} does not exist in {securable.full_name}; its columns are {names}.")
        return col

"""Comments, tags and properties of securables: the tables service's part, over the catalog.

Mixed into :class:`~glashaus.tables.TablesService`; each change needs MANAGE.

>>> svc.set_tags(alice, "main.shop.customers", {"pii": "email"}, column="email")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

from glashaus.access import Access, Principal, request
from glashaus.catalog import Catalog, Securable, parse_name
from glashaus.catalog.names import validate_part
from glashaus.errors import NotFoundError
from glashaus.storage.delta import DeltaStore, arrow_schema
from glashaus.tables.checks import location, refuse_system


class MetadataMixin:
    """set_comment, set_tags, unset_tags, set_properties (uses the service's catalog, access and store)."""

    catalog: Catalog
    access: Access
    store: DeltaStore
    _find: Callable[..., Securable]
    _shown: Callable[[Principal, Securable], Securable]

    def set_comment(self, who: Principal, name: str, comment: str, *, column: str | None = None) -> Securable:
        n = parse_name(name, levels=(1, 2, 3), allow_version=False)
        refuse_system(n, "comment on")
        with request():
            securable = self._find(who, n)
            self.access.authorize(who, "MANAGE", securable, action=f"{securable.kind}.comment")
            if column is not None:
                return self._shown(who, self.catalog.set_column_comment(n, self._column(securable, column), comment))
            return self._shown(who, self.catalog.update(n, comment=comment))

    def set_tags(
        self, who: Principal, name: str, tags: dict[str, str], *, column: str | None = None
    ) -> Securable:
        n = parse_name(name, levels=(1, 2, 3), allow_version=False)
        refuse_system(n, "tag")
        with request():
            securable = self._find(who, n)
            self.access.authorize(who, "MANAGE", securable, action=f"{securable.kind}.tag")
            column = None if column is None else self._column(securable, column)
            return self._shown(who, self.catalog.set_tags(n, tags, column=column))

    def unset_tags(self, who: Principal, name: str, keys: list[str], *, column: str | None = None) -> Securable:
        n = parse_name(name, levels=(1, 2, 3), allow_version=False)
        refuse_system(n, "untag")
        with request():
            securable = self._find(who, n)
            self.access.authorize(who, "MANAGE", securable, action=f"{securable.kind}.untag")
            return self._shown(who, self.catalog.unset_tags(n, keys, column=column))

    def set_properties(self, who: Principal, name: str, properties: dict[str, str]) -> Securable:
        n = parse_name(name, levels=(1, 2, 3), allow_version=False)
        refuse_system(n, "set properties on")
        with request():
            securable = self._find(who, n)
            self.access.authorize(who, "MANAGE", securable, action=f"{securable.kind}.properties")
            return self._shown(who, self.catalog.update(n, properties=properties))

    def _column(self, securable: Securable, column: str) -> str:
        """``column`` in lower case; for a table it must be one of its columns."""
        col = validate_part(column, what="column")
        if securable.kind == "table":
            names = arrow_schema(self.store.table(location(securable))).names
            if col not in names:
                raise NotFoundError(f"column {col!r} does not exist in {securable.full_name}; its columns are {names}.")
        return col

"""Checks the tables service makes before it acts on a name or a table's files.

>>> refuse_system(parse_name("main.shop.orders"), "drop")  # doctest: +SKIP
"""

from __future__ import annotations

from glashaus.catalog import Name, Securable
from glashaus.errors import InvalidArgumentError, NotFoundError


def location(securable: Securable) -> str:
    """The table's storage location; a clear error when its creation failed half-way."""
    if not securable.storage_location:
        raise NotFoundError(f"table {securable.full_name!r} has no storage location (its creation failed).")
    return securable.storage_location


def refuse_system(n: Name, verb: str) -> None:
    """The system catalog is written only by Glashaus itself."""
    if n.catalog == "system":
        raise InvalidArgumentError(f"cannot {verb} {n.full!r}: the system catalog is written only by Glashaus.")

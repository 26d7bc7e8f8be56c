"""What the tables service checks before it acts on a table's files.

>>> location(lh.get("main.shop.orders")).split("/tables/")[1][:17]
'main/shop/orders-'
"""

from __future__ import annotations

from glashaus.catalog import Securable
from glashaus.errors import NotFoundError


def location(securable: Securable) -> str:
    """The table's storage location; a clear error when its creation failed half-way."""
    if not securable.storage_location:
        raise NotFoundError(f"table {securable.full_name!r} has no storage location (its creation failed).")
    return securable.storage_location

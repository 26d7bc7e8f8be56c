"""The catalog: three-level names, securables, owners, comments, tags, properties."""

from glashaus.catalog.names import Name, parse_name
from glashaus.catalog.service import Catalog, Securable

__all__ = ["Catalog", "Name", "Securable", "parse_name"]

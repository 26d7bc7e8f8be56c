"""Lineage: table- and column-level edges with exact versions, in ``system.lineage``."""

from glashaus.lineage.store import Edge, LineageStore, Source

__all__ = ["Edge", "LineageStore", "Source"]

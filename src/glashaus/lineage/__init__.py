"""Lineage: table- and column-level edges with exact versions, in ``system.lineage``."""

from glashaus.lineage.store import Edge, LineageStore, Source, check_direction

__all__ = ["Edge", "LineageStore", "Source", "check_direction"]

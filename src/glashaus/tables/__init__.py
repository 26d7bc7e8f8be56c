"""Data processing and management: catalogs, schemas, Delta tables, views, volumes."""

from glashaus.tables.results import (
    Column,
    ColumnEdge,
    Description,
    Grant,
    HistoryEntry,
    OptimizeResult,
)
from glashaus.tables.service import Commit, TablesService
from glashaus.tables.volumes import FileInfo, VolumesService

__all__ = [
    "Column",
    "ColumnEdge",
    "Commit",
    "Description",
    "FileInfo",
    "Grant",
    "HistoryEntry",
    "OptimizeResult",
    "TablesService",
    "VolumesService",
]

"""Data processing and management: catalogs, schemas, Delta tables, views, volumes."""

from glashaus.tables.service import Commit, TablesService
from glashaus.tables.volumes import FileInfo, VolumesService

__all__ = ["Commit", "FileInfo", "TablesService", "VolumesService"]

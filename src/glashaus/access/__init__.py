"""Access: principals, the one authorize path, the audit log, the system tables."""

from glashaus.access.audit import AuditLog, request
from glashaus.access.authorize import Access
from glashaus.access.principal import SYSTEM, Principal
from glashaus.access.system_tables import SystemTables

__all__ = ["SYSTEM", "Access", "AuditLog", "Principal", "SystemTables", "request"]

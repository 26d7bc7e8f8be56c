"""Access: principals, tokens, grants, the one authorize path, the audit log, system tables."""

from glashaus.access.audit import AuditLog, request
from glashaus.access.authorize import Access
from glashaus.access.directory import ADMINS, USERS, Directory, PrincipalInfo, TokenInfo
from glashaus.access.grants import GrantInfo, Grants
from glashaus.access.principal import SYSTEM, Principal
from glashaus.access.system_tables import SystemTables

__all__ = [
    "ADMINS",
    "SYSTEM",
    "USERS",
    "Access",
    "AuditLog",
    "Directory",
    "GrantInfo",
    "Grants",
    "Principal",
    "PrincipalInfo",
    "SystemTables",
    "TokenInfo",
    "request",
]

"""The one authorization path: ``authorize(principal, privilege, securable)``.

Every capability and every face (SDK, CLI, REST, UI) asks here before it touches a
securable, and every answer is audited. Until grants land (the secure-collaboration
issue) every request of the connecting user is allowed, and recorded as such.

>>> access.authorize(alice, "SELECT", table, action="tables.read")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from glashaus.access.audit import AuditLog
from glashaus.access.principal import Principal
from glashaus.access.privileges import check_privilege
from glashaus.catalog import Name, Securable


#: Privileges that only look; every other one changes something and is audited durably.
_READS = frozenset({"SELECT", "USE CATALOG", "USE SCHEMA", "READ VOLUME"})


class Access:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def authorize(
        self,
        principal: Principal,
        privilege: str,
        securable: Securable | Name | None,
        *,
        action: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Allow or raise :class:`~glashaus.errors.PermissionDeniedError`; audit either way."""
        privilege = check_privilege(privilege)
        if isinstance(securable, Securable):
            name, kind = securable.full_name, securable.kind
        elif isinstance(securable, Name):
            name, kind = securable.full, {1: "catalog", 2: "schema"}.get(len(securable.parts), "object")
        else:
            name, kind = None, "metastore"
        self.audit.record(
            principal=principal.name,
            action=action,
            privilege=privilege,
            securable=name,
            securable_kind=kind,
            decision="allow",
            reason="no access rules are enforced yet",
            details=details,
            durable=privilege not in _READS,
        )

    def refuse(
        self, principal: Principal, *, action: str, reason: str, details: dict[str, Any] | None = None
    ) -> None:
        """Record an attempt refused before any securable was named (e.g. SQL reading a file)."""
        self.audit.record(
            principal=principal.name, action=action, decision="deny", reason=reason,
            details=details, durable=True,
        )

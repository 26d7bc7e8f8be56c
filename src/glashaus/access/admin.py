"""Managing principals and tokens, authorized and audited.

Admins create users, groups and service principals and manage memberships; any
user may create, list and revoke their own tokens.

>>> admin.create(alice, "carol", kind="user").name
'carol'
>>> token, info = admin.create_token(bob, "bob", expires_in=dt.timedelta(days=7))
>>> token.startswith("ghs_"), info.principal
(True, 'bob')
"""

from __future__ import annotations

import builtins  # methods named list/set below hide the builtins inside their class
import datetime as dt

from glashaus.access.audit import request
from glashaus.access.authorize import Access
from glashaus.access.directory import PrincipalInfo, TokenInfo
from glashaus.access.principal import Principal
from glashaus.deprecation import renamed_keywords


class Administration:
    def __init__(self, access: Access) -> None:
        self.access = access
        self.directory = access.directory

    def create(self, who: Principal, name: str, *, kind: str) -> PrincipalInfo:
        """Add a principal of ``kind`` (``user``, ``group`` or ``service_principal``); admins only."""
        with request():
            self.access.require_admin(who, action=f"{kind}.create", details={"name": name})
            return self.directory.create(name, kind=kind, created_by=who.name)

    def delete(self, who: Principal, name: str) -> None:
        """Drop a user, group or service principal (admins only); its tokens go with it.

        >>> lh.drop_principal("bob")
        >>> [p.name for p in lh.principals(kind="user")]
        ['alice']
        """
        with request():
            self.access.require_admin(who, action="principal.delete", details={"name": name})
            self.directory.delete(name)

    def add_member(self, who: Principal, group: str, member: str) -> PrincipalInfo:
        """Put a user, service principal or group into a group (admins only); the group as it is now.

        >>> lh.create_group("gardeners").members
        ()
        >>> lh.add_member("gardeners", "bob").members
        ('bob',)
        """
        with request():
            self.access.require_admin(who, action="group.add_member", details={"group": group, "member": member})
            self.directory.add_member(group, member)
            return self.directory.get(group)

    def remove_member(self, who: Principal, group: str, member: str) -> PrincipalInfo:
        """Take a member out of a group (admins only); the group as it is now.

        >>> lh.remove_member("analysts", "bob").members
        ()
        """
        with request():
            self.access.require_admin(who, action="group.remove_member", details={"group": group, "member": member})
            self.directory.remove_member(group, member)
            return self.directory.get(group)

    def get(self, who: Principal, name: str) -> PrincipalInfo:
        """A principal's kind, groups and (a group's) members."""
        return self.directory.get(name)

    def list(self, who: Principal, *, kind: str | None = None) -> builtins.list[PrincipalInfo]:
        """The principals, or those of one ``kind`` (``user``, ``group``, ``service_principal``).

        >>> [p.name for p in lh.principals(kind="group")]
        ['admins', 'analysts', 'users']
        """
        return self.directory.list(kind=kind)

    @renamed_keywords(principal="user")
    def create_token(
        self,
        who: Principal,
        user: str | None = None,
        *,
        expires_in: dt.timedelta | float | None = dt.timedelta(days=90),
        comment: str | None = None,
    ) -> tuple[str, TokenInfo]:
        """A token for ``user`` (default: oneself); for someone else, admins only."""
        target = (user or who.name).lower()
        with request():
            self._own_or_admin(who, own=target == who.name, action="token.create", details={"for": target})
            return self.directory.create_token(target, expires_in=expires_in, comment=comment)

    @renamed_keywords(principal="user")
    def list_tokens(self, who: Principal, user: str | None = None) -> builtins.list[TokenInfo]:
        """The tokens of ``user`` (default: oneself; someone else's, admins only): ids, expiry, comments,
        never the secrets.

        >>> _ = lh.create_token(comment="laptop")
        >>> [t.comment for t in lh.tokens()]
        ['laptop']
        """
        target = (user or who.name).lower()
        self._own_or_admin(who, own=target == who.name, action="token.list", details={"for": target})
        return self.directory.list_tokens(target)

    def revoke_token(self, who: Principal, token_id: str) -> TokenInfo:
        """Revoke a token by its id: one's own, or anyone's for an admin; it signs no one in from then on.

        >>> _ = lh.create_token("bob", comment="ci")
        >>> lh.revoke_token(lh.tokens("bob")[0].id).revoked_at is not None
        True
        """
        with request():
            mine = {t.id for t in self.directory.list_tokens(who.name)}
            self._own_or_admin(who, own=token_id in mine, action="token.revoke", details={"id": token_id})
            return self.directory.revoke_token(token_id)

    def _own_or_admin(self, who: Principal, *, own: bool, action: str, details: dict[str, str]) -> None:
        """One's own tokens are one's own business (allowed, audited); anyone else's are an admin's."""
        if own:
            self.access.audit.record(
                principal=who.name, action=action, decision="allow", reason="own token", details=details
            )
        else:
            self.access.require_admin(who, action=action, details=details)

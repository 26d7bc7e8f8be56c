"""Who is acting: a user, a service principal, or the platform itself.

>>> Principal.user("alice@example.com").name
'alice@example.com'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from glashaus.errors import InvalidNameError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+\-]{0,254}$")

PrincipalKind = Literal["user", "service_principal", "system"]


@dataclass(frozen=True)
class Principal:
    name: str
    kind: PrincipalKind = "user"
    #: The id of the API token this principal signed in with (server mode). Set, it pins the
    #: principal: once the token is gone (deleted with a dropped principal) this principal is
    #: nobody (``Directory.identities``), even when a principal of the same name was created
    #: since, so an old token never acts as the new principal.
    token_id: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def user(cls, name: str) -> Principal:
        """A validated user principal (letters, digits and ``_ . @ + -``)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidNameError(
                f"user name {name!r} is not valid: use 1-255 letters, digits and _ . @ + - "
                "(e.g. 'alice' or 'alice@example.com')."
            )
        return cls(name.lower(), "user")


#: The platform itself, writing its own system tables.
SYSTEM = Principal("system", "system")

"""Privilege names, as Unity Catalog spells them."""

from __future__ import annotations

from typing import Literal

from glashaus.errors import InvalidArgumentError

Privilege = Literal[
    "CREATE CATALOG",
    "USE CATALOG",
    "USE SCHEMA",
    "CREATE SCHEMA",
    "CREATE TABLE",
    "CREATE VOLUME",
    "SELECT",
    "MODIFY",
    "READ VOLUME",
    "WRITE VOLUME",
    "MANAGE",
]

PRIVILEGES: frozenset[str] = frozenset(Privilege.__args__)  # type: ignore[attr-defined]


def check_privilege(name: str) -> str:
    """Normalise a privilege name or raise a clear error listing the valid ones.

    >>> check_privilege("select")
    'SELECT'
    """
    normal = " ".join(str(name).upper().split())
    if normal not in PRIVILEGES:
        raise InvalidArgumentError(
            f"unknown privilege {name!r}; valid privileges: {', '.join(sorted(PRIVILEGES))}."
        )
    return normal

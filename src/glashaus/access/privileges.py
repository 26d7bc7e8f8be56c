"""Privilege names, as Unity Catalog spells them, and where each may be granted."""

from __future__ import annotations

from typing import Literal, get_args

from glashaus.errors import InvalidArgumentError

Privilege = Literal[
    "CREATE CATALOG",
    "USE CATALOG",
    "USE SCHEMA",
    "CREATE SCHEMA",
    "CREATE TABLE",
    "CREATE VOLUME",
    "CREATE MODEL",
    "CREATE FUNCTION",
    "SELECT",
    "MODIFY",
    "READ VOLUME",
    "WRITE VOLUME",
    "EXECUTE",
    "MANAGE",
    "ALL PRIVILEGES",
]

PRIVILEGES: frozenset[str] = frozenset(get_args(Privilege))

_OBJECT = {"SELECT", "MODIFY", "READ VOLUME", "WRITE VOLUME", "EXECUTE"}
_SCHEMA = {"USE SCHEMA", "CREATE TABLE", "CREATE VOLUME", "CREATE MODEL", "CREATE FUNCTION"} | _OBJECT
#: Which privileges may be granted on which kind of securable (inherited downward).
APPLIES_TO: dict[str, frozenset[str]] = {
    "metastore": frozenset({"CREATE CATALOG"}),
    "catalog": frozenset({"USE CATALOG", "CREATE SCHEMA", "MANAGE", "ALL PRIVILEGES"} | _SCHEMA),
    "schema": frozenset({"MANAGE", "ALL PRIVILEGES"} | _SCHEMA),
    "table": frozenset({"SELECT", "MODIFY", "MANAGE", "ALL PRIVILEGES"}),
    "view": frozenset({"SELECT", "MANAGE", "ALL PRIVILEGES"}),
    "volume": frozenset({"READ VOLUME", "WRITE VOLUME", "MANAGE", "ALL PRIVILEGES"}),
    # Unity Catalog: EXECUTE loads and serves a model; owners and MANAGE add versions and move aliases.
    "model": frozenset({"EXECUTE", "MANAGE", "ALL PRIVILEGES"}),
    # Experiments (MLflow): EXECUTE reads runs, MODIFY logs to them.
    "experiment": frozenset({"EXECUTE", "MODIFY", "MANAGE", "ALL PRIVILEGES"}),
}


def check_privilege(name: str) -> str:
    """Normalise a privilege name or raise a clear error listing the valid ones.

    >>> check_privilege("select")
    'SELECT'
    """
    normal = " ".join(str(name).upper().split())
    if normal == "ALL":
        normal = "ALL PRIVILEGES"
    if normal not in PRIVILEGES:
        raise InvalidArgumentError(f"unknown privilege {name!r}; valid privileges: {', '.join(sorted(PRIVILEGES))}.")
    return normal


def check_grantable(privilege: str, kind: str) -> str:
    """The privilege, if it may be granted on a securable of ``kind``."""
    privilege = check_privilege(privilege)
    if privilege not in APPLIES_TO.get(kind, frozenset()):
        valid = ", ".join(sorted(APPLIES_TO.get(kind, frozenset())))
        raise InvalidArgumentError(f"{privilege} cannot be granted on a {kind}; on a {kind} you can grant: {valid}.")
    return privilege


def use_privilege(kind: str) -> str:
    """The privilege that lets one use (see, read) a securable of ``kind``.

    >>> use_privilege("schema")
    'USE SCHEMA'
    """
    return {
        "catalog": "USE CATALOG",
        "schema": "USE SCHEMA",
        "volume": "READ VOLUME",
        "model": "EXECUTE",
        "experiment": "EXECUTE",
    }.get(kind, "SELECT")

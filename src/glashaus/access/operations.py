"""Principals and tokens: their operations on ``lh`` (see :mod:`glashaus.declare`)."""

from __future__ import annotations

from glashaus.declare import Operation


def _op(name: str, http: str, path: str, **kw: object) -> Operation:
    return Operation("", name, http, path, tag="principals", **kw)  # type: ignore[arg-type]


OPERATIONS = [
    _op("principals", "GET", "/principals", cli="glashaus users ls"),
    _op("principal_info", "GET", "/principal"),
    _op(
        "create_user", "POST", "/principals/users", cli="glashaus users create", privilege="MANAGE", audit="user.create"
    ),
    _op(
        "create_group",
        "POST",
        "/principals/groups",
        cli="glashaus groups create",
        privilege="MANAGE",
        audit="group.create",
    ),
    _op(
        "create_service_principal",
        "POST",
        "/principals/service-principals",
        privilege="MANAGE",
        audit="service_principal.create",
    ),
    _op(
        "drop_principal",
        "DELETE",
        "/principals/{name}",
        cli="glashaus users delete",
        privilege="MANAGE",
        audit="principal.delete",
    ),
    _op(
        "add_member",
        "POST",
        "/principals/{group}/members",
        cli="glashaus groups add",
        privilege="MANAGE",
        audit="group.add_member",
    ),
    _op(
        "remove_member",
        "DELETE",
        "/principals/{group}/members/{member}",
        cli="glashaus groups remove",
        privilege="MANAGE",
        audit="group.remove_member",
    ),
    _op("tokens", "GET", "/tokens", cli="glashaus tokens ls", privilege="MANAGE", audit="token.list"),
    _op("create_token", "POST", "/tokens", cli="glashaus tokens create", privilege="MANAGE", audit="token.create"),
    _op(
        "revoke_token",
        "DELETE",
        "/tokens/{token_id}",
        cli="glashaus tokens revoke",
        privilege="MANAGE",
        audit="token.revoke",
    ),
]

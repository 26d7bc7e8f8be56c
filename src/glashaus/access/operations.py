"""Principals and tokens: their operations on ``lh`` (see :mod:`glashaus.declare`).

Each runs an :class:`~glashaus.access.admin.Administration` method (which decides and audits), or one
of the small functions below where ``lh`` asks for a little more (a fixed ``kind``, the token
without its record, the caller as the default name); ``lh`` (generated, ``glashaus/facades.py``)
calls it as the caller.
"""

from __future__ import annotations

import datetime as dt
import functools

from glashaus.access.admin import Administration
from glashaus.access.directory import PrincipalInfo
from glashaus.access.principal import Principal
from glashaus.declare import Operation


def create_user(admin: Administration, who: Principal, name: str) -> PrincipalInfo:
    """Add a user (admins only); they join the ``users`` group.

    >>> lh.create_user("carol@example.com").name
    'carol@example.com'
    """
    return admin.create(who, name, kind="user")


def create_group(admin: Administration, who: Principal, name: str) -> PrincipalInfo:
    """Add a group (admins only); ``lh.add_member`` fills it.

    >>> lh.create_group("gardeners").kind
    'group'
    """
    return admin.create(who, name, kind="group")


def create_service_principal(admin: Administration, who: Principal, name: str) -> PrincipalInfo:
    """Add a service principal (admins only): an identity for a job or a service, which signs in with a token.

    >>> lh.create_service_principal("nightly-etl").kind
    'service_principal'
    """
    return admin.create(who, name, kind="service_principal")


def principal_info(admin: Administration, who: Principal, name: str | None = None) -> PrincipalInfo:
    """A principal's kind and groups (a group's members too); by default the caller's own.

    >>> lh.principal_info().name, lh.principal_info("analysts").members
    ('alice', ('bob',))
    """
    return admin.get(who, name or who.name)


def create_token(
    admin: Administration,
    who: Principal,
    user: str | None = None,
    *,
    expires_in: dt.timedelta | float | None = dt.timedelta(days=90),
    comment: str | None = None,
) -> str:
    """A new API token (shown once, stored as a hash) for ``user`` (default: you; for someone else, admins
    only); ``expires_in`` in seconds or as a timedelta. ``lh.tokens()`` lists what is kept of it.

    >>> lh.create_token(expires_in=dt.timedelta(days=30)).startswith("ghs_")
    True
    """
    token, _info = admin.create_token(who, user, expires_in=expires_in, comment=comment)
    return token


_op = functools.partial(Operation, "", tag="principals")


OPERATIONS = [
    _op("principals", "GET", "/principals", calls=Administration.list, cli="glashaus users ls"),
    _op("principal_info", "GET", "/principal", calls=principal_info),
    _op(
        "create_user",
        "POST",
        "/principals/users",
        calls=create_user,
        cli="glashaus users create",
        privilege="MANAGE",
        audit="user.create",
    ),
    _op(
        "create_group",
        "POST",
        "/principals/groups",
        calls=create_group,
        cli="glashaus groups create",
        privilege="MANAGE",
        audit="group.create",
    ),
    _op(
        "create_service_principal",
        "POST",
        "/principals/service-principals",
        calls=create_service_principal,
        privilege="MANAGE",
        audit="service_principal.create",
    ),
    _op(
        "drop_principal",
        "DELETE",
        "/principals/{name}",
        calls=Administration.delete,
        cli="glashaus users delete",
        privilege="MANAGE",
        audit="principal.delete",
    ),
    _op(
        "add_member",
        "POST",
        "/principals/{group}/members",
        calls=Administration.add_member,
        cli="glashaus groups add",
        privilege="MANAGE",
        audit="group.add_member",
    ),
    _op(
        "remove_member",
        "DELETE",
        "/principals/{group}/members/{member}",
        calls=Administration.remove_member,
        cli="glashaus groups remove",
        privilege="MANAGE",
        audit="group.remove_member",
    ),
    _op(
        "tokens",
        "GET",
        "/tokens",
        calls=Administration.list_tokens,
        cli="glashaus tokens ls",
        privilege="MANAGE",
        audit="token.list",
    ),
    _op(
        "create_token",
        "POST",
        "/tokens",
        calls=create_token,
        cli="glashaus tokens create",
        privilege="MANAGE",
        audit="token.create",
    ),
    _op(
        "revoke_token",
        "DELETE",
        "/tokens/{token_id}",
        calls=Administration.revoke_token,
        cli="glashaus tokens revoke",
        privilege="MANAGE",
        audit="token.revoke",
    ),
]

"""``glashaus users``, ``glashaus groups``, ``glashaus tokens``: principals and API tokens.

Admins create and delete users, groups and service principals and manage group
membership; anyone may create, list and revoke their own tokens (admins: anyone's,
with ``--for``). A new token is printed once, alone on stdout, so that it can be piped.

>>> # glashaus users create bob@example.com
>>> # glashaus groups create analysts && glashaus groups add analysts bob@example.com
>>> # TOKEN=$(glashaus tokens create --user bob@example.com --expires-days 30 --comment laptop)
>>> # glashaus tokens ls && glashaus tokens revoke <id>
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from glashaus import Lakehouse
from glashaus.access import PrincipalInfo, TokenInfo
from glashaus.cli.common import (
    DEFAULT_LAKEHOUSE,
    LakehouseOption,
    MetastoreOption,
    UserOption,
    cell,
    console,
    facts,
    listing,
    open_lakehouse,
    timestamp,
)
from glashaus.errors import InvalidArgumentError
from glashaus.lakehouse import services

users = typer.Typer(
    help="Users and service principals (creating and deleting them: admins only).", no_args_is_help=True
)
groups = typer.Typer(help="Groups and their members (changes: admins only).", no_args_is_help=True)
tokens = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME", help="User, service principal or group name.")]
ForOption = Annotated[
    str | None,
    typer.Option(
        "--for",
        metavar="PRINCIPAL",
        show_default="the acting --user",
        help="Whose tokens (someone else's: admins only).",
    ),
]
_USER_KINDS = ("user", "service_principal")


# -- users ---------------------------------------------------------------------------------------


@users.command("ls")
def users_ls(
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE, user: UserOption = None, metastore: MetastoreOption = None
) -> None:
    """List users and service principals with the groups they belong to."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        found = [p for p in lh.principals() if p.kind in _USER_KINDS]
    _print_principals(found, "users", ("name", "kind", "groups", "created", "created by"))


@users.command("create")
def users_create(
    name: Name,
    service_principal: Annotated[
        bool, typer.Option("--service-principal", help="A service principal (for jobs and pipelines), not a person.")
    ] = False,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Add a user (or service principal); they join the 'users' group."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        made = lh.create_service_principal(name) if service_principal else lh.create_user(name)
    typer.echo(f"created {_kind(made.kind)} {made.name}")


@users.command("delete")
def users_delete(
    name: Name,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Delete a user or service principal (their grants and tokens go with them)."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        info = _expect(lh, name, _USER_KINDS, "glashaus groups delete")
        lh.drop_principal(info.name)
    typer.echo(f"deleted {_kind(info.kind)} {info.name}")


@users.command("show")
def users_show(
    name: Name,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Show a user or service principal: kind, groups (direct and inherited), who created it."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        info = _expect(lh, name, _USER_KINDS, "glashaus groups show")
    _print_one(info)


# -- groups ----------------------------------------------------------------------------------------


@groups.command("ls")
def groups_ls(
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE, user: UserOption = None, metastore: MetastoreOption = None
) -> None:
    """List groups with their direct members."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        found = lh.principals(kind="group")
    _print_principals(found, "groups", ("name", "members", "created", "created by"))


@groups.command("create")
def groups_create(
    name: Name,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Create an empty group."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        made = lh.create_group(name)
    typer.echo(f"created group {made.name}")


@groups.command("delete")
def groups_delete(
    name: Name,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Delete a group (its members stay; its grants go)."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        info = _expect(lh, name, ("group",), "glashaus users delete")
        lh.drop_principal(info.name)
    typer.echo(f"deleted group {info.name}")


@groups.command("add")
def groups_add(
    group: Annotated[str, typer.Argument(metavar="GROUP")],
    member: Annotated[str, typer.Argument(metavar="MEMBER", help="A user, service principal or group.")],
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Put a user, service principal or group into a group."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        info = lh.add_member(group, member)
    typer.echo(f"added {member.lower()} to {info.name} ({len(info.members)} member(s))")


@groups.command("remove")
def groups_remove(
    group: Annotated[str, typer.Argument(metavar="GROUP")],
    member: Annotated[str, typer.Argument(metavar="MEMBER")],
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Take a direct member out of a group."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        info = lh.remove_member(group, member)
    typer.echo(f"removed {member.lower()} from {info.name} ({len(info.members)} member(s))")


@groups.command("show")
def groups_show(
    name: Name,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Show a group: its direct members and the groups it belongs to."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        info = _expect(lh, name, ("group",), "glashaus users show")
    _print_one(info)


# -- tokens ------------------------------------------------------------------------------------------


@tokens.command("create")
def tokens_create(
    for_: ForOption = None,
    expires_days: Annotated[
        int | None,
        typer.Option("--expires-days", min=1, metavar="N", show_default="90", help="Days until the token expires."),
    ] = None,
    never_expires: Annotated[bool, typer.Option("--never-expires", help="A token without expiry.")] = False,
    comment: Annotated[str | None, typer.Option("--comment", "-c", help="What the token is for.")] = None,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Create an API token for --user (or --for someone else) and print it, once, alone on stdout."""
    if never_expires and expires_days is not None:
        raise typer.BadParameter("give --expires-days or --never-expires, not both.", param_hint="'--never-expires'")
    expires_in = None if never_expires else dt.timedelta(days=expires_days or 90)
    with open_lakehouse(lakehouse, user, metastore) as lh:
        token, info = services(lh).admin.create_token(lh.principal, for_, expires_in=expires_in, comment=comment)
    until = "never expires" if info.expires_at is None else f"expires {timestamp(info.expires_at)}"
    typer.echo(f"created token {info.id} for {info.principal} ({until}); it is shown only now.", err=True)
    typer.echo(token)


@tokens.command("ls")
def tokens_ls(
    for_: ForOption = None,
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """List the tokens of --user (or --for someone else): id, comment, dates, state. Never the secret."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        found = lh.tokens(for_)
        whose = (for_ or lh.user).lower()
    out = console()
    if not found:
        out.print(f"no tokens for {whose}", markup=False)
        return
    table = listing(f"tokens of {whose}", ("id", "comment", "created", "expires", "state"))
    for t in found:
        table.add_row(
            cell(t.id),
            cell(t.comment or ""),
            timestamp(t.created_at),
            "never" if t.expires_at is None else timestamp(t.expires_at),
            _state(t),
        )
    out.print(table)


@tokens.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (see `glashaus tokens ls`).")],
    lakehouse: LakehouseOption = DEFAULT_LAKEHOUSE,
    user: UserOption = None,
    metastore: MetastoreOption = None,
) -> None:
    """Revoke a token now (your own; anyone's for admins)."""
    with open_lakehouse(lakehouse, user, metastore) as lh:
        info = lh.revoke_token(token_id)
    typer.echo(f"revoked token {info.id} of {info.principal}")


# -- helpers ---------------------------------------------------------------------------------------


def _kind(kind: str) -> str:
    return kind.replace("_", " ")


def _expect(lh: Lakehouse, name: str, kinds: tuple[str, ...], other: str) -> PrincipalInfo:
    """The principal, if it is of one of ``kinds``; else an error pointing at the other command."""
    info = lh.principal_info(name)
    if info.kind not in kinds:
        raise InvalidArgumentError(f"{info.name!r} is a {_kind(info.kind)}; use `{other} {info.name}`.")
    return info


def _print_principals(found: list[PrincipalInfo], what: str, columns: tuple[str, ...]) -> None:
    out = console()
    if not found:
        out.print(f"no {what}", markup=False)
        return
    table = listing(what, columns)
    for p in found:
        values = {
            "name": p.name,
            "kind": _kind(p.kind),
            "groups": ", ".join(p.groups),
            "members": ", ".join(p.members),
            "created": timestamp(p.created_at),
            "created by": p.created_by,
        }
        table.add_row(*(cell(values[c]) for c in columns))
    out.print(table)


def _print_one(info: PrincipalInfo) -> None:
    about = facts()
    about.add_row("name", cell(info.name))
    about.add_row("kind", cell(_kind(info.kind)))
    if info.kind == "group":
        about.add_row("members", cell(", ".join(info.members) or "—"))
    about.add_row("groups", cell(", ".join(info.groups) or "—"))
    about.add_row("created", cell(f"{timestamp(info.created_at)} by {info.created_by}"))
    console().print(about)


def _state(t: TokenInfo) -> str:
    if t.revoked_at is not None:
        return f"revoked {timestamp(t.revoked_at)}"
    if t.expires_at is not None and t.expires_at <= dt.datetime.now(dt.UTC):
        return "expired"
    return "active"

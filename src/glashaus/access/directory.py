"""The directory: users, groups (which may contain groups), service principals, tokens.

Over 500 lines: principals, memberships and tokens share one transaction pattern and one
cache of verified tokens; tokens are the seam to split along next.

The first user of a new lakehouse becomes its admin (member of ``admins``); every
user is a member of ``users``. API tokens are shown once and stored only as a hash.

A verified token is remembered for at most ``token_cache_seconds`` (5 s; never past
its expiry), so a busy server does not ask the metastore on every request. Revoking
a token or dropping a principal through this directory takes effect at once; a
revocation made by another process (another server, the CLI) within that time. What
is remembered is the token's id with the principal's name, and every request's checks
(:meth:`exists`, :meth:`identities`) look for the principal *holding that token*: a
principal dropped by another process (its tokens go with it) and re-created under the
same name never inherits a remembered token of the old one. (Principal ids are no pin:
SQLite reuses the id of a dropped last row.)

>>> token, info = directory.create_token("alice", expires_in=dt.timedelta(days=30))
>>> directory.verify_token(token).name
'alice'
"""

from __future__ import annotations

import builtins  # methods named list/set below hide the builtins inside their class
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import overload

import sqlalchemy as sa

from glashaus.access.principal import Principal
from glashaus.access.rows import MembershipRow, PrincipalRow, TokenRow
from glashaus.catalog.rows import SecurableRow, utcnow
from glashaus.errors import (
    AlreadyExistsError,
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
)
from glashaus.metastore import Metastore

ADMINS = "admins"
USERS = "users"
BUILTIN_GROUPS = (ADMINS, USERS)
#: The audit log's principal for failed sign-ins (no token, or one that did not verify).
ANONYMOUS = "anonymous"
#: Names the platform writes into the audit log for itself: no principal may take one, or its
#: events could not be told from the platform's.
RESERVED_NAMES = {"system": "the platform itself", ANONYMOUS: "the audit log's failed sign-ins"}
TOKEN_PREFIX = "ghs_"
#: The longest a token may live (beyond it, use expires_in=None: a token that never expires).
MAX_TOKEN_LIFETIME = dt.timedelta(days=100 * 365)
#: How long a verified token is trusted without asking the metastore again: the longest a
#: revocation made by another process (or a principal dropped there) can take to be seen here.
TOKEN_CACHE_SECONDS = 5.0
_TOKEN_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class PrincipalInfo:
    name: str
    kind: str
    created_at: dt.datetime
    created_by: str
    members: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenInfo:
    id: str
    principal: str
    comment: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _identities_query(*, by_token: bool) -> sa.Select:
    """A principal and every group above it, by name (the ``name`` parameter), in one recursive query.

    ``by_token``: only if that principal holds the token ``token_id`` (another parameter).
    """
    principal = sa.select(PrincipalRow.id).where(PrincipalRow.name == sa.bindparam("name"))
    if by_token:
        principal = principal.join(TokenRow, TokenRow.principal_id == PrincipalRow.id).where(
            TokenRow.id == sa.bindparam("token_id")
        )
    start = principal.scalar_subquery()
    above = (
        sa.select(MembershipRow.group_id.label("id"))
        .where(MembershipRow.member_id == start)
        .cte("above", recursive=True)
    )
    # UNION, not UNION ALL: a row seen twice is not followed again (cycles are refused anyway).
    above = above.union(sa.select(MembershipRow.group_id).where(MembershipRow.member_id == above.c.id))
    return sa.select(PrincipalRow.id, PrincipalRow.name).where(
        sa.or_(PrincipalRow.id == start, PrincipalRow.id.in_(sa.select(above.c.id)))
    )


#: Built once: the first authorization check of every request runs one of them.
_IDENTITIES = _identities_query(by_token=False)
_IDENTITIES_BY_TOKEN = _identities_query(by_token=True)


def _lock_memberships(s) -> None:
    """Serialize membership changes: take the write lock before reading what a change checks.

    Checks that span several rows (no cycles, an admin is left) are only sound when no
    other change runs between the check and the write. Updating the built-in ``admins``
    row, unchanged, is a lock both databases understand: on SQLite it starts the write
    transaction (one writer at a time, and no earlier read that could go stale); on
    PostgreSQL it is a row lock held to commit, and the waiting transaction's next reads
    see what the first one committed (READ COMMITTED).
    """
    s.execute(sa.update(PrincipalRow).where(PrincipalRow.name == ADMINS).values(active=PrincipalRow.active))


def _unreserved(name: str) -> str:
    if name in RESERVED_NAMES:
        raise InvalidArgumentError(
            f"{name!r} is reserved for {RESERVED_NAMES[name]} (the audit log records them "
            "under it): choose another name."
        )
    return name


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@overload
def _aware(value: dt.datetime) -> dt.datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands datetimes back without a zone; they were stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class Directory:
    def __init__(
        self,
        metastore: Metastore,
        *,
        token_cache_seconds: float = TOKEN_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metastore = metastore
        self.token_cache_seconds = token_cache_seconds
        self.clock = clock  # monotonic seconds, for the token cache (a test may move it)
        # token hash -> (principal, trusted until (clock), expires_at): verified tokens, for a few seconds.
        self._verified: OrderedDict[str, tuple[Principal, float, dt.datetime | None]] = OrderedDict()
        self._verified_lock = threading.Lock()
        self._forgotten = 0  # bumped by forget_verified_tokens: a verification begun before is not remembered

    # -- bootstrap ------------------------------------------------------------------

    def is_empty(self) -> bool:
        with self.metastore.session() as s:
            return s.scalar(sa.select(sa.func.count()).select_from(PrincipalRow)) == 0

    def bootstrap(self, first_user: str) -> bool:
        """Make ``first_user`` the admin of a lakehouse that has no principals yet.

        Returns True when it did (another process may have been first).
        """
        name = _unreserved(Principal.user(first_user).name)
        try:
            with self.metastore.session() as s:
                if s.scalar(sa.select(sa.func.count()).select_from(PrincipalRow)):
                    return False
                rows = {
                    n: PrincipalRow(name=n, kind=k, created_by=name, active=True)
                    for n, k in ((ADMINS, "group"), (USERS, "group"), (name, "user"))
                }
                s.add_all(rows.values())
                s.flush()
                s.add(MembershipRow(group_id=rows[ADMINS].id, member_id=rows[name].id))
                s.add(MembershipRow(group_id=rows[USERS].id, member_id=rows[name].id))
                return True
        except sa.exc.IntegrityError:
            return False

    # -- principals -------------------------------------------------------------------

    def create(self, name: str, *, kind: str, created_by: str) -> PrincipalInfo:
        """Create a user, group or service principal; users join ``users``."""
        if kind not in ("user", "group", "service_principal"):
            raise InvalidArgumentError(f"kind must be user, group or service_principal, not {kind!r}.")
        clean = _unreserved(Principal.user(name).name)
        try:
            with self.metastore.session() as s:
                row = PrincipalRow(name=clean, kind=kind, created_by=created_by, active=True)
                s.add(row)
                s.flush()
                if kind in ("user", "service_principal"):
                    users = s.scalar(sa.select(PrincipalRow).where(PrincipalRow.name == USERS))
                    if users is not None:
                        s.add(MembershipRow(group_id=users.id, member_id=row.id))
        except sa.exc.IntegrityError:
            raise AlreadyExistsError(f"principal {clean!r} already exists.") from None
        return self.get(clean)

    def get(self, name: str) -> PrincipalInfo:
        with self.metastore.session() as s:
            row = self._row(s, name)
            members = s.scalars(
                sa.select(PrincipalRow.name)
                .join(MembershipRow, MembershipRow.member_id == PrincipalRow.id)
                .where(MembershipRow.group_id == row.id)
                .order_by(PrincipalRow.name)
            ).all()
            return PrincipalInfo(
                row.name,
                row.kind,
                _aware(row.created_at),
                row.created_by,
                tuple(members),
                tuple(sorted(self._groups(s, row.id))),
            )

    def list(self, *, kind: str | None = None) -> list[PrincipalInfo]:
        if kind is not None and kind not in ("user", "group", "service_principal"):
            # An unknown kind would match nothing: an empty answer that looks like a real one.
            raise InvalidArgumentError(f"kind must be user, group or service_principal, not {kind!r}.")
        with self.metastore.session() as s:
            query = sa.select(PrincipalRow.name).order_by(PrincipalRow.name)
            if kind is not None:
                query = query.where(PrincipalRow.kind == kind)
            names = s.scalars(query).all()
        return [self.get(n) for n in names]

    def exists(self, name: str, *, token_id: str | None = None) -> bool:
        """Whether a principal ``name`` exists (and, given ``token_id``, still holds that token: a
        dropped principal's tokens go with it, so a principal re-created under its name does not)."""
        query = sa.select(PrincipalRow.id).where(PrincipalRow.name == name.lower())
        if token_id is not None:
            query = query.join(TokenRow, TokenRow.principal_id == PrincipalRow.id).where(TokenRow.id == token_id)
        with self.metastore.session() as s:
            return s.scalar(query) is not None

    def kind_of(self, name: str) -> str:
        with self.metastore.session() as s:
            return self._row(s, name).kind

    def delete(self, name: str) -> None:
        if name.lower() in BUILTIN_GROUPS:
            raise InvalidArgumentError(f"{name!r} is a built-in group and cannot be deleted.")
        with self.metastore.session() as s:
            _lock_memberships(s)
            row = self._row(s, name)
            s.delete(row)
            s.flush()  # memberships, grants and tokens go with it (ON DELETE CASCADE)
            self._keep_an_admin(s, row.name)
            # Owners are recorded by name: a later principal of the same name would inherit them.
            owned = s.scalars(
                sa.select(SecurableRow.full_name).where(SecurableRow.owner == row.name).order_by(SecurableRow.full_name)
            ).all()
            if owned:  # raising rolls the delete back
                shown = ", ".join(owned[:5]) + (f" and {len(owned) - 5} more" if len(owned) > 5 else "")
                raise InvalidArgumentError(
                    f"cannot drop {row.name!r}: it owns {shown}. Give them a new owner first, e.g. "
                    f"lh.set_owner({owned[0]!r}, '<user or group>')."
                )
        self.forget_verified_tokens()  # its tokens went with it (committed): ask the metastore again

    def add_member(self, group: str, member: str) -> None:
        """Put a user, service principal or group into a group (no cycles)."""
        try:
            self._add_member(group, member)
        except sa.exc.IntegrityError:
            # Added by someone else at the same moment: the membership is there, as asked.
            if str(member).lower() not in self.get(group).members:
                raise

    def _add_member(self, group: str, member: str) -> None:
        with self.metastore.session() as s:
            _lock_memberships(s)  # the cycle check below and the insert are one step
            g, m = self._row(s, group), self._row(s, member)
            if g.kind != "group":
                raise InvalidArgumentError(f"{g.name!r} is a {g.kind}, not a group.")
            if g.id == m.id:
                raise InvalidArgumentError(f"cannot put {m.name!r} into {g.name!r}: groups may not contain themselves.")
            if m.kind == "group" and m.id in self._group_ids(s, g.id):
                raise InvalidArgumentError(
                    f"cannot put group {m.name!r} into {g.name!r}: {g.name!r} is already inside {m.name!r}."
                )
            if s.get(MembershipRow, (g.id, m.id)) is None:
                s.add(MembershipRow(group_id=g.id, member_id=m.id))

    def remove_member(self, group: str, member: str) -> None:
        with self.metastore.session() as s:
            _lock_memberships(s)  # two admins removing each other at once must not leave none
            g, m = self._row(s, group), self._row(s, member)
            row = s.get(MembershipRow, (g.id, m.id))
            if row is None:
                raise NotFoundError(f"{m.name!r} is not a direct member of {g.name!r}.")
            if g.name == USERS and m.kind != "group":
                raise InvalidArgumentError(
                    f"cannot remove {m.name!r} from 'users': every user and service principal is a member. "
                    f"Revoke what 'users' holds instead, or drop {m.name!r}."
                )
            s.delete(row)
            s.flush()
            self._keep_an_admin(s, m.name)

    def _keep_an_admin(self, s, removed: str) -> None:
        """Refuse (and so roll back) a change that leaves no user or service principal in ``admins``,
        directly or through nested groups."""
        admins = s.scalar(sa.select(PrincipalRow.id).where(PrincipalRow.name == ADMINS))
        if admins is None:
            return
        found: set[int] = set()
        frontier = {admins}
        while frontier:
            members = set(s.scalars(sa.select(MembershipRow.member_id).where(MembershipRow.group_id.in_(frontier))))
            frontier = members - found
            found |= members
        people = s.scalar(
            sa.select(sa.func.count())
            .select_from(PrincipalRow)
            .where(PrincipalRow.id.in_(found), PrincipalRow.kind != "group")
        )
        if not people:
            raise InvalidArgumentError(
                f"cannot remove {removed!r}: that takes away the last member of 'admins' (a user or service "
                "principal, directly or through a group), and a lakehouse needs an admin. Make someone else an "
                "admin first: lh.add_member('admins', '<user>')."
            )

    def groups_of(self, name: str) -> frozenset[str]:
        """Every group ``name`` belongs to, directly or through other groups."""
        return self.identities(name)[1] - {str(name).lower()}

    def identities(self, name: str, *, token_id: str | None = None) -> tuple[frozenset[int], frozenset[str]]:
        """The ids and names of ``name`` and all its groups (for grant lookups); none if ``name`` is
        unknown or, given ``token_id``, no longer holds that token (a principal dropped and re-created
        under the same name does not: tokens go with their principal). Revocation is the token
        check's business (``verify_token``, within ``token_cache_seconds``), not this one's.

        One recursive query (SQLite and PostgreSQL alike): this runs for the first
        authorization check of every request.
        """
        name = str(name).lower()
        with self.metastore.engine.connect() as conn:
            if token_id is None:
                rows = conn.execute(_IDENTITIES, {"name": name}).all()
            else:
                rows = conn.execute(_IDENTITIES_BY_TOKEN, {"name": name, "token_id": token_id}).all()
        if not any(r.name == name for r in rows):
            return frozenset(), frozenset()
        return frozenset(r.id for r in rows), frozenset(r.name for r in rows)

    def _groups(self, s, principal_id: int) -> set[str]:
        ids = self._group_ids(s, principal_id)
        if not ids:
            return set()
        return set(s.scalars(sa.select(PrincipalRow.name).where(PrincipalRow.id.in_(ids))).all())

    def _group_ids(self, s, principal_id: int) -> set[int]:
        found: set[int] = set()
        frontier = {principal_id}
        while frontier:
            parents = set(
                s.scalars(sa.select(MembershipRow.group_id).where(MembershipRow.member_id.in_(frontier))).all()
            )
            frontier = parents - found
            found |= parents
        found.discard(principal_id)
        return found

    def _row(self, s, name: str) -> PrincipalRow:
        row = s.scalar(sa.select(PrincipalRow).where(PrincipalRow.name == str(name).lower()))
        if row is None:
            raise NotFoundError(
                f"principal {name!r} does not exist; an admin can create it "
                "(lh.create_user / lh.create_group, or glashaus users create)."
            )
        return row

    # -- tokens -------------------------------------------------------------------------

    def create_token(
        self,
        principal: str,
        *,
        expires_in: dt.timedelta | float | None = dt.timedelta(days=90),
        comment: str | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new API token for ``principal``: the string (shown once) and its record.

        ``expires_in`` is a ``timedelta`` or a number of seconds.
        """
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            if expires_in != expires_in or abs(expires_in) > MAX_TOKEN_LIFETIME.total_seconds():  # NaN, huge
                raise InvalidArgumentError(
                    f"expires_in must be at most {MAX_TOKEN_LIFETIME.days} days, in seconds "
                    "or as a timedelta (or None for a token that never expires)."
                )
            expires_in = dt.timedelta(seconds=expires_in)
        if expires_in is not None and not isinstance(expires_in, dt.timedelta):
            raise InvalidArgumentError(f"expires_in must be a timedelta or a number of seconds, not {expires_in!r}.")
        if expires_in is not None and expires_in.total_seconds() <= 0:
            raise InvalidArgumentError("expires_in must be positive (or None for a token that never expires).")
        if expires_in is not None and expires_in > MAX_TOKEN_LIFETIME:
            raise InvalidArgumentError(
                f"expires_in must be at most {MAX_TOKEN_LIFETIME.days} days (or None for a token that never expires)."
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        with self.metastore.session() as s:
            row = self._row(s, principal)
            if row.kind == "group":
                raise InvalidArgumentError(f"{row.name!r} is a group; tokens belong to users and service principals.")
            record = TokenRow(
                id=uuid.uuid4().hex,
                principal_id=row.id,
                token_hash=_hash(token),
                comment=comment,
                created_at=now,
                expires_at=now + expires_in if expires_in is not None else None,
            )
            s.add(record)
            s.flush()
            info = TokenInfo(record.id, row.name, comment, now, record.expires_at, None)
        return token, info

    def verify_token(self, token: str) -> Principal:
        """The principal a token stands for, or :class:`AuthenticationError`.

        A token verified in the last ``token_cache_seconds`` is answered from memory
        (see :meth:`cached_principal`); otherwise the metastore is asked.
        """
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise AuthenticationError("invalid token.")
        digest = _hash(token)
        hit = self._cached(digest)
        if hit is not None:
            return hit
        generation = self._forgotten
        with self.metastore.session() as s:
            record = s.scalar(sa.select(TokenRow).where(TokenRow.token_hash == digest))
            # compare_digest keeps the final check constant-time.
            if record is None or not hmac.compare_digest(record.token_hash, digest):
                raise AuthenticationError("invalid token.")
            if record.revoked_at is not None:
                raise AuthenticationError("this token was revoked.")
            expires = _aware(record.expires_at)
            if expires is not None and expires <= utcnow():
                raise AuthenticationError("this token has expired; create a new one.")
            row = s.get(PrincipalRow, record.principal_id)
            if row is None or not row.active:
                raise AuthenticationError("the token's principal no longer exists.")
            # The token's id goes with the name: every later check holds on to it (see Principal.token_id).
            principal = Principal(
                row.name, "service_principal" if row.kind == "service_principal" else "user", token_id=record.id
            )
        self._remember(digest, principal, expires, generation)
        return principal

    def cached_principal(self, token: str) -> Principal | None:
        """The principal of a token verified in the last ``token_cache_seconds``, or None (ask
        :meth:`verify_token`). No I/O: cheap enough for an event loop.

        >>> token, info = directory.create_token("alice")
        >>> (directory.cached_principal(token) or directory.verify_token(token)).name
        'alice'
        """
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return self._cached(_hash(token))

    def forget_verified_tokens(self) -> None:
        """Ask the metastore again for every token (after a principal is dropped, say)."""
        with self._verified_lock:
            self._verified.clear()
            self._forgotten += 1

    def _cached(self, digest: str) -> Principal | None:
        with self._verified_lock:
            hit = self._verified.get(digest)
        if hit is None:
            return None
        principal, until, expires = hit
        if self.clock() >= until or (expires is not None and expires <= utcnow()):
            with self._verified_lock:
                self._verified.pop(digest, None)
            return None
        return principal

    def _remember(self, digest: str, principal: Principal, expires: dt.datetime | None, generation: int) -> None:
        if self.token_cache_seconds <= 0:
            return
        with self._verified_lock:
            if generation != self._forgotten:  # a revocation or drop committed meanwhile: what we read may be old
                return
            self._verified[digest] = (principal, self.clock() + self.token_cache_seconds, expires)
            self._verified.move_to_end(digest)
            while len(self._verified) > _TOKEN_CACHE_SIZE:
                self._verified.popitem(last=False)

    def list_tokens(self, principal: str | None = None) -> builtins.list[TokenInfo]:
        with self.metastore.session() as s:
            query = sa.select(TokenRow, PrincipalRow.name).join(PrincipalRow, PrincipalRow.id == TokenRow.principal_id)
            if principal is not None:
                self._row(s, principal)  # an unknown name is an error, not an empty list
                query = query.where(PrincipalRow.name == principal.lower())
            return [
                TokenInfo(t.id, name, t.comment, _aware(t.created_at), _aware(t.expires_at), _aware(t.revoked_at))
                for t, name in s.execute(query.order_by(TokenRow.created_at)).all()
            ]

    def revoke_token(self, token_id: str) -> TokenInfo:
        with self.metastore.session() as s:
            record = s.get(TokenRow, token_id)
            if record is None:
                raise NotFoundError(f"token {token_id!r} does not exist (see `glashaus tokens ls`).")
            if record.revoked_at is None:
                record.revoked_at = utcnow()
            owner = s.get(PrincipalRow, record.principal_id)
            info = TokenInfo(
                record.id,
                owner.name if owner else "?",
                record.comment,
                _aware(record.created_at),
                _aware(record.expires_at),
                _aware(record.revoked_at),
            )
        self.forget_verified_tokens()  # committed: at once in this process (others: TOKEN_CACHE_SECONDS)
        return info

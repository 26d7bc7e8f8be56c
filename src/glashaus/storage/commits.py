"""Who commits to a Delta table, and the one door to commits that remove or rewrite rows.

Every commit :class:`~glashaus.storage.delta.DeltaStore` makes names its principal and
operation in the commit's metadata (``glashaus.principal``, ``glashaus.operation``; what
``lh.history`` shows). There are two kinds:

- **appends** add rows and change nothing else (and creating a table): they take a
  :class:`CommitBy`;
- **rewrites** remove or replace rows, columns or files: overwrite, a schema change, merge,
  delete, update, restore, optimize, vacuum, and replacing a table (``CREATE OR REPLACE``).
  The store's methods for them require a :class:`RewriteGrant`, and the only way to get one
  is :meth:`RewriteGate.admit`, which first asks the one rule installed in the store's gate
  (the tables service installs it: a writer whose view of the table is filtered or masked
  may only append). A grant is bound to one store, one table location, one kind of rewrite
  and one principal, whose name the commit records.

So a rewriting commit cannot be reached without the rule, and a rewriting operation added to
the store later cannot skip it either: it has to take a grant (``tests/test_rewrites.py``
checks every committing method of the store).

>>> gate = RewriteGate()
>>> gate.install(lambda who, table, kind: None)     # the tables service installs the real rule
>>> CommitBy("alice", "WRITE append").metadata()
{'glashaus.principal': 'alice', 'glashaus.operation': 'WRITE append'}
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

from glashaus.catalog import Securable
from glashaus.errors import InvalidArgumentError, PermissionDeniedError, StorageError

#: The commits that may remove or rewrite rows (or the schema, or the files behind old versions).
RewriteKind = Literal[
    "overwrite", "schema change", "merge", "delete", "update", "restore", "optimize", "vacuum", "replace"
]
REWRITE_KINDS: tuple[str, ...] = get_args(RewriteKind)


class Actor(Protocol):
    """Whoever commits (``glashaus.access.Principal``): storage needs only the name."""

    @property
    def name(self) -> str: ...


#: The rule: raise (a :class:`~glashaus.errors.GlashausError`) to refuse ``who`` this rewrite of ``table``.
RewriteRule = Callable[[Any, Securable, str], None]


@dataclass(frozen=True)
class CommitBy:
    """Who makes a commit and what it is; written into the commit's metadata."""

    principal: str
    operation: str

    def __post_init__(self) -> None:
        # A commit without its author is what the audit of rewrites must never see again.
        if not isinstance(self.principal, str) or not self.principal:
            raise InvalidArgumentError("every commit needs the principal that makes it.")
        if not isinstance(self.operation, str) or not self.operation:
            raise InvalidArgumentError("every commit needs an operation name.")

    def metadata(self) -> dict[str, str]:
        return {"glashaus.principal": self.principal, "glashaus.operation": self.operation}


# Known only to this module: a RewriteGrant built anywhere but RewriteGate.admit is refused.
_SEAL = object()


class RewriteGrant:
    """Leave, given by the rule, for one kind of rewriting commit of one table by one principal."""

    __slots__ = ("_gate", "by", "kind", "location", "table")

    def __init__(self, seal: object, gate: RewriteGate, *, location: str, table: str, kind: str, by: CommitBy) -> None:
        if seal is not _SEAL:
            raise TypeError("a RewriteGrant comes only from RewriteGate.admit, which asks the rewrite rule first.")
        self._gate = gate
        self.location = location
        self.table = table
        self.kind = kind
        self.by = by

    def __repr__(self) -> str:
        return f"<RewriteGrant {self.kind} of {self.table} by {self.by.principal}>"


class RewriteGate:
    """The one door to a store's rewriting commits: the rule is installed once, then asked for every grant."""

    def __init__(self) -> None:
        self._rule: RewriteRule | None = None
        self._lock = threading.Lock()

    def install(self, rule: RewriteRule) -> None:
        """Set the rule; once only, so nothing can swap it for a laxer one later."""
        with self._lock:
            if self._rule is not None:
                raise StorageError("this store's rewrite rule is installed already; it cannot be replaced.")
            self._rule = rule

    def admit(self, who: Actor, table: Securable, *, kind: RewriteKind, operation: str) -> RewriteGrant:
        """Ask the rule whether ``who`` may make this rewrite of ``table``; a grant for it, or the rule's error."""
        if kind not in REWRITE_KINDS:
            raise InvalidArgumentError(f"unknown rewrite {kind!r}; one of {', '.join(REWRITE_KINDS)}.")
        if self._rule is None:
            # Fail closed: without the rule nobody rewrites.
            raise StorageError(f"cannot {kind} {table.full_name}: no rewrite rule is installed; nothing was written.")
        if not table.storage_location:
            raise StorageError(f"table {table.full_name!r} has no storage location (its creation failed).")
        self._rule(who, table, kind)
        return RewriteGrant(
            _SEAL,
            self,
            location=table.storage_location,
            table=table.full_name,
            kind=kind,
            by=CommitBy(who.name, operation),
        )

    def check(self, grant: RewriteGrant, *, location: str, kind: RewriteKind) -> CommitBy:
        """The grant's author if it is this gate's grant for ``kind`` of ``location``; refuse it otherwise."""
        if not isinstance(grant, RewriteGrant) or grant._gate is not self:
            raise PermissionDeniedError(f"a {kind} needs a grant from this store's rewrite gate; nothing was written.")
        if grant.location != location or grant.kind != kind:
            raise PermissionDeniedError(f"{grant!r} does not cover a {kind} of {location}; nothing was written.")
        return grant.by

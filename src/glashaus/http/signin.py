"""The sign-in limit: failed sign-ins slow down whoever keeps failing, never a correct token.

Failures (a missing, malformed, unknown, expired or revoked token) are counted per
client address and per token prefix (the token's first :data:`PREFIX_LENGTH`
characters: a client that keeps sending the same bad token is slowed down from
wherever it calls). When one of them has more than ``max_failures`` failures within
``window`` seconds, it is in backoff: each further failure is answered 429 with
``Retry-After`` instead of 401, and doubles the backoff (1 s, 2 s, 4 s, ... at most
``max_backoff``). A correct token is always accepted, whatever its address's or
prefix's state: the gate is asked only after a token failed to verify, so no one can
lock a user out by sending bad tokens from the user's address (or, through a trusted
proxy, in their name).

Tokens carry 256 random bits, so guessing one is not what the limit guards against; it
tells clients that keep failing to stop (or slows them down), and every failure stays
in the audit log (``auth.failed``).

>>> gate = SignInGate(max_failures=2, window=60.0)
>>> [gate.failed("10.0.0.9", "ghs_guess") for _ in range(3)][-1].seconds
1
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glashaus.access import Principal
from glashaus.access.directory import ANONYMOUS
from glashaus.errors import AuthenticationError, RateLimitedError
from glashaus.lakehouse import services

if TYPE_CHECKING:
    from glashaus.lakehouse import Lakehouse

#: Characters of a token that name its prefix ("ghs_" and 8 of the 43 random ones).
PREFIX_LENGTH = 12
#: Keys beyond this many are pruned of those whose failures are all old.
_MAX_KEYS = 10_000


@dataclass(frozen=True)
class Backoff:
    """How long a failing client must wait, and why (an address, or a token prefix)."""

    seconds: int
    reason: str


@dataclass
class _Failures:
    times: collections.deque[float]
    level: int = 0  # backoffs so far in this streak: the next one lasts base * 2**level
    until: float = 0.0  # in backoff before this (clock)


class SignInGate:
    """Failed sign-ins per address and token prefix, with exponential backoff (see the module)."""

    def __init__(
        self,
        max_failures: int = 10,
        window: float = 60.0,
        *,
        base_backoff: float = 1.0,
        max_backoff: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self._keys: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def failed(self, address: str, token: str | None) -> Backoff | None:
        """Count one failed sign-in; the backoff it must now observe, or None (answer 401)."""
        keys = [("address", address)] + ([("prefix", token[:PREFIX_LENGTH])] if token else [])
        now = self.clock()
        worst: Backoff | None = None
        with self._lock:
            for key in keys:
                wait = self._fail(key, now)
                if wait is not None and (worst is None or wait > worst.seconds):
                    what = f"from {address}" if key[0] == "address" else f"with tokens starting {key[1]!r}"
                    worst = Backoff(wait, what)
            if len(self._keys) > _MAX_KEYS:
                self._prune(now)
        return worst

    def _fail(self, key: tuple[str, str], now: float) -> int | None:
        entry = self._keys.get(key)
        if entry is None or ((not entry.times or entry.times[-1] < now - self.window) and entry.until <= now):
            entry = self._keys[key] = _Failures(collections.deque())  # a quiet window ends the streak
        while entry.times and entry.times[0] < now - self.window:
            entry.times.popleft()
        entry.times.append(now)
        if entry.until <= now and len(entry.times) <= self.max_failures:
            return None
        entry.until = now + min(self.base_backoff * 2**entry.level, self.max_backoff)
        entry.level += 1
        return max(1, math.ceil(entry.until - now))

    def _prune(self, now: float) -> None:
        for key in [k for k, f in self._keys.items() if f.until <= now and f.times[-1] < now - self.window]:
            del self._keys[key]


class SignIn:
    """The one sign-in path of every face: verify a token; count, audit and slow down failures.

    A token that verifies is always accepted. One that does not (or none at all) is audited
    (``auth.failed``, ``deny``, principal ``anonymous``, with the method and path, the backoff
    and the caller's correlation id in its details) and counted by the :class:`SignInGate`,
    which answers 429 instead of 401 once the address or the token's prefix keeps failing.

    >>> sign_in = SignIn(lh, SignInGate())
    >>> sign_in.verify(lh.create_token(), address="10.0.0.9", method="GET", path="/api/catalogs")
    Principal(name='alice', ...)
    """

    def __init__(self, lakehouse: Lakehouse, gate: SignInGate) -> None:
        self.lakehouse = lakehouse
        self.gate = gate

    def cached(self, token: str | None) -> Principal | None:
        """The principal of a token verified in the last few seconds, else None; no I/O (event loop)."""
        return services(self.lakehouse).directory.cached_principal(token.strip()) if token else None

    def verify(
        self,
        token: str | None,
        *,
        address: str,
        method: str,
        path: str,
        missing: str = "missing token",
        correlation: str | None = None,
    ) -> Principal:
        """The principal ``token`` stands for; :class:`AuthenticationError` (401) or
        :class:`RateLimitedError` (429) otherwise. ``missing``: the message when there is no token.
        Call it in the request's audit context (``client_address``, ``audit.request``)."""
        token = token.strip() if token is not None else None
        try:
            if token is None:
                raise AuthenticationError(missing)
            if not token:
                raise AuthenticationError("the Authorization header must be 'Bearer <token>'.")
            return services(self.lakehouse).directory.verify_token(token)
        except AuthenticationError as exc:
            backoff = self.gate.failed(address, token)
            details: dict[str, Any] = {"method": method, "path": path}
            if backoff is not None:
                details["backoff_seconds"] = backoff.seconds
            if correlation is not None:
                details["correlation_id"] = correlation
            services(self.lakehouse).audit.record(
                principal=ANONYMOUS, action="auth.failed", decision="deny", reason=str(exc), details=details
            )
            if backoff is None:
                raise
            limited = RateLimitedError(
                f"{exc} Too many failed sign-ins {backoff.reason}: wait {backoff.seconds} s before trying again "
                "(a valid token is always accepted)."
            )
            limited.retry_after = backoff.seconds
            raise limited from None

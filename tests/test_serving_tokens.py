"""Sign-in on busy servers: a verified token is remembered for at most TOKEN_CACHE_SECONDS (5 s).

What users rely on: revoking a token (or dropping its principal) in the process that serves
takes effect at once; a revocation made elsewhere (the CLI, another server on the same
metastore) within 5 s; and no token is ever accepted past its expiry.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

import glashaus
from glashaus.access.directory import TOKEN_CACHE_SECONDS, Directory
from glashaus.errors import AuthenticationError
from glashaus.lakehouse import services


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lake(tmp_path):
    lh = glashaus.connect(tmp_path / "lh", user="alice")
    lh.create_user("bob")
    try:
        yield lh
    finally:
        lh.close()


def token_id(lake, comment):
    return next(t.id for t in lake.tokens("bob") if t.comment == comment)


def test_a_revocation_made_elsewhere_is_seen_within_the_cache_time(lake):
    clock = Clock()
    server = Directory(services(lake).metastore, clock=clock)  # the serving process's own directory
    token = lake.create_token("bob", comment="elsewhere")
    assert server.verify_token(token).name == "bob"
    lake.revoke_token(token_id(lake, "elsewhere"))  # another process: its own directory
    clock.now += TOKEN_CACHE_SECONDS - 0.5
    assert server.cached_principal(token).name == "bob"  # the documented grace: at most 5 s
    clock.now += 0.5
    assert server.cached_principal(token) is None
    with pytest.raises(AuthenticationError, match="revoked"):
        server.verify_token(token)


def test_a_revocation_or_drop_in_this_process_takes_effect_at_once(lake):
    directory = services(lake).directory
    token = lake.create_token("bob", comment="here")
    assert directory.verify_token(token).name == "bob"
    assert directory.cached_principal(token).name == "bob"
    lake.revoke_token(token_id(lake, "here"))
    assert directory.cached_principal(token) is None
    with pytest.raises(AuthenticationError, match="revoked"):
        directory.verify_token(token)

    other = lake.create_token("bob")
    assert directory.verify_token(other).name == "bob"
    lake.drop_principal("bob")
    with pytest.raises(AuthenticationError, match="invalid token"):  # its tokens went with it
        directory.verify_token(other)


def test_a_remembered_token_is_never_accepted_past_its_expiry(lake):
    clock = Clock()  # never moves: the cache alone would still trust the token
    server = Directory(services(lake).metastore, clock=clock)
    token = lake.create_token("bob", expires_in=dt.timedelta(milliseconds=300))
    assert server.verify_token(token).name == "bob"
    time.sleep(0.4)
    assert server.cached_principal(token) is None
    with pytest.raises(AuthenticationError, match="expired"):
        server.verify_token(token)


def test_no_cache_when_its_time_is_zero(lake):
    server = Directory(services(lake).metastore, token_cache_seconds=0)
    token = lake.create_token("bob", comment="uncached")
    assert server.verify_token(token).name == "bob"
    assert server.cached_principal(token) is None
    lake.revoke_token(token_id(lake, "uncached"))
    with pytest.raises(AuthenticationError, match="revoked"):
        server.verify_token(token)


def test_malformed_and_unknown_tokens_are_never_remembered(lake):
    server = Directory(services(lake).metastore)
    for bad in ("", "nope", "ghs_" + "A" * 43, "ghs_" + "x" * 300):
        with pytest.raises(AuthenticationError, match="invalid token"):
            server.verify_token(bad)
        assert server.cached_principal(bad) is None

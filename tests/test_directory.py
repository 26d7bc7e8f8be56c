"""Principals and tokens: users, groups (nested, no cycles), service principals, API tokens.

Each test runs against a real lakehouse in tmp_path. alice, the first user, is its admin.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
import threading
import time

import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import (
    AlreadyExistsError,
    AuthenticationError,
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
)
from glashaus.lakehouse import services


@pytest.fixture
def lake(tmp_path):
    """alice (admin, first user); users bob and carol; group analysts holding bob."""
    root = tmp_path / "lh"
    with glashaus.connect(root, user="alice") as alice:
        alice.create_user("bob")
        alice.create_user("carol")
        alice.create_group("analysts")
        alice.add_member("analysts", "bob")
    return root


@pytest.fixture
def alice(lake):
    with glashaus.connect(lake, user="alice") as lh:
        yield lh


@pytest.fixture
def bob(lake):
    with glashaus.connect(lake, user="bob") as lh:
        yield lh


def names(infos) -> list[str]:
    return [p.name for p in infos]


def audit(lh, principal: str, action: str) -> list[str]:
    """Decisions recorded for ``principal`` doing ``action``, oldest first."""
    return [
        r["decision"]
        for r in lh.sql(
            "SELECT decision FROM system.access.audit "
            f"WHERE principal = '{principal}' AND action = '{action}' ORDER BY event_time"
        ).to_pylist()
    ]


def memberships(lh) -> dict[str, tuple[str, ...]]:
    return {p.name: p.members for p in lh.principals(kind="group")}


# -- the first user, built-in groups ------------------------------------------------------------


def test_the_first_user_of_a_new_lakehouse_is_its_admin(tmp_path):
    with glashaus.connect(tmp_path / "new", user="Zoe@Example.com") as zoe:
        assert zoe.user == "zoe@example.com"  # names are case-insensitive, kept in lower case
        assert zoe.principal_info().groups == ("admins", "users")
        assert names(zoe.principals()) == ["admins", "users", "zoe@example.com"]
        assert zoe.principal_info("admins").members == ("zoe@example.com",)
        zoe.create_user("yan")
    with glashaus.connect(tmp_path / "new", user="yan") as yan:  # the second user is not
        assert yan.principal_info().groups == ("users",)
        with pytest.raises(PermissionDeniedError):
            yan.create_user("xi")


def test_users_and_service_principals_join_users_groups_do_not(alice):
    alice.create_service_principal("etl")
    alice.create_group("ops")
    assert alice.principal_info("users").members == ("alice", "bob", "carol", "etl")
    assert alice.principal_info("etl").kind == "service_principal"
    assert alice.principal_info("ops").groups == ()
    assert names(alice.principals(kind="user")) == ["alice", "bob", "carol"]
    assert names(alice.principals(kind="service_principal")) == ["etl"]


def test_connect_refuses_unknown_users_and_says_how_to_add_them(lake):
    with pytest.raises(AuthenticationError) as caught:
        glashaus.connect(lake, user="mallory")
    assert "'mallory' is not known" in str(caught.value)
    assert "lh.create_user('mallory')" in str(caught.value)


@pytest.mark.parametrize("group", ["analysts", "admins", "users"])
def test_nobody_can_connect_as_a_group(lake, alice, group):
    # A group is not an identity: connecting as 'admins' would hand anyone admin rights.
    with pytest.raises(AuthenticationError) as caught:
        glashaus.connect(lake, user=group)
    assert f"'{group}' is a group" in str(caught.value)
    assert "user or service principal" in str(caught.value)
    with pytest.raises(AuthenticationError, match="is a group"):
        alice.as_user(group)


def test_names_are_case_insensitive_everywhere(lake, alice):
    alice.add_member("ANALYSTS", "Carol")
    assert "carol" in alice.principal_info("Analysts").members
    with glashaus.connect(lake, user="BOB") as bob:
        assert bob.user == "bob"


@pytest.mark.parametrize(
    ("name", "error", "fragment"),
    [
        ("bad name", InvalidNameError, "letters, digits and _ . @ + -"),
        ("", InvalidNameError, "is not valid"),
        ("x" * 300, InvalidNameError, "1-255"),
        ("robert'); DROP TABLE principals; --", InvalidNameError, "is not valid"),
        ("system", InvalidArgumentError, "reserved for the platform"),
        ("anonymous", InvalidArgumentError, "reserved for the audit log's failed sign-ins"),
        ("Anonymous", InvalidArgumentError, "reserved"),
        ("bob", AlreadyExistsError, "'bob' already exists"),
        ("ADMINS", AlreadyExistsError, "'admins' already exists"),
    ],
)
def test_bad_or_taken_principal_names_are_refused(alice, name, error, fragment):
    before = names(alice.principals())
    with pytest.raises(error) as caught:
        alice.create_group(name)
    assert fragment in str(caught.value)
    assert names(alice.principals()) == before


# -- only admins manage principals -------------------------------------------------------------

ADMIN_ONLY = [
    ("user.create", lambda lh: lh.create_user("eve")),
    ("group.create", lambda lh: lh.create_group("eves")),
    ("service_principal.create", lambda lh: lh.create_service_principal("bot")),
    ("principal.delete", lambda lh: lh.drop_principal("carol")),
    ("group.add_member", lambda lh: lh.add_member("admins", "bob")),
    ("group.remove_member", lambda lh: lh.remove_member("analysts", "bob")),
]


@pytest.mark.parametrize(("action", "call"), ADMIN_ONLY, ids=[a for a, _ in ADMIN_ONLY])
def test_only_admins_manage_principals_and_refusals_are_audited(alice, bob, action, call):
    before = names(alice.principals()), memberships(alice)
    with pytest.raises(PermissionDeniedError) as caught:
        call(bob)
    assert f"only members of 'admins' may do {action}" in str(caught.value)
    assert "bob is not one" in str(caught.value)
    assert (names(alice.principals()), memberships(alice)) == before
    assert audit(alice, "bob", action) == ["deny"]


def test_admin_actions_are_audited_as_allowed(alice):
    alice.create_user("dave")
    alice.add_member("analysts", "dave")
    alice.remove_member("analysts", "dave")
    alice.drop_principal("dave")
    for action in ("user.create", "group.add_member", "group.remove_member", "principal.delete"):
        assert audit(alice, "alice", action)[-1] == "allow", action


# -- groups: nesting, cycles, membership ------------------------------------------------------------


def test_groups_nest_and_a_member_belongs_to_every_enclosing_group(alice):
    alice.create_group("data")
    alice.create_group("everyone_data")
    alice.add_member("data", "analysts")
    alice.add_member("everyone_data", "data")
    assert alice.principal_info("bob").groups == ("analysts", "data", "everyone_data", "users")
    assert alice.principal_info("data").members == ("analysts",)
    assert alice.principal_info("everyone_data").groups == ()
    alice.add_member("data", "analysts")  # adding twice changes nothing
    assert alice.principal_info("data").members == ("analysts",)
    alice.remove_member("data", "analysts")
    assert alice.principal_info("bob").groups == ("analysts", "users")


@pytest.mark.parametrize(
    ("group", "member", "fragment"),
    [
        ("analysts", "analysts", "groups may not contain themselves"),
        ("inner", "analysts", "'inner' is already inside 'analysts'"),  # direct: analysts ⊃ inner
        ("innermost", "analysts", "'innermost' is already inside 'analysts'"),  # through a group between
    ],
)
def test_membership_cycles_are_refused(alice, group, member, fragment):
    alice.create_group("inner")
    alice.create_group("innermost")
    alice.add_member("analysts", "inner")
    alice.add_member("inner", "innermost")
    before = memberships(alice)
    with pytest.raises(InvalidArgumentError) as caught:
        alice.add_member(group, member)
    assert fragment in str(caught.value)
    assert memberships(alice) == before


@pytest.mark.parametrize(
    ("call", "error", "fragments"),
    [
        (lambda lh: lh.add_member("bob", "carol"), InvalidArgumentError, ["'bob' is a user, not a group"]),
        (
            lambda lh: lh.add_member("analysts", "nobody"),
            NotFoundError,
            ["principal 'nobody' does not exist", "lh.create_user"],
        ),
        (lambda lh: lh.add_member("nogroup", "bob"), NotFoundError, ["'nogroup' does not exist"]),
        (
            lambda lh: lh.remove_member("analysts", "carol"),
            NotFoundError,
            ["'carol' is not a direct member of 'analysts'"],
        ),
        (lambda lh: lh.drop_principal("nobody"), NotFoundError, ["'nobody' does not exist", "create"]),
        (lambda lh: lh.principal_info("nobody"), NotFoundError, ["'nobody' does not exist"]),
        (
            lambda lh: services(lh).admin.create(lh.principal, "x", kind="robot"),
            InvalidArgumentError,
            ["user, group or service_principal", "'robot'"],
        ),
    ],
)
def test_membership_errors_name_the_principal_and_the_fix(alice, call, error, fragments):
    before = memberships(alice)
    with pytest.raises(error) as caught:
        call(alice)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert memberships(alice) == before


# -- built-in groups and the last admin ------------------------------------------------------------------


@pytest.mark.parametrize("group", ["admins", "users"])
def test_built_in_groups_cannot_be_dropped(alice, group):
    with pytest.raises(InvalidArgumentError, match=f"'{group}' is a built-in group and cannot be deleted"):
        alice.drop_principal(group)
    assert alice.principal_info(group).name == group


def test_nobody_leaves_users(alice):
    alice.create_service_principal("etl")
    for member in ("bob", "etl"):
        with pytest.raises(InvalidArgumentError) as caught:
            alice.remove_member("users", member)
        assert f"cannot remove '{member}' from 'users'" in str(caught.value)
        assert "Revoke what 'users' holds instead" in str(caught.value)
    assert alice.principal_info("users").members == ("alice", "bob", "carol", "etl")


def test_the_last_admin_cannot_be_removed_from_admins(alice):
    with pytest.raises(InvalidArgumentError) as caught:
        alice.remove_member("admins", "alice")
    assert "last member of 'admins'" in str(caught.value)
    assert "lh.add_member('admins'" in str(caught.value)  # the fix
    assert alice.principal_info("admins").members == ("alice",)


def test_the_last_admin_cannot_be_dropped(alice):
    with pytest.raises(InvalidArgumentError, match="last member of 'admins'"):
        alice.drop_principal("alice")
    assert alice.principal_info("alice").groups == ("admins", "users")
    alice.create_group("x")  # still an admin


def test_an_admin_through_a_nested_group_counts_and_is_kept_too(alice, lake):
    alice.create_group("ops")
    alice.add_member("ops", "bob")
    alice.add_member("admins", "ops")
    alice.remove_member("admins", "alice")  # bob is still an admin, through ops
    with glashaus.connect(lake, user="bob") as bob:
        bob.create_user("dave")
        for last_step in (
            lambda: bob.remove_member("ops", "bob"),
            lambda: bob.remove_member("admins", "ops"),
            lambda: bob.drop_principal("ops"),
            lambda: bob.drop_principal("bob"),
        ):
            with pytest.raises(InvalidArgumentError, match="last member of 'admins'"):
                last_step()
        assert bob.principal_info("bob").groups == ("admins", "analysts", "ops", "users")
        bob.add_member("admins", "carol")
        bob.remove_member("admins", "ops")  # carol remains
        assert bob.principal_info("admins").members == ("carol",)


def test_an_empty_group_in_admins_does_not_count_as_an_admin(alice):
    alice.create_group("nobody_yet")
    alice.add_member("admins", "nobody_yet")
    with pytest.raises(InvalidArgumentError, match="last member of 'admins'"):
        alice.remove_member("admins", "alice")


def test_dropping_a_principal_removes_its_memberships_grants_and_tokens(lake, alice):
    token = alice.create_token("bob")
    alice.create_schema("main.shop")
    alice.grant("USE SCHEMA", on="main.shop", to="bob")
    with glashaus.connect(lake, user="bob") as bob:
        bob.get("main.shop")
        alice.drop_principal("bob")
        assert "bob" not in alice.principal_info("analysts").members
        assert "bob" not in {g.principal for g in alice.show_grants("main.shop")}
        with pytest.raises(AuthenticationError):
            services(alice).directory.verify_token(token)
        # A connection opened before the drop can do nothing more.
        with pytest.raises(PermissionDeniedError, match="'bob' is not a known principal"):
            bob.get("main.shop")
    alice.create_user("bob")  # a new bob starts with nothing of the old one
    with glashaus.connect(lake, user="bob") as new_bob:
        with pytest.raises(PermissionDeniedError):
            new_bob.get("main.shop")
        assert new_bob.principal_info().groups == ("users",)


def test_a_principal_that_owns_something_cannot_be_dropped_until_it_is_handed_over(lake, alice):
    # Owners are kept by name: a later principal of the same name would otherwise inherit them.
    with glashaus.connect(lake, user="bob") as bob:
        bob.create_table("main.default.bobs", schema=pa.schema([("x", pa.int64())]))
    alice.create_schema("main.team")
    alice.set_owner("main.team", "analysts")
    for name, owned in (("bob", "main.default.bobs"), ("analysts", "main.team")):
        with pytest.raises(InvalidArgumentError) as caught:
            alice.drop_principal(name)
        assert f"cannot drop '{name}': it owns {owned}" in str(caught.value)
        assert f"lh.set_owner('{owned}', '<user or group>')" in str(caught.value)
        assert alice.principal_info(name).name == name
        alice.set_owner(owned, "alice")
        alice.drop_principal(name)
    assert "bob" not in names(alice.principals())


# -- tokens ------------------------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_stands_for_its_user(alice, bob):
    token = bob.create_token(comment="laptop")
    assert token.startswith("ghs_") and len(token) > 40
    assert services(alice).directory.verify_token(token) == glashaus.access.Principal("bob", "user")
    (info,) = bob.tokens()
    assert (info.principal, info.comment, info.revoked_at) == ("bob", "laptop", None)
    assert token not in repr(info)  # the listing never shows the token again
    assert dt.timedelta(days=89) < info.expires_at - info.created_at <= dt.timedelta(days=90)  # the default
    week = bob.create_token(expires_in=dt.timedelta(days=7))
    assert week != token
    assert bob.tokens()[-1].expires_at - bob.tokens()[-1].created_at == dt.timedelta(days=7)


def test_the_token_string_is_never_stored_only_its_sha256(lake, alice, bob):
    token = bob.create_token(comment="ci")
    alice.flush()
    db = sqlite3.connect(lake / "_metastore.db")
    try:
        stored = db.execute("SELECT token_hash, comment FROM tokens").fetchall()
        journal = db.execute("SELECT event FROM audit_journal").fetchall()
    finally:
        db.close()
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(), "ci")]
    assert not any(token in row[0] for row in journal)
    assert (
        alice.sql(
            f"SELECT count(*) FROM system.access.audit WHERE contains(coalesce(details, '') || coalesce(reason, ''), "
            f"'{token[4:]}')"
        ).scalar()
        == 0
    )
    # Nor anywhere on disk: metastore, its WAL, Delta logs and data of the system tables.
    secret = token[4:].encode()
    leaked = [p for p in lake.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert leaked == []


def test_an_expired_token_is_refused(alice, bob):
    token = bob.create_token(expires_in=dt.timedelta(milliseconds=50))
    assert services(alice).directory.verify_token(token).name == "bob"
    time.sleep(0.1)
    with pytest.raises(AuthenticationError, match="this token has expired; create a new one"):
        services(alice).directory.verify_token(token)


def test_a_token_without_expiry_lasts(alice, bob):
    token = bob.create_token(expires_in=None)
    assert bob.tokens()[0].expires_at is None
    assert services(alice).directory.verify_token(token).name == "bob"


@pytest.mark.parametrize("expires_in", [dt.timedelta(0), dt.timedelta(seconds=-1)])
def test_a_token_must_expire_in_the_future(bob, expires_in):
    with pytest.raises(InvalidArgumentError, match=r"expires_in must be positive.*None"):
        bob.create_token(expires_in=expires_in)
    assert bob.tokens() == []


def test_a_token_lifetime_may_be_given_in_seconds(alice, bob):
    bob.create_token(expires_in=3600)
    (info,) = bob.tokens()
    assert dt.timedelta(minutes=59) < info.expires_at - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    for wrong in ("3600", [1], float("nan"), 10**12):
        with pytest.raises(InvalidArgumentError, match="expires_in must be"):
            bob.create_token(expires_in=wrong)
    assert len(bob.tokens()) == 1


def test_a_revoked_token_is_refused_at_once(alice, bob):
    token = bob.create_token()
    (info,) = bob.tokens()
    revoked = bob.revoke_token(info.id)
    assert revoked.revoked_at is not None
    with pytest.raises(AuthenticationError, match="this token was revoked"):
        services(alice).directory.verify_token(token)
    assert bob.revoke_token(info.id).revoked_at == revoked.revoked_at  # revoking again changes nothing
    assert audit(alice, "bob", "token.create") == ["allow"]
    assert audit(alice, "bob", "token.revoke") == ["allow", "allow"]
    assert audit(alice, "bob", "token.list") == ["allow"]  # one's own listing is allowed, and audited too


def _forged(lh) -> list:
    real = lh.create_token()
    flipped = real[:-1] + ("A" if real[-1] != "A" else "B")
    return [
        "ghs_" + "A" * 43,  # the right shape, never issued
        flipped,  # one character off
        real[4:],  # the secret without its prefix
        real + " ",  # trailing junk
        real.upper(),
        "",
        "abc",
        "Bearer " + real,
        "ghs_" + "A" * 500,  # too long
        "ghs_" + "x" * 100_000,
        None,
        123,
        b"ghs_bytes",
    ]


def test_forged_malformed_and_too_long_tokens_are_refused(alice, bob):
    for bad in _forged(bob):
        with pytest.raises(AuthenticationError, match="invalid token"):
            services(alice).directory.verify_token(bad)


def test_groups_get_no_tokens(alice):
    with pytest.raises(InvalidArgumentError) as caught:
        alice.create_token("analysts")
    assert "'analysts' is a group; tokens belong to users and service principals" in str(caught.value)
    assert alice.tokens("analysts") == []


def test_a_service_principals_token_authenticates_it_as_a_service_principal(alice):
    alice.create_service_principal("etl")
    token = alice.create_token("etl", comment="nightly job")
    principal = services(alice).directory.verify_token(token)
    assert (principal.name, principal.kind) == ("etl", "service_principal")
    assert [t.comment for t in alice.tokens("etl")] == ["nightly job"]


@pytest.mark.parametrize(
    ("action", "call"),
    [
        ("token.create", lambda lh, _: lh.create_token("carol")),
        ("token.list", lambda lh, _: lh.tokens("carol")),
        ("token.revoke", lambda lh, token_id: lh.revoke_token(token_id)),
    ],
)
def test_other_users_tokens_are_for_admins_only(lake, alice, bob, action, call):
    with glashaus.connect(lake, user="carol") as carol:
        carol.create_token()
        (carols,) = carol.tokens()
    with pytest.raises(PermissionDeniedError, match=f"only members of 'admins' may do {action}; bob is not one"):
        call(bob, carols.id)
    assert [(t.id, t.revoked_at) for t in alice.tokens("carol")] == [(carols.id, None)]
    assert audit(alice, "bob", action) == ["deny"]
    call(alice, carols.id)  # an admin may
    assert audit(alice, "alice", action)[-1] == "allow"


def test_admins_manage_anyones_tokens(alice):
    token = alice.create_token("bob", expires_in=dt.timedelta(days=1))
    assert services(alice).directory.verify_token(token).name == "bob"
    (info,) = alice.tokens("bob")
    alice.revoke_token(info.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        services(alice).directory.verify_token(token)


@pytest.mark.parametrize(
    ("call", "fragments"),
    [
        (lambda lh: lh.create_token("nobody"), ["principal 'nobody' does not exist"]),
        (lambda lh: lh.tokens("nobody"), ["principal 'nobody' does not exist"]),
        (lambda lh: lh.revoke_token("0" * 32), ["token '" + "0" * 32 + "' does not exist", "glashaus tokens ls"]),
    ],
)
def test_token_errors_name_the_thing(alice, call, fragments):
    with pytest.raises(NotFoundError) as caught:
        call(alice)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_a_user_cannot_learn_of_others_tokens_by_revoking_unknown_ids(bob):
    # A non-admin revoking an id that is not theirs is refused the same whether it exists or not.
    with pytest.raises(PermissionDeniedError, match=r"may do token.revoke"):
        bob.revoke_token("0" * 32)


def test_the_same_member_added_at_once_by_several_processes_is_added_once(lake, alice):
    errors = []
    barrier = threading.Barrier(8)

    def add():
        try:
            with glashaus.connect(lake, user="alice") as lh:
                barrier.wait()
                lh.add_member("analysts", "carol")
        except Exception as exc:  # noqa: BLE001 - any error is the failure being tested
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert alice.principal_info("analysts").members == ("bob", "carol")


# -- concurrent membership changes: each check and its write are one step --------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def metastore_url(request, tmp_path):
    """A fresh metastore: SQLite in tmp_path, or a new database on GLASHAUS_TEST_POSTGRES_URL's server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    return request.getfixturevalue("pg_database")


def _race(monkeypatch, check: str, calls) -> list[Exception | None]:
    """Run ``calls`` in two threads, each pausing right after ``check`` until the other got there too.

    Without a lock both checks pass before either writes; with one, the second thread
    waits for the first to commit, the pause times out, and the second check sees the first write.
    """
    from glashaus.access.directory import Directory

    barrier = threading.Barrier(len(calls))
    original = getattr(Directory, check)

    def paused(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if threading.current_thread().name.startswith("race-"):
            with contextlib.suppress(threading.BrokenBarrierError):  # the other thread waits for our lock: go on alone
                barrier.wait(timeout=1)
        return result

    monkeypatch.setattr(Directory, check, paused)
    outcomes: list[Exception | None] = [None] * len(calls)

    def run(i):
        try:
            calls[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome is what is tested
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"race-{i}") for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_opposite_memberships_added_at_once_never_make_a_cycle(metastore_url, monkeypatch):
    from glashaus.access.directory import Directory
    from glashaus.metastore import Metastore

    store = Metastore.open(metastore_url)
    try:
        one, two = Directory(store), Directory(Metastore(store.engine))
        one.bootstrap("alice")
        for group in ("a", "b"):
            one.create(group, kind="group", created_by="alice")
        outcomes = _race(
            monkeypatch, "_group_ids", [lambda: one.add_member("b", "a"), lambda: two.add_member("a", "b")]
        )
        errors = [e for e in outcomes if e is not None]
        assert len(errors) == 1, outcomes  # exactly one of the two was refused...
        assert isinstance(errors[0], InvalidArgumentError) and "is already inside" in str(errors[0])
        # ...and the groups form no cycle: neither is inside itself.
        assert "a" not in one.groups_of("a") and "b" not in one.groups_of("b")
        assert len(one.get("a").members) + len(one.get("b").members) == 1
    finally:
        store.dispose()


def test_two_admins_removing_each_other_at_once_leave_one(metastore_url, monkeypatch):
    from glashaus.access.directory import Directory
    from glashaus.metastore import Metastore

    store = Metastore.open(metastore_url)
    try:
        one, two = Directory(store), Directory(Metastore(store.engine))
        one.bootstrap("alice")
        one.create("bob", kind="user", created_by="alice")
        one.add_member("admins", "bob")
        outcomes = _race(
            monkeypatch,
            "_keep_an_admin",
            [lambda: one.remove_member("admins", "alice"), lambda: two.remove_member("admins", "bob")],
        )
        errors = [e for e in outcomes if e is not None]
        assert len(errors) == 1 and "last member of 'admins'" in str(errors[0]), outcomes
        assert len(one.get("admins").members) == 1
    finally:
        store.dispose()

"""The command line for secure collaboration: users, groups, tokens, grant, revoke, grants.

Every test runs the real CLI (Typer's CliRunner; one through a real subprocess)
against a real lakehouse in a temporary folder, and checks the effect by acting as
the other user.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import glashaus
from glashaus.cli.main import app
from glashaus.errors import AuthenticationError
from glashaus.lakehouse import services

ORDERS = "main.shop.orders"


@pytest.fixture
def lake(tmp_path) -> str:
    """alice (admin) with main.shop.orders (2 rows); no other principals yet."""
    root = str(tmp_path / "lh")
    with glashaus.connect(root, user="alice") as lh:
        lh.create_schema("main.shop")
        lh.create_table(ORDERS, data=pa.table({"id": [1, 2]}))
    return root


def run(lake: str, *args: str, user: str = "alice"):
    env = {"GLASHAUS_LAKEHOUSE": None, "GLASHAUS_USER": None, "GLASHAUS_METASTORE": None, "COLUMNS": None}
    return CliRunner().invoke(app, [*args, "--lakehouse", lake, "--user", user], env=env)


def ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.stdout


def one_line_error(result, *needles: str) -> str:
    """Exit 1, nothing on stdout, one line ``error: ...`` naming ``needles``, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def connect(lake: str, user: str = "alice"):
    return glashaus.connect(lake, user=user)


# -- users -------------------------------------------------------------------------------------------


def test_users_create_ls_show_delete(lake):
    assert ok(run(lake, "users", "create", "Bob@Example.com")) == "created user bob@example.com\n"
    assert ok(run(lake, "users", "create", "etl-bot", "--service-principal")) == "created service principal etl-bot\n"
    listing = ok(run(lake, "users", "ls"))
    assert "bob@example.com" in listing and "etl-bot" in listing and "service principal" in listing
    assert "admins" in listing  # alice's groups
    shown = ok(run(lake, "users", "show", "bob@example.com"))
    assert "users" in shown and "by alice" in shown
    assert ok(run(lake, "users", "delete", "bob@example.com")) == "deleted user bob@example.com\n"
    with connect(lake) as lh:
        assert {p.name for p in lh.principals(kind="user")} == {"alice"}
    one_line_error(run(lake, "users", "show", "bob@example.com"), "'bob@example.com' does not exist")


def test_users_commands_are_for_admins(lake):
    ok(run(lake, "users", "create", "bob"))
    one_line_error(run(lake, "users", "create", "carol", user="bob"), "admins", "bob")
    one_line_error(run(lake, "users", "delete", "alice", user="bob"), "admins")
    assert "bob" in ok(run(lake, "users", "ls", user="bob"))  # looking is allowed
    one_line_error(run(lake, "users", "ls", user="mallory"), "'mallory' is not known", "users create mallory")


def test_users_and_groups_commands_refuse_the_other_kind(lake):
    ok(run(lake, "groups", "create", "analysts"))
    one_line_error(run(lake, "users", "show", "analysts"), "is a group", "glashaus groups show analysts")
    one_line_error(run(lake, "users", "delete", "analysts"), "glashaus groups delete analysts")
    one_line_error(run(lake, "groups", "show", "alice"), "is a user", "glashaus users show alice")
    one_line_error(run(lake, "users", "create", "bob; rm -rf /"), "is not valid")


# -- groups --------------------------------------------------------------------------------------------


def test_groups_create_add_remove_show_ls_delete(lake):
    ok(run(lake, "users", "create", "bob"))
    assert ok(run(lake, "groups", "create", "analysts")) == "created group analysts\n"
    assert ok(run(lake, "groups", "add", "analysts", "bob")) == "added bob to analysts (1 member(s))\n"
    ok(run(lake, "groups", "create", "everyone"))
    ok(run(lake, "groups", "add", "everyone", "analysts"))  # groups nest
    with connect(lake) as lh:
        assert lh.principal_info("bob").groups == ("analysts", "everyone", "users")
    shown = ok(run(lake, "groups", "show", "analysts"))
    assert "bob" in shown and "everyone" in shown
    assert "analysts" in ok(run(lake, "groups", "ls"))
    assert ok(run(lake, "groups", "remove", "analysts", "bob")) == "removed bob from analysts (0 member(s))\n"
    one_line_error(run(lake, "groups", "remove", "analysts", "bob"), "not a direct member")
    one_line_error(run(lake, "groups", "add", "bob", "alice"), "'bob' is a user, not a group")
    one_line_error(run(lake, "groups", "add", "analysts", "ghost"), "'ghost' does not exist")
    one_line_error(run(lake, "groups", "remove", "admins", "alice"), "last member of 'admins'")
    one_line_error(run(lake, "groups", "delete", "users"), "built-in group")
    assert ok(run(lake, "groups", "delete", "analysts")) == "deleted group analysts\n"
    with connect(lake) as lh:
        assert "analysts" not in {p.name for p in lh.principals(kind="group")}


# -- tokens --------------------------------------------------------------------------------------------


def test_token_created_by_the_cli_is_accepted_then_revoked(lake):
    ok(run(lake, "users", "create", "bob"))
    made = run(lake, "tokens", "create", "--expires-days", "3", "--comment", "laptop", user="bob")  # --user bob
    token = ok(made)
    assert token.count("\n") == 1 and token.startswith("ghs_")  # the token alone on stdout
    token = token.strip()
    with connect(lake) as lh:
        assert services(lh).directory.verify_token(token).name == "bob"
        (info,) = lh.tokens("bob")
    assert info.id in made.stderr and "shown only now" in made.stderr
    assert info.comment == "laptop"
    assert dt.timedelta(days=2, hours=23) < info.expires_at - info.created_at <= dt.timedelta(days=3)
    listing = ok(run(lake, "tokens", "ls", user="bob"))
    assert info.id in listing and "laptop" in listing and "active" in listing
    assert token not in listing  # never the secret
    assert ok(run(lake, "tokens", "revoke", info.id, user="bob")) == f"revoked token {info.id} of bob\n"
    with connect(lake) as lh, pytest.raises(AuthenticationError, match="revoked"):
        services(lh).directory.verify_token(token)
    assert "revoked" in ok(run(lake, "tokens", "ls", user="bob"))


def test_tokens_for_others_are_for_admins(lake):
    ok(run(lake, "users", "create", "bob"))
    ok(run(lake, "users", "create", "etl", "--service-principal"))
    token = ok(run(lake, "tokens", "create", "--for", "etl", "--never-expires")).strip()
    with connect(lake) as lh:
        assert services(lh).directory.verify_token(token).name == "etl"
        (info,) = lh.tokens("etl")
    assert info.expires_at is None
    assert "never" in ok(run(lake, "tokens", "ls", "--for", "etl"))
    one_line_error(run(lake, "tokens", "create", "--for", "etl", user="bob"), "admins")
    one_line_error(run(lake, "tokens", "ls", "--for", "etl", user="bob"), "admins")
    one_line_error(run(lake, "tokens", "revoke", info.id, user="bob"), "admins")
    one_line_error(run(lake, "tokens", "revoke", "no-such-id"), "'no-such-id' does not exist", "tokens ls")
    one_line_error(run(lake, "tokens", "create", "--for", "users"), "is a group")
    assert ok(run(lake, "tokens", "ls", user="bob")) == "no tokens for bob\n"


def test_token_expiry_options_are_checked(lake):
    both = run(lake, "tokens", "create", "--never-expires", "--expires-days", "2")
    assert both.exit_code == 2 and both.stdout == "" and "not both" in both.stderr
    zero = run(lake, "tokens", "create", "--expires-days", "0")
    assert zero.exit_code == 2 and zero.stdout == ""
    default = ok(run(lake, "tokens", "create")).strip()
    with connect(lake) as lh:
        (info,) = lh.tokens()
        assert services(lh).directory.verify_token(default).name == "alice"
    assert info.expires_at - info.created_at == dt.timedelta(days=90)


# -- grant, revoke, grants ---------------------------------------------------------------------------------


def test_grant_and_revoke_change_what_bob_can_read(lake):
    ok(run(lake, "users", "create", "bob"))
    query = f"SELECT count(*) AS n FROM {ORDERS}"
    one_line_error(run(lake, "sql", query, "--format", "json", user="bob"), "bob lacks USE SCHEMA")
    assert ok(run(lake, "grant", "USE", "SCHEMA", "--on", "main.shop", "--to", "bob")) == (
        "granted USE SCHEMA on main.shop to bob\n"
    )
    assert ok(run(lake, "grant", "select", "--on", ORDERS, "--to", "bob")) == f"granted SELECT on {ORDERS} to bob\n"
    assert json.loads(ok(run(lake, "sql", query, "--format", "json", user="bob"))) == [{"n": 2}]
    assert ok(run(lake, "grant", "SELECT", "--on", ORDERS, "--to", "bob")) == f"bob already held SELECT on {ORDERS}\n"
    assert ok(run(lake, "revoke", "SELECT", "--on", ORDERS, "--from", "bob")) == (
        f"revoked SELECT on {ORDERS} from bob\n"
    )
    one_line_error(run(lake, "sql", query, user="bob"), "bob lacks SELECT", f"GRANT SELECT ON TABLE {ORDERS} TO bob")
    assert ok(run(lake, "revoke", "SELECT", "--on", ORDERS, "--from", "bob")) == (
        f"bob held no direct grant of SELECT on {ORDERS}\n"
    )


def test_several_privileges_and_the_metastore(lake):
    ok(run(lake, "users", "create", "bob"))
    out = ok(run(lake, "grant", "USE SCHEMA, CREATE TABLE", "--on", "main.shop", "--to", "bob"))
    assert out == "granted USE SCHEMA, CREATE TABLE on main.shop to bob\n"
    ok(run(lake, "sql", "CREATE TABLE main.shop.bobs (x INT)", user="bob"))
    one_line_error(run(lake, "sql", "CREATE CATALOG bobs", user="bob"), "CREATE CATALOG on the metastore")
    assert ok(run(lake, "grant", "CREATE CATALOG", "--on", "metastore", "--to", "bob")) == (
        "granted CREATE CATALOG on the metastore to bob\n"
    )
    ok(run(lake, "sql", "CREATE CATALOG bobs", user="bob"))
    shown = json.loads(ok(run(lake, "grants", "metastore", "--format", "json")))
    assert shown == [
        {
            "principal": "bob",
            "privilege": "CREATE CATALOG",
            "on": "METASTORE",
            "inherited": False,
            "granted_by": "alice",
        }
    ]
    ok(run(lake, "revoke", "CREATE CATALOG", "--on", "METASTORE", "--from", "bob"))
    assert json.loads(ok(run(lake, "grants", "metastore", "--format", "json"))) == []


def test_grants_shows_direct_and_inherited_grants(lake):
    ok(run(lake, "groups", "create", "analysts"))
    ok(run(lake, "grant", "SELECT", "--on", ORDERS, "--to", "analysts"))
    table = ok(run(lake, "grants", ORDERS))
    assert f"grants on {ORDERS}" in table
    for needle in ("analysts", "SELECT", "USE CATALOG", "users", "inherited", "yes", "no"):
        assert needle in table, needle
    rows = json.loads(ok(run(lake, "grants", ORDERS, "--format", "json")))
    with connect(lake) as lh:
        assert rows == [g.to_dict() for g in lh.show_grants(ORDERS)]  # the same implementation
    only = json.loads(ok(run(lake, "grants", ORDERS, "--principal", "analysts", "--format", "json")))
    assert only == [
        {"principal": "analysts", "privilege": "SELECT", "on": ORDERS, "inherited": False, "granted_by": "alice"}
    ]


def test_grant_errors_are_one_line(lake):
    ok(run(lake, "users", "create", "bob"))
    one_line_error(run(lake, "grant", "SELEKT", "--on", ORDERS, "--to", "bob"), "unknown privilege 'SELEKT'", "SELECT")
    one_line_error(run(lake, "grant", "SELECT, FLY", "--on", ORDERS, "--to", "bob"), "unknown privilege 'FLY'")
    one_line_error(run(lake, "grant", "SELECT", "--on", ORDERS, "--to", "nobody"), "principal 'nobody' does not exist")
    one_line_error(run(lake, "grant", "SELECT", "--on", "main.shop.missing", "--to", "bob"), "main.shop.missing")
    one_line_error(run(lake, "grant", "USE CATALOG", "--on", ORDERS, "--to", "bob"), "cannot be granted on a table")
    one_line_error(run(lake, "grant", "SELECT", "--on", "main.shop.x;y", "--to", "bob"), "not a valid identifier")
    one_line_error(
        run(lake, "grant", "SELECT", "--on", ORDERS, "--to", "bob", user="bob"),
        "bob lacks USE SCHEMA",
        "GRANT USE SCHEMA ON SCHEMA main.shop TO bob",
    )
    with connect(lake) as lh:
        lh.grant("USE SCHEMA", on="main.shop", to="bob")
    one_line_error(
        run(lake, "grant", "SELECT", "--on", ORDERS, "--to", "bob", user="bob"),
        "bob lacks MANAGE",
        f"GRANT MANAGE ON TABLE {ORDERS} TO bob",
    )
    one_line_error(run(lake, "grants", ORDERS, user="bob"), "bob lacks SELECT")
    with connect(lake) as lh:  # the half-valid "SELECT, FLY" granted nothing
        assert ("bob", "SELECT") not in {(g.principal, g.privilege) for g in lh.show_grants(ORDERS)}
    missing = run(lake, "grant", "SELECT", "--on", ORDERS)
    assert missing.exit_code == 2 and "--to" in missing.stderr


def test_help_lists_the_new_commands():
    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"}).stdout
    for command in ("users", "groups", "tokens", "grant", "revoke", "grants"):
        assert command in out, command


# -- a real process ---------------------------------------------------------------------------------------


def test_real_process_prints_only_the_token_and_fails_cleanly(lake, tmp_path):
    ok(run(lake, "users", "create", "bob"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASHAUS_")}
    env.update(HOME=str(tmp_path), GLASHAUS_LAKEHOUSE=lake)
    cmd = [sys.executable, "-m", "glashaus.cli.main"]
    made = subprocess.run(
        [*cmd, "tokens", "create", "--user", "bob", "--comment", "ci"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n" and "created token" in made.stderr
    with connect(lake) as lh:
        assert services(lh).directory.verify_token(token).name == "bob"
        (info,) = lh.tokens("bob")
    bad = subprocess.run(
        [*cmd, "grant", "SELECT", "--on", ORDERS, "--to", "ghost", "--user", "alice"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("error: ") and "'ghost'" in bad.stderr and "Traceback" not in bad.stderr
    ok(run(lake, "tokens", "revoke", info.id))
    with connect(lake) as lh, pytest.raises(AuthenticationError, match="revoked"):
        services(lh).directory.verify_token(token)

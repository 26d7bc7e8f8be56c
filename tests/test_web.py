"""The web shell in a real browser (Debian's Chromium via Playwright) against a real server.

One lakehouse, one server and one browser per module; each test gets a fresh browser
context (its own cookies). The people: alice (admin), ana (analysts), pia (pii_readers),
bob (a plain user).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pyarrow as pa
import pytest
from browser import XSS, as_user, needs_chromium, sign_in, table_text

import glashaus
from glashaus.server.app import ServerThread, create_app

MASK = "CASE WHEN is_member('pii_readers') THEN email ELSE '***' END"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("web") / "lh", user="alice")
    for user in ("ana", "pia", "bob"):
        lh.create_user(user)
    for group, member in (("analysts", "ana"), ("pii_readers", "pia")):
        lh.create_group(group)
        lh.add_member(group, member)
    lh.create_catalog("hidden", comment="only for admins")
    lh.create_schema("main.shop", comment="The plant shop.")
    lh.create_table(
        "main.shop.customers",
        comment="People who bought plants.",
        data=pa.table(
            {
                "id": pa.array([1, 2, 3], pa.int64()),
                "email": ["ann@example.org", "ben@example.org", "cy@example.org"],
                "region": ["north", "south", "north"],
            }
        ),
    )
    lh.set_comment("main.shop.customers", "Where to send the invoice.", column="email")
    lh.set_tags("main.shop.customers", {"pii": "email"}, column="email")
    lh.set_tags("main.shop.customers", {"domain": "sales"})
    lh.set_column_mask("main.shop.customers", "email", MASK)
    lh.write(
        "main.shop.customers",
        pa.table({"id": pa.array([4], pa.int64()), "email": ["dee@example.org"], "region": ["east"]}),
    )
    lh.create_table("main.shop.secret", data=pa.table({"x": [1]}))
    lh.create_table("main.shop.notes", comment=XSS, data=pa.table({"note": [XSS]}))
    lh.set_comment("main.shop.notes", XSS, column="note")
    lh.create_view("main.shop.north", "SELECT id, email FROM main.shop.customers WHERE region = 'north'")
    lh.create_volume("main.shop.files", comment="Plant photos.")
    lh.put_file("main.shop.files", "ferns/boston.txt", b"a fern")
    for group in ("analysts", "pii_readers"):
        lh.grant("USE SCHEMA", on="main.shop", to=group)
        for name in ("main.shop.customers", "main.shop.notes", "main.shop.north"):
            lh.grant("SELECT", on=name, to=group)
        lh.grant("READ VOLUME", on="main.shop.files", to=group)
    try:
        yield lh
    finally:
        lh.close()


@pytest.fixture(scope="module")
def server(lake):
    # A generous sign-in budget: the lockout itself is tested in test_server.py.
    with ServerThread(create_app(lake, max_auth_failures=1000)) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(lake):
    return {user: lake.create_token(user) for user in ("alice", "ana", "pia", "bob")}


def audit(lake, where: str) -> list[dict]:
    return lake.sql(f"SELECT * FROM system.access.audit WHERE {where} ORDER BY event_time").to_pylist()


# -- sign-in ---------------------------------------------------------------------------------


def test_a_page_without_a_cookie_redirects_to_login_and_back_after_sign_in(page, server, tokens):
    response = page.goto(server.url + "/catalog/main.shop")
    assert page.url.startswith(server.url + "/login?next=")
    assert response.status == 200 and page.is_visible("#token")
    page.fill("#token", tokens["ana"])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == server.url + "/catalog/main.shop"
    assert page.inner_text("#user") == "ana"


def test_sign_in_cookie_is_http_only_and_same_site_strict(page, context, server, tokens):
    as_user(page, server, tokens, "bob")
    session = next(c for c in context.cookies() if c["name"] == "glashaus_session")
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the token


def test_a_bad_token_shows_a_message_and_is_audited(page, server, lake):
    before = len(audit(lake, "action = 'auth.failed'"))
    response = sign_in(page, server, "ghs_" + "F" * 43)
    assert response.status == 401
    assert "Sign-in failed: invalid token." in page.inner_text("#message")
    assert page.is_visible("#token") and not page.is_visible("#user")
    failed = audit(lake, "action = 'auth.failed'")
    assert len(failed) == before + 1
    assert failed[-1]["decision"] == "deny" and failed[-1]["client"] == "127.0.0.1"
    assert json.loads(failed[-1]["details"])["path"] == "/login"


def test_an_empty_token_asks_for_one(page, server):
    page.goto(server.url + "/login")
    page.eval_on_selector("#token", "e => e.removeAttribute('required')")
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    assert navigation.value.status == 400 and "Paste an API token" in page.inner_text("#message")


def test_revoked_and_expired_tokens_end_the_session_with_a_message(page, context, server, lake):
    token = lake.create_token("bob", comment="web session")
    sign_in(page, server, token)
    assert page.inner_text("#user") == "bob"
    lake.revoke_token(next(t.id for t in lake.tokens("bob") if t.comment == "web session"))
    response = page.reload()
    assert response.status == 401
    assert "this token was revoked" in page.inner_text("#message") and page.is_visible("#token")
    assert "glashaus_session" not in {c["name"] for c in context.cookies()}

    expiring = lake.create_token("bob", expires_in=dt.timedelta(milliseconds=50))
    time.sleep(0.1)
    context.add_cookies([{"name": "glashaus_session", "value": expiring, "url": server.url}])
    response = page.goto(server.url + "/sql")
    assert response.status == 401 and "has expired" in page.inner_text("#message")


def test_a_forged_cookie_shows_the_sign_in_page(page, context, server):
    context.add_cookies([{"name": "glashaus_session", "value": "ghs_forged", "url": server.url}])
    response = page.goto(server.url + "/catalog")
    assert response.status == 401 and "invalid token" in page.inner_text("#message")


def test_a_sign_in_post_without_the_form_nonce_is_refused(context, server, tokens):
    response = context.request.post(
        server.url + "/login", form={"token": tokens["alice"], "next": "/catalog"}, max_redirects=0
    )
    assert response.status == 400 and "has expired (or came from another site)" in response.text()
    assert "glashaus_session" not in {c["name"] for c in context.cookies()}


def test_sign_in_never_redirects_to_another_site(page, server, tokens):
    sign_in(page, server, tokens["bob"], "/login?next=//evil.example/x")
    assert page.url == server.url + "/catalog"


def test_sign_out_clears_the_cookie(page, context, server, tokens):
    as_user(page, server, tokens, "bob")
    with page.expect_navigation():
        page.click("#sign-out")
    assert page.url.startswith(server.url + "/login") and "signed out" in page.inner_text("#message")
    assert "glashaus_session" not in {c["name"] for c in context.cookies()}
    page.goto(server.url + "/catalog")
    assert page.url.startswith(server.url + "/login?next=")


# -- catalog browser --------------------------------------------------------------------------


def test_catalog_browsing_shows_only_what_the_user_may_see(page, server, tokens):
    as_user(page, server, tokens, "bob")
    assert [row[0] for row in table_text(page, "#children")] == ["main"]  # not 'hidden'
    page.click("text=main")
    assert [row[0] for row in table_text(page, "#children")] == ["default"]  # no USE SCHEMA on main.shop

    page.goto(server.url + "/catalog/main.shop")
    assert page.inner_text("h1") == "Permission denied"
    assert "bob lacks USE SCHEMA on schema main.shop" in page.inner_text("#message")


def test_an_analyst_sees_the_objects_granted_and_not_the_others(page, server, tokens):
    as_user(page, server, tokens, "ana", "/catalog/main.shop")
    objects = {row[0]: row[1] for row in table_text(page, "#children")}
    assert objects == {"customers": "table", "files": "volume", "north": "view", "notes": "table"}
    response = page.goto(server.url + "/catalog/main.shop.secret")
    assert response.status == 403 and "ana lacks SELECT on table main.shop.secret" in page.inner_text("#message")


def test_an_unknown_name_is_404_without_naming_what_the_caller_cannot_see(page, server, tokens):
    as_user(page, server, tokens, "ana")
    response = page.goto(server.url + "/catalog/main.shop.secrte")  # close to main.shop.secret
    assert response.status == 404
    assert "'main.shop.secrte' does not exist" in page.inner_text("#message")
    assert "secret" not in page.content().replace("secrte", "")
    response = page.goto(server.url + "/catalog/main..x")
    assert response.status == 400 and "is empty" in page.inner_text("#message")


def test_the_table_page_shows_columns_comments_tags_owner_grants_and_history(page, server, tokens):
    as_user(page, server, tokens, "alice", "/catalog/main.shop.customers")
    assert page.inner_text(".comment") == "People who bought plants."
    assert page.inner_text("#owner") == "alice" and "domain=sales" in page.inner_text("#tags")
    columns = {row[0]: row for row in table_text(page, "#columns")}
    assert columns["email"][1:] == ["string", "yes", "Where to send the invoice.", "pii=email"]
    assert columns["id"][1] == "int64"
    grants = table_text(page, "#grants")
    assert ["analysts", "SELECT", "main.shop.customers", "alice"] in grants
    assert ["users", "USE CATALOG", "main (inherited)", "alice"] in grants
    history = table_text(page, "#history")
    assert [row[0] for row in history] == ["2", "1", "0"] and history[0][3] == "alice"


def test_the_preview_masks_email_for_an_analyst(page, server, tokens):
    as_user(page, server, tokens, "ana", "/catalog/main.shop.customers")
    rows = table_text(page, "#preview")
    assert len(rows) == 4 and {row[1] for row in rows} == {"***"}


def test_the_preview_shows_email_to_a_pii_reader(page, server, tokens):
    as_user(page, server, tokens, "pia", "/catalog/main.shop.customers")
    emails = sorted(row[1] for row in table_text(page, "#preview"))
    assert emails == ["ann@example.org", "ben@example.org", "cy@example.org", "dee@example.org"]


def test_view_and_volume_pages(page, server, tokens):
    as_user(page, server, tokens, "ana", "/catalog/main.shop.north")
    assert "WHERE region = 'north'" in page.inner_text("#view-sql")
    assert sorted(table_text(page, "#preview")) == [["1", "***"], ["3", "***"]]  # the reader's mask, in a view
    page.goto(server.url + "/catalog/main.shop.files")
    assert table_text(page, "#files")[0][0] == "ferns/boston.txt"
    with page.expect_download() as download:
        page.click("text=ferns/boston.txt")
    assert Path(download.value.path()).read_bytes() == b"a fern"


def test_a_comment_with_a_script_is_shown_as_text(page, server, tokens):
    as_user(page, server, tokens, "ana", "/catalog/main.shop.notes")
    assert page.inner_text(".comment") == XSS
    assert XSS in [row[3] for row in table_text(page, "#columns")]  # the column comment
    assert table_text(page, "#preview") == [[XSS]]  # and a cell value
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.__xss === undefined")


# -- SQL --------------------------------------------------------------------------------------


def run_sql(page, query: str):
    page.fill("#query", query)
    with page.expect_navigation() as navigation:
        page.click("#run")
    return navigation.value


def test_the_sql_page_runs_a_query_as_the_caller(page, server, tokens):
    as_user(page, server, tokens, "ana", "/sql")
    response = run_sql(page, "SELECT id, email FROM main.shop.customers WHERE region = 'north' ORDER BY id")
    assert response.status == 200
    assert table_text(page, "#result") == [["1", "***"], ["3", "***"]]
    assert page.input_value("#query").startswith("SELECT id, email")  # the statement stays in the form


def test_the_sql_page_shows_errors_with_their_status(page, server, tokens):
    as_user(page, server, tokens, "ana", "/sql")
    response = run_sql(page, "SELEC 1")
    assert response.status == 400 and page.is_visible("#message")
    assert "Traceback" not in page.content()
    response = run_sql(page, "SELECT * FROM main.shop.secret")
    assert response.status == 403 and "lacks SELECT on table main.shop.secret" in page.inner_text("#message")
    response = run_sql(page, "SELECT * FROM read_csv('/etc/passwd')")
    assert response.status == 400 and page.is_visible("#message") and not page.is_visible("#result")


def test_the_sql_page_caps_the_rows_it_shows(page, server, tokens):
    as_user(page, server, tokens, "bob", "/sql")
    run_sql(page, "SELECT * FROM range(1200)")
    assert "1200 row(s); showing the first 500" in page.inner_text("#summary")
    assert page.locator("#result tbody tr").count() == 500


def test_a_post_without_the_csrf_token_is_refused_and_runs_nothing(page, context, server, tokens, lake):
    as_user(page, server, tokens, "alice")
    for form in (
        {"query": "CREATE SCHEMA main.csrf_victim"},
        {"query": "CREATE SCHEMA main.csrf_victim", "csrf": "0" * 64},
    ):
        response = context.request.post(server.url + "/sql", form=form)
        assert response.status == 403 and "CSRF token is missing or stale" in response.text()
    assert "csrf_victim" not in {s.name.schema for s in lake.list("main")}
    refused = audit(lake, "action = 'web.csrf_refused'")
    assert refused and refused[-1]["principal"] == "alice" and refused[-1]["decision"] == "deny"
    # with the page's token the same form works
    response = context.request.post(
        server.url + "/sql",
        form={"query": "SELECT 42 AS answer", "csrf": page.get_attribute("input[name=csrf]", "value")},
    )
    assert response.status == 200 and "<td>42</td>" in response.text()


def test_a_get_on_the_sql_page_fills_the_form_but_runs_nothing(page, server, tokens, lake):
    as_user(page, server, tokens, "alice", "/sql?query=CREATE%20SCHEMA%20main.by_link")
    assert page.input_value("#query") == "CREATE SCHEMA main.by_link" and not page.is_visible("#result")
    assert "by_link" not in {s.name.schema for s in lake.list("main")}


# -- audit ------------------------------------------------------------------------------------


def test_the_audit_page_lists_events_for_an_admin_with_filters(page, server, tokens):
    as_user(page, server, tokens, "ana", "/catalog/main.shop.secret")  # a denied read, to find
    page.context.clear_cookies()
    as_user(page, server, tokens, "alice", "/audit")
    header = [th.inner_text() for th in page.query_selector_all("#events thead th")]
    assert header[:6] == ["event_time", "principal", "action", "privilege", "securable", "decision"]
    assert len(table_text(page, "#events")) > 0
    page.fill("input[name=principal]", "ana")
    page.select_option("select[name=decision]", "deny")
    with page.expect_navigation():
        page.click("#filter")
    rows = table_text(page, "#events")
    assert rows and {(r[1], r[5]) for r in rows} == {("ana", "deny")}
    assert "main.shop.secret" in {r[4] for r in rows}
    # a quote in a filter is a value, not SQL
    response = page.goto(server.url + "/audit?principal=x%27%20OR%20%271%27%3D%271")
    assert response.status == 200 and table_text(page, "#events") == [["No rows."]]


def test_the_audit_page_is_refused_without_select_on_the_audit_table(page, server, tokens):
    response = as_user(page, server, tokens, "bob", "/audit")
    assert response.status == 403 and page.inner_text("h1") == "Permission denied"
    assert "system" in page.inner_text("#message")
    response = page.goto(server.url + "/audit?decision=maybe")
    assert response.status == 400 and "decision must be 'allow' or 'deny'" in page.inner_text("#message")

"""The web shell's browser tests: Debian's Chromium driven by Playwright (fixtures in conftest.py)."""

from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
#: Text that would run if a page rendered it as HTML.
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"the web shell tests drive Debian's Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)",
)


def sign_in(page, server, token: str, path: str = "/catalog"):
    """Open ``path``; sign in on the page it redirects to; return the final response."""
    page.goto(server.url + path)
    page.fill("#token", token)
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    return navigation.value


def as_user(page, server, tokens, user: str, path: str = "/catalog"):
    """Sign in as ``user`` (``tokens[user]``) on the way to ``path``; the page must greet them."""
    response = sign_in(page, server, tokens[user], path)
    assert page.inner_text("#user") == user
    return response


def table_text(page, selector: str) -> list[list[str]]:
    """The cells of the table ``selector``'s body rows, as text."""
    return [
        [cell.inner_text() for cell in row.query_selector_all("td")]
        for row in page.query_selector_all(f"{selector} tbody tr")
    ]

"""Sign-in state of the web shell: the session cookie, CSRF tokens, form bodies.

The session cookie holds the caller's API token (HttpOnly, SameSite=Strict); every
page request has it verified again by the server's one sign-in path, so an expired
or revoked token ends the session at the next click. POST forms also carry a CSRF
token derived from the session (an HMAC under a key the process draws at start):
SameSite=Strict already keeps other sites' forms from sending the cookie, the token
covers browsers that do not honour it. The sign-in form, which has no session yet,
uses a random nonce held in a second cookie (double submit).

>>> sessions = Sessions()
>>> sessions.check_csrf("ghs_token", sessions.csrf("ghs_token"))
True
>>> sessions.check_csrf("ghs_token", "forged")
False
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from glashaus.errors import InvalidArgumentError
from glashaus.http.call import Call

SESSION_COOKIE = "glashaus_session"
LOGIN_COOKIE = "glashaus_login"
#: Web forms are a token, a SQL statement or a few filters: far below the API's body limit.
FORM_LIMIT = 1024 * 1024


class Sessions:
    """CSRF tokens bound to a session token, under a key that lives as long as the process."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def csrf(self, session_token: str) -> str:
        """The CSRF token that forms of this session carry (never the session token itself)."""
        return hmac.new(self._key, b"csrf\0" + session_token.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session_token: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(session_token), given or "")

    @staticmethod
    def login_nonce() -> str:
        return secrets.token_urlsafe(32)


def set_cookie(response: Response, name: str, value: str, *, request: Request, path: str = "/") -> None:
    """An HttpOnly, SameSite=Strict cookie for this browser session (Secure over https)."""
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=request.url.scheme == "https", path=path)


def clear_cookie(response: Response, name: str, *, path: str = "/") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="strict")


async def read_form(call: Call) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (the first value of each), read
    through the request layer with the form limit (:data:`FORM_LIMIT`)."""
    kind = call.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InvalidArgumentError(
            f"this page takes an HTML form (application/x-www-form-urlencoded), not {kind or 'an empty body'}; "
            "use the REST API under /api/ for programs."
        )
    body = await call.body(
        limit=FORM_LIMIT, advice=("send long statements through the REST API (POST /api/sql) or the Python client.")
    )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgumentError("the form is not UTF-8 text.") from None
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def safe_next(target: str | None, default: str = "/catalog") -> str:
    """Where to go after signing in: a path on this server only (never another site).

    >>> safe_next("/sql"), safe_next("//evil.example/x"), safe_next("https://evil.example")
    ('/sql', '/catalog', '/catalog')
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return default
    if any(ord(c) < 32 for c in target):
        return default
    return target

"""The web shell's routes: sign-in, catalog browser, models, endpoints, SQL, audit, on ``glashaus serve``.

Each page is a face over the Lakehouse methods the REST API calls (``lh.list``,
``lh.get``, ``lh.describe``, ``lh.show_grants``, ``lh.history``, ``lh.list_files``,
``lh.sql``), run on ``server.lakehouse.as_user(caller)`` after the server's one
sign-in path (``_Server._authenticate``: the sign-in gate and the ``auth.failed``
audit event) has verified the token in the session cookie. Grants, row filters,
column masks and the audit log are therefore those of every other face. The model and
endpoint pages live in ``web/models.py`` and ``web/endpoints.py``; this module mounts them.

>>> app = create_app(glashaus.connect("./lakehouse"))   # mounts these pages  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI
from sqlglot import exp
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from glashaus.access import request as audit_request
from glashaus.access.audit import client_address
from glashaus.catalog.names import parse_name
from glashaus.errors import (
    AuthenticationError,
    GlashausError,
    InvalidArgumentError,
    PermissionDeniedError,
    RateLimitedError,
)
from glashaus.lakehouse import Lakehouse
from glashaus.server import wire
from glashaus.web.endpoints import endpoint_page, endpoints_page
from glashaus.web.models import model_page, models_page, version_page
from glashaus.web.render import PAGE_HEADERS, page, public_message, table_rows
from glashaus.web.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Sessions,
    clear_cookie,
    read_form,
    safe_next,
    set_cookie,
)

log = logging.getLogger("glashaus.web")

STATIC = Path(__file__).parent / "static"
#: Rows shown in a table's data preview and at most on the SQL page.
PREVIEW_ROWS = 50
MAX_SQL_ROWS = 500
HISTORY_ROWS = 25
AUDIT_LIMITS = (50, 100, 200, 500, 1000)
AUDIT_COLUMNS = ("event_time", "principal", "action", "privilege", "securable", "decision", "reason", "client",
                 "request_id")


@dataclass
class Caller:
    """One page request of a signed-in principal."""

    request: Request
    view: Lakehouse
    user: str
    csrf: str
    form: dict[str, str]
    #: Storage prefixes no message may show (the lakehouse root; ``_Server.hidden``).
    hidden: tuple[str, ...] = ()

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        return page(template, status=status, user=self.user, csrf=self.csrf, **context)

    def message(self, exc: GlashausError) -> str:
        """An error's message as this caller may see it (``render.public_message``)."""
        return public_message(exc, hidden=self.hidden)


Build = Callable[[Caller], Response]


def mount(app: FastAPI, server: Any) -> None:
    """Add the web shell's pages (``/``, ``/login``, ``/catalog``, ``/models``, ``/endpoints``, ``/sql``, ``/audit``,
    ``/static``) to ``app``."""
    shell = WebShell(server)
    app.mount("/static", StaticFiles(directory=STATIC), name="web-static")
    routes: list[tuple[str, list[str], Callable[[Request], Awaitable[Response]]]] = [
        ("/", ["GET"], shell.home),
        ("/login", ["GET"], shell.login_form),
        ("/login", ["POST"], shell.login),
        ("/logout", ["GET", "POST"], shell.signed_in(shell.logout)),
        ("/catalog", ["GET"], shell.signed_in(shell.catalogs)),
        ("/catalog/{name}", ["GET"], shell.signed_in(shell.securable)),
        ("/volume-file/{volume}/{path:path}", ["GET"], shell.signed_in(shell.volume_file)),
        ("/models", ["GET"], shell.signed_in(models_page)),
        ("/models/{name}", ["GET"], shell.signed_in(model_page)),
        ("/models/{name}/versions/{version}", ["GET"], shell.signed_in(version_page)),
        ("/endpoints", ["GET"], shell.signed_in(endpoints_page)),
        ("/endpoints/{name}", ["GET"], shell.signed_in(endpoint_page)),
        ("/sql", ["GET", "POST"], shell.signed_in(shell.sql)),
        ("/audit", ["GET"], shell.signed_in(shell.audit)),
    ]
    for path, methods, endpoint in routes:
        app.add_route(path, endpoint, methods=methods, include_in_schema=False)


class WebShell:
    """The pages, sharing the server's Lakehouse, sign-in gate and audit log."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.sessions = Sessions()

    # -- the frame every signed-in page runs in -------------------------------------------

    def signed_in(self, build: Build) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that signs the caller in from the cookie, checks CSRF on POST, then builds the page."""

        async def endpoint(request: Request) -> Response:
            request_id = uuid.uuid4().hex
            address = request.client.host if request.client else "unknown"
            token = request.cookies.get(SESSION_COOKIE)
            if not token:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response: Response = RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
                response.headers["X-Request-Id"] = request_id
                return response
            try:
                form = await read_form(request) if request.method == "POST" else {}
                response = await run_in_threadpool(self._run, build, request, address, request_id, token, form)
            except GlashausError as exc:  # a bad form body, before anyone was signed in
                response = _error_page(exc, hidden=self.server.hidden)
            except Exception:  # a bug: log it, never show a stack trace
                log.exception("page %s %s %s failed", request_id, request.method, request.url.path)
                response = page("error.html", title="Error", status=500, status_code=500, message=(
                    f"internal error in request {request_id}; the server log has the details."))
            response.headers["X-Request-Id"] = request_id
            return response

        endpoint.__name__ = build.__name__
        return endpoint

    def _run(self, build: Build, request: Request, address: str, request_id: str, token: str,
             form: dict[str, str]) -> Response:
        with client_address(address), audit_request(request_id):
            try:
                principal = self.server._authenticate(request, address, request_id, token=token)
            except RateLimitedError as exc:
                return _login_page(request, message=str(exc), status=429,
                                   headers={"Retry-After": str(getattr(exc, "retry_after", 60))})
            except AuthenticationError as exc:
                response = _login_page(request, status=401, message=(
                    f"Your session has ended: {exc} Sign in again with a valid token."))
                clear_cookie(response, SESSION_COOKIE)
                return response
            caller = Caller(request, self.server.lakehouse.as_user(principal), principal.name,
                            self.sessions.csrf(token), form, self.server.hidden)
            try:
                if request.method == "POST" and not self.sessions.check_csrf(token, form.get("csrf")):
                    reason = ("the form's CSRF token is missing or stale: reload the page and submit the form "
                              "again.")
                    self.server.lakehouse.audit.record(
                        principal=principal.name, action="web.csrf_refused", decision="deny", reason=reason,
                        details={"method": request.method, "path": request.url.path},
                    )
                    raise PermissionDeniedError(reason)
                return build(caller)
            except GlashausError as exc:
                return _error_page(exc, caller)

    # -- sign-in and sign-out -------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/catalog", status_code=303, headers=PAGE_HEADERS)

    async def login_form(self, request: Request) -> Response:
        message = "You have signed out." if request.query_params.get("signed_out") else None
        return _login_page(request, message=message, level="info")

    async def login(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex
        address = request.client.host if request.client else "unknown"
        try:
            form = await read_form(request)
        except GlashausError as exc:
            return _login_page(request, message=str(exc), status=wire.status_of(exc))
        target = safe_next(form.get("next"))
        nonce = request.cookies.get(LOGIN_COOKIE)
        if not nonce or not form.get("csrf") or not _same(nonce, form["csrf"]):
            return _login_page(request, next_=target, status=400, message=(
                "The sign-in form has expired (or came from another site): sign in again on this page."))
        token = form.get("token", "").strip()
        if not token:
            return _login_page(request, next_=target, status=400, message=(
                "Paste an API token to sign in (create one with `glashaus tokens create` or lh.create_token())."))

        def verify() -> Any:
            with client_address(address), audit_request(request_id):
                return self.server._authenticate(request, address, request_id, token=token)

        try:
            await run_in_threadpool(verify)
        except RateLimitedError as exc:
            return _login_page(request, next_=target, message=str(exc), status=429,
                               headers={"Retry-After": str(getattr(exc, "retry_after", 60))})
        except AuthenticationError as exc:
            return _login_page(request, next_=target, status=401, message=f"Sign-in failed: {exc}")
        response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
        set_cookie(response, SESSION_COOKIE, token, request=request)
        clear_cookie(response, LOGIN_COOKIE, path="/login")
        return response

    def logout(self, caller: Caller) -> Response:
        if caller.request.method == "GET":  # a page with the button: signing out changes state, so it is a POST
            return caller.render("logout.html", title="Sign out")
        response = RedirectResponse("/login?signed_out=1", status_code=303, headers=PAGE_HEADERS)
        clear_cookie(response, SESSION_COOKIE)
        return response

    # -- catalog browser --------------------------------------------------------------------------

    def catalogs(self, caller: Caller) -> Response:
        return caller.render("catalogs.html", title="Catalogs", active="catalog", catalogs=caller.view.list())

    def securable(self, caller: Caller) -> Response:
        name = parse_name(caller.request.path_params["name"], levels=(1, 2, 3), allow_version=False)
        lh = caller.view
        securable = lh.get(name.full)
        crumbs = _crumbs(name)
        common = {"title": name.full, "active": "catalog", "securable": securable, "crumbs": crumbs}
        if securable.kind in ("catalog", "schema"):
            return caller.render("container.html", children=lh.list(name.full),
                                 grants=lh.show_grants(name.full), **common)
        if securable.kind == "model":  # a model's page is the registry's, with versions and alias history
            return RedirectResponse("/models/" + name.full, status_code=303, headers=PAGE_HEADERS)
        if securable.kind == "volume":
            return caller.render("volume.html", files=lh.list_files(name.full), grants=lh.show_grants(name.full),
                                 **common)
        if securable.kind not in ("table", "view"):
            return caller.render("object.html", info=None, grants=lh.show_grants(name.full), history=[],
                                 preview=None, preview_error=None, **common)
        info = lh.describe(name.full)
        history = lh.history(name.full, limit=HISTORY_ROWS) if securable.kind == "table" else []
        preview, preview_error = None, None
        try:  # the caller's own read: their row filters and column masks apply
            query = exp.select("*").from_(
                exp.table_(name.object, db=name.schema, catalog=name.catalog, quoted=True)
            ).limit(PREVIEW_ROWS)
            preview = table_rows(lh.sql(query.sql(dialect="duckdb")).to_arrow(), limit=PREVIEW_ROWS)
        except GlashausError as exc:
            preview_error = caller.message(exc)
        return caller.render("object.html", info=info, grants=lh.show_grants(name.full), history=history,
                             preview=preview, preview_error=preview_error, preview_rows=PREVIEW_ROWS, **common)

    def volume_file(self, caller: Caller) -> Response:
        volume = parse_name(caller.request.path_params["volume"], allow_version=False).full
        path = caller.request.path_params["path"]
        data = caller.view.get_file(volume, path)
        filename = quote(path.rsplit("/", 1)[-1], safe="")
        # Always a download, never rendered: a volume may hold HTML that must not run as this site.
        return Response(data, media_type="application/octet-stream", headers={
            **PAGE_HEADERS, "Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})

    # -- SQL ----------------------------------------------------------------------------------

    def sql(self, caller: Caller) -> Response:
        query = caller.form.get("query", "") if caller.request.method == "POST" \
            else caller.request.query_params.get("query", "")
        context: dict[str, Any] = {"title": "SQL", "active": "sql", "query": query, "result": None,
                                   "error": None, "max_rows": MAX_SQL_ROWS}
        if caller.request.method == "GET":  # a GET only fills the form: running a statement is a POST
            return caller.render("sql.html", **context)
        if not query.strip():
            return caller.render("sql.html", status=400, **{**context, "error": "Enter a SQL statement to run."})
        try:
            result = caller.view.sql(query)
        except GlashausError as exc:
            return caller.render("sql.html", status=wire.status_of(exc), **{**context,
                                                                              "error": caller.message(exc)})
        table = result.to_arrow()
        columns, rows = table_rows(table, limit=MAX_SQL_ROWS)
        context["result"] = {"statement": result.statement, "columns": columns, "rows": rows,
                             "total": table.num_rows}
        return caller.render("sql.html", **context)

    # -- audit --------------------------------------------------------------------------------

    def audit(self, caller: Caller) -> Response:
        params = caller.request.query_params
        filters = {key: params.get(key, "").strip() for key in ("principal", "decision", "action")}
        if filters["decision"] not in ("", "allow", "deny"):
            raise InvalidArgumentError(f"decision must be 'allow' or 'deny', not {filters['decision']!r}.")
        raw_limit = params.get("limit", "100")
        if raw_limit not in {str(n) for n in AUDIT_LIMITS}:
            raise InvalidArgumentError(f"limit must be one of {', '.join(map(str, AUDIT_LIMITS))}, "
                                       f"not {raw_limit!r}.")
        limit = int(raw_limit)
        result = caller.view.sql(audit_query(**filters, limit=limit))
        columns, rows = table_rows(result.to_arrow(), limit=limit)
        return caller.render("audit.html", title="Audit", active="audit", filters=filters, limit=limit,
                             limits=AUDIT_LIMITS, columns=columns, rows=rows)


def audit_query(*, principal: str = "", decision: str = "", action: str = "", limit: int = 100) -> str:
    """The newest audit events matching the filters; values become SQL string literals, never SQL.

    >>> audit_query(principal="o'brien", limit=5)  # doctest: +ELLIPSIS
    "SELECT ... FROM system.access.audit WHERE principal = 'o''brien' ORDER BY event_time DESC LIMIT 5"
    """
    query = exp.select(*AUDIT_COLUMNS).from_(exp.table_("audit", db="access", catalog="system"))
    if principal:
        query = query.where(exp.column("principal").eq(exp.Literal.string(principal.lower())))
    if decision:
        query = query.where(exp.column("decision").eq(exp.Literal.string(decision)))
    if action:
        query = query.where(exp.func("starts_with", exp.column("action"), exp.Literal.string(action)))
    return query.order_by(exp.Ordered(this=exp.column("event_time"), desc=True)).limit(limit).sql(dialect="duckdb")


# -- helpers ----------------------------------------------------------------------------------------


def _login_page(request: Request, *, message: str | None = None, level: str = "error", status: int = 200,
                next_: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """The sign-in form, with the nonce of its cookie (a new one if none) in a hidden field."""
    nonce = request.cookies.get(LOGIN_COOKIE) or Sessions.login_nonce()
    target = next_ or safe_next(request.query_params.get("next"))
    response = page("login.html", status=status, headers=headers, title="Sign in", message=message,
                    level=level, nonce=nonce, next=target)
    set_cookie(response, LOGIN_COOKIE, nonce, request=request, path="/login")
    return response


def _error_page(exc: GlashausError, caller: Caller | None = None, *, hidden: tuple[str, ...] = ()) -> Response:
    """The error's message on a page, with the status the REST API would answer."""
    status = wire.status_of(exc)
    message = caller.message(exc) if caller is not None else public_message(exc, hidden=hidden)
    context = {"title": "Error", "status": status, "status_code": status, "message": message}
    return caller.render("error.html", **context) if caller is not None else page("error.html", **context)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _crumbs(name: Any) -> list[tuple[str, str]]:
    """(label, link) for the catalog, schema and object of a name."""
    parts = name.parts
    return [(part, "/catalog/" + ".".join(parts[: i + 1])) for i, part in enumerate(parts)]

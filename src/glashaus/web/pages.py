"""The web shell's routes: sign-in, catalog browser, models, endpoints, SQL, audit, on ``glashaus serve``.

Each page is a face over the Lakehouse methods the REST API calls (``lh.list``,
``lh.get``, ``lh.describe``, ``lh.show_grants``, ``lh.history``, ``lh.list_files``,
``lh.sql``), run on the lakehouse seen as the caller, behind the request layer every face
goes through (``glashaus.http.layer``): a server-generated request id, the form's size
limit, sign-in with the token in the session cookie (the one sign-in path: the sign-in
gate and the ``auth.failed`` audit event), errors as pages (:class:`PageErrors`), and the
page's SQL interrupted when the browser goes away. Grants, row filters, column masks and
the audit log are therefore those of every other face. The model and endpoint pages live
in ``web/models.py`` and ``web/endpoints.py``; :class:`WebFace` mounts them.

>>> import httpx
>>> from glashaus.server.app import create_app
>>> from glashaus.server.running import ServerThread
>>> with ServerThread(create_app(lh)) as server:   # the app mounts these pages
...     answer = httpx.get(server.url + "/sql")   # not signed in: sent to the sign-in page
>>> answer.status_code, answer.headers["location"]
(303, '/login?next=%2Fsql')
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from sqlglot import exp
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from glashaus.catalog.names import parse_name
from glashaus.errors import (
    AuthenticationError,
    GlashausError,
    InvalidArgumentError,
    PermissionDeniedError,
    RateLimitedError,
)
from glashaus.http.call import Call, Credentials, Policy
from glashaus.http.errors import internal_message, retry_after, status_of
from glashaus.http.layer import RequestLayer, SignInRequired
from glashaus.lakehouse import Lakehouse, services
from glashaus.web.endpoints import endpoint_page, endpoints_page
from glashaus.web.models import model_page, models_page, version_page
from glashaus.web.render import PAGE_HEADERS, page, public_message, table_rows
from glashaus.web.session import (
    FORM_LIMIT,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Sessions,
    clear_cookie,
    read_form,
    safe_next,
    set_cookie,
)
from glashaus.web.traces import trace_page, traces_page

log = logging.getLogger("glashaus.web")

STATIC = Path(__file__).parent / "static"
#: Rows shown in a table's data preview and at most on the SQL page.
PREVIEW_ROWS = 50
MAX_SQL_ROWS = 500
HISTORY_ROWS = 25
AUDIT_LIMITS = (50, 100, 200, 500, 1000)
AUDIT_COLUMNS = (
    "event_time",
    "principal",
    "action",
    "privilege",
    "securable",
    "decision",
    "reason",
    "client",
    "request_id",
)


@dataclass
class Caller:
    """One page request of a signed-in principal."""

    request: Request
    view: Lakehouse
    user: str
    csrf: str
    form: dict[str, str]
    #: Storage prefixes no message may show (the lakehouse root; ``RequestLayer.hidden``).
    hidden: tuple[str, ...] = ()

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        return page(template, status=status, user=self.user, csrf=self.csrf, **context)

    def message(self, exc: GlashausError) -> str:
        """An error's message as this caller may see it (``render.public_message``)."""
        return public_message(exc, hidden=self.hidden)


Build = Callable[[Caller], Response]


class PageErrors:
    """The web shell's error answers: the sign-in page for a missing, ended or throttled session; else a
    page with the error's message and the status the REST API would answer (never a stack trace)."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def error(self, call: Call, exc: GlashausError) -> Response:
        request = call.request
        if isinstance(exc, SignInRequired):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        if isinstance(exc, RateLimitedError):
            return _login_page(request, message=str(exc), status=429, headers={"Retry-After": str(retry_after(exc))})
        if isinstance(exc, AuthenticationError):
            response = _login_page(
                request, status=401, message=(f"Your session has ended: {exc} Sign in again with a valid token.")
            )
            clear_cookie(response, SESSION_COOKIE)
            return response
        status = status_of(exc)
        signed_in: dict[str, Any] = (
            {"user": call.principal.name, "csrf": self.sessions.csrf(call.token)}
            if call.principal is not None and call.token
            else {}
        )
        return page(
            "error.html",
            title="Error",
            status=status,
            status_code=status,
            message=public_message(exc, hidden=call.layer.hidden),
            **signed_in,
        )

    def internal(self, call: Call) -> Response:
        return page("error.html", title="Error", status=500, status_code=500, message=internal_message(call.id))


class WebFace:
    """The web shell's pages, behind the request layer, sharing the server's Lakehouse and sign-in path."""

    def __init__(self, layer: RequestLayer) -> None:
        self.layer = layer
        self.sessions = Sessions()
        errors = PageErrors(self.sessions)
        #: Signed-in pages: the session cookie; their SQL stops when the browser goes away.
        self.signed = Policy(
            errors=errors,
            credentials=Credentials(cookie=SESSION_COOKIE),
            cancel_on_disconnect=True,
            body_limit=FORM_LIMIT,
        )
        self.open = Policy(errors=errors, credentials=None, body_limit=FORM_LIMIT)

    def routes(self) -> list[BaseRoute]:
        """``/``, ``/login``, ``/logout``, ``/catalog``, ``/models``, ``/endpoints``, ``/traces``, ``/sql``, ``/audit``,
        ``/static``."""
        signed: list[tuple[str, list[str], Build]] = [
            ("/logout", ["GET", "POST"], self.logout),
            ("/catalog", ["GET"], self.catalogs),
            ("/catalog/{name}", ["GET"], self.securable),
            ("/volume-file/{volume}/{path:path}", ["GET"], self.volume_file),
            ("/models", ["GET"], models_page),
            ("/models/{name}", ["GET"], model_page),
            ("/models/{name}/versions/{version}", ["GET"], version_page),
            ("/endpoints", ["GET"], endpoints_page),
            ("/endpoints/{name}", ["GET"], endpoint_page),
            ("/traces", ["GET"], traces_page),
            ("/traces/{trace_id:path}", ["GET"], trace_page),
            ("/sql", ["GET", "POST"], self.sql),
            ("/audit", ["GET"], self.audit),
        ]
        layer = self.layer
        return [
            Mount("/static", StaticFiles(directory=STATIC), name="web-static"),
            layer.route("/", self.home, methods=["GET"], policy=self.open),
            layer.route("/login", self.login_form, methods=["GET"], policy=self.open),
            layer.route("/login", self.login, methods=["POST"], policy=self.open),
            *(
                layer.route(path, self.signed_in(build), methods=methods, policy=self.signed)
                for path, methods, build in signed
            ),
        ]

    def close(self) -> None:
        pass

    # -- the frame every signed-in page runs in -------------------------------------------

    def signed_in(self, build: Build) -> Callable[[Call], Any]:
        """A handler that checks CSRF on POST, then builds the page as the signed-in caller."""

        async def handler(call: Call) -> Response:
            form = await read_form(call) if call.request.method == "POST" else {}
            return await call.run(lambda: self._build(build, call, form))

        handler.__name__ = build.__name__
        return handler

    def _build(self, build: Build, call: Call, form: dict[str, str]) -> Response:
        request, principal, token = call.request, call.principal, call.token
        assert principal is not None and token is not None  # the policy signs the caller in
        caller = Caller(request, call.lakehouse, principal.name, self.sessions.csrf(token), form, call.layer.hidden)
        if request.method == "POST" and not self.sessions.check_csrf(token, form.get("csrf")):
            reason = "the form's CSRF token is missing or stale: reload the page and submit the form again."
            services(call.layer.lakehouse).audit.record(
                principal=principal.name,
                action="web.csrf_refused",
                decision="deny",
                reason=reason,
                details={"method": request.method, "path": request.url.path},
            )
            raise PermissionDeniedError(reason)
        return build(caller)

    # -- sign-in and sign-out -------------------------------------------------------------------

    async def home(self, call: Call) -> Response:
        return RedirectResponse("/catalog", status_code=303, headers=PAGE_HEADERS)

    async def login_form(self, call: Call) -> Response:
        request = call.request
        message = "You have signed out." if request.query_params.get("signed_out") else None
        return _login_page(request, message=message, level="info")

    async def login(self, call: Call) -> Response:
        request = call.request
        try:
            form = await read_form(call)
        except GlashausError as exc:
            return _login_page(request, message=str(exc), status=status_of(exc))
        target = safe_next(form.get("next"))
        nonce = request.cookies.get(LOGIN_COOKIE)
        if not nonce or not form.get("csrf") or not _same(nonce, form["csrf"]):
            return _login_page(
                request,
                next_=target,
                status=400,
                message=("The sign-in form has expired (or came from another site): sign in again on this page."),
            )
        token = form.get("token", "").strip()
        if not token:
            return _login_page(
                request,
                next_=target,
                status=400,
                message=(
                    "Paste an API token to sign in (create one with `glashaus tokens create` or lh.create_token())."
                ),
            )

        try:
            await call.run(lambda: self.layer.verify(call, token))
        except RateLimitedError as exc:
            return _login_page(
                request,
                next_=target,
                message=str(exc),
                status=429,
                headers={"Retry-After": str(getattr(exc, "retry_after", 60))},
            )
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
        common: dict[str, Any] = {"title": name.full, "active": "catalog", "securable": securable, "crumbs": crumbs}
        if securable.kind in ("catalog", "schema"):
            return caller.render(
                "container.html", children=lh.list(name.full), grants=lh.show_grants(name.full), **common
            )
        if securable.kind == "model":  # a model's page is the registry's, with versions and alias history
            return RedirectResponse("/models/" + name.full, status_code=303, headers=PAGE_HEADERS)
        if securable.kind == "volume":
            return caller.render(
                "volume.html", files=lh.list_files(name.full), grants=lh.show_grants(name.full), **common
            )
        if securable.kind not in ("table", "view"):
            return caller.render(
                "object.html",
                info=None,
                grants=lh.show_grants(name.full),
                history=[],
                preview=None,
                preview_error=None,
                **common,
            )
        info = lh.describe(name.full)
        history = lh.history(name.full, limit=HISTORY_ROWS) if securable.kind == "table" else []
        preview, preview_error = None, None
        try:  # the caller's own read: their row filters and column masks apply
            query = (
                exp.select("*")
                .from_(exp.table_(name.object, db=name.schema, catalog=name.catalog, quoted=True))
                .limit(PREVIEW_ROWS)
            )
            preview = table_rows(lh.sql(query.sql(dialect="duckdb")).to_arrow(), limit=PREVIEW_ROWS)
        except GlashausError as exc:
            preview_error = caller.message(exc)
        return caller.render(
            "object.html",
            info=info,
            grants=lh.show_grants(name.full),
            history=history,
            preview=preview,
            preview_error=preview_error,
            preview_rows=PREVIEW_ROWS,
            **common,
        )

    def volume_file(self, caller: Caller) -> Response:
        volume = parse_name(caller.request.path_params["volume"], allow_version=False).full
        path = caller.request.path_params["path"]
        data = caller.view.get_file(volume, path)
        filename = quote(path.rsplit("/", 1)[-1], safe="")
        # Always a download, never rendered: a volume may hold HTML that must not run as this site.
        return Response(
            data,
            media_type="application/octet-stream",
            headers={**PAGE_HEADERS, "Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
        )

    # -- SQL ----------------------------------------------------------------------------------

    def sql(self, caller: Caller) -> Response:
        query = (
            caller.form.get("query", "")
            if caller.request.method == "POST"
            else caller.request.query_params.get("query", "")
        )
        context: dict[str, Any] = {
            "title": "SQL",
            "active": "sql",
            "query": query,
            "result": None,
            "error": None,
            "max_rows": MAX_SQL_ROWS,
        }
        if caller.request.method == "GET":  # a GET only fills the form: running a statement is a POST
            return caller.render("sql.html", **context)
        if not query.strip():
            return caller.render("sql.html", status=400, **{**context, "error": "Enter a SQL statement to run."})
        try:
            result = caller.view.sql(query)
        except GlashausError as exc:
            return caller.render("sql.html", status=status_of(exc), **{**context, "error": caller.message(exc)})
        table = result.to_arrow()
        columns, rows = table_rows(table, limit=MAX_SQL_ROWS)
        context["result"] = {"statement": result.statement, "columns": columns, "rows": rows, "total": table.num_rows}
        return caller.render("sql.html", **context)

    # -- audit --------------------------------------------------------------------------------

    def audit(self, caller: Caller) -> Response:
        params = caller.request.query_params
        filters = {key: params.get(key, "").strip() for key in ("principal", "decision", "action")}
        if filters["decision"] not in ("", "allow", "deny"):
            raise InvalidArgumentError(f"decision must be 'allow' or 'deny', not {filters['decision']!r}.")
        raw_limit = params.get("limit", "100")
        if raw_limit not in {str(n) for n in AUDIT_LIMITS}:
            raise InvalidArgumentError(f"limit must be one of {', '.join(map(str, AUDIT_LIMITS))}, not {raw_limit!r}.")
        limit = int(raw_limit)
        result = caller.view.sql(audit_query(**filters, limit=limit))
        columns, rows = table_rows(result.to_arrow(), limit=limit)
        return caller.render(
            "audit.html",
            title="Audit",
            active="audit",
            filters=filters,
            limit=limit,
            limits=AUDIT_LIMITS,
            columns=columns,
            rows=rows,
        )


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


def _login_page(
    request: Request,
    *,
    message: str | None = None,
    level: str = "error",
    status: int = 200,
    next_: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The sign-in form, with the nonce of its cookie (a new one if none) in a hidden field."""
    nonce = request.cookies.get(LOGIN_COOKIE) or Sessions.login_nonce()
    target = next_ or safe_next(request.query_params.get("next"))
    response = page(
        "login.html",
        status=status,
        headers=headers,
        title="Sign in",
        message=message,
        level=level,
        nonce=nonce,
        next=target,
    )
    set_cookie(response, LOGIN_COOKIE, nonce, request=request, path="/login")
    return response


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _crumbs(name: Any) -> list[tuple[str, str]]:
    """(label, link) for the catalog, schema and object of a name."""
    parts = name.parts
    return [(part, "/catalog/" + ".".join(parts[: i + 1])) for i, part in enumerate(parts)]

"""create_app(settings): one FastAPI application with every domain's API and pages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response
from starlette.routing import Match

from healthgate import __version__, migrate, search
from healthgate.audit import keys as audit_keys
from healthgate.catalogue.schemas import Problem, ProblemError
from healthgate.clock import Clock, SystemClock
from healthgate.config import Settings
from healthgate.db import make_engine, make_sessionmaker
from healthgate.errors import (
    Conflict,
    FieldError,
    HealthgateError,
    InvalidToken,
    TooManyRequests,
    Unauthorized,
)
from healthgate.outbox import inline as outbox_inline
from healthgate.web import admission, csrf, http, openapi, parameters, ratelimit, security, templates

PROBLEM = openapi.PROBLEM
log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, errors: list[FieldError] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(type="about:blank", title=title, status=status, detail=detail,
                   errors=[ProblemError(path=e.path, message=e.message) for e in errors or []])
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM, headers=headers)


def _loc_path(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    where = loc[0] if loc and loc[0] in ("query", "path", "header") else None
    path = ".".join(str(p) for p in parts) or "$"
    return f"{where}.{path}" if where else (f"$.{path}" if parts else "$")


def _headers(exc: HealthgateError) -> dict[str, str]:
    if isinstance(exc, InvalidToken):
        return {"WWW-Authenticate": 'Bearer realm="healthgate", error="invalid_token", '
                                    'error_description="the token is unknown or revoked"'}
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="healthgate"'}
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after), **exc.headers}
    return {}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(request: Request, exc: HealthgateError) -> Response:
    """A domain error as problem+json (API) or an HTML error page, with the headers its status needs."""
    headers = _headers(exc)
    if not _is_api(request):
        page = templates.error_page(request, exc.status, exc.title, exc.detail, exc.errors)
        page.headers.update(headers)
        return page
    return problem(exc.status, exc.title, exc.detail, exc.errors, headers)


def refusal_response(request: Request, exc: TooManyRequests) -> Response:
    """A rate-limit refusal, made before routing: problem+json for the API, plain text for pages."""
    if _is_api(request):
        return problem(exc.status, exc.title, exc.detail, exc.errors, _headers(exc))
    return PlainTextResponse(f"{exc.title}: {exc.detail}", status_code=exc.status, headers=_headers(exc))


def is_unique_violation(exc: IntegrityError) -> bool:
    """A UNIQUE or PRIMARY KEY violation (PostgreSQL SQLSTATE 23505, SQLite's "UNIQUE constraint failed")."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23505":
        return True
    code = getattr(orig, "sqlite_errorname", "")
    return code in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY") or \
        "UNIQUE constraint failed" in str(orig)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _slash_twin(request: Request) -> str | None:
    """The path with its trailing slash toggled, if a route answers there (the old redirect_slashes)."""
    path = request.url.path
    if path == "/":
        return None
    twin = path[:-1] if path.endswith("/") else path + "/"
    scope = {**request.scope, "path": twin}
    for route in request.app.router.routes:
        if route.matches(scope)[0] != Match.NONE:
            return twin
    return None


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, migrate_db: bool = True) -> FastAPI:
    settings = settings or Settings()
    rate_limits = ratelimit.RateLimits(settings)  # a bad limit setting fails here, before anything is opened
    if settings.is_sqlite:
        settings.ensure_data_dir()
    # the pool: up to one connection per admitted request and 5 more for the inline worker and start-up work;
    # 5 are kept open when idle, the rest closed when given back
    kept = min(5, settings.db_pool_size)
    engine = make_engine(settings.resolved_database_url, pool_size=kept,
                         max_overflow=settings.db_pool_size - kept + 5)
    audit_keys.bind(engine, settings)  # the audit chain's key, before a migration may re-chain the log
    if migrate_db:
        migrate.upgrade(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        search.warm(engine)  # the search snapshot is built at start-up, not by the first search
        worker = outbox_inline.start(settings, _app.state.sessions, _app.state.clock)  # HEALTHGATE_WORKER
        try:
            yield
        finally:
            if worker is not None:
                await asyncio.to_thread(worker.stop)  # the message being sent finishes; the rest is given back
            engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="healthgate",
        version=__version__,
        description="Health data research gateway: HDR UK metadata catalogue and discovery. Errors are "
        "application/problem+json; lists page with next/prev links; writes accept If-Match.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(parameters.refuse_unknown_query)],
    )
    # Redirects are built on the configured base URL (else on a Host the trusted-hosts check accepted).
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.clock = clock or SystemClock()
    app.state.rate_limits = rate_limits

    @app.exception_handler(HealthgateError)
    async def _domain_error(request: Request, exc: HealthgateError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        # two writers raced for the same row; the loser is told to read again and retry
        return error_response(request, Conflict("someone else changed this at the same time; read it again "
                                                "and retry"))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        # A unique key taken between our read and our write is a race with a concurrent writer: 409, retry.
        # Any other violation (foreign key, NOT NULL, CHECK) is a bug the services should have prevented:
        # logged in full, answered as 500.
        if is_unique_violation(exc):
            return error_response(request, Conflict("someone else stored the same thing at the same time; "
                                                    "read it again and retry"))
        log.error("unexpected integrity error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request, HealthgateError("the server could not store this; it has been logged"))

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [FieldError(_loc_path(tuple(e.get("loc", ()))), e.get("msg", "invalid")) for e in exc.errors()]
        if not _is_api(request):
            return templates.error_page(request, 422, "Invalid input", "The request was not valid.", errors)
        return problem(422, "Invalid input", "the request is not valid", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and request.method in ("GET", "HEAD"):
            twin = _slash_twin(request)
            if twin is not None:
                query = f"?{request.url.query}" if request.url.query else ""
                return RedirectResponse(http.absolute(request, twin) + query, status_code=307)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        if not _is_api(request):
            page = templates.error_page(request, exc.status_code, str(exc.detail), str(exc.detail), [])
            page.headers.update(headers)
            return page
        return problem(exc.status_code, str(exc.detail), str(exc.detail), headers=headers)

    from healthgate.catalogue import api as catalogue_api
    from healthgate.catalogue import pages as catalogue_pages
    from healthgate.search import api as search_api
    from healthgate.search import pages as search_pages

    app.include_router(search_api.router)  # before the catalogue's /datasets/{id} routes
    app.include_router(catalogue_api.router)
    app.include_router(search_pages.router)
    app.include_router(catalogue_pages.router)
    from healthgate.audit import api as audit_api
    from healthgate.audit import pages as audit_pages

    app.include_router(audit_api.router)
    app.include_router(audit_pages.router)
    from healthgate.identity import api as identity_api
    from healthgate.identity import invitation_pages

    app.include_router(identity_api.router)
    app.include_router(invitation_pages.router)
    from healthgate.web import site as site_pages  # robots.txt, sitemap.xml, favicon.ico

    app.include_router(site_pages.router)
    from healthgate.identity import pages as identity_pages  # register, sign in/out, account, people

    app.include_router(identity_pages.router)
    from healthgate.catalogue import workspace as catalogue_workspace  # the custodian workspace (/workspace)
    from healthgate.identity import workspace as identity_workspace

    app.include_router(catalogue_workspace.router)
    app.include_router(identity_workspace.router)
    from healthgate.identity import oidc_pages  # OpenID Connect sign-in: /login/oidc/{provider}

    app.include_router(oidc_pages.router)
    from healthgate.access import routes as access_routes  # access requests: API and pages

    app.include_router(access_routes.router)
    from healthgate.federation import api as harvest_api  # harvest sources and jobs: API and workspace pages
    from healthgate.federation import pages as harvest_pages

    app.include_router(harvest_api.router)
    app.include_router(harvest_pages.router)
    from healthgate.register import routes as register_routes  # the register: custodian API and workspace

    app.include_router(register_routes.router)
    from healthgate.register import export_routes as register_exports  # before any /data-uses/{id} route
    from healthgate.register import public_routes as register_public  # the public register

    app.include_router(register_exports.router)
    app.include_router(register_public.router)
    from healthgate.register import upload_api as register_upload_api
    from healthgate.register import upload_pages as register_upload_pages

    app.include_router(register_upload_api.router)
    app.include_router(register_upload_pages.router)
    from healthgate.alliance import api as alliance_api  # members, obligations, statistics
    from healthgate.alliance import pages as alliance_pages

    app.include_router(alliance_api.router)
    app.include_router(alliance_pages.router)
    from healthgate.federation import serve as federation_serve  # the HDR UK federation API: /federation/...

    app.include_router(federation_serve.router)
    from healthgate.federation import dcat_routes  # DCAT-AP catalogue: /catalog.ttl|.jsonld|.rdf

    app.include_router(dcat_routes.router)
    app.mount("/static", StaticFiles(packages=[("healthgate.web", "static")]), name="static")
    openapi.install(app)
    # Outermost first: unknown hosts are refused before anything else, then per-client limits are counted.
    app.add_middleware(admission.AdmissionMiddleware, limit=settings.db_pool_size)
    app.add_middleware(ratelimit.RateLimitMiddleware, limits=app.state.rate_limits,
                       on_refusal=refusal_response)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts(), www_redirect=False)
    # CSRF on every unsafe browser request (innermost, after hosts and limits are checked); security headers on
    # every response, refusals included (outermost).
    app.user_middleware.append(Middleware(csrf.CSRFMiddleware, on_refusal=error_response))
    app.add_middleware(security.SecurityHeadersMiddleware, https=settings.base_url.lower().startswith("https://"))
    security.install_log_filter()
    return app

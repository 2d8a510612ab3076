"""create_app(settings): one FastAPI application with every domain's API and pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthgate import __version__, migrate, search
from healthgate.clock import Clock, SystemClock
from healthgate.config import Settings
from healthgate.db import make_engine, make_sessionmaker
from healthgate.errors import Conflict, FieldError, HealthgateError
from healthgate.web import templates

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, errors: list[FieldError] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail,
                            "errors": [e.as_dict() for e in errors or []]}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _loc_path(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    where = loc[0] if loc and loc[0] in ("query", "path", "header") else None
    path = ".".join(str(p) for p in parts) or "$"
    return f"{where}.{path}" if where else (f"$.{path}" if parts else "$")


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, migrate_db: bool = True) -> FastAPI:
    settings = settings or Settings()
    if settings.is_sqlite:
        settings.ensure_data_dir()
    engine = make_engine(settings.resolved_database_url)
    if migrate_db:
        migrate.upgrade(engine)
    search.warm(engine)  # the search snapshot is built now, not by the first search
    app = FastAPI(
        title="healthgate",
        version=__version__,
        description="Health data research gateway: HDR UK metadata catalogue and discovery.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.clock = clock or SystemClock()

    @app.exception_handler(HealthgateError)
    async def _domain_error(request: Request, exc: HealthgateError) -> JSONResponse:
        if not request.url.path.startswith("/api/"):
            return templates.error_page(request, exc.status, exc.title, exc.detail, exc.errors)
        return problem(exc.status, exc.title, exc.detail, exc.errors)

    @app.exception_handler(StaleDataError)
    @app.exception_handler(IntegrityError)
    async def _race(request: Request, exc: Exception) -> JSONResponse:
        # two writers raced for the same row or the same unique name; the loser is told to retry
        conflict = Conflict("someone else changed this at the same time; read it again and retry")
        return await _domain_error(request, conflict)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldError(_loc_path(tuple(e.get("loc", ()))), e.get("msg", "invalid")) for e in exc.errors()]
        if not request.url.path.startswith("/api/"):
            return templates.error_page(request, 422, "Invalid input", "The request was not valid.", errors)
        return problem(422, "Invalid input", "the request is not valid", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if not request.url.path.startswith("/api/"):
            return templates.error_page(request, exc.status_code, str(exc.detail), str(exc.detail), [])
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    from healthgate.catalogue import api as catalogue_api
    from healthgate.catalogue import pages as catalogue_pages
    from healthgate.search import api as search_api
    from healthgate.search import pages as search_pages

    app.include_router(search_api.router)  # before the catalogue's /datasets/{id} routes
    app.include_router(catalogue_api.router)
    app.include_router(search_pages.router)
    app.include_router(catalogue_pages.router)
    app.mount("/static", StaticFiles(packages=[("healthgate.web", "static")]), name="static")
    return app

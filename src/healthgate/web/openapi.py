"""The OpenAPI document as a contract: every error a route can answer, declared as problem+json; the bearer
token as a security scheme; and the docs page served with Swagger UI from the installed package (no CDN)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from healthgate.catalogue.schemas import Problem

PROBLEM = "application/problem+json"
DOCS_ASSETS = "/api/v1/docs-assets"
DESCRIPTIONS = {
    304: "Not modified: the entity tag in If-None-Match is current",
    401: "No valid token: send `Authorization: Bearer <token>`",
    403: "The token may not do this",
    404: "No such resource (or one you may not see)",
    409: "Conflicts with the resource's state, or row_version is stale",
    410: "The dataset was archived by its custodian (title and custodian in detail)",
    412: "If-Match does not name the current entity tag",
    413: "The body is larger than the configured limit",
    415: "The body is not JSON (send application/json)",
    422: "Invalid input: every problem listed in errors, by place",
    429: "Too many requests from this client: wait Retry-After seconds",
}
UNREADABLE = "The body could not be read as JSON text"
_RATE_HEADERS = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}},
    "RateLimit-Limit": {"description": "requests allowed per window", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "requests left in the window", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "seconds until the window frees a request", "schema": {"type": "integer"}},
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": 'Bearer realm="healthgate" (error="invalid_token" for a bad token)',
                               "schema": {"type": "string"}}},
    429: _RATE_HEADERS,
}


# Anyone may call the route; a token that is sent is checked, and a team's token shows it more.
OPTIONAL_AUTH: dict[str, Any] = {"security": [{}]}


def problems(*codes: int, body: bool = False) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route; every route may answer 401 (a bad token) and 429 (rate limits). ``body``:
    the route reads a JSON body, so it also answers 400 when the body cannot be read as JSON text."""
    out: dict[int | str, dict[str, Any]] = {code: {"description": DESCRIPTIONS[code]}
                                            for code in sorted({*codes, 401, 429})}
    if body:
        out[400] = {"description": UNREADABLE}
    return out


def _problem_schema(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    full = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in full.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas["Problem"] = full
    return {"$ref": "#/components/schemas/Problem"}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, made exact: errors are problem+json, limits follow the settings."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    ref = _problem_schema(spec)
    max_per_page = app.state.settings.max_per_page
    for item in spec.get("paths", {}).values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for code, response in op["responses"].items():
                status = int(code) if str(code).isdigit() else 0
                if status >= 400:
                    response["content"] = {PROBLEM: {"schema": ref}}
                    response["description"] = DESCRIPTIONS.get(status, response.get("description", ""))
                    if status in _HEADERS:
                        response["headers"] = _HEADERS[status]
                elif status == 304:
                    response.pop("content", None)
            for param in op.get("parameters", []):
                if param.get("in") == "query" and param.get("name") == "per_page":
                    param["schema"]["maximum"] = max_per_page
    schemas = spec.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = spec
    return spec


def install(app: FastAPI, docs_url: str = "/api/v1/docs") -> None:
    """Serve the OpenAPI document and a Swagger UI page whose scripts come from this server."""
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    assets = files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    def docs_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} API",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

"""One input policy for query parameters: an API operation refuses (422, naming it) a query parameter it does
not declare, as it refuses a bad value of one it does. A misspelt filter (``?stauts=approved``) would otherwise
be ignored silently and answer with everything.

The names an operation takes are read from the application's own OpenAPI document, so what is refused is
exactly what the document does not offer. Pages (anything outside ``/api/``) are left alone: browsers and
links add parameters of their own."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

API = "/api/"


_names: dict[tuple[str, str], frozenset[str]] | None = None  # the same for every application: routes are code


def _declared(app: FastAPI) -> dict[tuple[str, str], frozenset[str]]:
    """(path template, method) -> the query parameter names the document declares for that operation. Read
    once per process (a document takes most of a second to build), from the first application asked."""
    global _names
    if _names is None:
        names = {}
        for path, item in app.openapi().get("paths", {}).items():
            for method, operation in item.items():
                if isinstance(operation, dict):
                    names[(path, method.upper())] = frozenset(
                        p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
        _names = names
    return _names


async def refuse_unknown_query(request: Request) -> None:
    """A dependency of every route: 422 when an API operation is sent a query parameter it does not take."""
    if not request.query_params or not request.url.path.startswith(API):
        return
    path = getattr(request.scope.get("route"), "path_format", None)
    names = _declared(request.app).get((path or "", request.method))
    if names is None:  # not an operation of the document (HEAD, a route kept out of it)
        return
    unknown = [k for k in dict.fromkeys(request.query_params.keys()) if k not in names]
    if unknown:
        takes = ", ".join(sorted(names)) if names else "no query parameters"
        raise RequestValidationError([
            {"type": "extra_forbidden", "loc": ("query", k), "input": request.query_params.get(k),
             "msg": f"not a parameter of this operation (it takes {takes})"} for k in unknown])

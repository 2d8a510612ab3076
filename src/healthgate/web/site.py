"""Site-wide files that crawlers and browsers ask for: ``/robots.txt``, ``/sitemap.xml`` and ``/favicon.ico``.

The sitemap lists the public pages (home, and each published, non-archived dataset with the time it last
changed). Past 50,000 datasets, the sitemaps protocol's limit per file, ``/sitemap.xml`` becomes an index of
``/sitemaps/datasets-N.xml`` files. No SQL here: the catalogue service answers.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated
from xml.sax.saxutils import escape

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response

from healthgate.catalogue import service
from healthgate.errors import NotFound
from healthgate.web.deps import SessionDep
from healthgate.web.templates import site_url

router = APIRouter(include_in_schema=False)

URLS_PER_SITEMAP = 50_000  # the sitemaps protocol's limit per file
XML = "application/xml"
_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


@router.get("/robots.txt", response_class=PlainTextResponse)
def robots(request: Request) -> PlainTextResponse:
    """Crawlers may read every public page; they are kept off the API (harvesters use its own exports and
    the federation API; crawling it only spends a custodian's rate limits), off endless search-result
    variants (the sitemap lists every dataset instead) and off version comparisons."""
    base = site_url(request)
    lines = [
        "User-agent: *",
        "Allow: /",
        "Disallow: /api/",
        "Disallow: /search?",
        "Disallow: /datasets/*/diff",
        "",
        f"Sitemap: {base}/sitemap.xml",
        "",
    ]
    return PlainTextResponse("\n".join(lines), headers={"Cache-Control": "public, max-age=86400"})


def _lastmod(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(body: str) -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + body, media_type=XML,
                    headers={"Cache-Control": "public, max-age=3600"})


def _urlset(base: str, session: SessionDep, page: int) -> str:
    """Sitemap file ``page``: URLs ``(page - 1) * URLS_PER_SITEMAP`` onwards, where URL 0 is the home page and
    the datasets follow in id order."""
    start = (page - 1) * URLS_PER_SITEMAP
    home = start == 0
    rows = service.public_ids(session, offset=max(0, start - 1), limit=URLS_PER_SITEMAP - (1 if home else 0))
    urls = [f"<url><loc>{escape(base)}/</loc></url>"] if home else []
    urls += [f"<url><loc>{escape(base)}/datasets/{dataset_id}</loc><lastmod>{_lastmod(changed)}</lastmod></url>"
             for dataset_id, changed in rows]
    return f"<urlset {_NS}>\n" + "\n".join(urls) + "\n</urlset>\n"


def _files(session: SessionDep) -> int:
    return math.ceil((service.count_public(session) + 1) / URLS_PER_SITEMAP)  # + 1: the home page


@router.get("/sitemap.xml")
def sitemap(request: Request, session: SessionDep) -> Response:
    base = site_url(request)
    files = _files(session)
    if files == 1:
        return _xml(_urlset(base, session, 1))
    entries = "\n".join(f"<sitemap><loc>{escape(base)}/sitemaps/datasets-{n}.xml</loc></sitemap>"
                        for n in range(1, files + 1))
    return _xml(f"<sitemapindex {_NS}>\n{entries}\n</sitemapindex>\n")


@router.get("/sitemaps/datasets-{page}.xml")
def sitemap_page(request: Request, session: SessionDep,
                 page: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    if page > _files(session):
        raise NotFound(f"there is no sitemap page {page}")
    return _xml(_urlset(site_url(request), session, page))


@router.get("/favicon.ico")
def favicon() -> Response:
    icon = resources.files("healthgate.web").joinpath("static/favicon.ico").read_bytes()
    return Response(icon, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=604800"})

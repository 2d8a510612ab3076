"""Every access-request router, included by the app in this order (API routes first)."""

from __future__ import annotations

from fastapi import APIRouter

from healthgate.access import (
    api,
    custodian_pages,
    dashboard_api,
    dashboard_pages,
    duo_api,
    duo_pages,
    pages,
    passports_api,
    templates_api,
    templates_pages,
    webhooks_api,
    webhooks_pages,
)

router = APIRouter()
for module in (api, templates_api, dashboard_api, duo_api, webhooks_api, passports_api,
               pages, custodian_pages, templates_pages, dashboard_pages, duo_pages, webhooks_pages):
    router.include_router(module.router)

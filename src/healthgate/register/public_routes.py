"""The public data use register's routes in one router: the search API and the public pages."""

from __future__ import annotations

from fastapi import APIRouter

from healthgate.register import pages, public_api

router = APIRouter()
router.include_router(public_api.router)
router.include_router(pages.router)

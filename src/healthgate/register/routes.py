"""Every route of the data use register's core: the custodian API, the workspace pages, and the public count of
access requests received."""

from __future__ import annotations

from fastapi import APIRouter

from healthgate.register import activity_pages, api, workspace

router = APIRouter()
router.include_router(api.router)
router.include_router(workspace.router)
router.include_router(activity_pages.router)

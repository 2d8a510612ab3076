"""Workspace pages where custodians set a dataset's DUO data-use conditions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

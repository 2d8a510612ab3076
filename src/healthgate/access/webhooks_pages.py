"""Workspace pages for a team's webhooks and their delivery status."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

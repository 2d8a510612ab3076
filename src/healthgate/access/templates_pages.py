"""Workspace pages for a custodian team's application form (template builder) and the admin's question bank; the printable application."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

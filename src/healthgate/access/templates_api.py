"""JSON API for the question bank, templates and attachments."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

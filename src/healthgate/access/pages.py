"""The researcher's pages: basket, enquiries, applications (start, fill, save, submit, track, respond)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

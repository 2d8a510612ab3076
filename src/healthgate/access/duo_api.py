"""JSON API for DUO terms, dataset data-use conditions and the data-use check."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

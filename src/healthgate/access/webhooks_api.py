"""JSON API for webhooks and deliveries."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

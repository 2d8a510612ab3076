"""JSON API for access requests: /api/v1/applications, /api/v1/enquiries, ... (parse, call the service, shape)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

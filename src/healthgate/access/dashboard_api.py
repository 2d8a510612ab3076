"""JSON API for clocks: the alliance's standards, a team's dashboard figures."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

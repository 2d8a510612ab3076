"""The custodian dashboard (queue ages, time to decision, counts, charts, CSV) and the alliance's clock standards."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

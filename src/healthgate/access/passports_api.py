"""GA4GH Passport visas for approved datasets and the JWKS to verify them."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

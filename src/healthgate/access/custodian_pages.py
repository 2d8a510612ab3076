"""The custodian's pages in the workspace: queue, a part's review page, assign reviewers, review, return, decide, notes, enquiries."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

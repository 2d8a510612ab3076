"""How register entries reach the shared search index (kind "register_entry"): published entries are indexed,
drafts and withdrawn ones are not. The service calls ``changed`` after every write, in its transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from healthgate.register.models import RegisterEntry


def changed(session: Session, entry: RegisterEntry) -> None:
    """Index a published entry (again), or withdraw any other from the index."""

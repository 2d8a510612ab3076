"""What the federation API serves, read from the catalogue: public datasets (published, not archived) with
their latest version, in a stable order (by persistent id) so that a harvester paging with limit/offset sees
every dataset once; searched ones in the search engine's order; the ones that changed in a time window, archived
ones included (the export says they are gone); and the newest changes first (the Atom feed). Reads only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.search import engine

BATCH = 200


@dataclass(frozen=True)
class Served:
    """A dataset as the federation API shows it: the dataset row and its latest published version."""

    dataset: Dataset
    version: DatasetVersion

    @property
    def archived(self) -> bool:
        return self.dataset.status == DatasetStatus.ARCHIVED


def utc(at: datetime) -> datetime:
    """A time as aware UTC (a naive one is taken to be UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _latest() -> object:
    return (Dataset.id == DatasetVersion.dataset_id) & (Dataset.latest_version == DatasetVersion.number)


def count_public(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Dataset)
                          .where(Dataset.status == DatasetStatus.ACTIVE)) or 0


def public_page(session: Session, *, offset: int, limit: int) -> list[Served]:
    """Public datasets in persistent-id order, ``limit`` from ``offset``."""
    rows = session.execute(
        select(Dataset, DatasetVersion).join(DatasetVersion, _latest())  # type: ignore[arg-type]
        .where(Dataset.status == DatasetStatus.ACTIVE)
        .order_by(Dataset.id).offset(offset).limit(limit)
    ).all()
    return [Served(d, v) for d, v in rows]


def by_ids(session: Session, ids: Sequence[uuid.UUID]) -> list[Served]:
    """Public datasets with these ids, in the order given (ids not public are left out)."""
    if not ids:
        return []
    rows = session.execute(
        select(Dataset, DatasetVersion).join(DatasetVersion, _latest())  # type: ignore[arg-type]
        .where(Dataset.status == DatasetStatus.ACTIVE, Dataset.id.in_(list(ids)))
    ).all()
    found = {d.id: Served(d, v) for d, v in rows}
    return [found[i] for i in ids if i in found]


def search_page(session: Session, q: str, *, offset: int, limit: int, max_per_page: int) -> tuple[int, list[Served]]:
    """``(total, page)`` of the public datasets matching ``q``, ranked by the search engine."""
    first = offset // limit + 1
    result = engine.search(session, q, page=first, per_page=limit, max_per_page=max_per_page)
    hits = [h.dataset_id for h in result.items]
    skip = offset - (first - 1) * limit
    if skip:  # an offset between two pages: the rest comes from the next one
        more = engine.search(session, q, page=first + 1, per_page=limit, max_per_page=max_per_page)
        hits = (hits + [h.dataset_id for h in more.items])[skip:skip + limit]
    return result.total, by_ids(session, hits)


def get_public(session: Session, dataset_id: uuid.UUID) -> Served | None:
    """A public dataset and its latest version; None when it is not public (unknown, draft only, archived)."""
    row = session.execute(
        select(Dataset, DatasetVersion).join(DatasetVersion, _latest())  # type: ignore[arg-type]
        .where(Dataset.id == dataset_id, Dataset.status == DatasetStatus.ACTIVE)
    ).first()
    return Served(row[0], row[1]) if row else None


def changed(session: Session, since: datetime | None, until: datetime | None) -> Iterator[Served]:
    """Published datasets (public or archived) whose state changed in ``[since, until)``, oldest change first,
    streamed a batch at a time."""
    stmt = (select(Dataset, DatasetVersion).join(DatasetVersion, _latest())  # type: ignore[arg-type]
            .where(Dataset.status.in_([DatasetStatus.ACTIVE, DatasetStatus.ARCHIVED]))
            .order_by(Dataset.updated_at, Dataset.id))
    if since is not None:
        stmt = stmt.where(Dataset.updated_at >= utc(since))
    if until is not None:
        stmt = stmt.where(Dataset.updated_at < utc(until))
    for d, v in session.execute(stmt.execution_options(yield_per=BATCH)):
        yield Served(d, v)


def feed_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Dataset).where(
        Dataset.status.in_([DatasetStatus.ACTIVE, DatasetStatus.ARCHIVED]), Dataset.latest_version > 0)) or 0


def feed_page(session: Session, *, offset: int, limit: int) -> list[Served]:
    """Published datasets, public and archived, the latest change first."""
    rows = session.execute(
        select(Dataset, DatasetVersion).join(DatasetVersion, _latest())  # type: ignore[arg-type]
        .where(Dataset.status.in_([DatasetStatus.ACTIVE, DatasetStatus.ARCHIVED]))
        .order_by(Dataset.updated_at.desc(), Dataset.id).offset(offset).limit(limit)
    ).all()
    return [Served(d, v) for d, v in rows]


"""What the served DCAT-AP catalogue reads: public datasets (published, not archived) with the document of their
latest version, a page at a time in dataset-id order, so that no request or export holds the whole catalogue.
Read only; nothing here writes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion

Row = tuple[uuid.UUID, dict[str, Any]]


def _public() -> Any:
    return (select(Dataset.id, DatasetVersion.document)
            .join(DatasetVersion, (DatasetVersion.dataset_id == Dataset.id)
                  & (DatasetVersion.number == Dataset.latest_version))
            .where(Dataset.status == DatasetStatus.ACTIVE))


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Dataset).where(Dataset.status == DatasetStatus.ACTIVE)) or 0


def last_change(session: Session) -> Any:
    return session.scalar(select(func.max(Dataset.updated_at)).where(Dataset.status == DatasetStatus.ACTIVE))


def page(session: Session, *, offset: int, limit: int) -> list[Row]:
    stmt = _public().order_by(Dataset.id).offset(offset).limit(limit)
    return [(row[0], row[1]) for row in session.execute(stmt)]


def stream(session: Session, chunk: int = 500) -> Iterator[list[Row]]:
    """Every public dataset, ``chunk`` at a time, by keyset (id greater than the last one seen): constant cost
    per chunk however far into the catalogue."""
    after: uuid.UUID | None = None
    while True:
        stmt = _public().order_by(Dataset.id).limit(chunk)
        if after is not None:
            stmt = stmt.where(Dataset.id > after)
        rows = [(row[0], row[1]) for row in session.execute(stmt)]
        if not rows:
            return
        yield rows
        after = rows[-1][0]
        if len(rows) < chunk:
            return


def version_document(session: Session, dataset_id: uuid.UUID, number: int | None) -> tuple[Dataset, Any] | None:
    """A dataset and the document of one of its versions (the latest when ``number`` is None); None if it has
    no such published version."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or dataset.latest_version == 0:
        return None
    doc = session.scalar(select(DatasetVersion.document).where(
        DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == (number or dataset.latest_version)))
    return (dataset, doc) if doc is not None else None

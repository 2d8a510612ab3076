"""Catalogue operations: the only code that writes datasets. Web pages, the JSON API and the CLI call these."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthgate.audit import service as audit
from healthgate.catalogue import indexing, quality
from healthgate.catalogue.diff import diff
from healthgate.catalogue.metadata import Checked, check, check_size, require_title
from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.catalogue.standard.validate import CANONICAL, validate
from healthgate.clock import Clock
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity.models import Team
from healthgate.identity.permissions import Actor, Permission, require
from healthgate.search import index as search_index


def persistent_id(checked: Checked) -> uuid.UUID | None:
    """The dataset's persistent id when its document carries one (a UUID ``identifier``)."""
    ident = checked.source.get("identifier") or checked.canonical.get("identifier")
    if isinstance(ident, str):
        try:
            return uuid.UUID(ident.strip().rsplit("/", 1)[-1])
        except ValueError:
            return None
    return None


def _load(session: Session, dataset_id: uuid.UUID, *, for_update: bool = False) -> Dataset:
    stmt = select(Dataset).where(Dataset.id == dataset_id)
    if for_update:
        stmt = stmt.with_for_update(of=Dataset)
    dataset = session.scalar(stmt)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id}")
    return dataset


def _check_version(dataset: Dataset, expected: int | None) -> None:
    if expected is not None and dataset.row_version != expected:
        raise Conflict(
            "the dataset changed since you read it",
            [FieldError("row_version", f"expected {expected}, the dataset is at {dataset.row_version}")],
        )


def _draft_payload(checked: Checked) -> dict[str, Any]:
    return {"schemaVersion": checked.schema_version, "metadata": checked.source}


def create_draft(
    session: Session, actor: Actor, team_id: uuid.UUID, payload: object, *, clock: Clock,
    schema_version: str | None = None, dataset_id: uuid.UUID | None = None, strict: bool = False,
) -> tuple[Dataset, Checked]:
    """A new dataset holding a draft. Its persistent id is ``dataset_id``, else the document's UUID
    identifier, else a new UUID. A duplicate persistent id is a Conflict."""
    require(actor, Permission.DATASET_EDIT, team=team_id)
    if session.get(Team, team_id) is None:
        raise NotFound(f"no team {team_id}")
    check_size(payload)
    checked = check(payload, schema_version)
    require_title(checked)
    if strict and checked.errors:
        raise Invalid("the document does not follow its schema", checked.errors)
    new_id = dataset_id or persistent_id(checked) or uuid.uuid4()
    now = clock.now()
    shell = session.get(Dataset, new_id)
    if shell is not None:
        if shell.team_id != team_id or shell.latest_version or shell.draft is not None:
            raise Conflict("duplicate persistent id",
                           [FieldError("$.identifier", f"dataset {new_id} already exists")])
        shell.draft = _draft_payload(checked)
        shell.draft_schema_version = checked.schema_version
        shell.draft_updated_at = now
        session.flush()
        audit.record(session, actor, "dataset.created", "dataset", new_id,
                     {"team": str(team_id), "schema_version": checked.schema_version}, at=now)
        return shell, checked
    dataset = Dataset(
        id=new_id, team_id=team_id, status=DatasetStatus.DRAFT, draft=_draft_payload(checked),
        draft_schema_version=checked.schema_version, draft_updated_at=now, latest_version=0,
        created_at=now, updated_at=now,
    )
    session.add(dataset)
    session.flush()
    audit.record(session, actor, "dataset.created", "dataset", new_id,
                 {"team": str(team_id), "schema_version": checked.schema_version}, at=now, new=True)
    return dataset, checked


def update_draft(
    session: Session, actor: Actor, dataset_id: uuid.UUID, payload: object, *, clock: Clock,
    schema_version: str | None = None, expected_row_version: int | None = None, strict: bool = False,
) -> tuple[Dataset, Checked]:
    dataset = _load(session, dataset_id, for_update=True)
    require(actor, Permission.DATASET_EDIT, team=dataset.team_id)
    _check_version(dataset, expected_row_version)
    check_size(payload)
    checked = check(payload, schema_version)
    require_title(checked)
    if strict and checked.errors:
        raise Invalid("the document does not follow its schema", checked.errors)
    now = clock.now()
    dataset.draft = _draft_payload(checked)
    dataset.draft_schema_version = checked.schema_version
    dataset.draft_updated_at = now
    session.flush()
    audit.record(session, actor, "dataset.draft_updated", "dataset", dataset.id,
                 {"schema_version": checked.schema_version, "schema_errors": len(checked.errors)}, at=now)
    return dataset, checked


def discard_draft(session: Session, actor: Actor, dataset_id: uuid.UUID, *, clock: Clock) -> Dataset:
    """Drop the working copy. A dataset never published stays as an empty, private shell, so that its id and
    its audit history stay together; creating a draft with that id again takes the shell up."""
    dataset = _load(session, dataset_id, for_update=True)
    require(actor, Permission.DATASET_EDIT, team=dataset.team_id)
    if dataset.draft is None:
        raise Conflict("there is no draft to discard")
    now = clock.now()
    audit.record(session, actor, "dataset.draft_discarded", "dataset", dataset.id, {}, at=now)
    dataset.draft = None
    dataset.draft_schema_version = None
    dataset.draft_updated_at = None
    return dataset


def version_row(dataset_id: uuid.UUID, team: Team, number: int, checked: Checked, actor: Actor,
                now: Any) -> dict[str, Any]:
    """The columns of a new published version."""
    x = checked.extracted
    return {
        "id": uuid.uuid4(), "dataset_id": dataset_id, "number": number, "published_at": now, "published_by": actor.name,
        "source_schema_version": checked.schema_version,
        "source_document": None if checked.source is checked.canonical else checked.source,
        "document": checked.canonical, "schema_valid": checked.valid,
        "schema_errors": [e.as_dict() for e in checked.errors],
        "quality_score": checked.quality["score"], "medallion": checked.quality["medallion"],
        "quality": checked.quality, "title": x.title, "abstract": x.abstract, "keywords": x.keywords,
        "custodian": x.custodian or team.name, "population_size": x.population_size,
        "start_date": x.start_date, "end_date": x.end_date,
        "facets": {**x.facets, "member_group": team.member_group},
    }


def index_item(dataset_id: uuid.UUID, team: Team, version_id: uuid.UUID, checked: Checked,
               now: Any) -> search_index.IndexItem:
    return indexing.index_item(dataset_id, team, version_id, checked, now)


def publish(
    session: Session, actor: Actor, dataset_id: uuid.UUID, *, clock: Clock,
    accept_invalid: bool = False, expected_row_version: int | None = None,
) -> DatasetVersion:
    """Turn the draft into the next immutable version and make it public and searchable.

    A document that breaks its schema is refused (Invalid, every error listed) unless ``accept_invalid``:
    then it is published with its problems recorded and a quality score that shows them."""
    search_index.lock(session)
    dataset = _load(session, dataset_id, for_update=True)
    require(actor, Permission.DATASET_PUBLISH, team=dataset.team_id)
    _check_version(dataset, expected_row_version)
    if dataset.draft is None:
        raise Conflict("there is no draft to publish", [FieldError("draft", "edit the dataset first")])
    if dataset.status == DatasetStatus.ARCHIVED:
        raise Conflict("the dataset is archived; unarchive it before publishing")
    checked = check(dataset.draft)
    require_title(checked)
    if checked.errors and not accept_invalid:
        raise Invalid("the document does not follow its schema", checked.errors)
    now = clock.now()
    number = dataset.latest_version + 1
    version = DatasetVersion(**version_row(dataset.id, dataset.team, number, checked, actor, now))
    session.add(version)
    dataset.latest_version = number
    dataset.status = DatasetStatus.ACTIVE
    dataset.draft = None
    dataset.draft_schema_version = None
    dataset.draft_updated_at = None
    dataset.updated_at = now
    session.flush()
    search_index.index(session, [index_item(dataset.id, dataset.team, version.id, checked, now)],
                       fresh=number == 1)
    audit.record(session, actor, "dataset.published", "dataset", dataset.id,
                 {"version": number, "quality_score": checked.quality["score"],
                  "schema_errors": len(checked.errors)}, at=now)
    return version


def _set_archived(session: Session, actor: Actor, dataset_id: uuid.UUID, archived: bool, clock: Clock) -> Dataset:
    search_index.lock(session)
    dataset = _load(session, dataset_id, for_update=True)
    require(actor, Permission.DATASET_ARCHIVE, team=dataset.team_id)
    now = clock.now()
    if archived:
        if dataset.status == DatasetStatus.ARCHIVED:
            raise Conflict("the dataset is already archived")
        dataset.status = DatasetStatus.ARCHIVED
        search_index.remove(session, [dataset.id])
    else:
        if dataset.status != DatasetStatus.ARCHIVED:
            raise Conflict("the dataset is not archived")
        if dataset.latest_version == 0:
            dataset.status = DatasetStatus.DRAFT
        else:
            dataset.status = DatasetStatus.ACTIVE
            latest = get_version(session, dataset.id, dataset.latest_version)
            checked = check({"schemaVersion": latest.source_schema_version,
                             "metadata": latest.source_document or latest.document})
            search_index.index(session, [index_item(dataset.id, dataset.team, latest.id, checked, now)])
    dataset.updated_at = now
    session.flush()
    audit.record(session, actor, "dataset.archived" if archived else "dataset.unarchived", "dataset", dataset.id,
                 {}, at=now)
    return dataset


def archive(session: Session, actor: Actor, dataset_id: uuid.UUID, *, clock: Clock) -> Dataset:
    return _set_archived(session, actor, dataset_id, True, clock)


def unarchive(session: Session, actor: Actor, dataset_id: uuid.UUID, *, clock: Clock) -> Dataset:
    return _set_archived(session, actor, dataset_id, False, clock)


# ---- reads -------------------------------------------------------------------------------------------


def quality_report(version: DatasetVersion) -> dict[str, Any]:
    """The version's quality with the per-field breakdown (recomputed: only the score is stored)."""
    return quality.assess(version.document, validate(version.document, CANONICAL))


def can_see_private(actor: Actor, dataset: Dataset) -> bool:
    return actor.can(Permission.DATASET_VIEW_DRAFT, team=dataset.team_id)


def get_dataset(session: Session, actor: Actor, dataset_id: uuid.UUID) -> Dataset:
    """A dataset the actor may see: public ones to everyone, drafts and archived ones to their team."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or (dataset.status != DatasetStatus.ACTIVE and not can_see_private(actor, dataset)):
        raise NotFound(f"no dataset {dataset_id}")
    return dataset


def get_version(session: Session, dataset_id: uuid.UUID, number: int) -> DatasetVersion:
    version = session.scalar(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == number)
    )
    if version is None:
        raise NotFound(f"dataset {dataset_id} has no version {number}")
    return version


def latest_version(session: Session, actor: Actor, dataset_id: uuid.UUID) -> DatasetVersion:
    dataset = get_dataset(session, actor, dataset_id)
    if dataset.latest_version == 0:
        raise NotFound(f"dataset {dataset_id} has no published version yet")
    return get_version(session, dataset_id, dataset.latest_version)


def versions(session: Session, actor: Actor, dataset_id: uuid.UUID) -> list[DatasetVersion]:
    get_dataset(session, actor, dataset_id)
    return list(session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id).order_by(DatasetVersion.number.desc())
    ))


def version(session: Session, actor: Actor, dataset_id: uuid.UUID, number: int) -> DatasetVersion:
    get_dataset(session, actor, dataset_id)
    return get_version(session, dataset_id, number)


@dataclass
class Page:
    total: int
    page: int
    per_page: int
    items: list[DatasetVersion]


def list_public(session: Session, *, page: int = 1, per_page: int = 20, team_id: uuid.UUID | None = None) -> Page:
    """Published, non-archived datasets' latest versions, most recently updated first."""
    per_page = max(1, min(per_page, 100))
    page = max(1, page)
    base = select(Dataset.id).where(Dataset.status == DatasetStatus.ACTIVE)
    if team_id is not None:
        base = base.where(Dataset.team_id == team_id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    stmt = (
        select(DatasetVersion)
        .join(Dataset, (Dataset.id == DatasetVersion.dataset_id) & (Dataset.latest_version == DatasetVersion.number))
        .where(Dataset.status == DatasetStatus.ACTIVE)
        .order_by(Dataset.updated_at.desc(), Dataset.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    if team_id is not None:
        stmt = stmt.where(Dataset.team_id == team_id)
    items = list(session.scalars(stmt)) if (page - 1) * per_page < total else []
    return Page(total=total, page=page, per_page=per_page, items=items)


def drafts(session: Session, actor: Actor, team_id: uuid.UUID) -> list[Dataset]:
    require(actor, Permission.DATASET_VIEW_DRAFT, team=team_id)
    return list(session.scalars(
        select(Dataset).where(Dataset.team_id == team_id, Dataset.draft.is_not(None)).order_by(Dataset.updated_at)
    ))


def diff_versions(session: Session, actor: Actor, dataset_id: uuid.UUID, a: int, b: int) -> list[dict[str, Any]]:
    """What changed from version ``a`` to version ``b`` of a dataset, field by field (canonical form)."""
    get_dataset(session, actor, dataset_id)
    return diff(get_version(session, dataset_id, a).document, get_version(session, dataset_id, b).document)


def iter_public_versions(session: Session, batch: int = 500) -> Iterator[DatasetVersion]:
    """Every active dataset's latest version, streamed (exports)."""
    stmt = (
        select(DatasetVersion)
        .join(Dataset, (Dataset.id == DatasetVersion.dataset_id) & (Dataset.latest_version == DatasetVersion.number))
        .where(Dataset.status == DatasetStatus.ACTIVE)
        .order_by(Dataset.id)
        .execution_options(yield_per=batch)
    )
    yield from session.scalars(stmt)

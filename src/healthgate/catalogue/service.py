"""Catalogue operations: the only code that writes datasets. Web pages, the JSON API and the CLI call these."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from healthgate.audit import service as audit
from healthgate.catalogue import indexing, quality
from healthgate.catalogue.diff import diff
from healthgate.catalogue.metadata import Checked, check, check_size, require_title
from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.catalogue.standard.validate import CANONICAL, validate
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Forbidden, Gone, Invalid, NotFound
from healthgate.identity import service as identity
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
    ctx: Context, team_id: uuid.UUID, payload: object, *, schema_version: str | None = None, dataset_id: uuid.UUID | None = None, strict: bool = False,
    max_bytes: int | None = None,
) -> tuple[Dataset, Checked]:
    """A new dataset holding a draft. Its persistent id is ``dataset_id``, else the document's UUID
    identifier, else a new UUID. A duplicate persistent id is a Conflict."""
    require(ctx.actor, Permission.DATASET_EDIT, on=team_id)
    if ctx.session.get(Team, team_id) is None:
        raise NotFound(f"no team {team_id}")
    check_size(payload, limit=max_bytes)
    checked = check(payload, schema_version)
    require_title(checked)
    if strict and checked.errors:
        raise Invalid("the document does not follow its schema", checked.errors)
    new_id = dataset_id or persistent_id(checked) or uuid.uuid4()
    now = ctx.clock.now()
    shell = ctx.session.get(Dataset, new_id)
    if shell is not None:
        if shell.team_id != team_id or shell.latest_version or shell.draft is not None:
            raise Conflict("duplicate persistent id",
                           [FieldError("$.identifier", f"dataset {new_id} already exists")])
        shell.draft = _draft_payload(checked)
        shell.draft_schema_version = checked.schema_version
        shell.draft_updated_at = now
        ctx.session.flush()
        audit.record(ctx, "dataset.created", "dataset", new_id,
                     {"team": str(team_id), "schema_version": checked.schema_version}, at=now)
        return shell, checked
    dataset = Dataset(
        id=new_id, team_id=team_id, status=DatasetStatus.DRAFT, draft=_draft_payload(checked),
        draft_schema_version=checked.schema_version, draft_updated_at=now, latest_version=0,
        created_at=now, updated_at=now,
    )
    ctx.session.add(dataset)
    ctx.session.flush()
    audit.record(ctx, "dataset.created", "dataset", new_id,
                 {"team": str(team_id), "schema_version": checked.schema_version}, at=now, new=True)
    return dataset, checked


def update_draft(
    ctx: Context, dataset_id: uuid.UUID, payload: object, *, schema_version: str | None = None, expected_row_version: int | None = None, strict: bool = False,
    max_bytes: int | None = None,
) -> tuple[Dataset, Checked]:
    dataset = _load(ctx.session, dataset_id, for_update=True)
    require(ctx.actor, Permission.DATASET_EDIT, on=dataset)
    _check_version(dataset, expected_row_version)
    check_size(payload, limit=max_bytes)
    checked = check(payload, schema_version)
    require_title(checked)
    if strict and checked.errors:
        raise Invalid("the document does not follow its schema", checked.errors)
    now = ctx.clock.now()
    dataset.draft = _draft_payload(checked)
    dataset.draft_schema_version = checked.schema_version
    dataset.draft_updated_at = now
    ctx.session.flush()
    audit.record(ctx, "dataset.draft_updated", "dataset", dataset.id,
                 {"schema_version": checked.schema_version, "schema_errors": len(checked.errors)}, at=now)
    return dataset, checked


def discard_draft(ctx: Context, dataset_id: uuid.UUID) -> Dataset:
    """Drop the working copy. A dataset never published stays as an empty, private shell, so that its id and
    its audit history stay together; creating a draft with that id again takes the shell up."""
    dataset = _load(ctx.session, dataset_id, for_update=True)
    require(ctx.actor, Permission.DATASET_EDIT, on=dataset)
    if dataset.draft is None:
        raise Conflict("there is no draft to discard")
    now = ctx.clock.now()
    audit.record(ctx, "dataset.draft_discarded", "dataset", dataset.id, {}, at=now)
    dataset.draft = None
    dataset.draft_schema_version = None
    dataset.draft_updated_at = None
    return dataset


def version_row(dataset_id: uuid.UUID, team: Team, number: int, checked: Checked, actor: Actor,
                now: Any) -> dict[str, Any]:
    """The columns of a new published version."""
    x = checked.extracted
    return {
        "id": uuid.uuid4(), "dataset_id": dataset_id, "number": number, "published_at": now,
        "published_by": team.name,  # public: the team that published, never a person or token (see the audit log)
        "source_schema_version": checked.schema_version,
        "source_document": None if checked.source is checked.canonical else checked.source,
        "document": checked.canonical, "schema_valid": checked.valid,
        "schema_errors": [{"path": e.path, "message": e.message} for e in checked.errors],
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
    ctx: Context, dataset_id: uuid.UUID, *, accept_invalid: bool = False, expected_row_version: int | None = None,
) -> DatasetVersion:
    """Turn the draft into the next immutable version and make it public and searchable.

    A document that breaks its schema is refused (Invalid, every error listed) unless ``accept_invalid``:
    then it is published with its problems recorded and a quality score that shows them."""
    search_index.lock(ctx.session)
    dataset = _load(ctx.session, dataset_id, for_update=True)
    require(ctx.actor, Permission.DATASET_PUBLISH, on=dataset)
    _check_version(dataset, expected_row_version)
    if dataset.draft is None:
        raise Conflict("there is no draft to publish", [FieldError("draft", "edit the dataset first")])
    if dataset.status == DatasetStatus.ARCHIVED:
        raise Conflict("the dataset is archived; unarchive it before publishing")
    checked = check(dataset.draft)
    require_title(checked)
    if checked.errors and not accept_invalid:
        raise Invalid("the document does not follow its schema", checked.errors)
    number, now = dataset.latest_version + 1, ctx.clock.now()
    [version_id] = _write_versions(ctx, [_NewVersion(
        dataset.id, dataset.team, number, checked, dataset.row_version, "dataset.published",
        {"version": number, "quality_score": checked.quality["score"], "schema_errors": len(checked.errors)},
    )], now)
    _published(dataset, number, now)
    version = ctx.session.get(DatasetVersion, version_id)
    assert version is not None
    return version


def _published(dataset: Dataset, number: int, now: Any) -> None:
    """Bring a loaded dataset in line with what ``_write_versions`` wrote to its row."""
    for name, value in (("latest_version", number), ("status", DatasetStatus.ACTIVE), ("draft", None),
                        ("draft_schema_version", None), ("draft_updated_at", None), ("updated_at", now),
                        ("row_version", dataset.row_version + 1)):
        set_committed_value(dataset, name, value)


@dataclass
class _NewVersion:
    """A version about to be written: for an existing dataset (``row_version`` as read, under lock), or the
    first version of a dataset that has no row yet (``row_version`` None)."""

    dataset_id: uuid.UUID
    team: Team
    number: int
    checked: Checked
    row_version: int | None
    action: str
    data: dict[str, Any]


_DATASETS = cast(Table, Dataset.__table__)
_VERSIONS = cast(Table, DatasetVersion.__table__)


def _write_versions(ctx: Context, new: list[_NewVersion], now: Any) -> list[uuid.UUID]:
    """Write versions and everything that goes with them, for one dataset or thousands: the dataset rows
    (draft cleared, status active), the version rows, the search entries and one audit event per dataset.
    Set-based (Core executemany, one round trip per table), so publishing one and importing many are the
    same code. The caller holds the index lock and has checked permission, state and documents."""
    conn = ctx.session.connection()
    creates = [n for n in new if n.row_version is None]
    updates = [n for n in new if n.row_version is not None]
    if creates:
        conn.execute(insert(_DATASETS), [  # no draft: those columns are left NULL
            {"id": n.dataset_id, "team_id": n.team.id, "status": DatasetStatus.ACTIVE, "latest_version": n.number,
             "created_at": now, "updated_at": now, "row_version": 1}
            for n in creates
        ])
    if updates:
        t = _DATASETS.c
        result = conn.execute(
            update(_DATASETS).where(t.id == bindparam("key"), t.row_version == bindparam("seen"))
            .values(latest_version=bindparam("number"), status=DatasetStatus.ACTIVE, draft=None,
                    draft_schema_version=None, draft_updated_at=None, updated_at=now,
                    row_version=t.row_version + 1),
            [{"key": n.dataset_id, "seen": n.row_version, "number": n.number} for n in updates],
        )
        if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(updates):
            raise Conflict("a dataset changed while it was being published; try again")
    rows = [version_row(n.dataset_id, n.team, n.number, n.checked, ctx.actor, now) for n in new]
    conn.execute(insert(_VERSIONS), rows)
    for first in (True, False):
        search_index.index(ctx.session, [index_item(n.dataset_id, n.team, row["id"], n.checked, now)
                                     for n, row in zip(new, rows, strict=True) if (n.number == 1) == first],
                           fresh=first)
    for action in dict.fromkeys(n.action for n in creates):
        audit.record_new_many(ctx, action, "dataset",
                              [(n.dataset_id, n.data) for n in creates if n.action == action], at=now)
    for n in updates:
        audit.record(ctx, n.action, "dataset", n.dataset_id, n.data, at=now)
    return [row["id"] for row in rows]


class Outcome(enum.StrEnum):
    CREATED = "created"  # a new dataset with its first version
    UPDATED = "updated"  # a new version of an existing dataset
    UNCHANGED = "unchanged"  # the document equals the latest version's: nothing written
    REFUSED = "refused"  # see ``errors``


@dataclass
class ImportRecord:
    """One record of a bulk import: a checked document for a dataset of a custodian team."""

    source: str  # where it came from ("a.json", "export.csv: row 12"); names the record in errors and audit
    dataset_id: uuid.UUID
    checked: Checked
    team: str  # the custodian team's name (two names are one team when their normalised forms are equal)
    member_group: str | None = None


@dataclass
class ImportResult:
    record: ImportRecord
    outcome: Outcome
    version: int | None = None
    errors: list[FieldError] = field(default_factory=list)


def import_versions(
    ctx: Context, records: Sequence[ImportRecord]) -> list[ImportResult]:
    """Publish many documents at once: ``publish`` for each record, set-based.

    Every invariant of ``publish`` holds, per record: the actor needs ``dataset:import`` and
    ``dataset:publish`` on the record's team (creating a team needs ``team:manage``); an archived dataset is
    refused; so is a dataset of another team, and one with an unpublished draft -- importing over a draft
    would let a later publish of that draft silently revert the imported change, so the draft must be
    published or discarded first. A document equal to the latest version is left alone. Each change is one
    audit event (``dataset.imported``). Refusals are returned, not raised, each naming its record; database
    errors propagate (the caller isolates them with savepoints)."""
    if not ctx.actor.authenticated:
        require(ctx.actor, Permission.DATASET_IMPORT)
    search_index.lock(ctx.session)
    existing = {ds.id: ds for ds in ctx.session.scalars(
        select(Dataset).where(Dataset.id.in_([r.dataset_id for r in records]))
        .with_for_update(of=Dataset).execution_options(populate_existing=True))} if records else {}
    published = [i for i, ds in existing.items() if ds.latest_version]
    latest_docs = {i: doc for i, doc in ctx.session.execute(
        select(DatasetVersion.dataset_id, DatasetVersion.document)
        .join(Dataset, (Dataset.id == DatasetVersion.dataset_id) & (Dataset.latest_version == DatasetVersion.number))
        .where(Dataset.id.in_(published))
    )} if published else {}
    now = ctx.clock.now()
    known = identity.teams_by_name(ctx.session, {r.team for r in records if r.dataset_id not in existing})
    decided: dict[str, Team | FieldError] = {}
    results: list[ImportResult] = []
    new: list[_NewVersion] = []
    for r in records:
        ds = existing.get(r.dataset_id)
        refusal = _refusal(ds, r, latest_docs)
        if refusal is not None:
            results.append(ImportResult(r, Outcome.UNCHANGED) if refusal == "unchanged"
                           else ImportResult(r, Outcome.REFUSED, errors=[FieldError(f"{r.source}: $.identifier",
                                                                                    refusal)]))
            continue
        team = _import_team(ctx, r, ds, known, decided)
        if isinstance(team, FieldError):
            results.append(ImportResult(r, Outcome.REFUSED, errors=[team]))
            continue
        number = ds.latest_version + 1 if ds is not None else 1
        data = {"version": number, "source": r.source, "team": team.name,
                "schema_version": r.checked.schema_version, "quality_score": r.checked.quality["score"]}
        new.append(_NewVersion(r.dataset_id, team, number, r.checked, ds.row_version if ds else None,
                               "dataset.imported", data))
        results.append(ImportResult(r, Outcome.UPDATED if ds is not None else Outcome.CREATED, number))
    if new:
        _write_versions(ctx, new, now)
        for n in new:
            if n.row_version is not None:
                _published(existing[n.dataset_id], n.number, now)
    return results


def _refusal(ds: Dataset | None, r: ImportRecord, latest_docs: dict[uuid.UUID, Any]) -> str | None:
    """Why this record cannot become a new version of ``ds`` ("unchanged" when it need not), or None."""
    if ds is None:
        return None
    if not identity.same_team(ds.team, r.team):
        return f"dataset {ds.id} belongs to team {ds.team.name!r}, not {r.team!r}"
    if ds.status == DatasetStatus.ARCHIVED:
        return f"dataset {ds.id} is archived; unarchive it first"
    if ds.draft is not None:
        return (f"dataset {ds.id} has an unpublished draft; publish or discard the draft before importing "
                f"a new version")
    if ds.latest_version and latest_docs.get(ds.id) == r.checked.canonical:
        return "unchanged"
    return None


_name_key = lru_cache(maxsize=1024)(identity.name_key)


def _import_team(ctx: Context, r: ImportRecord, ds: Dataset | None, known: dict[str, Team],
                 decided: dict[str, Team | FieldError]) -> Team | FieldError:
    """The record's team (the dataset's own, or for a new dataset the named team, created if need be), or
    why the actor may not import into it. ``known``: teams already read, by name key; ``decided``: answers
    so far, by dataset team id or name key."""
    key = str(ds.team_id) if ds is not None else _name_key(r.team)
    if key not in decided:
        try:
            team = ds.team if ds is not None else known.get(key) or identity.get_or_create_team(
                ctx, r.team, member_group=r.member_group)
            require(ctx.actor, Permission.DATASET_IMPORT, on=team.id)
            require(ctx.actor, Permission.DATASET_PUBLISH, on=team.id)
            decided[key] = team
        except (Forbidden, Invalid, NotFound) as exc:
            decided[key] = FieldError("team", f"{r.team!r}: {exc.detail}")
    found = decided[key]
    return FieldError(f"{r.source}: team", found.message) if isinstance(found, FieldError) else found


def _set_archived(ctx: Context, dataset_id: uuid.UUID, archived: bool) -> Dataset:
    search_index.lock(ctx.session)
    dataset = _load(ctx.session, dataset_id, for_update=True)
    require(ctx.actor, Permission.DATASET_ARCHIVE, on=dataset)
    now = ctx.clock.now()
    if archived:
        if dataset.status == DatasetStatus.ARCHIVED:
            raise Conflict("the dataset is already archived")
        dataset.status = DatasetStatus.ARCHIVED
        search_index.remove(ctx.session, [dataset.id])
    else:
        if dataset.status != DatasetStatus.ARCHIVED:
            raise Conflict("the dataset is not archived")
        if dataset.latest_version == 0:
            dataset.status = DatasetStatus.DRAFT
        else:
            dataset.status = DatasetStatus.ACTIVE
            latest = get_version(ctx.session, dataset.id, dataset.latest_version)
            checked = check({"schemaVersion": latest.source_schema_version,
                             "metadata": latest.source_document or latest.document})
            search_index.index(ctx.session, [index_item(dataset.id, dataset.team, latest.id, checked, now)])
    dataset.updated_at = now
    ctx.session.flush()
    audit.record(ctx, "dataset.archived" if archived else "dataset.unarchived", "dataset", dataset.id,
                 {}, at=now)
    return dataset


def archive(ctx: Context, dataset_id: uuid.UUID) -> Dataset:
    return _set_archived(ctx, dataset_id, True)


def unarchive(ctx: Context, dataset_id: uuid.UUID) -> Dataset:
    return _set_archived(ctx, dataset_id, False)


# ---- reads -------------------------------------------------------------------------------------------


def quality_report(version: DatasetVersion) -> dict[str, Any]:
    """The version's quality with the per-field breakdown (recomputed: only the score is stored)."""
    return quality.assess(version.document, validate(version.document, CANONICAL))


def can_see_private(actor: Actor, dataset: Dataset) -> bool:
    return actor.can(Permission.DATASET_VIEW_DRAFT, dataset)


def get_dataset(ctx: Context, dataset_id: uuid.UUID) -> Dataset:
    """A dataset the actor may see: public ones to everyone, drafts and archived ones to their team.

    A never-published dataset is NotFound to everyone else; an archived one that was public is Gone, naming
    its last title and custodian so that cited links still say what they pointed at."""
    dataset = ctx.session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset {dataset_id}")
    if dataset.status == DatasetStatus.ACTIVE or can_see_private(ctx.actor, dataset):
        return dataset
    if dataset.status == DatasetStatus.ARCHIVED and dataset.latest_version:
        last = get_version(ctx.session, dataset_id, dataset.latest_version)
        raise Gone(f"dataset {dataset_id} ({last.title!r}, custodian {last.custodian or dataset.team.name}) "
                   "has been archived by its custodian")
    raise NotFound(f"no dataset {dataset_id}")


def get_version(session: Session, dataset_id: uuid.UUID, number: int) -> DatasetVersion:
    version = session.scalar(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == number)
    )
    if version is None:
        raise NotFound(f"dataset {dataset_id} has no version {number}")
    return version


def latest_version(ctx: Context, dataset_id: uuid.UUID) -> DatasetVersion:
    dataset = get_dataset(ctx, dataset_id)
    if dataset.latest_version == 0:
        raise NotFound(f"dataset {dataset_id} has no published version yet")
    return get_version(ctx.session, dataset_id, dataset.latest_version)


def versions(ctx: Context, dataset_id: uuid.UUID) -> list[DatasetVersion]:
    get_dataset(ctx, dataset_id)
    return list(ctx.session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id).order_by(DatasetVersion.number.desc())
    ))


def version(ctx: Context, dataset_id: uuid.UUID, number: int) -> DatasetVersion:
    get_dataset(ctx, dataset_id)
    return get_version(ctx.session, dataset_id, number)


@dataclass
class Page:
    total: int
    page: int
    per_page: int
    items: list[DatasetVersion]


def list_public(session: Session, *, page: int = 1, per_page: int = 20, team_id: uuid.UUID | None = None) -> Page:
    """Published, non-archived datasets' latest versions, most recently updated first. Callers bound
    ``per_page`` (the API by the ``max_per_page`` setting)."""
    per_page = max(1, per_page)
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


def drafts(ctx: Context, team_id: uuid.UUID) -> list[Dataset]:
    require(ctx.actor, Permission.DATASET_VIEW_DRAFT, on=team_id)
    return list(ctx.session.scalars(
        select(Dataset).where(Dataset.team_id == team_id, Dataset.draft.is_not(None)).order_by(Dataset.updated_at)
    ))


def diff_versions(ctx: Context, dataset_id: uuid.UUID, a: int, b: int) -> list[dict[str, Any]]:
    """What changed from version ``a`` to version ``b`` of a dataset, field by field (canonical form)."""
    get_dataset(ctx, dataset_id)
    return diff(get_version(ctx.session, dataset_id, a).document, get_version(ctx.session, dataset_id, b).document)


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


# ---- public pages: what a visitor may see of a dataset, archived ones included ----------------------------


@dataclass
class PublicRecord:
    """A dataset as its public page shows it: its published versions (newest first), whether it is archived,
    and whether the actor is on its team (then drafts-only datasets, and who published each version, show)."""

    dataset: Dataset
    versions: list[DatasetVersion]
    archived: bool
    team_view: bool

    @property
    def latest(self) -> DatasetVersion | None:
        return self.versions[0] if self.versions else None

    def version(self, number: int) -> DatasetVersion:
        for v in self.versions:
            if v.number == number:
                return v
        raise NotFound(f"dataset {self.dataset.id} has no version {number}")


def public_record(ctx: Context, dataset_id: uuid.UUID) -> PublicRecord:
    """A dataset that has been published, for its page, to anyone, even once archived: a withdrawn dataset's
    cited links still say what it was. A dataset never published is seen by its team only."""
    dataset = ctx.session.get(Dataset, dataset_id)
    team_view = dataset is not None and can_see_private(ctx.actor, dataset)
    if dataset is None or (dataset.latest_version == 0 and not team_view):
        raise NotFound(f"no dataset {dataset_id}")
    found = list(ctx.session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id).order_by(DatasetVersion.number.desc())
    ))
    return PublicRecord(dataset=dataset, versions=found, archived=dataset.status == DatasetStatus.ARCHIVED,
                        team_view=team_view)


def count_public(session: Session) -> int:
    """How many datasets are public (published, not archived)."""
    return session.scalar(select(func.count()).select_from(Dataset).where(Dataset.status == DatasetStatus.ACTIVE)) or 0


def public_ids(session: Session, *, offset: int, limit: int) -> list[tuple[uuid.UUID, Any]]:
    """``(id, last changed)`` of public datasets in id order, a slice at a time (the sitemap)."""
    stmt = (select(Dataset.id, Dataset.updated_at).where(Dataset.status == DatasetStatus.ACTIVE)
            .order_by(Dataset.id).offset(offset).limit(limit))
    return [(row[0], row[1]) for row in session.execute(stmt)]


# ---- the custodian workspace: a team's datasets ------------------------------------------------------------


@dataclass
class TeamDataset:
    """A row of a team's dataset list: the dataset, its latest published version (None if never published)
    and the title to show (the draft's when there is a draft)."""

    dataset: Dataset
    latest: DatasetVersion | None
    title: str

    @property
    def last_change(self) -> Any:
        d = self.dataset
        return max(d.updated_at, d.draft_updated_at) if d.draft_updated_at else d.updated_at


def draft_title(draft: dict[str, Any] | None) -> str | None:
    """A draft's title, read without checking the whole document (lists of many drafts)."""
    doc = draft.get("metadata") if isinstance(draft, dict) else None
    summary = doc.get("summary") if isinstance(doc, dict) else None
    title = summary.get("title") if isinstance(summary, dict) else None
    return title.strip() if isinstance(title, str) and title.strip() else None


def team_datasets(ctx: Context, team_id: uuid.UUID, *, status: DatasetStatus | None = None, page: int = 1,
                  per_page: int = 50) -> tuple[int, dict[str, int], list[TeamDataset]]:
    """A team's datasets, most recently changed first: ``(total, count by status, page of rows)``. Its members
    who may see drafts see every dataset (drafts, published, archived); anyone else the published ones."""
    private = ctx.actor.can(Permission.DATASET_VIEW_DRAFT, team_id)
    # an empty shell (a draft discarded before it was ever published) is not listed
    base = select(Dataset).where(Dataset.team_id == team_id,
                                 (Dataset.latest_version > 0) | Dataset.draft.is_not(None))
    if not private:
        base = base.where(Dataset.status == DatasetStatus.ACTIVE)
    counts = {s.value: 0 for s in DatasetStatus} | {
        str(getattr(s, "value", s)): n for s, n in ctx.session.execute(
            select(Dataset.status, func.count()).where(Dataset.id.in_(base.with_only_columns(Dataset.id)))
            .group_by(Dataset.status))}
    counts["with_draft"] = ctx.session.scalar(
        select(func.count()).where(Dataset.id.in_(base.with_only_columns(Dataset.id)), Dataset.draft.is_not(None))
    ) or 0 if private else 0
    if status is not None:
        base = base.where(Dataset.status == status)
    total = ctx.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    page, per_page = max(1, page), max(1, per_page)
    last_change = case((Dataset.draft_updated_at > Dataset.updated_at, Dataset.draft_updated_at),
                       else_=Dataset.updated_at)
    rows = ctx.session.execute(
        base.add_columns(DatasetVersion).outerjoin(
            DatasetVersion, (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.latest_version))
        .order_by(last_change.desc(), Dataset.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    out = []
    for dataset, latest in rows:
        title = (draft_title(dataset.draft) if private else None) or (latest.title if latest else None) or "(untitled)"
        out.append(TeamDataset(dataset, latest, title))
    return total, counts, out


@dataclass
class WorkspaceTeam:
    team: Team
    roles: list[str]
    datasets: int
    drafts: int


def workspace_teams(ctx: Context) -> list[WorkspaceTeam]:
    """The teams the actor holds a role in (every team, for an alliance admin), with their dataset counts."""
    actor = ctx.actor
    stmt = select(Team).order_by(Team.name_key)
    if not actor.is_admin:
        stmt = stmt.where(Team.id.in_(list(actor.team_ids)))
    teams = list(ctx.session.scalars(stmt))
    counts = {tid: (n, d) for tid, n, d in ctx.session.execute(
        select(Dataset.team_id, func.count(), func.count(Dataset.draft_updated_at))
        .where(Dataset.team_id.in_([t.id for t in teams])).group_by(Dataset.team_id))} if teams else {}
    return [WorkspaceTeam(t, sorted(r.label for r in actor.roles_in(t.id)), *counts.get(t.id, (0, 0)))
            for t in teams]

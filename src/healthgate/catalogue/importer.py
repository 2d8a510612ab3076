"""Bulk import: many documents published in one transaction, all-or-nothing unless ``partial``.

This module reads and checks records (size, schema, title, team, duplicate ids) and hands them, a chunk
at a time, to ``catalogue.service.import_versions``: the one code path that publishes, set-based so that a
100,000-record catalogue loads in about a minute. It writes nothing itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError

from healthgate.catalogue import service
from healthgate.catalogue.metadata import Checked, check, check_size, require_title
from healthgate.catalogue.service import ImportRecord, ImportResult, Outcome, persistent_id
from healthgate.context import Context
from healthgate.errors import FieldError, HealthgateError
from healthgate.identity.permissions import Permission, require

CHUNK = 500  # records per checked chunk and per INSERT batch


@dataclass
class ImportItem:
    """One record to import and where it came from (a file, or a row of a file)."""

    source: str
    payload: object
    team: str | None = None
    member_group: str | None = None
    dataset_id: uuid.UUID | None = None
    schema_version: str | None = None
    size: int | None = None  # bytes, when the reader knows it; measured otherwise
    accept_invalid: bool | None = None  # this record's policy for schema errors; None: the import's


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[FieldError] = field(default_factory=list)  # why records failed
    dry_run: bool = False
    written: bool = False
    # schema problems of records accepted anyway, kept per record and named on demand: a large messy
    # catalogue has millions
    problems: list[tuple[str, list[FieldError]]] = field(default_factory=list)

    @property
    def problem_count(self) -> int:
        return sum(len(errors) for _, errors in self.problems)

    @property
    def warnings(self) -> list[FieldError]:
        """Schema problems of the records accepted anyway, each path naming its record."""
        return [FieldError(f"{source}: {e.path}", e.message) for source, errors in self.problems for e in errors]

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed,
            "dry_run": self.dry_run, "written": self.written,
            "errors": [e.as_dict() for e in self.errors], "warnings": [w.as_dict() for w in self.warnings],
        }


def _team_name(item: ImportItem, override: str | None, checked: Checked) -> str | None:
    if override:
        return override
    if item.team:
        return item.team
    summary = checked.canonical.get("summary")
    custodian = summary.get("dataCustodian") if isinstance(summary, dict) else None
    name = custodian.get("name") if isinstance(custodian, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _check_item(item: ImportItem, max_bytes: int | None = None) -> Checked | list[FieldError]:
    """Check one record; pure, so it can run in a worker process."""
    try:
        check_size(item.payload, limit=max_bytes, size=item.size)
        checked = check(item.payload, item.schema_version)
        require_title(checked)
    except HealthgateError as exc:
        errors = exc.errors or [FieldError("$", exc.detail)]
        return [FieldError(f"{item.source}: {e.path}", e.message) for e in errors]
    except Exception as exc:  # noqa: BLE001  (a record the checks cannot read is that record's failure)
        return [FieldError(f"{item.source}: $", f"cannot read this record: {type(exc).__name__}: {exc}"[:300])]
    return checked


def _check_chunk(items: Sequence[ImportItem], max_bytes: int | None = None) -> list[Checked | list[FieldError]]:
    return [_check_item(i, max_bytes) for i in items]


def _checked_chunks(items: Sequence[ImportItem],
                    max_bytes: int | None = None) -> Iterator[list[tuple[ImportItem, Checked | list[FieldError]]]]:
    """Chunks of checked records, in order, so that a large import never holds two copies of everything."""
    for i in range(0, len(items), CHUNK):
        chunk = items[i:i + CHUNK]
        yield list(zip(chunk, _check_chunk(chunk, max_bytes), strict=True))


def _accept(
    item: ImportItem, result: Checked | list[FieldError], team: str | None, accept_invalid: bool,
    seen: dict[uuid.UUID, str], report: ImportReport,
) -> ImportRecord | None:
    """The record ready to hand to the catalogue service, or None with the reason recorded in ``report``."""
    if isinstance(result, list):
        report.failed += 1
        report.errors.extend(result)
        return None
    if result.errors and not (accept_invalid if item.accept_invalid is None else item.accept_invalid):
        report.failed += 1
        report.errors.extend(FieldError(f"{item.source}: {e.path}", e.message) for e in result.errors)
        return None
    team_name = _team_name(item, team, result)
    if not team_name:
        report.failed += 1
        report.errors.append(FieldError(f"{item.source}: $.summary.dataCustodian.name",
                                        "no custodian team: give one with --team"))
        return None
    dataset_id = item.dataset_id or persistent_id(result) or uuid.uuid4()
    if dataset_id in seen:
        report.failed += 1
        report.errors.append(FieldError(f"{item.source}: $.identifier",
                                        f"duplicate persistent id {dataset_id} (also in {seen[dataset_id]})"))
        return None
    seen[dataset_id] = item.source
    if result.errors:
        report.problems.append((item.source, result.errors))
    return ImportRecord(item.source, dataset_id, result, team_name, item.member_group)


def _store(ctx: Context, records: list[ImportRecord]) -> list[ImportResult]:
    """Hand a chunk to the catalogue service in a savepoint. If the database refuses any of it, undo the
    chunk and store its records one by one, each in its own savepoint, so that a bad record fails alone."""
    if len(records) > 1:
        try:
            with ctx.session.begin_nested():
                return service.import_versions(ctx, records)
        except DBAPIError:
            pass
    results = []
    for r in records:
        try:
            with ctx.session.begin_nested():
                results.extend(service.import_versions(ctx, [r]))
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0][:200] if exc.orig is not None else type(exc).__name__
            results.append(ImportResult(r, Outcome.REFUSED, errors=[
                FieldError(f"{r.source}: $", f"the database refused this record: {reason}")]))
    return results


def _tally(results: list[ImportResult], report: ImportReport) -> None:
    for res in results:
        if res.outcome == Outcome.CREATED:
            report.created += 1
        elif res.outcome == Outcome.UPDATED:
            report.updated += 1
        elif res.outcome == Outcome.UNCHANGED:
            report.unchanged += 1
        else:
            report.failed += 1
            report.errors.extend(res.errors)


def import_items(
    ctx: Context, items: Sequence[ImportItem], *, team: str | None = None,
    dry_run: bool = False, partial: bool = False, accept_invalid: bool = False,
    progress: Callable[[int], None] | None = None, max_bytes: int | None = None,
) -> ImportReport:
    """Create or update (as a new version) one dataset per item, publishing each through
    ``catalogue.service.import_versions``.

    Without ``partial``, any failed record means nothing is written. A dry run does everything a real run
    does, writes included, and then undoes it: both report the same. Writes go into a savepoint of the
    caller's transaction, released only when the import succeeds; the caller commits."""
    if not ctx.actor.authenticated:
        require(ctx.actor, Permission.DATASET_IMPORT)  # each team's permissions are checked by the service
    report = ImportReport(dry_run=dry_run)
    seen: dict[uuid.UUID, str] = {}
    savepoint = ctx.session.begin_nested()
    try:
        for chunk in _checked_chunks(items, max_bytes):
            records = [r for item, result in chunk
                       if (r := _accept(item, result, team, accept_invalid, seen, report)) is not None]
            if records:
                _tally(_store(ctx, records), report)
            if progress:
                progress(len(chunk))
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run or (report.failed and not partial):
        savepoint.rollback()
    else:
        savepoint.commit()
        report.written = True
    return report

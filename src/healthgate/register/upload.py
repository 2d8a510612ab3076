"""A custodian's register file (CSV or XLSX in HDR UK's upload template) uploaded: read, check every row, match
dataset names to the catalogue, preview, apply all or nothing.

1. The file is read by ``interop.register_csv`` / ``interop.register_xlsx`` (its type decided by its content,
   not its name; a file posing as XLSX is refused before parsing). Header problems: Invalid, by column.
2. Every row becomes ``EntryData`` (``register_table.to_entry``) and is checked (``service.check``); every
   problem of every row is collected and reported by row and column; nothing is written when there is one.
3. Dataset names are matched to catalogue datasets: a Gateway dataset URL (or id) to that dataset; a name equal
   to a title (case, spacing and punctuation aside), the custodian's own datasets first, then every public one;
   else the closest title by ``rapidfuzz`` (at least ``FUZZY_CUTOFF``), shown with its score. A fuzzy match is
   linked only when the uploader confirms it; unconfirmed, the name is kept as written, outside the catalogue.
4. ``bulk.upsert_many`` plans the rows (create / update by project id / unchanged) and, unless it is a dry
   run, writes them in one go, in the caller's transaction: all or nothing. The upload itself is recorded
   (``RegisterUpload``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from rapidfuzz import process as fuzzy_process
from sqlalchemy import or_, select

from healthgate.catalogue.models import Dataset, DatasetStatus, DatasetVersion
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid, UnsupportedMediaType
from healthgate.identity.permissions import Permission, require
from healthgate.interop import register_csv, register_xlsx
from healthgate.interop import register_table as T
from healthgate.register import bulk, service
from healthgate.search.normalise import match_key

FUZZY_CUTOFF = 80.0  # rapidfuzz WRatio, 0-100
MAX_ERRORS = 5_000  # errors reported for one file (the rest counted)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def name_key(value: str) -> str:
    return match_key(unicodedata.normalize("NFKC", value))


@dataclass(frozen=True)
class CatalogueTitle:
    dataset_id: uuid.UUID
    title: str
    own: bool  # the uploading custodian's dataset


@dataclass
class Match:
    """A dataset name of the file and the catalogue dataset it was matched to (if any)."""

    name: str
    rows: list[int]  # where the name appears
    kind: str  # url | exact | fuzzy | none
    dataset_id: uuid.UUID | None = None
    title: str | None = None
    score: float = 0.0
    confirmed: bool = False  # exact and URL matches always; fuzzy ones when the uploader confirmed them

    @property
    def linked(self) -> bool:
        return self.dataset_id is not None and self.confirmed

    @property
    def token(self) -> str:
        """What the uploader sends back to confirm a fuzzy match: "<dataset id>|<name>"."""
        return f"{self.dataset_id}|{self.name}"


@dataclass
class RowPreview:
    row: int
    action: str  # create | update | unchanged
    entry_id: uuid.UUID
    project_id: str | None
    project_title: str
    status: str  # afterwards
    changed: list[str] = field(default_factory=list)
    matched_by: str | None = None


@dataclass
class Result:
    filename: str
    format: str
    sha256: str
    applied: bool
    publish: bool
    rows: list[RowPreview]
    matches: list[Match]
    notes: list[str]
    counts: dict[str, int]
    upload_id: uuid.UUID | None = None

    @property
    def to_confirm(self) -> list[Match]:
        return [m for m in self.matches if m.kind == "fuzzy"]


class Catalogue:
    """The titles a register's dataset names are matched against: the custodian's own datasets (published at
    least once, whatever their status now) and every public dataset."""

    def __init__(self, titles: Sequence[CatalogueTitle]):
        self.titles = list(titles)
        self.by_id = {t.dataset_id: t for t in self.titles}
        self.by_key: dict[str, list[CatalogueTitle]] = {}
        for t in self.titles:
            self.by_key.setdefault(name_key(t.title), []).append(t)
        own = [t for t in self.titles if t.own]
        self._choices = [(own, [name_key(t.title) for t in own]),
                         (self.titles, [name_key(t.title) for t in self.titles])]

    @classmethod
    def load(cls, ctx: Context, team_id: uuid.UUID) -> Catalogue:
        rows = ctx.session.execute(
            select(Dataset.id, Dataset.team_id, DatasetVersion.title)
            .join(DatasetVersion, (DatasetVersion.dataset_id == Dataset.id)
                  & (DatasetVersion.number == Dataset.latest_version))
            .where(or_(Dataset.status == DatasetStatus.ACTIVE, Dataset.team_id == team_id)))
        return cls([CatalogueTitle(r.id, r.title, r.team_id == team_id) for r in rows])

    def known(self, name: str) -> bool:
        return name_key(name) in self.by_key

    def match(self, name: str) -> Match:
        found = _UUID.search(name)
        if found:
            hit = self.by_id.get(uuid.UUID(found.group(0)))
            if hit is not None:
                return Match(name, [], "url", hit.dataset_id, hit.title, 100.0, True)
        exact = self.by_key.get(name_key(name))
        if exact:
            own = [t for t in exact if t.own]
            pick = own or exact
            if len(pick) == 1:
                return Match(name, [], "exact", pick[0].dataset_id, pick[0].title, 100.0, True)
        key = name_key(name)
        for titles, keys in self._choices:
            if not keys:
                continue
            best = fuzzy_process.extractOne(key, keys, scorer=fuzz.WRatio, score_cutoff=FUZZY_CUTOFF)
            if best is not None:
                hit = titles[best[2]]
                return Match(name, [], "fuzzy", hit.dataset_id, hit.title, round(float(best[1]), 1), False)
        return Match(name, [], "none")


def may_upload(ctx: Context, team_id: uuid.UUID) -> None:
    """Forbidden unless the actor manages ``team_id``'s register (asked before a kept file is even looked up)."""
    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)


def read_table(filename: str, data: bytes, limits: T.Limits) -> T.Table:
    """The file as a table, its type decided by its content: a ZIP must be an XLSX workbook, anything else must
    be CSV text. A name ending .xlsx on something that is not a ZIP is refused (415), as is an old .xls."""
    lower = filename.lower()
    if register_xlsx.looks_like(data) or data.startswith(register_xlsx.OLE_MAGIC) or lower.endswith(
            (".xlsx", ".xlsm", ".xls")):
        return register_xlsx.read(data, limits)
    if data.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        raise UnsupportedMediaType("not a register file", [FieldError("file", "upload the register as CSV or "
                                                                      "XLSX (HDR UK's data use template)")])
    return register_csv.read(data, limits)


def _cap(errors: list[FieldError]) -> list[FieldError]:
    if len(errors) <= MAX_ERRORS:
        return errors
    return [*errors[:MAX_ERRORS], FieldError("file", f"and {len(errors) - MAX_ERRORS:,} more problems")]


def upload(ctx: Context, team_id: uuid.UUID, filename: str, data: bytes, *, limits: T.Limits | None = None,
           dry_run: bool = True, publish: bool = True, confirm: Collection[str] = ()) -> Result:
    """Read, check, match and plan a register file for ``team_id``; unless ``dry_run``, apply it (all or
    nothing, in the caller's transaction) and record the upload. ``confirm``: the fuzzy matches the uploader
    accepts (``Match.token``). Invalid lists every problem by row and column."""
    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)
    table = read_table(filename, data, limits or T.Limits())
    catalogue = Catalogue.load(ctx, team_id)
    errors: list[FieldError] = []
    items: list[service.EntryData] = []
    numbers: list[int] = []
    for row in table.rows:
        entry, row_errors = T.to_entry(row, known=catalogue.known, epoch=table.excel_epoch)
        if entry is None:
            errors.extend(row_errors)
            continue
        items.append(entry)
        numbers.append(row.number)
    if not table.rows:
        errors.append(FieldError("file", "the file has a header row but no entries"))
    matches: dict[str, Match] = {}
    accepted = set(confirm)
    for entry, number in zip(items, numbers, strict=True):
        for ref in entry.datasets:
            key = name_key(ref.name)
            m = matches.get(key)
            if m is None:
                m = matches[key] = catalogue.match(ref.name)
                if m.kind == "fuzzy" and m.token in accepted:
                    m.confirmed = True
            if number not in m.rows:
                m.rows.append(number)
            if m.linked:
                ref.dataset_id = m.dataset_id
                if m.kind == "url" and m.title:
                    ref.name = m.title  # a Gateway URL stands for the dataset: keep its title
    try:
        result = bulk.upsert_many(ctx, team_id, items, publish=publish, origin="upload",
                                     dry_run=dry_run or bool(errors))
    except bulk.InvalidItems as exc:
        errors.extend(T.locate(numbers[i], e) for i, e in exc.by_item)
        result = None
    if errors:
        errors.sort(key=_row_order)
        raise Invalid(f"the register file has {len(errors):,} problem{'s' if len(errors) != 1 else ''}; "
                      "nothing was saved", _cap(errors))
    assert result is not None
    rows = [RowPreview(numbers[p.index], p.action, p.entry_id, items[p.index].project_id,
                       items[p.index].project_title, p.status, p.changed, p.matched_by) for p in result.items]
    counts = result.counts()
    counts["datasets_linked"] = sum(1 for m in matches.values() if m.linked)
    counts["datasets_unlinked"] = sum(1 for m in matches.values() if not m.linked)
    sha = hashlib.sha256(data).hexdigest()
    out = Result(filename, table.format, sha, result.applied, publish, rows,
                 sorted(matches.values(), key=lambda m: (m.kind != "fuzzy", m.rows[:1], m.name)), table.notes,
                 counts)
    if result.applied:
        out.upload_id = bulk.record_upload(ctx, team_id, filename=filename, format=table.format, sha256=sha,
                                              counts=counts).id
    return out


def _row_order(error: FieldError) -> tuple[int, str]:
    m = re.match(r"row (\d+)", error.path)
    return (int(m.group(1)) if m else 0, error.path)

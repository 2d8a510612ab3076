"""How register entries reach the shared search index (kind "data_use"): published entries are indexed,
drafts and withdrawn ones are not. The service calls ``changed`` after every write, in its transaction.

The kind's facets are the public register's: custodian (the team reporting the entry), organisation (the
organisation registry's current name when the entry is linked to it, else the name as written), sector, dataset
(the catalogue title when matched to a published catalogue dataset, else the name as written), access type and
legal basis (GDPR Article 6, shown by its letter and a short name). The approval date is the entry's period
(start = end), so the search's date range keeps entries approved within the range, and its "updated" order is
"most recently approved first".
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.identity.models import Organisation, Team
from healthgate.register import fields as F
from healthgate.register.models import (
    RegisterEntry,
    RegisterEntryApplicant,
    RegisterEntryDataset,
    RegisterEntryOutput,
)
from healthgate.search import index, kinds
from healthgate.search.index import Entry
from healthgate.search.kinds import FacetSpec, Kind, Row
from healthgate.search.models import SearchEntry
from healthgate.search.normalise import match_key

NAME = "data_use"
PUBLISHED = "published"
CHUNK = 2_000  # entries read and indexed per batch by ``index_many`` / ``reindex``

# GDPR Article 6 bases, as the register's facet shows them (the lookup's long text is kept on the entry).
LEGAL_BASES: dict[str, str] = {
    "a": "(a) Consent", "b": "(b) Contract", "c": "(c) Legal obligation", "d": "(d) Vital interests",
    "e": "(e) Public task", "f": "(f) Legitimate interests",
}
NOT_APPLICABLE = "Not applicable"
LEGAL_BASIS_ORDER = [*LEGAL_BASES.values(), NOT_APPLICABLE]
_LETTER = re.compile(r"^\(?\s*([a-f])\s*\)")


def legal_basis_label(value: str) -> str | None:
    """The facet label of a legal basis given in any spelling: the template's long text, its letter ("e",
    "(e)"), or the short label itself. Anything else (free text from an old register) is its own value."""
    text = " ".join(value.split())
    if not text:
        return None
    key = text.casefold()
    if key in ("not applicable", "n/a", "na"):
        return NOT_APPLICABLE
    m = _LETTER.match(key) or re.fullmatch(r"([a-f])", key)
    if m:
        return LEGAL_BASES[m.group(1)]
    for label in LEGAL_BASES.values():
        if key == label.casefold() or key == label[4:].casefold():
            return label
    return text


def access_type_label(value: str) -> str | None:
    for option in F.lookups().get("Access Type", ()):
        if option.casefold() == value.casefold():
            return option
    return value


def _data(name: str) -> Any:
    def read(row: Row) -> list[Any]:
        value = (row["data"] or {}).get(name)
        if isinstance(value, list):
            return value
        return [value] if value is not None else []
    return read


SECTOR_ORDER = [*F.lookups().get("Organisation Type", ())]

KIND = kinds.register(Kind(
    name=NAME,
    label="data uses",
    subject=uuid.UUID,
    facets=(
        FacetSpec("custodian", "Data custodian", _data("custodian"), multi=False, fold=match_key, limit=50),
        FacetSpec("organisation", "Organisation", _data("organisation"), multi=False, fold=match_key, limit=30),
        FacetSpec("sector", "Organisation sector", _data("sector"), multi=False, fold=match_key,
                  order=SECTOR_ORDER),
        FacetSpec("dataset", "Dataset", _data("dataset_names"), fold=match_key, limit=30),
        FacetSpec("access_type", "Access type", _data("access_type"), multi=False, normalise=access_type_label,
                  order=list(F.lookups().get("Access Type", ("TRE", "Release")))),
        FacetSpec("legal_basis", "Legal basis (GDPR Article 6)", _data("legal_basis"), multi=False,
                  normalise=legal_basis_label, order=LEGAL_BASIS_ORDER),
    ),
))


# ---- entries --------------------------------------------------------------------------------------------


def _context(session: Session, entries: Sequence[RegisterEntry]) -> dict[str, Any]:
    """Everything the entries' index records read besides the entries themselves, in a few queries."""
    ids = [e.id for e in entries]
    team_ids = {e.team_id for e in entries}
    org_ids = {e.organisation_id for e in entries if e.organisation_id}
    teams = {t.id: t for t in session.scalars(select(Team).where(Team.id.in_(team_ids)))} if team_ids else {}
    orgs = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))} \
        if org_ids else {}
    # plain rows, not ORM objects: a reindex reads hundreds of thousands of them
    datasets: dict[uuid.UUID, list[Any]] = defaultdict(list)
    applicants: dict[uuid.UUID, list[Any]] = defaultdict(list)
    outputs: dict[uuid.UUID, list[Any]] = defaultdict(list)
    D, A, O = RegisterEntryDataset, RegisterEntryApplicant, RegisterEntryOutput
    for d in session.execute(select(D.entry_id, D.name, D.dataset_id).where(D.entry_id.in_(ids))
                             .order_by(D.entry_id, D.position)):
        datasets[d.entry_id].append(d)
    for a in session.execute(select(A.entry_id, A.name, A.orcid).where(A.entry_id.in_(ids))
                             .order_by(A.entry_id, A.position)):
        applicants[a.entry_id].append(a)
    for o in session.execute(select(O.entry_id, O.title).where(O.entry_id.in_(ids))
                             .order_by(O.entry_id, O.position)):
        outputs[o.entry_id].append(o)
    linked = {d.dataset_id for rows in datasets.values() for d in rows if d.dataset_id}
    titles = catalogue_titles(session, linked)
    return {"teams": teams, "orgs": orgs, "datasets": datasets, "applicants": applicants, "outputs": outputs,
            "titles": titles}


def catalogue_titles(session: Session, dataset_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The latest published title of each of these catalogue datasets that has ever been published."""
    wanted = list(set(dataset_ids))
    out: dict[uuid.UUID, str] = {}
    for i in range(0, len(wanted), 500):
        rows = session.execute(
            select(Dataset.id, DatasetVersion.title).join(DatasetVersion, and_(
                DatasetVersion.dataset_id == Dataset.id, DatasetVersion.number == Dataset.latest_version))
            .where(Dataset.id.in_(wanted[i:i + 500])))
        out.update({r[0]: r[1] for r in rows})
    return out


def _org_name(entry: RegisterEntry, orgs: dict[uuid.UUID, Organisation]) -> str:
    org = orgs.get(entry.organisation_id) if entry.organisation_id else None
    return org.name if org is not None else entry.organisation_name


def entry_of(entry: RegisterEntry, ctx: dict[str, Any]) -> Entry:
    """The index entry of a published register entry (``ctx`` from ``_context``)."""
    team = ctx["teams"].get(entry.team_id)
    org = ctx["orgs"].get(entry.organisation_id) if entry.organisation_id else None
    org_name = _org_name(entry, ctx["orgs"])
    used = [{"name": d.name, "id": str(d.dataset_id) if d.dataset_id and d.dataset_id in ctx["titles"] else None,
             "title": ctx["titles"].get(d.dataset_id) if d.dataset_id else None}
            for d in ctx["datasets"].get(entry.id, [])]
    names = list(dict.fromkeys((u["title"] or u["name"]) for u in used))
    people = [{"name": a.name, "orcid": a.orcid} for a in ctx["applicants"].get(entry.id, [])]
    outputs = ctx["outputs"].get(entry.id, [])
    custodian = team.name if team is not None else ""
    approved = entry.approval_date
    description = " ; ".join(x for x in (
        entry.public_benefit, entry.technical_summary, entry.request_category,
        " ; ".join(p["name"] for p in people), " ; ".join(o.title for o in outputs if o.title)) if x)
    return Entry(
        subject_id=str(entry.id), title=entry.project_title, updated_at=entry.updated_at,
        aliases=[entry.project_id] if entry.project_id else [],
        keywords=[*names, *[d["name"] for d in used if d["title"] and d["name"] != d["title"]],
                  *(entry.funders or [])],
        abstract=entry.lay_summary, description=description, owner=f"{org_name} ; {custodian}",
        start_date=approved, end_date=approved,
        data={
            "custodian": custodian, "team_slug": team.slug if team is not None else None,
            "organisation": org_name, "organisation_slug": org.slug if org is not None else None,
            "organisation_ror": entry.organisation_ror or (org.ror_id if org is not None else None),
            "sector": entry.organisation_sector or (org.sector if org is not None else None),
            "datasets": used, "dataset_names": names,
            "access_type": entry.access_type, "legal_basis": entry.legal_basis,
            "approval_date": approved.isoformat(), "record_date": approved.isoformat(),
            "project_id": entry.project_id, "applicants": people,
        },
    )


def entries_of(session: Session, entries: Sequence[RegisterEntry]) -> list[Entry]:
    ctx = _context(session, entries)
    return [entry_of(e, ctx) for e in entries]


# ---- keeping the index in step ------------------------------------------------------------------------------


def _indexed(session: Session, subject_ids: Sequence[str]) -> set[str]:
    """Which of these entries are in public search now."""
    found: set[str] = set()
    for i in range(0, len(subject_ids), 500):
        found.update(session.scalars(select(SearchEntry.subject_id).where(
            SearchEntry.kind == NAME, SearchEntry.visible.is_(True),
            SearchEntry.subject_id.in_(list(subject_ids[i:i + 500])))))
    return found


def index_many(session: Session, entries: Sequence[RegisterEntry]) -> None:
    """Bring these entries' index records in step with them: published ones (re)indexed, any other withdrawn
    from public search. In the caller's transaction."""
    if not entries:
        return
    index.lock(session)
    for i in range(0, len(entries), CHUNK):
        chunk = entries[i:i + CHUNK]
        public = [e for e in chunk if e.status == PUBLISHED]
        hidden = sorted(_indexed(session, [str(e.id) for e in chunk if e.status != PUBLISHED]))
        index.put(session, NAME, entries_of(session, public))
        index.withdraw(session, NAME, hidden)


def lock(session: Session) -> None:
    """Take the search index's write lock. A register writer calls this before it locks any entry row, so
    every index writer locks in one order (index, then rows) and none can deadlock another."""
    index.lock(session)


def changed(session: Session, entry: RegisterEntry) -> None:
    """Index a published entry (again), or withdraw any other from the index."""
    index_many(session, [entry])


def reindex(session: Session) -> tuple[int, int]:
    """Rebuild the kind from the register: every published entry indexed as it is now (organisation names and
    dataset titles included), every other entry out of public search. Returns (indexed, withdrawn)."""
    index.lock(session)
    ids = list(session.scalars(select(RegisterEntry.id).where(RegisterEntry.status == PUBLISHED)
                               .order_by(RegisterEntry.id)))
    for i in range(0, len(ids), CHUNK):
        chunk = list(session.scalars(select(RegisterEntry).where(RegisterEntry.id.in_(ids[i:i + CHUNK]))))
        index.put(session, NAME, entries_of(session, chunk))
    public = {str(i) for i in ids}
    stale = [s for s in session.scalars(select(SearchEntry.subject_id).where(
        SearchEntry.kind == NAME, SearchEntry.visible.is_(True))) if s not in public]
    index.withdraw(session, NAME, stale)
    return len(ids), len(stale)

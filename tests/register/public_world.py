"""A register for public-side tests: the access harness's world (teams A and B, datasets A1, A2, B1), two
registry organisations with ROR ids, and entries made through ``register.service`` (create, then publish)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import organisations
from healthgate.identity.permissions import SYSTEM
from healthgate.register import service as register
from tests.access import harness
from tests.identifiers import orcid, ror

EXETER_ROR = ror("3yghzc")
LEEDS_ROR = ror("24mhc7")
ADA = orcid(21825009)
GRACE = orcid(51093701)


def data(title: str, **changes) -> register.EntryData:
    d = register.EntryData(
        organisation_name="University of Exeter", project_title=title,
        lay_summary=f"We study {title.lower()}.", public_benefit="Better care for patients.",
        approval_date=date(2025, 3, 1), access_type="TRE",
        datasets=[register.DatasetRef("Alpha cardiovascular cohort")],
        legal_basis="(e)", organisation_sector="Academic Institute",
    )
    for k, v in changes.items():
        setattr(d, k, v)
    return d


@dataclass
class Register:
    w: harness.World
    orgs: dict[str, uuid.UUID] = field(default_factory=dict)  # "exeter", "leeds"
    entries: dict[str, uuid.UUID] = field(default_factory=dict)

    def add(self, sessions, key: str, team: str, d: register.EntryData, *, publish: bool = True,
            withdraw: bool = False) -> uuid.UUID:
        manager = f"manager_{team}"
        with sessions.begin() as s:
            made = register.create(self.w.ctx(s, manager), self.w.teams[team], d)
            if publish or withdraw:
                register.publish(self.w.ctx(s, manager), made.id)
            if withdraw:
                register.withdraw(self.w.ctx(s, manager), made.id)
            self.entries[key] = made.id
        return made.id

    def ref(self, key: str) -> register.DatasetRef:
        names = {"A1": "Alpha cardiovascular cohort", "A2": "Alpha renal registry", "B1": "Beta genomes"}
        return register.DatasetRef(names[key], self.w.datasets[key])


def build(sessions, clock) -> Register:
    """The world and its organisations; no entries yet."""
    r = Register(harness.build(sessions, clock, templates=False))
    with sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        r.orgs["exeter"] = organisations.create_organisation(ctx, "University of Exeter", ror_id=EXETER_ROR,
                                                             sector="Academic Institute").id
        r.orgs["leeds"] = organisations.create_organisation(ctx, "University of Leeds", ror_id=LEEDS_ROR).id
    return r


def standard(sessions, clock) -> Register:
    """Five entries: three published (two of team A, one of B), one draft, one withdrawn.

    | key | team | organisation | datasets | access | legal basis | approved |
    |---|---|---|---|---|---|---|
    | heart | A | Exeter (ROR) | A1 | TRE | (e) | 2025-03-01 |
    | kidney | A | Leeds (ROR) | A1, A2 | Release | (f) | 2024-06-15 |
    | genes | B | Exeter (by name only) | B1, "UK Biobank" | TRE | (e) | 2023-11-20 |
    | secret_draft | A | Exeter | A1 | TRE | (e) | 2025-01-01 (draft) |
    | gone | B | Leeds | B1 | TRE | (a) | 2025-02-01 (withdrawn) |
    """
    r = build(sessions, clock)
    r.add(sessions, "heart", "A", data(
        "Heart failure after COVID-19", organisation_ror=EXETER_ROR, datasets=[r.ref("A1")],
        applicants=[register.Applicant("Ada Lovelace", ADA)], funders=["Wellcome Trust"],
        outputs=[register.output_of("doi:10.1000/heart.1"), register.output_of("https://github.com/ex/heart")],
        project_id="A-HEART"))
    r.add(sessions, "kidney", "A", data(
        "Kidney disease progression", organisation_name="University of Leeds", organisation_ror=LEEDS_ROR,
        datasets=[r.ref("A1"), r.ref("A2")], access_type="Release", legal_basis="(f)",
        approval_date=date(2024, 6, 15), applicants=[register.Applicant("Grace Hopper", GRACE),
                                                     register.Applicant("Ada Lovelace", ADA)],
        outputs=[register.output_of("https://doi.org/10.1000/kidney.2")]))
    r.add(sessions, "genes", "B", data(
        "Genetics of asthma", datasets=[r.ref("B1"), register.DatasetRef("UK Biobank")],
        approval_date=date(2023, 11, 20), applicants=[register.Applicant("Ada Lovelace", ADA)]))
    r.add(sessions, "secret_draft", "A", data(
        "Secret draft project zebra", organisation_ror=EXETER_ROR, datasets=[r.ref("A1")],
        applicants=[register.Applicant("Ada Lovelace", ADA)], approval_date=date(2025, 1, 1),
        outputs=[register.output_of("doi:10.1000/draft.9")]), publish=False)
    r.add(sessions, "gone", "B", data(
        "Withdrawn project zebra", organisation_name="University of Leeds", organisation_ror=LEEDS_ROR,
        datasets=[r.ref("B1")], legal_basis="(a)", approval_date=date(2025, 2, 1),
        applicants=[register.Applicant("Grace Hopper", GRACE)],
        outputs=[register.output_of("doi:10.1000/gone.3")]), withdraw=True)
    return r


@pytest.fixture
def public(db, clock, tmp_path) -> Iterator[tuple[TestClient, Register]]:
    """An app over the standard register (three published entries, a draft, a withdrawn one), anonymous."""
    settings = Settings(data_dir=tmp_path, database_url=db.url, rate_limit_anonymous="off",
                        rate_limit_expensive="off", rate_limit_failed_auth="off")
    app = create_app(settings, clock=clock)
    r = standard(app.state.sessions, clock)
    with TestClient(app) as client:
        yield client, r
    app.state.engine.dispose()

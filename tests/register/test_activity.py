"""Organisation and researcher pages: their published projects, datasets used and outputs across custodians;
never a draft's or a withdrawn entry's."""

from __future__ import annotations

from sqlalchemy import update

from healthgate.context import Context
from healthgate.errors import NotFound
from healthgate.identity import organisations
from healthgate.identity.permissions import SYSTEM
from healthgate.register import activity_reads as reads
from healthgate.register.models import RegisterEntry
from tests.register import public_world as pw
from tests.register.public_world import public  # noqa: F401  (fixture)


def test_organisation_activity_across_custodians(db, clock):
    r = pw.standard(db.sessions, clock)
    with db.sessions() as s:
        ctx = Context(s, SYSTEM, clock)
        found = reads.organisation_activity(ctx, pw.EXETER_ROR)
        a = found.activity
        assert found.organisation is not None and found.organisation.name == "University of Exeter"
        # by ROR: the heart entry (team A); "genes" (team B) names Exeter by its exact name, which links it to the
        # same organisation; the draft is never counted
        assert [p.title for p in a.projects] == ["Heart failure after COVID-19", "Genetics of asthma"]
        assert {d.title or d.name: d.count for d in a.datasets} == {
            "Alpha cardiovascular cohort": 1, "Beta genomes": 1, "UK Biobank": 1}
        assert [o.doi for o in a.outputs] == ["10.1000/heart.1", None]
        assert a.people == [("Ada Lovelace", pw.ADA, 2)]
        leeds = reads.organisation_activity(ctx, f"https://ror.org/{pw.LEEDS_ROR}").activity
        assert [p.title for p in leeds.projects] == ["Kidney disease progression"]  # not the withdrawn one
        assert {o.doi for o in leeds.outputs} == {"10.1000/kidney.2"}
        assert [name for name, _, _ in leeds.custodians] == ["Alpha Health Data"]
        # by slug and by id, the same organisation
        assert reads.organisation_activity(ctx, "university-of-leeds").canonical_ref == pw.LEEDS_ROR
        assert reads.organisation_activity(ctx, str(r.orgs["leeds"])).activity.total == 1


def test_entries_linked_by_organisation_id_count_and_merges_follow(db, clock):
    r = pw.standard(db.sessions, clock)
    with db.sessions.begin() as s:  # as an application-drafted entry is linked (organisation_id, no ROR)
        ctx = Context(s, SYSTEM, clock)
        other = organisations.create_organisation(ctx, "Exeter University (duplicate)")
        s.execute(update(RegisterEntry).where(RegisterEntry.id == r.entries["genes"])
                  .values(organisation_id=other.id))
        organisations.merge(ctx, other, s.get(organisations.Organisation, r.orgs["exeter"]))
    with db.sessions() as s:
        ctx = Context(s, SYSTEM, clock)
        a = reads.organisation_activity(ctx, pw.EXETER_ROR).activity
        assert [p.title for p in a.projects] == ["Heart failure after COVID-19", "Genetics of asthma"]
        assert {d.title or d.name: d.count for d in a.datasets} == {
            "Alpha cardiovascular cohort": 1, "Beta genomes": 1, "UK Biobank": 1}
        assert [name for name, _, _ in a.custodians] == ["Alpha Health Data", "Beta Biobank"]


def test_an_unregistered_ror_with_published_entries_has_a_page(db, clock):
    r = pw.build(db.sessions, clock)
    unknown = pw.ror("5abcde")
    r.add(db.sessions, "x", "B", pw.data("Sleep and shift work", organisation_name="Institute of Sleep",
                                         organisation_ror=unknown))
    r.add(db.sessions, "y", "B", pw.data("Draft only", organisation_ror=pw.ror("6abcde")), publish=False)
    with db.sessions() as s:
        ctx = Context(s, SYSTEM, clock)
        found = reads.organisation_activity(ctx, unknown)
        assert found.organisation is None and found.activity.name == "Institute of Sleep"
        for ref in (pw.ror("6abcde"), "no-such-slug", "0abcdefgh"):  # a draft's ROR, unknown, malformed
            try:
                reads.organisation_activity(ctx, ref)
            except NotFound:
                continue
            raise AssertionError(ref)


def test_researcher_activity(db, clock):
    pw.standard(db.sessions, clock)
    with db.sessions() as s:
        ctx = Context(s, SYSTEM, clock)
        ada = reads.researcher_activity(ctx, pw.ADA)
        assert ada.activity.name == "Ada Lovelace"
        assert [p.title for p in ada.activity.projects] == [
            "Heart failure after COVID-19", "Kidney disease progression", "Genetics of asthma"]
        assert {n for n, _, _ in ada.activity.custodians} == {"Alpha Health Data", "Beta Biobank"}
        assert {(d.title or d.name): d.count for d in ada.activity.datasets} == {
            "Alpha cardiovascular cohort": 2, "Alpha renal registry": 1, "Beta genomes": 1, "UK Biobank": 1}
        assert {o.doi for o in ada.activity.outputs} == {"10.1000/heart.1", "10.1000/kidney.2", None}
        assert "10.1000/draft.9" not in {o.doi for o in ada.activity.outputs}
        assert {(n, ror) for n, ror, _, _ in ada.activity.organisations} == {
            ("University of Exeter", pw.EXETER_ROR), ("University of Leeds", pw.LEEDS_ROR),
            ("University of Exeter", None)}
        grace = reads.researcher_activity(ctx, pw.GRACE.replace("-", ""))
        assert [p.title for p in grace.activity.projects] == ["Kidney disease progression"]  # not withdrawn


def test_pages(public):  # noqa: F811
    client, r = public
    org = client.get(f"/organisations/{pw.LEEDS_ROR}")
    assert org.status_code == 200
    assert "University of Leeds" in org.text and "Kidney disease progression" in org.text
    assert f'href="/researchers/{pw.GRACE}"' in org.text and "zebra" not in org.text.lower()
    assert f'href="https://ror.org/{pw.LEEDS_ROR}"' in org.text
    moved = client.get("/organisations/university-of-leeds", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == f"/organisations/{pw.LEEDS_ROR}"
    assert client.get("/organisations/nobody-at-all").status_code == 404
    person = client.get(f"/researchers/{pw.ADA}")
    assert person.status_code == 200 and "Ada Lovelace" in person.text
    assert 'href="https://doi.org/10.1000/heart.1"' in person.text and "draft.9" not in person.text
    assert f'href="/datasets/{r.w.datasets["A1"]}"' in person.text
    assert client.get(f"/researchers/{pw.ADA.replace('-', '')}", follow_redirects=False).status_code == 301
    assert client.get("/researchers/0000-0002-1825-0098").status_code == 404  # bad check digit
    assert client.get(f"/researchers/{pw.orcid(99)}").status_code == 404  # nothing published

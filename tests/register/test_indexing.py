"""The "data_use" search kind: published entries are indexed, drafts never, withdrawn ones leave; facets count
and filter right, and combine."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from healthgate.register import indexing
from healthgate.register import search as rs
from healthgate.register import service as register
from healthgate.search.models import SearchEntry
from tests.register import public_world as pw


def _visible(s) -> set[str]:
    return set(s.scalars(select(SearchEntry.subject_id).where(SearchEntry.kind == indexing.NAME,
                                                              SearchEntry.visible.is_(True))))


def _facet(result, name) -> dict[str, int]:
    return {v["value"]: v["count"] for v in result.facets[name]}


def test_only_published_entries_are_indexed(db, clock):
    r = pw.standard(db.sessions, clock)
    with db.sessions() as s:
        assert _visible(s) == {str(r.entries[k]) for k in ("heart", "kidney", "genes")}
        # the draft was never put in the index at all; the withdrawn entry's record is invisible
        rows = {row.subject_id: row.visible for row in s.scalars(
            select(SearchEntry).where(SearchEntry.kind == indexing.NAME))}
        assert str(r.entries["secret_draft"]) not in rows
        assert rows[str(r.entries["gone"])] is False
        assert rs.search(s, "zebra").total == 0


def test_withdraw_republish_and_update_follow_the_entry(db, clock):
    r = pw.standard(db.sessions, clock)
    heart = r.entries["heart"]
    with db.sessions.begin() as s:
        register.withdraw(r.w.ctx(s, "manager_A"), heart)
    with db.sessions() as s:
        assert rs.search(s, "heart failure").total == 0
        assert str(heart) not in _visible(s)
    with db.sessions.begin() as s:
        register.publish(r.w.ctx(s, "manager_A"), heart)
        changed = register.entry_data(s, s.get(register.RegisterEntry, heart))
        changed.project_title = "Cardiac outcomes after SARS-CoV-2"
        register.update(r.w.ctx(s, "manager_A"), heart, changed)
    with db.sessions() as s:
        assert [h.title for h in rs.search(s, "cardiac").items] == ["Cardiac outcomes after SARS-CoV-2"]
        assert [h.title for h in rs.search(s, "heart failure").items] == ["Cardiac outcomes after SARS-CoV-2"]
    with db.sessions.begin() as s:  # editing a draft never makes it public
        draft = register.entry_data(s, s.get(register.RegisterEntry, r.entries["secret_draft"]))
        draft.lay_summary = "Still a draft about zebras."
        register.update(r.w.ctx(s, "manager_A"), r.entries["secret_draft"], draft)
    with db.sessions() as s:
        assert rs.search(s, "zebra").total == 0


def test_facets_count_every_published_entry(db, clock):
    pw.standard(db.sessions, clock)
    with db.sessions() as s:
        result = rs.search(s)
        assert result.total == 3
        assert _facet(result, "custodian") == {"Alpha Health Data": 2, "Beta Biobank": 1}
        assert _facet(result, "organisation") == {"University of Exeter": 2, "University of Leeds": 1}
        assert _facet(result, "sector") == {"Academic Institute": 3}
        assert _facet(result, "dataset") == {"Alpha cardiovascular cohort": 2, "Alpha renal registry": 1,
                                             "Beta genomes": 1, "UK Biobank": 1}
        assert [(v["value"], v["count"]) for v in result.facets["access_type"]] == [("TRE", 2), ("Release", 1)]
        assert [(v["value"], v["count"]) for v in result.facets["legal_basis"]] == [
            ("(e) Public task", 2), ("(f) Legitimate interests", 1)]


def test_filters_combine_and_facets_ignore_their_own_selection(db, clock):
    pw.standard(db.sessions, clock)
    with db.sessions() as s:
        one = rs.search(s, values={"custodian": ["Alpha Health Data"]})
        assert one.total == 2
        assert _facet(one, "custodian") == {"Alpha Health Data": 2, "Beta Biobank": 1}  # own selection ignored
        assert _facet(one, "access_type") == {"TRE": 1, "Release": 1}
        both = rs.search(s, values={"custodian": ["Alpha Health Data"], "access_type": ["TRE"]})
        assert [h.title for h in both.items] == ["Heart failure after COVID-19"]
        assert _facet(both, "custodian") == {"Alpha Health Data": 1, "Beta Biobank": 1}
        either = rs.search(s, values={"custodian": ["alpha health data", "BETA BIOBANK"]})  # OR, any spelling
        assert either.total == 3
        legal = rs.search(s, values={"legal_basis": ["e"]})  # the letter alone
        assert {h.title for h in legal.items} == {"Heart failure after COVID-19", "Genetics of asthma"}
        assert rs.search(s, values={"legal_basis": [("(f) processing is necessary for the purposes of the "
                                                     "legitimate interests")]}).total == 1
        ds = rs.search(s, "asthma", values={"dataset": ["UK Biobank"], "organisation": ["University of Exeter"]})
        assert [h.title for h in ds.items] == ["Genetics of asthma"]
        none = rs.search(s, values={"dataset": ["UK Biobank"], "access_type": ["Release"]})
        assert none.total == 0 and none.items == []


def test_approval_date_range(db, clock):
    pw.standard(db.sessions, clock)
    with db.sessions() as s:
        def titles(lo, hi):
            return [h.title for h in rs.search(s, approved_from=lo, approved_to=hi, sort="approved").items]

        assert titles(date(2024, 1, 1), None) == ["Heart failure after COVID-19", "Kidney disease progression"]
        assert titles(None, date(2024, 6, 15)) == ["Kidney disease progression", "Genetics of asthma"]  # inclusive
        assert titles(date(2024, 6, 15), date(2024, 6, 15)) == ["Kidney disease progression"]
        assert titles(date(2026, 1, 1), None) == []
        assert rs.approval_bound("2024-02", end=True) == date(2024, 2, 29)
        assert rs.approval_bound("2023", end=False) == date(2023, 1, 1)


def test_paging_order_is_total_and_stable(db, clock):
    r = pw.build(db.sessions, clock)
    for i in range(23):  # equal approval dates and titles: only the id can order them
        r.add(db.sessions, f"e{i}", "A" if i % 2 else "B", pw.data("Zygote cohort study", approval_date=date(2025, 1, 1)))
    with db.sessions() as s:
        for sort in ("approved", "title", "relevance"):
            q = "zygote" if sort == "relevance" else ""
            seen = []
            for page in range(1, 5):
                seen += [h.id for h in rs.search(s, q, sort=sort, page=page, per_page=7).items]
            assert len(seen) == 23 and len(set(seen)) == 23
            again = [h.id for h in rs.search(s, q, sort=sort, per_page=23).items]
            assert again == seen
        assert rs.search(s, sort="approved", page=99).items == []


def test_hits_carry_the_register_fields(db, clock):
    r = pw.standard(db.sessions, clock)
    with db.sessions() as s:
        hit = rs.search(s, "kidney").items[0]
        assert hit.id == r.entries["kidney"]
        assert hit.organisation == "University of Leeds" and hit.organisation_ror == pw.LEEDS_ROR
        assert hit.custodian == "Alpha Health Data" and hit.approval_date == date(2024, 6, 15)
        assert [(d["title"], d["id"]) for d in hit.datasets] == [
            ("Alpha cardiovascular cohort", str(r.w.datasets["A1"])), ("Alpha renal registry", str(r.w.datasets["A2"]))]
        # searchable by organisation, funder, applicant, project id and an unmatched dataset name
        for q, title in (("Leeds", "Kidney disease progression"), ("Wellcome", "Heart failure after COVID-19"),
                         ("Hopper", "Kidney disease progression"), ("A-HEART", "Heart failure after COVID-19"),
                         ("biobank", "Genetics of asthma")):
            assert title in [h.title for h in rs.search(s, q).items], q


def test_reindex_rebuilds_the_kind(db, clock):
    r = pw.standard(db.sessions, clock)
    with db.sessions.begin() as s:
        assert indexing.reindex(s) == (3, 0)
    with db.sessions() as s:
        assert _visible(s) == {str(r.entries[k]) for k in ("heart", "kidney", "genes")}
        assert rs.search(s).total == 3


def test_legal_basis_labels():
    assert indexing.legal_basis_label("(c)processing is necessary for compliance") == "(c) Legal obligation"
    assert indexing.legal_basis_label("E") == "(e) Public task"
    assert indexing.legal_basis_label("Public task") == "(e) Public task"
    assert indexing.legal_basis_label("not applicable") == "Not applicable"
    assert indexing.legal_basis_label("Section 251") == "Section 251"

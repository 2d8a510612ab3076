"""The custodian's register in the workspace: the list with its filter and the drafts waiting from approved
applications, a new entry, the edit form (errors by field, values kept), preview, publish and withdraw; and the
public page of requests received."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from healthgate.register import fields as F
from healthgate.register import service as register
from tests.access.custodian.site import Site, csrf, post


@pytest.fixture
def site(db, clock, tmp_path) -> Site:
    return Site(db, clock, tmp_path)


FORM = {
    "organisation_name": "University of Exeter", "project_title": "Kidney outcomes", "lay_summary": "Who recovers.",
    "public_benefit": "Better care.", "approval_date": "2025-03-01", "access_type": "TRE",
    "legal_basis": "(e) processing is necessary for the performance of a task carried out in the public interest "
                   "or in the exercise of official authority vested in the controller;",
    "dataset_dataset_id": ["", ""], "dataset_name": ["A dataset outside the catalogue", ""],
    "applicant_name": ["Ada Lovelace", ""], "applicant_orcid": ["0000-0002-1825-0097", ""],
    "output_url": ["10.1000/xyz123", ""], "output_title": ["The paper", ""], "funders": "Wellcome\nMRC",
}


def row_version(html: str) -> str:
    return re.search(r'name="row_version" value="(\d+)"', html).group(1)


def test_new_edit_preview_publish_withdraw(site):
    me = site.browser("manager_A")
    base = f"/workspace/teams/{site.slug['A']}/data-uses"
    blank = me.get(f"{base}/new")
    assert blank.status_code == 200
    for f in F.FIELDS:  # every field of the standard has its labelled control, grouped by the Five Safes
        if f.kind != "list":
            assert f'for="f-{f.name}"' in blank.text, f.name
    for group in ("Safe People", "Safe Project", "Safe Data", "Safe Setting", "Safe Outputs"):
        assert f"<h2>{group}</h2>" in blank.text
    assert "Alpha cardiovascular cohort" in blank.text  # the catalogue picker lists the team's datasets
    assert "Beta genomes" not in blank.text
    token = csrf(me, f"{base}/new")
    # bad input: every error by field, nothing written, what was typed kept
    bad = post(me, f"{base}/new", {**FORM, "approval_date": "yesterday", "access_type": "",
                                   "applicant_orcid": ["0000-0002-1825-0098", ""]}, token)
    assert bad.status_code == 422
    assert 'id="f-approval_date-error"' in bad.text and 'id="f-applicants-error"' in bad.text
    assert "Kidney outcomes" in bad.text
    with site.db.sessions() as s:
        assert register.team_entries(site.w.ctx(s, "manager_A"), site.w.teams["A"]) == []
    made = post(me, f"{base}/new", {**FORM, "dataset_dataset_id": [str(site.w.datasets["A1"]), ""],
                                    "dataset_name": ["", ""]}, token)
    assert made.status_code == 303, made.text[:2000]
    url = made.headers["location"].split("?")[0]
    page = me.get(made.headers["location"])
    assert "The draft entry was created" in page.text and 'value="Kidney outcomes"' in page.text
    with site.db.sessions() as s:
        [entry] = register.team_entries(site.w.ctx(s, "manager_A"), site.w.teams["A"])
        data = register.entry_data(s, entry)
    assert [(d.name, d.dataset_id) for d in data.datasets] == [("Alpha cardiovascular cohort", site.w.datasets["A1"])]
    assert data.funders == ["Wellcome", "MRC"] and data.outputs[0].kind == "paper"
    # edit: a stale form is refused with the entry as it is now
    saved = post(me, url, {**FORM, "project_title": "Kidney outcomes after AKI", "row_version": "1"}, token)
    assert saved.status_code == 303
    stale = post(me, url, {**FORM, "project_title": "Lost update", "row_version": "1"}, token)
    assert stale.status_code == 409 and "Someone changed this entry" in stale.text
    # the preview: exactly the public view, with the draft's status said
    preview = me.get(f"{url}/preview")
    assert preview.status_code == 200 and "Kidney outcomes after AKI" in preview.text
    assert "not public" in preview.text and "https://doi.org/10.1000/xyz123" in preview.text
    assert "/researchers/0000-0002-1825-0097" in preview.text
    # publish and withdraw
    current = row_version(me.get(url).text)
    published = post(me, f"{url}/publish", {"row_version": current}, token)
    assert published.status_code == 303 and published.headers["location"].endswith("done=published")
    assert me.get(f"/api/v1/data-uses/{url.rsplit('/', 1)[1]}").status_code == 200
    anonymous = TestClient(site.app)
    assert anonymous.get(f"/api/v1/data-uses/{url.rsplit('/', 1)[1]}").status_code == 200
    listed = me.get(f"{base}?status=published")
    assert "Kidney outcomes after AKI" in listed.text and "Published (1)" in listed.text
    withdrawn = post(me, f"{url}/withdraw", {"row_version": row_version(me.get(url).text)}, token)
    assert withdrawn.status_code == 303
    assert anonymous.get(f"/api/v1/data-uses/{url.rsplit('/', 1)[1]}").status_code == 404


def test_drafts_from_applications_are_flagged_and_checked_before_publishing(site):
    app_id = site.submitted("A1", title="Stroke outcomes")
    site.run("manager_A", app_id, "approve", team="A")
    me = site.browser("manager_A")
    base = f"/workspace/teams/{site.slug['A']}/data-uses"
    listed = me.get(base)
    assert "Waiting for your review: 1 draft from approved applications" in listed.text
    assert "Stroke outcomes" in listed.text and "some required fields are empty" in listed.text
    entry_url = re.search(rf'href="({base}/[0-9a-f-]{{36}})"', listed.text).group(1)
    page = me.get(entry_url)
    assert "Drafted from an approved application" in page.text
    refused = post(me, f"{entry_url}/publish", {"row_version": row_version(page.text)}, csrf(me, entry_url))
    assert refused.status_code == 422 and "complete the entry before publishing it" in refused.text
    assert 'href="#f-lay_summary"' in refused.text


def test_strangers_and_other_custodians_see_nothing(site):
    app_id = site.submitted("A1")
    site.run("manager_A", app_id, "approve", team="A")
    with site.db.sessions() as s:
        [entry] = register.team_entries(site.w.ctx(s, "manager_A"), site.w.teams["A"])
    base = f"/workspace/teams/{site.slug['A']}/data-uses"
    other = site.browser("manager_B")
    assert other.get(base).status_code == 403
    assert other.get(f"{base}/new").status_code == 403
    assert other.get(f"{base}/{entry.id}").status_code == 404
    assert other.get(f"/workspace/teams/{site.slug['B']}/data-uses/{entry.id}").status_code == 404
    assert site.browser("manager_A").get(f"{base}/upload").status_code != 422  # left to the upload pages


def test_requests_received_page(site):
    site.submitted("A1", "B1")
    page = site.browser("stranger").get("/access-requests/received")
    assert page.status_code == 200
    assert "Alpha Health Data" in page.text and "Beta Biobank" in page.text
    assert site.browser("stranger").get("/access-requests/received?start=nope").status_code == 422

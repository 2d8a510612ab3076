"""The dataset page's terms-of-access box, the basket and enquiries, as a researcher's browser meets them, on
both databases."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from healthgate.access import messages
from healthgate.access import service as access
from healthgate.access.models import Enquiry
from healthgate.audit.models import AuditEvent
from tests.access.applicant.conftest import app_id_of


def test_dataset_page_states_terms_and_sends_anonymous_people_to_sign_in(site):
    w = site.world
    a1 = w.datasets["A1"]
    page = site.browser(None).get(f"/datasets/{a1}")
    assert page.status_code == 200
    box = re.search(r'<section aria-labelledby="access-h".*?</section>', page.text, re.DOTALL).group(0)
    assert "Terms of access" in box and "not enough requests yet" in box and "Cost" in box
    assert f"/login?next=/enquiries/new%3Fdataset%3D{a1}" in box
    assert f"/login?next=/datasets/{a1}" in box and "Request access" in box and "Add to basket" in box
    assert "Basket" not in page.text.split("<main")[0]  # no basket link in the header for anonymous people
    me = site.browser("applicant").get(f"/datasets/{a1}")
    assert f'href="/enquiries/new?dataset={a1}"' in me.text and 'action="/applications"' in me.text
    assert 'action="/basket"' in me.text
    assert 'href="/basket"' in me.text and 'class="count-badge">0<' in me.text
    # anonymous form posts and pages go to sign in and come back
    anon = site.browser(None)
    r = anon.post("/basket", {"dataset": str(a1), "next": f"/datasets/{a1}"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/login?next=%2Fdatasets%2F{a1}")
    for path in ("/basket", "/enquiries", "/applications", f"/enquiries/new?dataset={a1}"):
        r = anon.get(path)
        assert r.status_code == 303 and "/login?next=" in r.headers["location"], path


def test_dataset_page_measured_time_to_decision(site, monkeypatch):
    from healthgate.access import terms

    monkeypatch.setattr(terms, "terms_of_access", lambda ctx, ds: terms.Terms(
        cost="Free for academic use", lead_time="3 months", decisions=12, median_days=21.0, p90_days=48.5))
    page = site.browser(None).get(f"/datasets/{site.world.datasets['A1']}")
    assert "Free for academic use" in page.text and "3 months" in page.text
    assert "median 21 working days" in page.text and "90% decided within 48.5" in page.text
    assert "12 decisions in the last 12 months" in page.text


def test_basket_to_one_application_across_custodians(site, db):
    w = site.world
    me = site.browser("applicant")
    for key in ("A1", "A2", "B1"):
        w.clock.advance(seconds=1)  # the basket keeps the order datasets were added in
        r = me.post("/basket", {"dataset": str(w.datasets[key]), "next": f"/datasets/{w.datasets[key]}"})
        assert r.status_code == 303 and r.headers["location"].endswith(f"/datasets/{w.datasets[key]}")
    again = me.post("/basket", {"dataset": str(w.datasets["A1"])})  # already there: nothing changes
    assert again.status_code == 303
    page = me.get(f"/datasets/{w.datasets['A1']}")
    assert "In your basket" in page.text and 'class="count-badge">3<' in page.text
    basket = me.get("/basket")
    assert basket.status_code == 200
    assert basket.text.index("Alpha Health Data") < basket.text.index("Beta Biobank")  # grouped by custodian
    assert "Alpha cardiovascular cohort" in basket.text and "Beta genomes" in basket.text
    r = me.post("/basket/remove", {"dataset": str(w.datasets["A2"])})
    assert r.status_code == 303 and "Alpha renal registry" not in me.get("/basket").text
    # a non-public dataset is refused by name
    r = me.post("/basket", {"dataset": "00000000-0000-0000-0000-000000000000"})
    assert r.status_code == 422
    r = me.post("/basket/apply", {"title": "Hearts and genomes"})
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?done=created")
    app_id = app_id_of(r.headers["location"])
    edit = me.get(f"/applications/{app_id}/edit?done=created")
    assert edit.status_code == 200 and "Hearts and genomes" in edit.text
    assert "Alpha cardiovascular cohort" in edit.text and "Beta genomes" in edit.text
    assert "Your basket is empty" in me.get("/basket").text
    assert 'class="count-badge">0<' in me.get("/basket").text
    # an empty basket cannot be applied for
    r = me.post("/basket/apply", {"title": "Nothing"})
    assert r.status_code == 422 and "add datasets to your basket first" in r.text
    with db.sessions.begin() as s:
        state = access.load_state(w.ctx(s, "applicant"), uuid.UUID(app_id))
        assert [d for d, _ in state.datasets] == [w.datasets["A1"], w.datasets["B1"]]
        assert set(state.teams) == {w.teams["A"], w.teams["B"]}
        done = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("basket.%"))))
        assert done.count("basket.item_added") == 3 and "basket.item_removed" in done and "basket.cleared" in done
    listing = me.get("/applications")
    assert "Hearts and genomes" in listing.text and "draft" in listing.text
    # clearing by hand
    me.post("/basket", {"dataset": str(w.datasets["B1"])})
    assert me.post("/basket/clear").status_code == 303
    assert "Your basket is empty" in me.get("/basket").text


def test_request_access_starts_a_draft_for_one_dataset(site):
    me = site.browser("applicant")
    r = me.post("/applications", {"dataset": str(site.world.datasets["B1"])})
    assert r.status_code == 303
    page = me.get(f"/applications/{app_id_of(r.headers['location'])}")
    assert page.status_code == 200 and "Beta genomes" in page.text and "Not submitted yet." in page.text


def test_enquiry_to_application(site, db):
    w = site.world
    me = site.browser("applicant")
    url = f"/enquiries/new?dataset={w.datasets['A1']}&dataset={w.datasets['B1']}"
    form = me.get(url)
    assert form.status_code == 200 and "Alpha cardiovascular cohort" in form.text and "Beta genomes" in form.text
    fields = {"dataset": [str(w.datasets["A1"]), str(w.datasets["B1"])], "kind": "feasibility"}
    r = me.post("/enquiries", {**fields, "subject": "", "body": ""})
    assert r.status_code == 422
    assert 'href="#f-subject"' in r.text and 'href="#f-body"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="feasibility" checked' in r.text  # what was typed stays
    r = me.post("/enquiries", {**fields, "subject": "Cardiac outcomes by genotype",
                               "body": "Do you hold echo data for the genotyped participants?"})
    assert r.status_code == 303
    enquiry_id = re.search(r"/enquiries/([0-9a-f-]{36})", r.headers["location"]).group(1)
    page = me.get(f"/enquiries/{enquiry_id}?done=opened")
    assert page.status_code == 200 and page.text.count('class="thread"') == 2
    assert "Do you hold echo data" in page.text and "Feasibility question" in page.text
    # a custodian answers in its own thread; the applicant replies to that one
    with db.sessions.begin() as s:
        messages.post(w.ctx(s, "manager_A"), "enquiry", uuid.UUID(enquiry_id), "Yes, for about 4,000 of them.")
    r = me.post(f"/enquiries/{enquiry_id}/messages", {"team_id": str(w.teams["A"]), "body": ""})
    assert r.status_code == 422 and f'href="#f-body-{w.teams["A"]}"' in r.text
    r = me.post(f"/enquiries/{enquiry_id}/messages", {"team_id": str(w.teams["A"]), "body": "Thanks: which years?"})
    assert r.status_code == 303
    page = me.get(f"/enquiries/{enquiry_id}")
    assert "Yes, for about 4,000 of them." in page.text and "Thanks: which years?" in page.text
    with db.sessions.begin() as s:
        seen_by_b = [m.body for m in messages.visible(w.ctx(s, "manager_B"), "enquiry", uuid.UUID(enquiry_id))]
        assert "Thanks: which years?" not in seen_by_b and "Yes, for about 4,000 of them." not in seen_by_b
    assert "Cardiac outcomes by genotype" in me.get("/enquiries").text
    assert site.browser("stranger").get(f"/enquiries/{enquiry_id}").status_code == 404
    assert site.browser("manager_A").get(f"/enquiries/{enquiry_id}").status_code == 404  # custodians: their pages
    # turn it into an application, once
    r = me.post(f"/enquiries/{enquiry_id}/application")
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?done=created")
    app_id = app_id_of(r.headers["location"])
    edit = me.get(f"/applications/{app_id}/edit")
    assert "Cardiac outcomes by genotype" in edit.text
    r = me.post(f"/enquiries/{enquiry_id}/application")
    assert r.status_code == 303 and r.headers["location"].endswith(f"/applications/{app_id}")
    assert f'href="/applications/{app_id}"' in me.get(f"/enquiries/{enquiry_id}").text
    with db.sessions.begin() as s:
        assert str(s.get(Enquiry, uuid.UUID(enquiry_id)).application_id) == app_id

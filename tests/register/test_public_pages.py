"""The public register's pages: search with facets, the entry page, and the dataset page's "How this dataset has
been used". Drafts and withdrawn entries never appear on any of them."""

from __future__ import annotations

import json
import re

from healthgate.register import service as register
from tests.register import public_world as pw
from tests.register.public_world import public  # noqa: F401  (fixture)


def test_search_page_shows_results_facets_and_filters(public):  # noqa: F811
    client, _r = public
    page = client.get("/data-uses")
    assert page.status_code == 200
    html = page.text
    assert "3 data uses" in html
    for title in ("Heart failure after COVID-19", "Kidney disease progression", "Genetics of asthma"):
        assert title in html
    assert "zebra" not in html.lower()
    assert 'name="custodian" value="Alpha Health Data"' in html
    assert "(e) Public task <span class=\"count\">(2)</span>" in html
    assert f'href="/organisations/{pw.EXETER_ROR}">University of Exeter</a>' in html
    filtered = client.get("/data-uses", params=[("access_type", "Release")]).text
    assert "1 data use<" in filtered and "Kidney disease progression" in filtered
    ranged = client.get("/data-uses", params={"approved_to": "2023"}).text
    assert "Genetics of asthma" in ranged and "Kidney disease progression" not in ranged
    odd = client.get("/data-uses", params={"approved_from": "soon", "page": "x", "sort": "nope"})
    assert odd.status_code == 200 and "is not a date" in odd.text and "unknown sort" in odd.text
    empty_fields = client.get("/data-uses?q=asthma&approved_from=&approved_to=", follow_redirects=False)
    assert empty_fields.status_code == 303 and empty_fields.headers["location"] == "/data-uses?q=asthma"


def test_entry_page_groups_fields_and_links_everything(public):  # noqa: F811
    client, r = public
    page = client.get(f"/data-uses/{r.entries['heart']}")
    assert page.status_code == 200
    html = page.text
    for group in ("Safe People", "Safe Project", "Safe Data", "Safe Setting", "Safe Outputs"):
        assert f">{group}</h2>" in html
    assert f'href="/datasets/{r.w.datasets["A1"]}"' in html
    assert f'href="/organisations/{pw.EXETER_ROR}"' in html and f'href="/researchers/{pw.ADA}"' in html
    assert 'href="https://ror.org/' in html and 'href="https://orcid.org/' in html
    assert 'href="/researchers/' in html
    assert 'href="https://doi.org/10.1000/heart.1"' in html and "https://github.com/ex/heart" in html
    assert "Alpha Health Data" in html and "Wellcome Trust" in html
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL).group(1))
    assert ld["@type"] == "ResearchProject" and ld["name"] == "Heart failure after COVID-19"
    assert ld["member"][0]["sameAs"].startswith("https://orcid.org/")
    assert ld["subjectOf"][0] == {"@type": "ScholarlyArticle", "url": "https://doi.org/10.1000/heart.1",
                                  "identifier": "https://doi.org/10.1000/heart.1"}


def test_drafts_and_withdrawn_entries_have_no_page(public):  # noqa: F811
    client, r = public
    for key in ("secret_draft", "gone"):
        assert client.get(f"/data-uses/{r.entries[key]}").status_code == 404
    assert client.get("/data-uses/not-a-uuid").status_code == 404


def test_dataset_page_lists_its_published_uses(public):  # noqa: F811
    client, r = public
    html = client.get(f"/datasets/{r.w.datasets['A1']}").text
    assert "How this dataset has been used" in html
    section = html[html.index("How this dataset has been used"):]
    assert "Heart failure after COVID-19" in section and "Kidney disease progression" in section
    assert "Genetics of asthma" not in section and "zebra" not in section.lower()  # B1's, a draft, withdrawn
    b1 = client.get(f"/datasets/{r.w.datasets['B1']}").text
    section = b1[b1.index("How this dataset has been used"):]
    assert "Genetics of asthma" in section and "Withdrawn project zebra" not in section
    a2 = client.get(f"/datasets/{r.w.datasets['A2']}").text
    assert "1 published project" in a2


def test_withdrawing_removes_an_entry_from_every_page(public):  # noqa: F811
    client, r = public
    sessions = client.app.state.sessions
    with sessions.begin() as s:
        register.withdraw(r.w.ctx(s, "manager_A"), r.entries["kidney"])
    assert client.get(f"/data-uses/{r.entries['kidney']}").status_code == 404
    assert "Kidney disease progression" not in client.get("/data-uses").text
    assert "Kidney disease progression" not in client.get(f"/datasets/{r.w.datasets['A2']}").text
    assert client.get("/api/v1/data-uses", params={"q": "kidney"}).json()["total"] == 0

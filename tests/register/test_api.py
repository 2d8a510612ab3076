"""The custodian's register API: list and create per team, read (public once published), replace with If-Match or
row_version, publish and withdraw; and the public count of access requests received."""

from __future__ import annotations

from datetime import timedelta

from tests.access.test_api import api  # noqa: F401  (the fixture: an app, a world, a token per person)

ENTRY = {
    "organisation_name": "University of Exeter", "project_title": "Heart failure after COVID-19",
    "lay_summary": "We look at who develops heart failure.", "public_benefit": "Better follow-up care.",
    "approval_date": "2025-03-01", "access_type": "tre", "project_id": "P-1",
    "datasets": [{"name": "Alpha cardiovascular cohort"}, {"name": "A dataset outside the catalogue"}],
    "applicants": [{"name": "Ada Lovelace", "orcid": "https://orcid.org/0000-0002-1825-0097"}],
    "funders": ["Wellcome"], "legal_basis": "(e)", "outputs": [{"url": "doi:10.1000/xyz123"}],
}


def test_create_read_update_publish_withdraw(api):  # noqa: F811
    w = api.w
    body = {**ENTRY, "datasets": [{"name": "Alpha cardiovascular cohort", "dataset_id": str(w.datasets["A1"])}]}
    made = api.call("manager_A", "POST", f"/api/v1/teams/{w.teams['A']}/data-uses", body)
    assert made.status_code == 201, made.text
    entry = made.json()
    assert made.headers["etag"] == '"r1"' and made.headers["location"].endswith(f"/api/v1/data-uses/{entry['id']}")
    assert entry["status"] == "draft" and entry["access_type"] == "TRE" and entry["custodian"]["name"] == "Alpha Health Data"
    assert entry["outputs"] == [{"kind": "paper", "url": "https://doi.org/10.1000/xyz123", "doi": "10.1000/xyz123",
                                 "title": None}]
    url = f"/api/v1/data-uses/{entry['id']}"
    # a draft: 404 for the public and another custodian, readable by its team
    assert api.call("anonymous", "GET", url).status_code == 404
    assert api.call("manager_B", "GET", url).status_code == 404
    assert api.call("manager_A", "GET", url).json()["project_id"] == "P-1"
    # the team's list, filtered
    listed = api.call("manager_A", "GET", f"/api/v1/teams/{w.teams['A']}/data-uses?status=draft").json()
    assert [i["id"] for i in listed["items"]] == [entry["id"]] and listed["items"][0]["complete"] is True
    assert api.call("manager_A", "GET", f"/api/v1/teams/{w.teams['A']}/data-uses?status=published").json()[
        "total"] == 0
    assert api.call("manager_B", "GET", f"/api/v1/teams/{w.teams['A']}/data-uses").status_code == 403
    # replace: If-Match stale -> 412, row_version stale -> 409, current -> 200
    changed = {**body, "lay_summary": "A clearer summary."}
    assert api.call("manager_A", "PUT", url, changed, **{"If-Match": '"r7"'}).status_code == 412
    assert api.call("manager_A", "PUT", url, {**changed, "row_version": 7}).status_code == 409
    put = api.call("manager_A", "PUT", url, changed, **{"If-Match": '"r1"'})
    assert put.status_code == 200 and put.headers["etag"] == '"r2"' and put.json()["lay_summary"] == "A clearer summary."
    # publish: public now
    assert api.call("manager_A", "POST", f"{url}/publish", **{"If-Match": '"r1"'}).status_code == 412
    published = api.call("manager_A", "POST", f"{url}/publish?row_version=2")
    assert published.status_code == 200 and published.json()["status"] == "published"
    public = api.call("anonymous", "GET", url)
    assert public.status_code == 200 and public.json()["application_id"] is None
    assert api.call("anonymous", "GET", url, **{"If-None-Match": public.headers["etag"]}).status_code == 304
    assert api.call("manager_A", "POST", f"{url}/publish").status_code == 409  # already published
    assert api.call("manager_B", "POST", f"{url}/withdraw").status_code == 403
    assert api.call("anonymous", "POST", f"{url}/withdraw").status_code == 401
    assert api.call("manager_A", "POST", f"{url}/withdraw").json()["status"] == "withdrawn"
    assert api.call("anonymous", "GET", url).status_code == 404


def test_bad_input_names_every_field(api):  # noqa: F811
    w = api.w
    blank = api.call("manager_A", "POST", f"/api/v1/teams/{w.teams['A']}/data-uses", {**ENTRY, "project_title": " "})
    assert blank.status_code == 422 and [e["path"] for e in blank.json()["errors"]] == ["$.project_title"]
    bad = {**ENTRY, "project_start": "2025-02-01", "project_end": "2025-01-01", "access_type": "Download", "legal_basis": "(z)",
           "applicants": [{"name": "A", "orcid": "0000-0002-1825-0098"}], "organisation_ror": "012345678"}
    answer = api.call("manager_A", "POST", f"/api/v1/teams/{w.teams['A']}/data-uses", bad)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert sorted(e["path"] for e in answer.json()["errors"]) == [
        "access_type", "applicants[0].orcid", "legal_basis", "organisation_ror", "project_end"]
    nul = api.call("manager_A", "POST", f"/api/v1/teams/{w.teams['A']}/data-uses", {**ENTRY, "lay_summary": "a\x00b"})
    assert nul.status_code == 422
    assert api.call("manager_A", "POST", f"/api/v1/teams/{w.teams['A']}/data-uses", {**ENTRY, "extra": 1}
                    ).status_code == 422
    assert api.call("manager_A", "POST", "/api/v1/teams/no-such-team/data-uses", ENTRY).status_code == 404
    api.call("manager_A", "POST", f"/api/v1/teams/{w.teams['A']}/data-uses", ENTRY)
    assert api.call("manager_A", "POST", f"/api/v1/teams/{w.teams['A']}/data-uses", ENTRY).status_code == 409


def test_requests_received_by_custodian_and_quarter(api, clock):  # noqa: F811
    w = api.w
    first = api.create("A1", "B1")  # both custodians receive it when it is submitted
    api.command("applicant", first["id"], "submit")
    clock.advance(days=100)  # the next quarter
    second = api.create("A2")
    api.command("applicant", second["id"], "submit")
    api.command("manager_A", second["id"], "approve", {"team_id": str(w.teams["A"])})
    api.create("B1")  # a draft is not a request received
    got = api.call("anonymous", "GET", "/api/v1/access-requests/received")
    assert got.status_code == 200, got.text
    counts = got.json()
    q1, q2 = counts["quarters"]
    by_name = {c["custodian"]["name"]: c for c in counts["custodians"]}
    assert [(q["received"], q["approved"]) for q in by_name["Alpha Health Data"]["quarters"]] == [(1, 0), (1, 1)]
    assert [(q["received"], q["approved"]) for q in by_name["Beta Biobank"]["quarters"]] == [(1, 0), (0, 0)]
    assert [(q["quarter"], q["received"]) for q in counts["totals"]] == [(q1, 1), (q2, 1)]
    only_b = api.call("anonymous", "GET", "/api/v1/access-requests/received?custodian=beta-biobank").json()
    assert [c["custodian"]["name"] for c in only_b["custodians"]] == ["Beta Biobank"]
    later = (clock.now() - timedelta(days=5)).date().isoformat()
    assert api.call("anonymous", "GET", f"/api/v1/access-requests/received?start={later}").json()["quarters"] == [q2]
    assert api.call("anonymous", "GET", "/api/v1/access-requests/received?start=2026-01-01&end=2025-01-01"
                    ).status_code == 422
    assert api.call("anonymous", "GET", "/api/v1/access-requests/received?start=0001-01-01&end=9999-01-01"
                    ).status_code == 422

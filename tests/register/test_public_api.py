"""GET /api/v1/data-uses: faceted search of published entries, strict parameters, paging with links."""

from __future__ import annotations

from tests.register.public_world import public  # noqa: F401  (fixture)

API = "/api/v1/data-uses"


def test_lists_published_entries_with_facets(public):  # noqa: F811
    client, r = public
    answer = client.get(API)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == 3 and body["sort"] == "approved"
    assert [i["title"] for i in body["items"]] == [
        "Heart failure after COVID-19", "Kidney disease progression", "Genetics of asthma"]
    heart = body["items"][0]
    assert heart["url"].endswith(f"/data-uses/{r.entries['heart']}")
    assert heart["organisation_url"].endswith(f"/organisations/{heart['organisation_ror']}")
    assert heart["datasets"][0]["url"].endswith(f"/datasets/{r.w.datasets['A1']}")
    assert heart["approval_date"] == "2025-03-01" and heart["custodian"] == "Alpha Health Data"
    counts = {k: {v["value"]: v["count"] for v in vs} for k, vs in body["facets"].items()}
    assert counts["custodian"] == {"Alpha Health Data": 2, "Beta Biobank": 1}
    assert counts["access_type"] == {"TRE": 2, "Release": 1}
    assert set(body["facets"]) == {"custodian", "organisation", "sector", "dataset", "access_type", "legal_basis"}


def test_filters_and_range_combine(public):  # noqa: F811
    client, _ = public
    body = client.get(API, params=[("custodian", "Alpha Health Data"), ("custodian", "Beta Biobank"),
                                   ("access_type", "TRE"), ("approved_from", "2024"),
                                   ("approved_to", "2025-03")]).json()
    assert [i["title"] for i in body["items"]] == ["Heart failure after COVID-19"]
    custodian = {v["value"]: (v["count"], v["selected"]) for v in body["facets"]["custodian"]}
    assert custodian == {"Alpha Health Data": (1, True), "Beta Biobank": (0, True)}


def test_drafts_and_withdrawn_entries_never_show(public):  # noqa: F811
    client, _ = public
    body = client.get(API, params={"q": "zebra"}).json()
    assert body["total"] == 0 and body["items"] == []
    everything = client.get(API, params={"per_page": 100}).json()
    assert all("zebra" not in i["title"].lower() for i in everything["items"])
    assert "(a) Consent" not in {v["value"] for v in everything["facets"]["legal_basis"]}


def test_paging_links(public):  # noqa: F811
    client, _ = public
    first = client.get(API, params={"per_page": 2})
    body = first.json()
    assert body["prev"] is None and "page=2" in body["next"] and 'rel="next"' in first.headers["link"]
    second = client.get(body["next"]).json()
    assert second["next"] is None and "page=1" in second["prev"]
    ids = [i["id"] for i in body["items"]] + [i["id"] for i in second["items"]]
    assert len(set(ids)) == 3


def test_bad_parameters_are_named(public):  # noqa: F811
    client, _ = public
    for params, where in (({"approved_from": "March"}, "approved_from"), ({"sort": "quality"}, "sort"),
                          ({"page": "0"}, "page"), ({"per_page": "1000"}, "per_page"),
                          ({"approved_to": "2024-13"}, "approved_to")):
        answer = client.get(API, params=params)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert any(where in e["path"] for e in answer.json()["errors"]), answer.json()


def test_odd_values_are_answered_not_refused(public):  # noqa: F811
    client, _ = public
    body = client.get(API, params={"q": "'; DROP TABLE register_entries; --", "dataset": "No such dataset"}).json()
    assert body["total"] == 0 and body["notes"]


def test_date_from_and_date_to_are_aliases(public):  # noqa: F811
    client, _ = public
    body = client.get(API, params={"date_from": "2024-06", "date_to": "2024-06"}).json()
    assert [i["title"] for i in body["items"]] == ["Kidney disease progression"]
    assert client.get(API, params={"date_to": "June"}).status_code == 422

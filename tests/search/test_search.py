"""Search through the service layer and the HTTP API, on both databases."""

from __future__ import annotations

import copy
import uuid

import pytest
from fastapi.testclient import TestClient

from healthgate.app import create_app
from healthgate.catalogue import service
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM
from healthgate.search.engine import Filters, search, similar
from tests.conftest import load_fixture

DATASETS = [
    # title, abstract, keywords, team, group, population, start, end, geography
    ("Myocardial Infarction National Audit", "Every heart attack admitted to hospitals in England and Wales.",
     ["cardiology", "audit"], "HQIP", "ALLIANCE", 1_200_000, "2000-01-01", "2020-12-31", "England, Wales"),
    ("Welsh Paediatric Asthma Cohort", "Children with asthma in primary care across Wales.",
     ["asthma", "children"], "SAIL", "ALLIANCE", 45_000, "2010-01-01", "2015-12-31", "Wales"),
    ("Type 2 Diabetes Prescribing", "Prescriptions for people with type 2 diabetes in general practice.",
     ["diabetes", "prescribing"], "SAIL", "ALLIANCE", None, "2018-01-01", None, "Wales"),
    ("Emergency Department Attendances", "All A&E attendances at Scottish hospitals, with waiting times.",
     ["emergency", "urgent care"], "Public Health Scotland", "HUB", 5_000_000, "2016-01-01", "2022-12-31",
     "Scotland"),
    ("COVID-19 Vaccination Status", "Vaccination records for SARS-CoV-2 across England.",
     ["covid", "vaccination"], "NHS Digital", "ALLIANCE", 50_000_000, "2020-12-01", "2023-03-31", "England"),
    ("Pediatric Intensive Care Audit", "Admissions of children to paediatric intensive care units.",
     ["critical care", "children"], "HQIP", "ALLIANCE", 20_000, "2002-01-01", "2021-12-31", "England"),
]


def _doc(i: int, title, abstract, keywords, population, start, end, geography, custodian: str | None = None):
    doc = copy.deepcopy(load_fixture("hdruk-4.0.0-minimal.json"))
    if custodian:  # the custodian the document names is the one search shows and counts
        doc["summary"]["dataCustodian"]["name"] = custodian
    doc["identifier"] = str(uuid.UUID(int=i + 1))
    doc["summary"].update(title=title, abstract=abstract, keywords=keywords,
                          populationSize=population if population is not None else -1)
    temporal = doc["provenance"]["temporal"]
    temporal["startDate"] = start
    if end:
        temporal["endDate"] = end
    doc["coverage"] = {"spatial": geography}
    return doc


@pytest.fixture
def catalogue(db, clock):
    ids = []
    with db.sessions.begin() as s:
        for i, (title, abstract, kw, team, group, pop, start, end, geo) in enumerate(DATASETS):
            t = identity.get_or_create_team(Context(s, SYSTEM, clock), team, member_group=group)
            ds, _ = service.create_draft(Context(s, SYSTEM, clock), t.id, _doc(i, title, abstract, kw, pop, start, end, geo, team))
            service.publish(Context(s, SYSTEM, clock), ds.id)
            ids.append(ds.id)
            clock.advance(hours=1)
    return ids


def titles(result) -> list[str]:
    return [h.title for h in result.items]


def test_ranking_synonyms_spellings_and_syntax(db, catalogue):
    with db.sessions() as s:
        assert titles(search(s, "heart attack"))[0] == "Myocardial Infarction National Audit"
        assert titles(search(s, "myocardial infarction"))[0] == "Myocardial Infarction National Audit"
        assert titles(search(s, "T2DM"))[0] == "Type 2 Diabetes Prescribing"
        assert titles(search(s, "A&E"))[0] == "Emergency Department Attendances"
        assert titles(search(s, "sars-cov-2"))[0] == "COVID-19 Vaccination Status"
        assert titles(search(s, "covid"))[0] == "COVID-19 Vaccination Status"
        both = set(titles(search(s, "pediatric")))
        assert {"Welsh Paediatric Asthma Cohort", "Pediatric Intensive Care Audit"} <= both
        assert set(titles(search(s, "paediatric"))) == both
        assert titles(search(s, "attendance"))[0] == "Emergency Department Attendances"  # plural / stem
        assert titles(search(s, "diab"))[0] == "Type 2 Diabetes Prescribing"  # type-ahead prefix
        assert search(s, "diab ").total == 0  # a finished word is not a prefix
        assert titles(search(s, '"intensive care"')) == ["Pediatric Intensive Care Audit"]
        assert "Pediatric Intensive Care Audit" not in titles(search(s, "children -intensive"))
        assert set(titles(search(s, "asthma OR diabetes"))) == {"Welsh Paediatric Asthma Cohort",
                                                                 "Type 2 Diabetes Prescribing"}
        r = search(s, "asthma")
        assert r.items[0].snippet.count("<mark>") >= 1
        # a title match outranks a mention in the abstract
        assert titles(search(s, "children"))[0] in {"Welsh Paediatric Asthma Cohort", "Pediatric Intensive Care Audit"}


def test_empty_query_lists_everything_and_sorts(db, catalogue):
    with db.sessions() as s:
        r = search(s, "")
        assert r.total == len(DATASETS) and r.sort == "updated"
        assert titles(r)[0] == DATASETS[-1][0]  # most recently published first
        assert titles(search(s, "", sort="title")) == sorted(d[0] for d in DATASETS)
        page = search(s, "", sort="title", page=2, per_page=4)
        assert titles(page) == sorted(d[0] for d in DATASETS)[4:]


def test_facets_are_multi_select(db, catalogue):
    with db.sessions() as s:
        r = search(s, "", Filters({"custodian": ["SAIL"]}))
        assert r.total == 2
        custodians = {f["value"]: f for f in r.facets["custodian"]}
        # the custodian facet ignores its own selection, so other custodians keep their counts
        assert custodians["SAIL"] == {"value": "SAIL", "count": 2, "selected": True}
        assert custodians["HQIP"]["count"] == 2 and not custodians["HQIP"]["selected"]
        # other facets count within the selection
        groups = {f["value"]: f["count"] for f in r.facets["member_group"]}
        assert groups == {"ALLIANCE": 2}
        r = search(s, "", Filters({"custodian": ["SAIL", "HQIP"], "member_group": ["ALLIANCE"]}))
        assert r.total == 4
        r = search(s, "", Filters({"population": ["unreported"]}))
        assert titles(r) == ["Type 2 Diabetes Prescribing"]
        assert {f["value"] for f in search(s, "").facets["population"]} >= {"10,000,000+", "unreported"}
        geo = {f["value"]: f["count"] for f in search(s, "").facets["geography"]}
        assert geo["Wales"] == 3 and geo["England"] == 3
        r = search(s, "", Filters({"custodian": ["Nobody"]}))
        assert r.total == 0 and any("Nobody" in n for n in r.notes)


def test_date_range_overlap(db, catalogue):
    with db.sessions() as s:
        import datetime as dt

        r = search(s, "", Filters(date_from=dt.date(2019, 1, 1), date_to=dt.date(2019, 12, 31)))
        # 2000-2020, 2018-(open), 2016-2022, 2002-2021 overlap 2019; 2010-2015 and 2020-2023 do not
        assert set(titles(r)) == {"Myocardial Infarction National Audit", "Type 2 Diabetes Prescribing",
                                  "Emergency Department Attendances", "Pediatric Intensive Care Audit"}


def test_index_follows_publish_archive_and_new_versions(db, clock, catalogue):
    with db.sessions() as s:
        assert search(s, "asthma").total == 1
    with db.sessions.begin() as s:
        service.archive(Context(s, SYSTEM, clock), catalogue[1])
    with db.sessions() as s:
        assert search(s, "asthma").total == 0
        assert search(s, "").total == len(DATASETS) - 1
        assert {f["value"]: f["count"] for f in search(s, "").facets["custodian"]}["SAIL"] == 1
    with db.sessions.begin() as s:
        service.unarchive(Context(s, SYSTEM, clock), catalogue[1])
        doc = _doc(1, "Welsh Childhood Wheeze Cohort", "Children with wheeze.", ["wheeze"], 45_000,
                   "2010-01-01", "2015-12-31", "Wales")
        service.update_draft(Context(s, SYSTEM, clock), catalogue[1], doc)
        service.publish(Context(s, SYSTEM, clock), catalogue[1])
        # a draft of another dataset is never public
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), "SAIL", member_group="ALLIANCE")
        service.create_draft(Context(s, SYSTEM, clock), team.id, _doc(99, "Secret Draft Asthma", "Draft only.", [], 1,
                                                       "2010-01-01", None, "Wales"))
    with db.sessions() as s:
        assert search(s, "asthma").total == 0
        assert titles(search(s, "wheeze")) == ["Welsh Childhood Wheeze Cohort"]
        assert search(s, "secret").total == 0


def test_another_process_sees_changes(db, clock, catalogue):
    """Two engines stand for two server processes: each keeps its own facet index, both stay current."""
    other = make_engine(db.url)
    other_sessions = make_sessionmaker(other)
    try:
        with other_sessions() as s:
            assert search(s, "").total == len(DATASETS)
        with db.sessions.begin() as s:
            service.archive(Context(s, SYSTEM, clock), catalogue[0])
        with other_sessions() as s:
            r = search(s, "")
            assert r.total == len(DATASETS) - 1
            assert {f["value"]: f["count"] for f in r.facets["custodian"]}["HQIP"] == 1
    finally:
        other.dispose()


def test_similar(db, catalogue):
    with db.sessions() as s:
        got = [h.title for h in similar(s, catalogue[1])]
        assert "Welsh Paediatric Asthma Cohort" not in got
        assert got and got[0] == "Pediatric Intensive Care Audit"  # shares "children"


@pytest.fixture
def client(db, clock, tmp_path, catalogue):
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)
    with TestClient(app) as c:
        yield c


NASTY = ['"unbalanced', "NEAR(a b)", "*", "^title", "title:asthma", "asthma' OR 1=1 --", "'; DROP TABLE datasets;",
         "x" * 10_000, "🙂🙂 ünïcödé", "-", "OR", "OR OR", '"" ""', "a AND NOT b", "\\", "%_%", "\x00", "-asthma",
         "((((", "asthma*", " ", "NOT", "AND", "title:", "{}[]"]


@pytest.mark.parametrize("q", NASTY)
def test_any_query_string_is_answered(client, q):
    r = client.get("/api/v1/search/datasets", params={"q": q})
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body["items"], list) and body["total"] >= 0
    assert client.get("/search", params={"q": q}).status_code == 200


def test_search_api_shape_and_odd_parameters(client):
    body = client.get("/api/v1/search/datasets?q=asthma&custodian=SAIL&sort=relevance").json()
    assert body["total"] == 1 and body["page"] == 1
    item = body["items"][0]
    assert set(item) >= {"id", "title", "custodian", "snippet", "score"} and "<mark>" in item["snippet"]
    assert {"value": "SAIL", "count": 1, "selected": True} in body["facets"]["custodian"]
    far = client.get("/api/v1/search/datasets?page=1000000000").json()
    assert far["items"] == [] and far["notes"]
    big = client.get("/api/v1/search/datasets?per_page=1000000")
    assert big.status_code == 422 and big.json()["errors"][0]["path"] == "query.per_page"
    odd = client.get("/api/v1/search/datasets?page=abc&per_page=-5&sort=nonsense&date_from=yesterday")
    assert odd.status_code == 422, odd.text  # the API refuses what the HTML page reads leniently
    assert {e["path"] for e in odd.json()["errors"]} == {"query.page", "query.per_page", "query.sort",
                                                         "query.date_from"}
    assert client.get("/search?page=abc&per_page=-5&sort=nonsense&date_from=yesterday").status_code == 200
    empty = client.get("/api/v1/search/datasets?keyword=&custodian=Unknown").json()
    assert empty["total"] == 0 and empty["notes"]


def test_escaping(db, clock, client):
    with db.sessions.begin() as s:
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), "Evil", member_group=None)
        ds, _ = service.create_draft(Context(s, SYSTEM, clock), team.id, _doc(50, "<script>alert(1)</script> asthma",
                                     "<img src=x onerror=alert(1)> asthma", [], 5, "2010-01-01", None, "Wales"))
        service.publish(Context(s, SYSTEM, clock), ds.id)
    body = client.get("/api/v1/search/datasets?q=alert").json()
    assert "<script>" not in body["items"][0]["snippet"] and "<img" not in body["items"][0]["snippet"]
    page = client.get("/search?q=alert").text
    assert "<script>alert" not in page and "<img src=x" not in page


def test_search_page_and_home(client):
    page = client.get("/search?q=asthma&custodian=SAIL").text
    assert "Welsh Paediatric Asthma Cohort" in page and 'aria-label="Remove filter Data custodian: SAIL"' in page
    assert 'name="custodian" value="SAIL" checked' in page
    home = client.get("/").text
    assert 'role="search"' in home and f"<strong>{len(DATASETS)}</strong> datasets" in home


def test_similar_api(client, catalogue):
    r = client.get(f"/api/v1/datasets/{catalogue[1]}/similar")
    assert r.status_code == 200 and r.json()["items"]
    assert client.get(f"/api/v1/datasets/{uuid.uuid4()}/similar").status_code == 404


def test_accented_words_are_found_either_way(db, clock):
    with db.sessions.begin() as s:
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), "Rheum", member_group=None)
        ds, _ = service.create_draft(Context(s, SYSTEM, clock), team.id, _doc(70, "Sjögren syndrome cohort", "Dry eyes and mouth.",
                                     [], 300, "2010-01-01", None, "Sweden"))
        service.publish(Context(s, SYSTEM, clock), ds.id)
    with db.sessions() as s:
        assert titles(search(s, "Sjögren")) == ["Sjögren syndrome cohort"]
        found = search(s, "sjogren syndrome")
        assert titles(found) == ["Sjögren syndrome cohort"] and not found.notes  # a full match, not a fallback


def test_api_hits_say_why_they_matched_and_carry_the_record_dates(db, clock, tmp_path):
    doc = load_fixture("hdruk-4.0.0-full.json")
    keyword = doc["summary"]["keywords"][0]
    with db.sessions.begin() as s:
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), doc["summary"]["dataCustodian"]["name"], member_group=None)
        ds, _ = service.create_draft(Context(s, SYSTEM, clock), team.id, {**doc, "identifier": None})
        service.publish(Context(s, SYSTEM, clock), ds.id, accept_invalid=True)
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)
    with TestClient(app) as c:
        hit = c.get("/api/v1/search/datasets", params={"q": f'"{keyword}"'}).json()["items"][0]
    assert [k.replace("<mark>", "").replace("</mark>", "") for k in hit["matched_keywords"]] == [keyword]
    assert "<mark>" in hit["matched_keywords"][0]
    assert hit["record_version"] == doc["version"]
    assert hit["record_date"] is not None

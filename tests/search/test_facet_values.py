"""Facet values normalised for counting and filtering (records keep their text), with the real corpus's
messy spellings; "more" past a facet's limit; why a result matched; the record's own dates."""

from __future__ import annotations

import copy
import uuid

import pytest

from healthgate.catalogue import service
from healthgate.context import Context
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM
from healthgate.search.engine import Filters, search
from healthgate.search.normalise import geography, keyword, match_key
from tests.conftest import load_fixture


@pytest.mark.parametrize(("raw", "label"), [
    ("UK", "United Kingdom"), ("United Kingdom", "United Kingdom"), ("Great Britain", "United Kingdom"),
    ("United Kingdom (https://www.geonames.org/2635167/united-kingdom.html)", "United Kingdom"),
    ("https://www.geonames.org/countries/GB/united-kingdom.html", "United Kingdom"),
    ("United Kingdom of Great Britain and Northern Ireland", "United Kingdom"),
    ("England (https://www.geonames.org/6269131/england.html)", "England"),
    ("England & Wales", "England and Wales"), ("England and Wales", "England and Wales"),
    ("01/04/2003 (England and Wales); 01/02/2013 (Northern Ireland); 01/07/2015 (Isle of Man)", None),
    ("2020-01-01", None), ("Wales", "Wales"),
])
def test_places_from_the_corpus(raw, label):
    assert geography(raw) == label


@pytest.mark.parametrize("raw", ["COVID-19", "COVID", "Coronavirus", "SARS-CoV-2", "Covid-19", "coronavirus",
                                 "COVID 19", "CORONAVIRUS", "covid", "COVID19", "SARS-CoV2"])
def test_covid_spellings_are_one_keyword(raw):
    assert keyword(raw) == "COVID-19"


def test_organisation_spellings_share_a_key():
    assert match_key("UNIVERSITY OF CAMBRIDGE") == match_key("The University of Cambridge")
    assert match_key("A&E Team") == match_key("A and E team") != match_key("A E Team ltd")


def _doc(i, title, keywords, places, custodian, modified=None):
    doc = copy.deepcopy(load_fixture("hdruk-4.0.0-minimal.json"))
    doc["identifier"] = str(uuid.UUID(int=i + 1))
    doc["summary"].update(title=title, abstract=f"Records about {title.lower()}.", keywords=keywords)
    doc["summary"]["dataCustodian"]["name"] = custodian
    doc["coverage"] = {"spatial": places}
    if modified:
        doc["modified"] = modified
    else:
        doc.pop("modified", None)
        doc.pop("issued", None)
    return doc


@pytest.fixture
def messy(db, clock):
    rows = [
        ("Alpha", ["COVID-19", "cohort"], "UK", "UNIVERSITY OF CAMBRIDGE", "2021-03-01T10:00:00Z"),
        ("Beta", ["Coronavirus"], "United Kingdom (https://www.geonames.org/2635167/united-kingdom.html)",
         "The University of Cambridge", "2023-06-30T00:00:00Z"),
        ("Gamma", ["SARS-CoV-2"], "England & Wales", "Wessex Heart Research Unit", None),
        ("Delta", ["asthma"], "England and Wales", "Wessex Heart Research Unit", "2019-01-01T00:00:00Z"),
    ]
    ids = {}
    with db.sessions.begin() as s:
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), "WESSEX", member_group="ALLIANCE")
        for i, (title, kw, place, custodian, modified) in enumerate(rows):
            ds, _ = service.create_draft(Context(s, SYSTEM, clock), team.id, _doc(i, title, kw, place, custodian, modified))
            service.publish(Context(s, SYSTEM, clock), ds.id, accept_invalid=True)  # Gamma has no dates
            ids[title] = ds.id
            clock.advance(hours=1)
    return ids


def _facet(result, name):
    return {f["value"]: f["count"] for f in result.facets[name]}


def test_facets_count_normalised_values_and_filter_by_any_spelling(db, messy):
    with db.sessions() as s:
        r = search(s, "")
        assert _facet(r, "keyword")["COVID-19"] == 3
        assert _facet(r, "geography") == {"United Kingdom": 2, "England and Wales": 2}
        assert _facet(r, "custodian") == {"The University of Cambridge": 2, "Wessex Heart Research Unit": 2}
        for spelling in ("covid", "SARS-CoV-2", "Coronavirus"):
            assert search(s, "", Filters({"keyword": [spelling]})).total == 3
        assert search(s, "", Filters({"geography": ["Great Britain"]})).total == 2
        assert search(s, "", Filters({"custodian": ["university of cambridge"]})).total == 2
        hit = next(h for h in r.items if h.title == "Beta")
        assert "Coronavirus" in hit.keywords  # the record keeps its own text
        # one custodian name everywhere: the document's, not the team's
        assert {h.custodian for h in r.items} >= {"Wessex Heart Research Unit"}
        assert "WESSEX" not in {h.custodian for h in r.items}


def test_more_shows_every_value_of_a_facet(db, messy):
    from healthgate.catalogue import indexing

    spec = indexing.KIND.facet("keyword")
    object.__setattr__(spec, "limit", 1)  # as if the facet had more values than it shows
    try:
        with db.sessions() as s:
            r = search(s, "")
            assert len(r.facets["keyword"]) == 1 and r.facets_hidden["keyword"] == 2
            r = search(s, "", Filters(more=("keyword",)))
            assert len(r.facets["keyword"]) == 3 and "keyword" not in r.facets_hidden
    finally:
        object.__setattr__(spec, "limit", 30)


def test_why_a_keyword_only_match_matched(db, messy):
    with db.sessions() as s:
        r = search(s, "coronavirus")
        beta = next(h for h in r.items if h.title == "Beta")
        assert beta.matched_keywords == ["<mark>Coronavirus</mark>"]
        alpha = next(h for h in r.items if h.title == "Alpha")  # matched through a synonym of its keyword
        assert alpha.matched_keywords and "<mark>" in alpha.matched_keywords[0]


def test_recently_updated_sorts_by_the_records_own_date(db, messy):
    with db.sessions() as s:
        r = search(s, "", sort="updated")
        # Beta 2023, Alpha 2021, Delta 2019; Gamma has no date of its own: its publication time (2026) counts
        assert [h.title for h in r.items] == ["Gamma", "Beta", "Alpha", "Delta"]
        assert next(h for h in r.items if h.title == "Beta").record_date.isoformat() == "2023-06-30"


def test_search_page_filters_link_more_and_clean_urls(db, messy, tmp_path):
    from fastapi.testclient import TestClient

    from healthgate.app import create_app
    from healthgate.config import Settings

    app = create_app(Settings(database_url=db.url, data_dir=tmp_path))
    with TestClient(app) as client:
        r = client.get("/search?q=&keyword=covid&date_from=&date_to=", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/search?keyword=covid"
        page = client.get("/search?keyword=covid").text
        assert 'href="#filters"' in page and 'id="filters"' in page and 'id="facet-keyword"' in page
        assert "Matched keywords" not in page or "<mark>" in page
        assert "Updated <time" in page

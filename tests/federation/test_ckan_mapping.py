"""CKAN packages as HDR UK 4.0.0 documents (interop.ckan): core fields, classic extras (ckanext-dcat's legacy
profile) and scheming fields (its DCAT-AP 3 / HealthDCAT-AP schemas), each checked by the catalogue."""

from __future__ import annotations

import copy

from healthgate.catalogue import metadata
from healthgate.interop import ckan

# A package as CKAN 2.10's package_search returns it, with classic extras
CLASSIC = {
    "id": "3f2a6c1e-8b7d-4e2f-9a1c-5d6e7f8a9b0c",
    "name": "wessex-stroke-audit",
    "title": "Wessex Stroke Audit",
    "notes": "The **Wessex Stroke Audit** records every admission for acute stroke in Wessex hospitals.\n\n"
             "Second paragraph with [a link](https://example.org) and more detail.",
    "url": "https://stroke.wessex.example.nhs.uk/audit",
    "version": "2.1",
    "author": "Wessex Stroke Network",
    "author_email": "network@wessex.example.nhs.uk",
    "maintainer": "Audit team",
    "maintainer_email": "stroke.audit@wessex.example.nhs.uk",
    "license_id": "OGL-UK-3.0",
    "license_title": "Open Government Licence 3.0 (United Kingdom)",
    "license_url": "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
    "metadata_created": "2021-05-04T09:12:33.123456",
    "metadata_modified": "2024-11-02T16:40:01.654321",
    "state": "active",
    "private": False,
    "type": "dataset",
    "organization": {"id": "o1", "name": "wessex-stroke-network", "title": "Wessex Stroke Network",
                     "description": "Regional stroke network", "image_url": "https://wessex.example/logo.png"},
    "tags": [{"name": "stroke", "display_name": "stroke"}, {"name": "audit", "display_name": "audit"}],
    "resources": [
        {"id": "r1", "url": "https://stroke.wessex.example.nhs.uk/audit/data-dictionary.pdf", "format": "PDF",
         "name": "Data dictionary"},
        {"id": "r2", "url": "https://stroke.wessex.example.nhs.uk/audit/extract.csv", "format": "CSV",
         "name": "Aggregate extract"},
    ],
    "extras": [
        {"key": "temporal_start", "value": "2015-01-01"},
        {"key": "temporal_end", "value": "2023-12-31"},
        {"key": "frequency", "value": "http://publications.europa.eu/resource/authority/frequency/QUARTERLY"},
        {"key": "language", "value": "[\"http://publications.europa.eu/resource/authority/language/ENG\"]"},
        {"key": "spatial_text", "value": "Wessex, England"},
        {"key": "access_rights", "value": "https://stroke.wessex.example.nhs.uk/audit/how-to-apply"},
        {"key": "jurisdiction", "value": "GB-ENG"},
        {"key": "doi", "value": "https://doi.org/10.5555/wessex-stroke.2021"},
        {"key": "number_of_unique_individuals", "value": "48210"},
        {"key": "conforms_to", "value": "OMOP"},
    ],
    "tracking_summary": {"total": 12, "recent": 3},
}

# A package from a site running ckanext-dcat's HealthDCAT-AP scheming schema: extras are top-level fields
SCHEMING = {
    "id": "health-survey-2022",
    "name": "health-survey-2022",
    "title": "National Health Survey 2022",
    "notes": "Annual household health survey.",
    "metadata_created": "2022-02-01T00:00:00",
    "metadata_modified": "2023-03-01T00:00:00",
    "organization": None,
    "tags": [],
    "resources": [{"url": "https://survey.example.org/2022.parquet", "format": "Parquet"}],
    "publisher": [{"name": "Office for Health Statistics", "email": "mailto:stats@ohs.example.org",
                   "uri": "https://ror.org/02wnqcb97"}],
    "contact": [{"name": "Survey team", "email": "survey@ohs.example.org"}],
    "temporal_coverage": [{"start": "2022-01-01", "end": "2022-12-31"}],
    "frequency": "ANNUAL",
    "min_typical_age": 16,
    "max_typical_age": 99,
    "number_of_records": 30512,
    "coding_system": ["https://www.wikidata.org/entity/P494"],
    "purpose": ["Study"],
    "keywords": ["survey"],
}


def test_a_classic_package_maps_field_by_field():
    doc = ckan.to_hdruk(CLASSIC)
    assert doc["identifier"] == CLASSIC["id"]
    assert doc["version"] == "2.1.0"
    assert doc["issued"] == "2021-05-04T09:12:33.123456Z"
    assert doc["modified"] == "2024-11-02T16:40:01.654321Z"
    s = doc["summary"]
    assert s["title"] == "Wessex Stroke Audit"
    assert s["abstract"] == "The Wessex Stroke Audit records every admission for acute stroke in Wessex hospitals."
    assert s["dataCustodian"] == {"identifier": "wessex-stroke-network", "name": "Wessex Stroke Network",
                                  "logo": "https://wessex.example/logo.png",
                                  "contactPoint": "stroke.audit@wessex.example.nhs.uk"}
    assert s["contactPoint"] == "stroke.audit@wessex.example.nhs.uk"
    assert s["keywords"] == ["stroke", "audit"]
    assert s["populationSize"] == 48210
    assert s["doiName"] == "10.5555/wessex-stroke.2021"
    assert doc["documentation"]["description"] == CLASSIC["notes"]
    assert doc["documentation"]["associatedMedia"] == [
        "https://stroke.wessex.example.nhs.uk/audit", CLASSIC["resources"][0]["url"], CLASSIC["resources"][1]["url"]]
    assert doc["coverage"] == {"spatial": "Wessex, England"}
    assert doc["provenance"]["temporal"] == {"startDate": "2015-01-01", "endDate": "2023-12-31",
                                             "publishingFrequency": "Quarterly"}
    access = doc["accessibility"]["access"]
    assert access["accessRights"] == "https://stroke.wessex.example.nhs.uk/audit/how-to-apply"
    assert access["jurisdiction"] == ["GB-ENG"]
    fs = doc["accessibility"]["formatAndStandards"]
    assert fs == {"format": ["PDF", "CSV"], "language": ["en"], "conformsTo": ["OMOP"]}
    assert doc["observations"] == [{"observedNode": "Persons", "measuredValue": 48210,
                                    "observationDate": "2024-11-02", "measuredProperty": "Count"}]
    checked = metadata.check(doc)
    assert checked.schema_version == "4.0.0"
    paths = {e.path for e in checked.errors}
    # what CKAN cannot say is reported, not invented
    assert "$.provenance.temporal" in paths or any(p.startswith("$.provenance.temporal") for p in paths)
    assert not any(p.startswith("$.summary") for p in paths), paths


def test_a_scheming_package_maps_its_health_fields():
    doc = ckan.to_hdruk(SCHEMING)
    assert "identifier" not in doc  # not a UUID: the harvest keys it by its remote id instead
    assert doc["version"] == "1.0.0"
    s = doc["summary"]
    assert s["dataCustodian"] == {"identifier": "https://ror.org/02wnqcb97", "name": "Office for Health Statistics",
                                  "contactPoint": "stats@ohs.example.org"}
    assert s["contactPoint"] == "survey@ohs.example.org"
    assert s["keywords"] == ["survey"]
    assert s["populationSize"] == 30512
    assert doc["coverage"] == {"typicalAgeRangeMin": 16, "typicalAgeRangeMax": 99}
    assert doc["provenance"]["temporal"]["startDate"] == "2022-01-01"
    assert doc["provenance"]["temporal"]["publishingFrequency"] == "Annual"
    assert doc["provenance"]["origin"]["purpose"] == ["Study"]
    assert doc["accessibility"]["formatAndStandards"]["vocabularyEncodingScheme"] == ["ICD10"]
    assert doc["observations"] == [{"observedNode": "Events", "measuredValue": 30512, "observationDate": "2023-03-01",
                                    "measuredProperty": "Count of records"}]
    assert metadata.check(doc).schema_version == "4.0.0"


def test_a_licence_stands_in_for_missing_access_rights_and_long_notes_make_a_short_abstract():
    p = copy.deepcopy(CLASSIC)
    p["extras"] = [e for e in p["extras"] if e["key"] != "access_rights"]
    p["notes"] = "word " * 400
    doc = ckan.to_hdruk(p)
    assert doc["accessibility"]["access"]["accessRights"].startswith("Licence: Open Government Licence 3.0")
    abstract = doc["summary"]["abstract"]
    assert len(abstract) <= 500 and abstract.endswith("…")


def test_a_bare_package_maps_without_inventing():
    doc = ckan.to_hdruk({"name": "just-a-name"})
    assert doc == {"version": "1.0.0", "revisions": [], "summary": {"title": "just-a-name"}, "observations": []}
    assert metadata.check(doc).errors  # and the catalogue says what it lacks


def test_odd_values_are_skipped_not_trusted():
    p = copy.deepcopy(CLASSIC)
    p["extras"] = [{"key": "jurisdiction", "value": "England"}, {"key": "language", "value": "klingon"},
                   {"key": "number_of_unique_individuals", "value": "lots"}, {"key": "frequency", "value": "hourly"},
                   {"key": "temporal_start", "value": "sometime"}]
    doc = ckan.to_hdruk(p)
    assert "jurisdiction" not in doc["accessibility"]["access"]
    assert "language" not in doc["accessibility"]["formatAndStandards"]
    assert "populationSize" not in doc["summary"] and doc["observations"] == []
    assert "provenance" not in doc

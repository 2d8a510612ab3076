"""GWDM 2.x <-> HDR UK 4.0.0 (interop.gwdm): documents written as GWDM are valid against the official GWDM 2.0
and 2.1 schemas (checked with python-jsonschema, independently of the jsonschema-rs the product uses), and a
round trip HDR UK -> GWDM -> HDR UK keeps every field the mapping documents."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from healthgate.catalogue import metadata
from healthgate.interop import gwdm
from tests.conftest import load_fixture, shared_file

# HDR UK 4.0.0 fields GWDM has no place for (docs/federation-formats.md says so)
UNMAPPED = (
    ".summary.dataCustodian.logo", ".summary.dataCustodian.description", ".summary.dataCustodian.memberOf",
    ".summary.dataCustodian.contactPoint", ".enrichmentAndLinkage.similarToDatasets",
)
VERSIONS = ["2.0.2-full", "2.1.0-full", "2.1.2-full", "2.1.3-full", "2.2.0-full", "2.2.1-full", "3.0.0-full",
            "4.0.0-full", "4.0.0-minimal"]


def flat(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves of a document by path; a list of scalars is one leaf."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flat(v, f"{path}.{k}"))
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flat(v, f"{path}[{i}]"))
        return out
    return {path: value}


def mapped(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields the mapping keeps, in the form it keeps them: an ongoing end date ("CONTINUOUS") is written
    as no end date, an identifier longer than GWDM's 50 characters as its last segment, several resource
    creators as one comma-separated name."""
    out = {k: v for k, v in flat(doc).items()
           if v not in (None, [], "", "CONTINUOUS") and not k.startswith(UNMAPPED)}
    if isinstance(out.get(".identifier"), str):
        out[".identifier"] = out[".identifier"].rstrip("/").rsplit("/", 1)[-1]
    creator = out.get(".accessibility.usage.resourceCreator")
    if isinstance(creator, list):
        out[".accessibility.usage.resourceCreator"] = ",".join(creator)
    return out


def official(version: str) -> jsonschema.Validator:
    schema = json.loads(shared_file(f"gwdm/{version}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def canonical(name: str) -> dict[str, Any]:
    return metadata.check(load_fixture(f"hdruk-{name}.json")).canonical


@pytest.mark.parametrize("name", VERSIONS)
def test_every_fixture_as_gwdm_is_valid_gwdm_and_comes_back_whole(name):
    doc = canonical(name)
    if not doc.get("identifier"):
        doc = {**doc, "identifier": "0d5c9a8e-6a51-4c55-9d4b-5f8f3b7e1c20"}
    out = gwdm.to_gwdm(doc)
    for version in ("2.0", "2.1"):
        errors = sorted(official(version).iter_errors(out), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
        assert gwdm.validate(out, version) == []
    back = gwdm.to_hdruk(out)
    assert mapped(back) == mapped(doc)


def test_the_full_document_keeps_each_section():
    doc = canonical("4.0.0-full")
    out = gwdm.to_gwdm(doc, gateway_id="42")
    assert out["required"] == {
        "gatewayId": "42", "gatewayPid": doc["identifier"], "issued": doc["issued"], "modified": doc["modified"],
        "revisions": [{"version": "3.1.0", "url": doc["revisions"][0]["url"]}, {"version": "3.2.0", "url": None}],
        "version": "4.0.0"}
    assert out["summary"]["publisher"] == {"name": doc["summary"]["dataCustodian"]["name"], "rorId": "05wsx7d21"}
    assert out["summary"]["keywords"] == "heart failure,cardiology,echocardiography"
    assert out["summary"]["datasetType"] == "Health and disease,Measurements/Tests,Imaging types,Omics"
    assert out["summary"]["datasetSubType"] == "Cardiovascular,Laboratory,Ultrasound,Genomics"
    assert out["summary"]["description"] == doc["documentation"]["description"]
    assert out["coverage"]["typicalAgeRange"] == "18-98"
    assert out["provenance"]["temporal"]["accrualPeriodicity"] == "Annual"
    assert out["provenance"]["origin"]["collectionSituation"] == "Secondary care - In-patients,Primary care - Clinic"
    assert out["accessibility"]["formatAndStandards"]["vocabularyEncodingSchemes"] == "SNOMED CT,ICD10"
    assert out["accessibility"]["usage"]["resourceCreator"] == {"name": "Wessex Heart Research Unit"}
    assert out["linkage"]["datasetLinkage"]["isDerivedFrom"] == doc["enrichmentAndLinkage"]["derivedFrom"]
    assert out["linkage"]["datasetLinkage"]["linkedDatasets"] == doc["enrichmentAndLinkage"]["linkableDatasets"]
    assert out["tissuesSampleCollection"] == [{"materialType": "Serum,Plasma,DNA"}]
    assert out["structuralMetadata"] == doc["structuralMetadata"]["tables"]
    assert out["observations"] == doc["observations"]


# What HDR UK's gateway stores for a dataset (GWDM 2.0), as its API serves it inside versions[].metadata
GATEWAY_GWDM = {
    "required": {"gatewayId": "1187", "gatewayPid": "a5b6c1e2-3f4d-4e5a-9b8c-7d6e5f4a3b2c",
                 "issued": "2023-02-01T10:00:00.000000Z", "modified": "2024-06-30T08:15:00.000000Z",
                 "revisions": [{"version": "1.0.0", "url": None}], "version": "2.0.0"},
    "summary": {"title": "North West London COVID-19 Patient Level Situation Report",
                "abstract": "Daily patient-level situation reports from acute trusts in North West London.",
                "publisher": {"name": "NWL ICB", "gatewayId": "88", "rorId": None},
                "contactPoint": "data@nwl.example.nhs.uk", "keywords": "COVID-19, Situation report,Acute care",
                "doiName": "10.1234/nwl-sitrep", "populationSize": 254000, "datasetType": "Health and disease",
                "datasetSubType": "Respiratory,Others", "description": "Longer description of the report.",
                "shortTitle": "NWL SitRep", "inPipeline": "Not available"},
    "coverage": {"spatial": "North West London", "typicalAgeRange": "0-110", "followUp": "0 - 6 Months"},
    "provenance": {"origin": {"purpose": "Care,Audit", "source": "EPR", "collectionSituation": "Secondary care - ICU"},
                   "temporal": {"startDate": "2020-03-01", "endDate": "2022-03-31", "timeLag": "Less than 1 week",
                                "accrualPeriodicity": "Daily"}},
    "accessibility": {"usage": {"dataUseLimitation": "General research use",
                                "resourceCreator": {"name": "NWL ICB", "gatewayId": None, "rorId": None}},
                      "access": {"accessRights": "https://www.example.nhs.uk/access", "jurisdiction": "GB-ENG",
                                 "deliveryLeadTime": "1-2 months", "accessServiceCategory": "TRE/SDE"},
                      "formatAndStandards": {"vocabularyEncodingSchemes": "SNOMED CT", "conformsTo": "OMOP",
                                             "languages": "en", "formats": "CSV"}},
    "linkage": {"datasetLinkage": {"isMemberOf": [{"title": "NWL Discover collection", "url": None, "pid": None}]},
                "tools": "https://github.com/example/tool", "syntheticDataWebLink": None},
    "observations": [{"observedNode": "Persons", "measuredValue": 254000, "observationDate": "2022-03-31",
                      "measuredProperty": "Count", "disambiguatingDescription": None}],
    "structuralMetadata": [{"name": "sitrep", "description": "One row per patient per day",
                            "columns": [{"name": "nhs_number_hash", "dataType": "string", "sensitive": True,
                                         "description": "hashed"}]}],
}


def test_a_gateway_gwdm_document_reads_as_valid_hdruk():
    assert official("2.0").is_valid(GATEWAY_GWDM)
    doc = gwdm.to_hdruk(GATEWAY_GWDM)
    checked = metadata.check(doc)
    assert checked.schema_version == "4.0.0"
    assert [e.as_dict() for e in checked.errors] == []
    assert doc["identifier"] == "a5b6c1e2-3f4d-4e5a-9b8c-7d6e5f4a3b2c"
    assert doc["summary"]["keywords"] == ["COVID-19", "Situation report", "Acute care"]
    assert doc["summary"]["dataCustodian"] == {"identifier": "88", "name": "NWL ICB",
                                               "contactPoint": "data@nwl.example.nhs.uk"}
    assert doc["summary"]["datasetAliases"] == ["NWL SitRep"]
    assert doc["coverage"]["typicalAgeRangeMin"] == 0 and doc["coverage"]["typicalAgeRangeMax"] == 110
    assert doc["provenance"]["origin"]["datasetType"] == [{"name": "Health and disease",
                                                           "subTypes": ["Respiratory", "Others"]}]
    assert doc["provenance"]["origin"]["collectionSource"] == ["Secondary care - ICU"]
    assert doc["provenance"]["temporal"]["publishingFrequency"] == "Daily"
    assert doc["accessibility"]["access"]["jurisdiction"] == ["GB-ENG"]
    assert doc["accessibility"]["usage"]["resourceCreator"] == "NWL ICB"
    assert doc["enrichmentAndLinkage"]["isPartOf"] == [{"title": "NWL Discover collection"}]
    assert doc["structuralMetadata"]["tables"][0]["columns"][0]["name"] == "nhs_number_hash"


def test_sub_types_go_to_every_type_that_allows_them():
    g = copy.deepcopy(GATEWAY_GWDM)
    g["summary"]["datasetType"] = "Health and disease,Imaging types,Politics"
    g["summary"]["datasetSubType"] = "Cancer,CT,Others"
    types = gwdm.to_hdruk(g)["provenance"]["origin"]["datasetType"]
    assert types == [{"name": "Health and disease", "subTypes": ["Cancer", "Others"]},
                     {"name": "Imaging types", "subTypes": ["CT", "Others"]},  # both allow "Others"
                     {"name": "Politics", "subTypes": ["Not applicable"]}]


@pytest.mark.parametrize("wrapped", [
    GATEWAY_GWDM,
    {"metadata": GATEWAY_GWDM, "gwdmVersion": "2.0"},
    {"metadata": json.dumps({"metadata": GATEWAY_GWDM})},
    {"message": "success", "data": {"id": 7, "versions": [
        {"version": 1, "metadata": {"metadata": {"required": {"gatewayPid": "old"}, "summary": {}}}},
        {"version": 2, "metadata": {"metadata": GATEWAY_GWDM}}]}},
    {"id": 7, "latest_metadata": {"metadata": {"metadata": GATEWAY_GWDM}}},
])
def test_the_document_is_found_in_each_shape_a_gateway_serves(wrapped):
    assert gwdm.find_document(wrapped) == GATEWAY_GWDM


def test_no_document_is_no_document():
    for value in (None, "text", "{not json", {"data": []}, {"message": "not found"}, [GATEWAY_GWDM]):
        assert gwdm.find_document(value) is None


def test_run_time_validation_names_the_field():
    bad = copy.deepcopy(GATEWAY_GWDM)
    bad["summary"]["populationSize"] = "many"
    bad["extra"] = 1
    paths = {e.path for e in gwdm.validate(bad, "2.1")}
    assert "$.summary.populationSize" in paths and "$" in paths

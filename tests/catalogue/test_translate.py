"""HDR UK metadata translation 2.1.x / 3.0.0 -> 4.0.0 (healthgate.catalogue.standard.translate).

No database: fixtures, hand-built documents, and property tests (garbage in must never raise; valid
2.1.2 / 3.0.0 documents generated from the official schemas must come out valid 4.0.0).
"""

from __future__ import annotations

import copy
import json
import types
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

from healthgate.catalogue.standard import _enums as E
from healthgate.catalogue.standard import translate
from healthgate.catalogue.standard.translate import NOTES_HEADING, upgrade, upgrade_2_1_to_3_0

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMAS = Path(translate.__file__).parent / "schemas"


@cache
def schema(version: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{version}.schema.json").read_text())


@cache
def validator(version: str) -> Any:
    cls = validator_for(schema(version))  # 2.0.2 and 2.1.0 are draft-07, the rest 2020-12
    return cls(schema(version), format_checker=cls.FORMAT_CHECKER)


def defs_of(doc_schema: dict[str, Any]) -> dict[str, Any]:
    return doc_schema.get("$defs") or doc_schema.get("definitions") or {}


def errors(doc: Any, version: str) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(version).iter_errors(doc)]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"hdruk-{name}.json").read_text())


def minimal_21(**sections: Any) -> dict[str, Any]:
    """A minimal valid 2.1.2 document; keyword arguments replace or add top-level sections."""
    doc = {
        "identifier": "5d3c1a2b-7e8f-4a9b-8c0d-1e2f3a4b5c6d",
        "version": "1.0.0",
        "revisions": [],
        "issued": "2020-01-01T00:00:00Z",
        "modified": "2020-06-01T00:00:00Z",
        "summary": {
            "title": "Wessex Stroke Audit",
            "abstract": "Audit of acute stroke care in Wessex hospitals.",
            "publisher": {"name": "Wessex Stroke Network", "contactPoint": "stroke@wessex.nhs.uk"},
            "contactPoint": "stroke@wessex.nhs.uk",
            "keywords": "stroke,audit",
        },
        "accessibility": {"access": {"accessRights": "In Progress", "jurisdiction": "GB-ENG",
                                     "dataController": "Wessex Stroke Network"}},
        "observations": [],
    }
    doc.update(sections)
    assert not errors(doc, "2.1.2"), errors(doc, "2.1.2")
    return doc


def up21(doc: dict[str, Any]) -> dict[str, Any]:
    """Upgrade a 2.1.2 document and insist the result is valid 4.0.0."""
    out = upgrade(doc, "2.1.2")
    assert not errors(out, "4.0.0"), errors(out, "4.0.0")
    return out


# --------------------------------------------------------------------------- fixtures and contract

FIXTURE_VERSIONS = [("2.0.2-full", "2.0.2"), ("2.1.0-full", "2.1.0"), ("2.1.2-full", "2.1.2"),
                    ("2.1.3-full", "2.1.3"), ("2.2.0-full", "2.2.0"), ("2.2.1-full", "2.2.1"),
                    ("3.0.0-full", "3.0.0"), ("4.0.0-full", "4.0.0"), ("4.0.0-minimal", "4.0.0")]


@pytest.mark.parametrize("name,version", FIXTURE_VERSIONS)
def test_fixture_is_valid_against_its_own_schema(name, version):
    doc = fixture(name)
    doc.pop("@schema", None)  # the HDR UK Gateway's marker on its 2020 exports; not part of the document
    assert not errors(doc, version)


@pytest.mark.parametrize("name,version", FIXTURE_VERSIONS)
def test_fixture_upgrades_to_valid_4_0_0_without_touching_the_input(name, version):
    doc = fixture(name)
    before = copy.deepcopy(doc)
    out = upgrade(doc, version)
    assert not errors(out, "4.0.0")
    assert doc == before


def test_2_1_step_alone_yields_valid_3_0_0():
    assert not errors(upgrade_2_1_to_3_0(fixture("2.1.2-full")), "3.0.0")


def test_4_0_0_is_returned_as_a_deep_copy():
    doc = fixture("4.0.0-full")
    out = upgrade(doc, "4.0.0")
    assert out == doc and out is not doc and out["summary"] is not doc["summary"]


@pytest.mark.parametrize("alias", ["2.1.0", "2.1.1", "2.1.2"])
def test_all_2_1_x_versions_are_treated_alike(alias):
    assert upgrade(fixture("2.1.2-full"), alias) == upgrade(fixture("2.1.2-full"), "2.1.2")


@pytest.mark.parametrize("version", ["1.1", "1.2.0", "2.3.0", "3.0.1", "4.1.0", "", None, 3])
def test_unsupported_versions_are_refused(version):
    with pytest.raises(ValueError):
        upgrade(fixture("4.0.0-minimal"), version)


# --------------------------------------------------------------------------- 2.1.2 full fixture


@pytest.fixture(scope="module")
def v4() -> dict[str, Any]:
    return upgrade(fixture("2.1.2-full"), "2.1.2")


def test_summary(v4):
    s = v4["summary"]
    assert s["title"] == "BRIGHT-HF: British Regional Investigation of Heart Failure Trajectories"
    assert s["dataCustodian"]["name"] == "Wessex Heart Research Unit, University of Wessex"
    assert s["dataCustodian"]["identifier"] == "https://ror.org/05wsx7d21"
    assert s["dataCustodian"]["memberOf"] == "Alliance"
    assert s["dataCustodian"]["contactPoint"] == ["data.access@wessexheart.ac.uk", "bright-hf@wessexheart.ac.uk"]
    assert s["keywords"] == ["heart failure", "cardiology", "echocardiography", "NT-proBNP", "cohort"]
    assert s["datasetAliases"] == ["BRIGHT-HF", "WHRU-HF-2014"] and "alternateIdentifiers" not in s
    assert s["populationSize"] == 12418  # the most recent PERSONS observation
    assert s["doiName"] == "10.5555/bright-hf.2019.001"


def test_coverage(v4):
    c = v4["coverage"]
    assert (c["typicalAgeRangeMin"], c["typicalAgeRangeMax"]) == (18, 98)
    assert c["followUp"] == "1 - 10 Years"
    assert c["materialType"] == ["Serum", "Plasma", "DNA", "Whole blood"]
    assert c["spatial"] == "United Kingdom,England,Wales"


def test_provenance(v4):
    t, o = v4["provenance"]["temporal"], v4["provenance"]["origin"]
    assert t == {"publishingFrequency": "Biannual", "distributionReleaseDate": "2023-10-01",
                 "startDate": "2014-04-01", "endDate": "CONTINUOUS", "timeLag": "2-6 months"}
    assert o["purpose"] == ["Study", "Disease registry"]
    assert o["source"] == ["EPR", "Paper-based", "Other"]
    assert o["collectionSource"] == ["Secondary care - In-patients", "Secondary care - Outpatients",
                                     "Primary care - Clinic"]
    assert o["datasetType"] == []


def test_accessibility(v4):
    a, u = v4["accessibility"]["access"], v4["accessibility"]["usage"]
    assert a["deliveryLeadTime"] == "2-6 months"
    assert a["jurisdiction"] == ["GB-ENG", "GB-WLS"]
    assert a["accessRequestCost"] == "https://www.wessexheart.ac.uk/bright-hf/charges"
    assert u["dataUseLimitation"] == ["General research use", "User-specific restrictions"]
    assert u["dataUseRequirements"] == ["Ethics approval required", "Project-specific restrictions",
                                        "Disclosure control"]
    assert set(u) == {"dataUseLimitation", "dataUseRequirements", "resourceCreator"}


def test_enrichment_and_linkage(v4):
    e = v4["enrichmentAndLinkage"]
    assert e["isPartOf"] == [{"pid": None, "title": "Wessex Cardiovascular Cohorts Programme", "url": None}]
    assert e["linkableDatasets"] == [
        {"pid": None, "title": "Hospital Episode Statistics Admitted Patient Care", "url": None},
        {"pid": None, "title": None, "url": "https://www.wessexheart.ac.uk/datasets/bright-hf-echo"},
        {"pid": "10.5555/ons-mortality.2020", "title": None, "url": None},
    ]
    assert e["investigations"] == ["https://www.wessexheart.ac.uk/bright-hf/projects/sglt2-outcomes"]
    assert e["publicationAboutDataset"] == ["10.5555/bright-hf.2021.014", "10.5555/bright-hf.2022.007"]
    assert e["derivedFrom"] is None  # 2.1 "derivation" is the opposite relation: see the notes


def test_information_without_a_slot_is_carried_into_the_description(v4):
    description = v4["documentation"]["description"]
    assert description.startswith("BRIGHT-HF recruited 12,418 adults")
    notes = description.split(NOTES_HEADING)[1]
    assert "Source: OTHER INFORMATION SYSTEM" in notes
    assert "Annual aggregate summary tables by trust and NYHA class" in notes


def test_structural_metadata(v4):
    tables = v4["structuralMetadata"]["tables"]
    assert [t["name"] for t in tables] == ["participant", "echocardiogram"]
    assert [c["name"] for c in tables[0]["columns"]] == ["participant_id", "date_of_birth", "sex"]
    assert tables[0]["columns"][1]["sensitive"] is True
    assert tables[0]["columns"][2]["values"][0] == {"name": "F", "description": "Female", "frequency": 5102}
    assert tables[1]["columns"][1]["unit"] == "%"  # extra element properties survive
    assert tables[0]["description"] == "One row per participant at recruitment."


def test_observations(v4):
    assert [o["observedNode"] for o in v4["observations"]] == ["Persons", "Persons", "Events"]


# --------------------------------------------------------------------------- enum remaps


def _temporal(**kw):
    return {"temporal": {"accrualPeriodicity": "ANNUAL", "startDate": "2010-01-01", "timeLag": "VARIABLE", **kw}}


@pytest.mark.parametrize("section,value,path,expected", [
    ("provenance", _temporal(accrualPeriodicity="SEMIWEEKLY"), ("provenance", "temporal", "publishingFrequency"),
     "Twice a week"),
    ("provenance", _temporal(accrualPeriodicity=None), ("provenance", "temporal", "publishingFrequency"), None),
    ("provenance", _temporal(timeLag="NO TIMELAG"), ("provenance", "temporal", "timeLag"), "Less than 1 week"),
    ("provenance", _temporal(timeLag="MORE 6 MONTHS"), ("provenance", "temporal", "timeLag"), "More than 6 months"),
    ("provenance", _temporal(timeLag=None), ("provenance", "temporal", "timeLag"), "Not applicable"),
    ("provenance", {**_temporal(), "origin": {"purpose": "DISEASE REGISTRY,AUDIT"}},
     ("provenance", "origin", "purpose"), ["Disease registry", "Audit"]),
    ("provenance", {**_temporal(), "origin": {"source": ["FREETEXT NLP", "MACHINE GENERATED"]}},
     ("provenance", "origin", "source"), ["Free text NLP", "Machine generated"]),
    ("provenance", {**_temporal(), "origin": {"collectionSituation": ["PHARMACY", "ACCIDENT AND EMERGENCY",
                                                                      "SOCIAL CARE", "HOME"]}},
     ("provenance", "origin", "collectionSource"),
     ["Prescribing - Community pharmacy", "Secondary care - Accident and Emergency",
      "Social care - Other social data", "Home"]),
    ("coverage", {"followup": "> 10 YEARS"}, ("coverage", "followUp"), "> 10 Years"),
    ("coverage", {"followup": "CONTINUOUS"}, ("coverage", "followUp"), "Continuous"),
    ("coverage", {"physicalSampleAvailability": ["NOT AVAILABLE"]}, ("coverage", "materialType"),
     ["None/not available"]),
    ("coverage", {"physicalSampleAvailability": "AVAILABILITY TO BE CONFIRMED, MICRORNA, Buffy coat"},
     ("coverage", "materialType"), ["Availability to be confirmed", "MicroRNA", "Other"]),
    ("coverage", {"typicalAgeRange": "Not Known"}, ("coverage", "typicalAgeRangeMin"), None),
    ("coverage", {"typicalAgeRange": "0-150"}, ("coverage", "typicalAgeRangeMax"), 150),
    ("coverage", {"typicalAgeRange": "ages 40-79 years"}, ("coverage", "typicalAgeRangeMin"), 40),
    ("coverage", {"typicalAgeRange": "65-18"}, ("coverage", "typicalAgeRangeMin"), 18),
    ("coverage", {}, ("coverage", "spatial"), []),
])
def test_enum_and_value_remaps(section, value, path, expected):
    out = up21(minimal_21(**{section: value}))
    for key in path:
        out = out[key]
    assert out == expected


def test_usage_and_access_enums():
    access = {"accessRights": "In Progress", "jurisdiction": "United Kingdom,Scotland,GB-WLS",
              "dataController": "NHS Wessex", "deliveryLeadTime": "LESS 1 WEEK"}
    usage = {"dataUseLimitation": "USER SPECIFIC RESTRICTION,NO LINKAGE",
             "dataUseRequirements": ["USER SPECIFIC RESTRICTION", "RETURN TO DATABASE OR RESOURCE", None]}
    out = up21(minimal_21(accessibility={"access": access, "usage": usage}))
    a, u = out["accessibility"]["access"], out["accessibility"]["usage"]
    assert a["deliveryLeadTime"] == "Less than 1 week"
    assert a["jurisdiction"] == ["GB", "GB-SCT", "GB-WLS"]
    assert u["dataUseLimitation"] == ["User-specific restrictions", "No linkage"]
    assert u["dataUseRequirements"] == ["User-specific restriction", "Return to database or resource"]


def test_unmappable_values_are_noted_not_dropped():
    access = {"accessRights": "In Progress", "jurisdiction": "Atlantis", "dataController": "X Trust"}
    out = up21(minimal_21(accessibility={"access": access},
                          coverage={"physicalSampleAvailability": ["Buffy coat"]}))
    assert out["accessibility"]["access"]["jurisdiction"] is None
    assert out["coverage"]["materialType"] == ["Other"]
    description = out["documentation"]["description"]
    assert description.startswith(NOTES_HEADING)
    assert "Jurisdiction: Atlantis" in description and "Physical samples: Buffy coat" in description


def test_format_and_standards_lists_are_split_and_checked():
    access = minimal_21()["accessibility"]["access"]
    formats = {"vocabularyEncodingScheme": "SNOMED CT,ICD10", "conformsTo": None,
               "language": "en,cy", "format": "CSV, SAS"}
    out = up21(minimal_21(accessibility={"access": access, "formatAndStandards": formats}))
    f = out["accessibility"]["formatAndStandards"]
    assert f == {"vocabularyEncodingScheme": ["SNOMED CT", "ICD10"], "conformsTo": [],
                 "language": ["en", "cy"], "format": ["CSV", "SAS"]}


def test_member_of_and_observed_node():
    summary = {**minimal_21()["summary"], "publisher": {"name": "Hub X", "contactPoint": None, "memberOf": "HUB"}}
    obs = [{"observedNode": "FINDINGS", "measuredValue": 3, "observationDate": "2020-01-01",
            "measuredProperty": "Count"}]
    out = up21(minimal_21(summary=summary, observations=obs))
    assert out["summary"]["dataCustodian"]["memberOf"] == "Hub"
    assert out["summary"]["dataCustodian"]["contactPoint"] == "stroke@wessex.nhs.uk"  # dataset contact
    assert out["observations"][0]["observedNode"] == "Findings"
    assert out["summary"]["populationSize"] == -1  # no PERSONS observation: "not reported"


# --------------------------------------------------------------------------- lossy corners


def test_custodian_identifier_is_shortened_and_kept_whole_in_the_description():
    long_id = "https://www.grid.ac/institutes/grid.450000.1/wessex-heart-research-unit-department"
    summary = {**minimal_21()["summary"],
               "publisher": {"identifier": long_id, "name": "Wessex Heart Research Unit", "contactPoint": None}}
    custodian = up21(minimal_21(summary=summary))["summary"]["dataCustodian"]
    assert 2 <= len(custodian["identifier"]) <= 50 and custodian["identifier"] in long_id
    assert custodian["description"] == long_id


def test_missing_custodian_identifier_falls_back_to_the_name():
    custodian = up21(minimal_21())["summary"]["dataCustodian"]
    assert custodian["identifier"] == "Wessex Stroke Network"


def test_provenance_without_a_start_date_is_described_instead_of_invented():
    provenance = {"origin": {"purpose": ["AUDIT"]}, "temporal": {"accrualPeriodicity": "ANNUAL",
                                                                  "startDate": None, "timeLag": "VARIABLE"}}
    out = up21(minimal_21(provenance=provenance))
    assert out["provenance"] is None
    description = out["documentation"]["description"]
    assert "AUDIT" in description and "ANNUAL" in description


def test_references_citations_and_groups():
    usage = {"isReferencedBy": "https://doi.org/10.5555/wsa.2018.2.\tSmith J. Stroke audit report, 2019",
             "investigations": "https://wessex.nhs.uk/p1, not a url"}
    access = minimal_21()["accessibility"]["access"]
    out = up21(minimal_21(accessibility={"access": access, "usage": usage},
                          documentation={"isPartOf": "NOT APPLICABLE"},
                          enrichmentAndLinkage={"qualifiedRelation": "ALL", "tools": None}))
    e = out["enrichmentAndLinkage"]
    assert e["publicationAboutDataset"] == ["10.5555/wsa.2018.2"]
    assert e["investigations"] == ["https://wessex.nhs.uk/p1"]
    assert e["isPartOf"] is None
    assert e["linkableDatasets"] == [{"pid": None, "title": "ALL", "url": None}]
    description = out["documentation"]["description"]
    assert "Smith J. Stroke audit report" in description and "not a url" in description


def test_notes_respect_the_description_length_limit():
    doc = minimal_21(documentation={"description": "x" * 9_950},
                     enrichmentAndLinkage={"derivation": "Derived monthly extracts " * 10})
    description = up21(doc)["documentation"]["description"]
    assert len(description) <= 10_000 and description.startswith("x" * 9_950)


# --------------------------------------------------------------------------- 3.0.0 -> 4.0.0


@pytest.mark.parametrize("types_,subtypes,expected", [
    (["Health and disease"], ["Cardiovascular", "Others"], [("Health and disease", ["Cardiovascular", "Others"])]),
    (["Lifestyle", "Health and disease"], ["Smoking", "Others"],
     [("Lifestyle", ["Smoking", "Others"]), ("Health and disease", ["Others"])]),
    (["Imaging area of the body"], ["Chest"], [("Imaging Area Of The Body", ["Chest"])]),
    (["Health and disease"], ["Genomics"], [("Health and disease", []), ("Omics", ["Genomics"])]),
    (["Politics"], ["Not applicable"], [("Politics", ["Not applicable"])]),
    (["Measurements/Tests"], ["Others", "Not applicable"], [("Measurements/Tests", [])]),
    (["Registry"], None, [("Registry", [])]),
    ([], [], []),
])
def test_dataset_types_are_grouped(types_, subtypes, expected):
    doc = fixture("3.0.0-full")
    doc["provenance"]["origin"].update(datasetType=types_, datasetSubType=subtypes)
    assert not errors(doc, "3.0.0")
    out = upgrade(doc, "3.0.0")
    assert not errors(out, "4.0.0")
    origin = out["provenance"]["origin"]
    assert "datasetSubType" not in origin
    assert [(t["name"], t["subTypes"]) for t in origin["datasetType"]] == expected


@pytest.mark.parametrize("url,expected", [
    ("https://a.example.org/r/1", "https://a.example.org/r/1"),
    ("www.wessexheart.ac.uk/revisions/2", "https://www.wessexheart.ac.uk/revisions/2"),
    ("  wessexheart.ac.uk\n", "https://wessexheart.ac.uk"),
    ("wessexheart.ac.uk:8080/r", "https://wessexheart.ac.uk:8080/r"),  # not a URI with scheme "wessexheart.ac.uk"
    ("https://a.example.org/1\nhttps://a.example.org/2", "https://a.example.org/1"),
    (None, None),
])
def test_revision_urls_become_uris(url, expected):
    doc = fixture("3.0.0-full")
    doc["revisions"] = [{"version": "1.0.0", "url": url}]
    out = upgrade(doc, "3.0.0")
    assert not errors(out, "4.0.0")
    assert out["revisions"][0]["url"] == expected


def test_3_0_0_fixture_mappings():
    out = upgrade(fixture("3.0.0-full"), "3.0.0")
    assert out["summary"]["datasetAliases"] == ["BRIGHT-HF", "WHRU-HF-2014"]
    assert "alternateIdentifiers" not in out["summary"]
    assert out["revisions"][1]["url"] == "https://www.wessexheart.ac.uk/bright-hf/revisions/3.0.0"
    assert [t["name"] for t in out["provenance"]["origin"]["datasetType"]] == [
        "Health and disease", "Measurements/Tests", "Imaging types", "Omics"]
    # everything else is unchanged between 3.0.0 and 4.0.0
    same = ("coverage", "accessibility", "enrichmentAndLinkage", "observations", "structuralMetadata",
            "demographicFrequency", "omics", "documentation")
    assert {k: out[k] for k in same} == {k: fixture("3.0.0-full")[k] for k in same}


# --------------------------------------------------------------------------- enum tables vs schemas


TABLE_ENUMS = [
    (E.PERIODICITY, "Periodicity", "PeriodicityV2"), (E.TIME_LAG, "TimeLag", "TimeLagV2"),
    (E.DELIVERY_LEAD_TIME, "DeliveryLeadTime", "DeliveryLeadTimeV2"), (E.PURPOSE, "Purpose", "PurposeV2"),
    (E.SOURCE, "Source", "SourceV2"), (E.SETTING, "Setting", "SettingV2"),
    (E.FOLLOW_UP, "Followup", "FollowupV2"), (E.MATERIAL_TYPE, None, "MaterialTypeCategoriesV2"),
    (E.DATA_USE_LIMITATION, "DataUseLimitation", "DataUseLimitationV2"),
    (E.DATA_USE_REQUIREMENTS, "DataUseRequirements", "DataUseRequirementsV2"),
    (E.MEMBER_OF, "MemberOf", "MemberOfV2"),
    (E.OBSERVED_NODE, "StatisticalPopulationConstrained", "StatisticalPopulationConstrainedV2"),
    (E.CONTROLLED_VOCABULARY, "ControlledVocabularyEnum", "ControlledVocabularyEnum"),
    (E.STANDARDISED_DATA_MODELS, "StandardisedDataModelsEnum", "StandardisedDataModelsEnum"),
    (E.LANGUAGE, "LanguageEnum", "LanguageEnum"),
]


@pytest.mark.parametrize("table,old,new", TABLE_ENUMS, ids=[t[2] for t in TABLE_ENUMS])
def test_enum_tables_cover_2_1_2_and_target_4_0_0(table, old, new):
    targets = set(schema("4.0.0")["$defs"][new]["enum"]) - {None}
    assert set(table.values()) - {None} <= targets
    assert targets <= set(table.values())  # every current value is recognised as itself
    if old:
        legacy = set(schema("2.1.2")["$defs"][old]["enum"]) - {None}
        assert all(E.norm(v) in table for v in legacy), sorted(v for v in legacy if E.norm(v) not in table)


def test_dataset_type_table_matches_both_schemas():
    defs4 = schema("4.0.0")["$defs"]
    declared = set()
    for ref in defs4["Origin"]["properties"]["datasetType"]["items"]["anyOf"]:
        d = defs4[ref["$ref"].rsplit("/", 1)[1]]
        sub_ref = d["properties"]["subTypes"]["anyOf"][0]["items"]["$ref"].rsplit("/", 1)[1]
        subs = defs4[sub_ref].get("enum") or [defs4[sub_ref]["const"]]
        declared.add((d["properties"]["name"]["default"], tuple(subs)))
    assert set(E.DATASET_TYPES.values()) == declared
    defs3 = schema("3.0.0")["$defs"]
    assert all(E.norm(t) in E.DATASET_TYPES for t in defs3["DatasetTypeV2"]["enum"])
    assert all(E.norm(s) in E.SUBTYPES for s in defs3["DatasetSubType"]["enum"])


# --------------------------------------------------------------------------- totality on garbage

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=25,
)


def _resolve(node: Any, defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The object-shaped alternatives of a schema node ($ref / allOf / anyOf unwrapped)."""
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    if "properties" in node:
        return [node]
    return [o for key in ("allOf", "anyOf") for sub in node.get(key, []) for o in _resolve(sub, defs)]


def _enum_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [v for v in node.get("enum", []) if isinstance(v, str)]
        return found + [s for v in node.values() for s in _enum_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _enum_strings(v)]
    return []


def shaped(version: str) -> st.SearchStrategy[Any]:
    """Documents with the schema's section/field names but arbitrary (mostly wrong) values."""
    doc_schema = schema(version)
    defs = defs_of(doc_schema)
    leaf = JSON | st.sampled_from(sorted(set(_enum_strings(doc_schema))))

    def build(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        if not isinstance(node, dict):
            return leaf
        objects = _resolve(node, defs)
        items = [n.get("items") for n in [node, *node.get("anyOf", [])]
                 if isinstance(n, dict) and isinstance(n.get("items"), dict)]
        options = [leaf]
        if objects and depth < 4:
            props = {k: v for o in objects for k, v in o["properties"].items()}
            options.append(st.fixed_dictionaries({}, optional={k: st.deferred(lambda v=v: build(v, depth + 1))
                                                               for k, v in props.items()}))
        if items and depth < 4:
            options.append(st.lists(st.deferred(lambda: build(items[0], depth + 1)), max_size=3))
        return st.one_of(options)

    return build(doc_schema, 0)


VERSIONS = ["2.0.2", "2.1.0", "2.1.2", "2.1.3", "2.2.0", "2.2.1", "3.0.0", "4.0.0"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON, version=st.sampled_from(VERSIONS))
def test_upgrade_is_total_on_any_json(value, version):
    before = copy.deepcopy(value)
    out = upgrade(value, version)
    assert isinstance(out, dict)
    assert value == before
    json.dumps(out)


@pytest.mark.parametrize("version", VERSIONS[:-1])
def test_upgrade_is_total_on_document_shaped_garbage(version):
    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(doc=shaped(version))
    def run(doc):
        before = copy.deepcopy(doc)
        out = upgrade(doc, version)
        assert isinstance(out, dict) and doc == before
        json.dumps(out)

    run()


# --------------------------------------------------------------------------- valid in, valid out

try:
    import hypothesis_jsonschema
except ImportError:  # pragma: no cover - it is a test dependency
    hypothesis_jsonschema = None


def _hypothesis_jsonschema_compat() -> None:
    """hypothesis-jsonschema 0.23.1 drives the old ``many.more()`` API that recent Hypothesis
    releases replaced with an iterator; give it a thin adapter (only if needed)."""
    from hypothesis.internal.conjecture import utils as cu
    from hypothesis_jsonschema import _from_schema

    if hasattr(cu.many, "more"):
        return

    class LegacyMany(cu.many):
        def more(self) -> bool:
            if self._depth is None:
                self.__enter__()
                self._legacy_iter = iter(self)
            try:
                next(self._legacy_iter)
                return True
            except StopIteration:
                self.__exit__(None)
                return False

    _from_schema.cu = types.SimpleNamespace(many=LegacyMany)


if hypothesis_jsonschema is not None:
    _hypothesis_jsonschema_compat()

# A safe, linear stand-in for 3.0.0's UrlV2 pattern (which backtracks catastrophically); it still
# produces the scheme-less host names UrlV2 accepts, so the UrlV2 -> URI repair is exercised.
_URL_V2_STANDIN = {"anyOf": [{"type": "string", "pattern": (
    r"^(https?://)?[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){0,2}\.[a-z]{2,6}(/[a-z0-9._~-]{0,10}){0,3}$")},
    {"type": "null"}]}


def _dense(node: Any) -> Any:
    """Restrict a schema to *full* documents: every property required, no null alternatives, no
    unknown keys.  Anything valid against the result is valid against the original; the official
    schemas alone mostly yield bare documents (few optional sections), which test little."""
    if isinstance(node, list):
        return [_dense(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _dense(v) for k, v in node.items()}
    if "properties" in out:
        out.update(required=sorted(out["properties"]), additionalProperties=False)
    if "anyOf" in out and [b for b in out["anyOf"] if b != {"type": "null"}]:
        out["anyOf"] = [b for b in out["anyOf"] if b != {"type": "null"}]
    return out


@cache
def generation_schema(version: str, dense: bool = False) -> dict[str, Any]:
    gen_schema = copy.deepcopy(schema(version))
    for node in defs_of(gen_schema).values():
        # The draft-07 schemas (2.0.2, 2.1.0) forget to say that their sections are objects, so they accept
        # {"summary": null}, a document with no title that no later version (and no catalogue) can hold.
        if isinstance(node, dict) and "properties" in node and "type" not in node:
            node["type"] = "object"
    if "UrlV2" in defs_of(gen_schema):
        defs_of(gen_schema)["UrlV2"] = _URL_V2_STANDIN
    if dense:
        gen_schema = _dense(gen_schema)
        defs_of(gen_schema).update(Name={"type": "string"}, MeasuredProperty={"type": "string"})
    return gen_schema


@cache
def generated_is_valid(version: str, dense: bool):
    cls = validator_for(generation_schema(version, dense))
    return cls(generation_schema(version, dense), format_checker=cls.FORMAT_CHECKER).is_valid


# Generation is slow (about 0.7 s a bare document, 1.5 s a full 2.1.2 one, 4 s a full 3.0.0 one),
# so full documents are generated for 2.1.2 only: the 3.0.0 -> 4.0.0 step is thin and unit-tested.
@pytest.mark.parametrize("version,dense,examples", [("2.1.2", False, 50), ("3.0.0", False, 50),
                                                    ("2.1.2", True, 20), ("2.0.2", False, 20),
                                                    ("2.1.0", False, 20), ("2.1.3", False, 20),
                                                    ("2.2.0", False, 20), ("2.2.1", False, 20)])
def test_generated_valid_documents_upgrade_to_valid_4_0_0(version, dense, examples):
    if hypothesis_jsonschema is None:
        pytest.skip("hypothesis-jsonschema is not installed")

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])
    @given(doc=hypothesis_jsonschema.from_schema(generation_schema(version, dense)))
    def run(doc):
        assume(generated_is_valid(version, dense)(doc))  # the contract only covers valid input
        before = copy.deepcopy(doc)
        out = upgrade(doc, version)
        assert doc == before
        assert not errors(out, "4.0.0"), errors(out, "4.0.0")

    run()

"""Version detection and error reporting of the metadata standard."""

from __future__ import annotations

import copy
import signal

import pytest

from healthgate.catalogue.metadata import check
from healthgate.catalogue.standard.validate import detect_version, unwrap, validate
from healthgate.errors import Invalid
from tests.conftest import load_fixture

EVERY_VERSION = [(f"hdruk-{v}-full.json", v) for v in
                 ("2.0.2", "2.1.0", "2.1.2", "2.1.3", "2.2.0", "2.2.1", "3.0.0", "4.0.0")]


@pytest.mark.parametrize("name,version", [*EVERY_VERSION, ("hdruk-4.0.0-minimal.json", "4.0.0")])
def test_detects_each_version(name, version):
    doc = load_fixture(name)
    doc.pop("@schema", None)  # detected from the fields alone
    assert detect_version(doc) == version


@pytest.mark.parametrize("name,version", EVERY_VERSION)
def test_each_version_is_checked_against_its_own_schema_and_translated(name, version):
    doc = load_fixture(name)
    for payload in (doc, {"metadata": doc}):  # bare, and as HDR UK's gateway wraps it (no schemaVersion)
        checked = check(payload)
        assert checked.schema_version == version
        assert checked.errors == [] and checked.canonical_errors == []
        assert checked.canonical["summary"]["title"] == doc["summary"]["title"]


def test_version_differences_are_errors_of_the_right_schema():
    doc = load_fixture("hdruk-2.1.3-full.json")  # publishingFrequency: 2.1.3 on; 2.1.2 knows accrualPeriodicity
    assert validate(doc, "2.1.3") == []
    assert "$.provenance.temporal.publishingFrequency" in {e.path for e in validate(doc, "2.1.2")}
    assert check(doc, "2.1.2").schema_version == "2.1.2"  # an explicit version is believed, and checked


def test_gateway_export_marker_names_the_version_and_is_not_content():
    doc = load_fixture("hdruk-2.0.2-full.json")
    assert doc["@schema"].endswith("/2.0.0/dataset.schema.json")
    sub = unwrap(doc)
    assert sub.schema_version == "2.0.2" and "@schema" not in sub.document
    translated = check(doc)
    assert translated.errors == []
    access = translated.canonical["accessibility"]["access"]
    assert access["deliveryLeadTime"] == "2-6 months"  # from the publisher (2.0.x kept access there)
    assert access["accessRights"] == "https://www.wessexheart.ac.uk/bright-hf/access"  # the dataset's own wins
    assert "Publisher accessRights: https://www.wessexheart.ac.uk/access" in \
        translated.canonical["documentation"]["description"]


def test_2_2_fields_find_their_places():
    canonical = check(load_fixture("hdruk-2.2.1-full.json")).canonical
    assert canonical["summary"]["populationSize"] == 12418
    assert canonical["provenance"]["origin"]["datasetType"] == [
        {"name": "Health and disease", "subTypes": ["Cardiovascular"]}]
    assert canonical["accessibility"]["access"]["accessServiceCategory"] == "TRE/SDE"
    assert canonical["structuralMetadata"]["syntheticDataWebLink"] == [
        "https://www.wessexheart.ac.uk/bright-hf/synthetic"]
    assert set(canonical["coverage"]["materialType"]) == {"Whole blood", "Urine"}
    assert "Coverage, Gender: Male, Female" in canonical["documentation"]["description"]


def test_fields_of_one_version_outweigh_the_datatype_shape():
    # HDR UK's own 4.0.0 example writes datasetType as plain strings (the 3.0.0 shape) but has datasetAliases
    doc = copy.deepcopy(load_fixture("hdruk-4.0.0-full.json"))
    doc["summary"]["datasetAliases"] = None
    doc["provenance"]["origin"]["datasetType"] = ["Health and disease"]
    checked = check(doc)
    assert checked.schema_version == "4.0.0"
    assert [e.path for e in checked.errors] == ["$.provenance.origin.datasetType[0]"]


def test_envelope_without_a_version_is_detected_inside():
    doc = load_fixture("hdruk-3.0.0-full.json")
    assert unwrap({"metadata": doc}).schema_version == "3.0.0"
    with pytest.raises(Invalid) as exc:
        unwrap({"metadata": {"title": "no summary"}})
    assert exc.value.errors[0].path == "$.metadata.summary"


def test_envelope_and_explicit_version():
    doc = load_fixture("hdruk-3.0.0-full.json")
    assert unwrap({"schemaVersion": "3.0.0", "metadata": doc}).schema_version == "3.0.0"
    assert unwrap({"$schema": "https://example.org/HDRUK/2.1.2/schema.json", "metadata": doc}).schema_version == "2.1.2"
    assert unwrap(doc, "v2.1.1").schema_version == "2.1.2"
    assert unwrap(doc, "v2.1.0").schema_version == "2.1.0"
    with pytest.raises(Invalid) as exc:
        unwrap(doc, "7.0.0")
    assert exc.value.errors[0].path == "schema_version"


def test_every_error_is_reported_with_its_path():
    doc = copy.deepcopy(load_fixture("hdruk-4.0.0-full.json"))
    doc["summary"]["title"] = "x"  # too short
    doc["summary"]["contactPoint"] = "not-an-email"
    doc["provenance"]["temporal"]["startDate"] = "2021-02-30"
    doc["accessibility"]["access"]["deliveryLeadTime"] = "soon"
    del doc["accessibility"]["access"]["accessRights"]
    doc["extra"] = True
    paths = {e.path: e.message for e in validate(doc, "4.0.0")}
    assert set(paths) == {"$.summary.title", "$.summary.contactPoint", "$.provenance.temporal.startDate",
                          "$.accessibility.access.deliveryLeadTime", "$.accessibility.access.accessRights",
                          "$.extra"}
    assert "1-2 weeks" in paths["$.accessibility.access.deliveryLeadTime"]  # the allowed values are listed
    assert paths["$.accessibility.access.accessRights"] == "required field is missing"


def test_hostile_pattern_input_is_matched_in_linear_time():
    # The official 3.0.0 URL pattern backtracks catastrophically in a backtracking regex engine: Python's re
    # would take hours on this string. jsonschema-rs matches it with a linear-time engine, so this returns at
    # once; the alarm only turns a hang into a failure instead of a stuck test run (it is not a speed check).
    doc = copy.deepcopy(load_fixture("hdruk-3.0.0-full.json"))
    doc["revisions"] = [{"version": "1.0.0", "url": "a" * 5000 + "!"}]

    def hung(*_):
        raise AssertionError("validation did not finish: the pattern backtracks")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        errors = validate(doc, "3.0.0")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert any(e.path.startswith("$.revisions[0]") for e in errors)


@pytest.mark.parametrize("bad", [2_000, 6_000])  # below and above the point where the flat error list is used
def test_errors_beyond_the_limit_are_counted_per_field(bad):
    from healthgate.catalogue.standard.validate import MAX_ERRORS, MAX_PER_FIELD

    doc = copy.deepcopy(load_fixture("hdruk-4.0.0-full.json"))
    doc["summary"]["keywords"] = ["k"] * bad  # each too short
    doc["summary"]["contactPoint"] = "not-an-email"
    doc["summary"].update({f"unknown{i}": 1 for i in range(bad)})
    errors = validate(doc, "4.0.0")
    listed = [e for e in errors if "more errors here" not in e.message]
    summaries = {e.path: e.message for e in errors if "more errors here" in e.message}
    assert len(listed) <= MAX_ERRORS
    assert "$.summary.contactPoint" in {e.path for e in listed}  # a flood in one field hides no other
    assert sum(e.path.startswith("$.summary.keywords[") for e in listed) == MAX_PER_FIELD
    assert any(e.path.startswith("$.summary.unknown") or (e.path == "$.summary" and "unknown0" in e.message)
               for e in listed)
    assert "$.summary.keywords" in summaries
    counted = int(summaries["$.summary.keywords"].split(" ")[0].replace(",", ""))
    assert counted + MAX_PER_FIELD == bad
    quality = check(doc).quality
    assert quality["schema_errors"] == len(errors)

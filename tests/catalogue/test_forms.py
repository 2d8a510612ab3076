"""The dataset form generated from the HDR UK 4.0.0 schema: what it shows, and that a document survives the
round trip through its fields."""

from __future__ import annotations

import json
from importlib import resources

from healthgate.catalogue import forms
from healthgate.catalogue.diff import diff
from healthgate.catalogue.metadata import check
from healthgate.errors import FieldError
from tests.conftest import load_fixture


def _schema() -> dict:
    path = resources.files("healthgate.catalogue.standard").joinpath("schemas/4.0.0.schema.json")
    return json.loads(path.read_text())


def _field(path: str) -> forms.Field:
    """The form field with this name (``summary.title``; items as ``observations[]``)."""
    for section in forms.form():
        prefix = "" if section.group.key == "" or section.key == forms.RECORD else section.key
        stack = [(c, forms.name_of(prefix, c.key)) for c in section.group.children]
        while stack:
            f, name = stack.pop()
            if name == path:
                return f
            inner = f"{name}[]" if f.kind == "repeat" else name
            stack.extend((c, forms.name_of(inner, c.key)) for c in f.children)
    raise KeyError(path)


def test_sections_follow_the_schema():
    keys = [s.key for s in forms.form()]
    assert keys[0] == forms.RECORD
    assert set(keys[1:]) == set(_schema()["properties"]) - {"identifier", "version", "revisions", "issued", "modified"}


def test_required_fields_choices_repeats_and_help_come_from_the_schema():
    schema = _schema()
    summary = schema["$defs"]["Summary"]
    assert _field("summary.title").required and "title" in summary["required"]
    assert not _field("summary.keywords").required and "keywords" not in summary["required"]
    assert _field("summary.title").help.startswith("Title of the dataset")
    assert _field("summary.title").label == "Title"
    node = _field("provenance.temporal.publishingFrequency")
    assert node.kind == "choice" and node.options == schema["$defs"]["PeriodicityV2"]["enum"][:len(node.options)]
    assert "Annual" in node.options
    assert _field("accessibility.usage.dataUseLimitation").kind == "choices"
    assert _field("observations").kind == "repeat" and _field("observations").required
    assert _field("observations[].measuredValue").kind == "integer"
    assert _field("structuralMetadata.tables[].columns").kind == "repeat"  # nested repeatable groups
    assert _field("structuralMetadata.tables[].columns[].sensitive").kind == "boolean"
    # a list whose items take one of several shapes: one item shape with the union of their choices
    dataset_type = _field("provenance.origin.datasetType")
    assert dataset_type.kind == "repeat"
    names = next(c for c in dataset_type.children if c.key == "name").options
    assert "Health and disease" in names and len(names) > 5
    assert "\\n" not in _field("summary.title").guidance  # escaped newlines made real


def test_the_full_fixture_survives_the_round_trip():
    doc = load_fixture("hdruk-4.0.0-full.json")
    back = forms.parse(forms.values(doc))
    assert diff(doc, back) == []
    assert check({"schemaVersion": "4.0.0", "metadata": back}).canonical_errors == \
        check({"schemaVersion": "4.0.0", "metadata": doc}).canonical_errors


def test_empty_fields_are_left_out_and_bad_numbers_kept_as_typed():
    data = {"summary.title": ["  A title "], "summary.populationSize": ["lots"], "summary.abstract": [""],
            "coverage.typicalAgeRangeMin": ["1,200"], "observations[0]": [""], "observations[0].measuredValue": [""],
            "summary.keywords": ["asthma\n\n copd \n"]}
    doc = forms.parse(data)
    assert doc["summary"] == {"title": "A title", "populationSize": "lots", "keywords": ["asthma", "copd"]}
    assert doc["coverage"] == {"typicalAgeRangeMin": 1200}
    assert doc["observations"] == []  # required list: kept, empty; the blank item dropped
    assert doc["revisions"] == []
    assert "documentation" not in doc
    kept = forms.parse(data, keep_empty_items=True)
    assert kept["observations"] == [{}]


def test_add_and_remove_items_renumber():
    data = {"observations[0]": [""], "observations[0].measuredValue": ["1"],
            "observations[1]": [""], "observations[1].measuredValue": ["2"],
            "observations[2]": [""], "observations[2].measuredValue": ["3"]}
    after = forms.apply_op(dict(data), "remove:observations[1]")
    assert forms.parse(after)["observations"] == [{"measuredValue": 1}, {"measuredValue": 3}]
    grown = forms.apply_op(after, "add:observations")
    assert forms.item_indices(grown, "observations") == [0, 1, 2]
    assert forms.parse(grown, keep_empty_items=True)["observations"][2] == {}
    assert forms.apply_op({}, "add:observations") == {"observations[0]": [], "observations[1]": []}


def test_errors_are_placed_beside_their_fields():
    errors = [FieldError("$.summary.title", "too short"), FieldError("$.summary.keywords[2]", "too long"),
              FieldError("$.observations[0].measuredValue", "not an integer"), FieldError("$", "whole document"),
              FieldError("$.accessibility", "required field is missing"), FieldError("$.nonsense.x", "unknown")]
    placed = forms.errors_by_field(errors)
    assert placed["summary.title"] == ["too short"]
    assert placed["summary.keywords"] == ["summary.keywords[2]: too long"]
    assert placed["observations[0].measuredValue"] == ["not an integer"]
    assert placed["accessibility"] == ["required field is missing"]
    assert placed[""] == ["whole document", "nonsense.x: unknown"]


def test_a_string_or_list_field_keeps_its_shape():
    doc = {"summary": {"title": "T", "contactPoint": "a@b.org", "dataCustodian": {"contactPoint": ["c@d.org"]}}}
    values = forms.values(doc)
    assert values["summary.dataCustodian.contactPoint" + forms.LIST_MARK] == ["1"]
    assert forms.parse(values)["summary"]["dataCustodian"]["contactPoint"] == ["c@d.org"]
    values.pop("summary.dataCustodian.contactPoint" + forms.LIST_MARK)
    assert forms.parse(values)["summary"]["dataCustodian"]["contactPoint"] == "c@d.org"


def test_a_section_too_large_for_the_form_travels_whole():
    doc = load_fixture("hdruk-4.0.0-full.json")
    table = doc["structuralMetadata"]["tables"][0]
    column = table["columns"][0]
    doc["structuralMetadata"]["tables"] = [dict(table, name=f"t{i}", columns=[dict(column, name=f"c{j}")
                                                                           for j in range(60)]) for i in range(10)]
    values = forms.values(doc)
    assert not any(k.startswith("structuralMetadata.") for k in values)  # no fields: one hidden value
    assert json.loads(values["structuralMetadata" + forms.KEPT_MARK][0]) == doc["structuralMetadata"]
    assert len(values) < 200
    assert diff(doc, forms.parse(values)) == []
    small = load_fixture("hdruk-4.0.0-full.json")
    assert "structuralMetadata" + forms.KEPT_MARK not in forms.values(small)  # a usual one is edited in the form

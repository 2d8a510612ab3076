"""The custodian sees the DCAT-AP check of their draft and of the latest version beside its quality score."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from healthgate.identity.permissions import Role
from healthgate.interop import dcat_report
from tests.catalogue.test_workspace import People, _create, _csrf, _form_fields, _post
from tests.conftest import load_fixture


@pytest.fixture
def people(db, clock, tmp_path):
    return People(db, clock, tmp_path)


def _report(page: str) -> str:
    m = re.search(r'<details class="dcat-report".*?</details>', page, re.DOTALL)
    assert m, "no DCAT-AP report on the page"
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(0))))


def test_workspace_shows_what_the_dcat_export_lacks(people):
    admin = people.browser("Ada Admin", [Role.TEAM_ADMIN])
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    dsid = _create(admin, **_form_fields(doc))
    text = _report(admin.get(f"/workspace/datasets/{dsid}").text)
    assert "DCAT-AP 3.0.1 export (the draft): conforms" in text
    assert "minimum typical age" in text and "coverage.typicalAgeRangeMin" in text
    assert "summary.keywords" in text
    full = load_fixture("hdruk-4.0.0-full.json")
    full["observations"].append({"observedNode": "Events", "measuredValue": 5, "observationDate": "2024-01-01",
                                 "measuredProperty": "Count"})
    assert _post(admin, f"/workspace/datasets/{dsid}/edit", _form_fields(full)).status_code == 303
    page = admin.get(f"/workspace/datasets/{dsid}").text
    text = _report(page)
    assert "conforms · 0 HealthDCAT-AP recommendations not met" in text, text
    r = _post(admin, f"/workspace/datasets/{dsid}/publish", {"row_version": "", "accept_invalid": "1"},
              _csrf(admin, f"/workspace/datasets/{dsid}"))
    assert r.status_code == 303, r.text[:300]
    page = admin.get(f"/workspace/datasets/{dsid}").text
    assert "DCAT-AP 3.0.1 export (version 1): conforms" in html_lib.unescape(re.sub(r"\s+", " ", page))


def test_report_names_the_hdruk_field_of_a_violation():
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["summary"]["title"] = ""
    check = dcat_report.check(doc)
    assert check is not None and not check.conforms
    (line,) = check.violations
    assert (line.property, line.field, line.where) == ("dct:title", "summary.title", "the dataset")
    assert dcat_report.check(doc) is check  # cached by content
    doc["summary"]["title"] = "Now titled"
    assert dcat_report.check(doc).conforms

"""The legacy HDR UK Gateway CSV export (605 real datasets, v1 field names) read as HDR UK 4.0.0 documents."""

from __future__ import annotations

import collections
import csv
import io
import json
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from healthgate.errors import FieldError
from healthgate.interop import legacy_fields as lf
from healthgate.interop.legacy_csv import LegacyRecord, is_legacy_csv, read_legacy_csv
from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parents[2]
EXPORT = CORPUS
SCHEMA = ROOT / "src" / "healthgate" / "catalogue" / "standard" / "schemas" / "4.0.0.schema.json"


@cache
def _read() -> tuple[list[LegacyRecord], list[FieldError]]:
    return read_legacy_csv(EXPORT)


@pytest.fixture(scope="module")
def records() -> dict[str, LegacyRecord]:
    recs, _ = _read()
    return {r.pid: r for r in recs}


def _csv(header: list[str], *rows: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


HEADER = ["pid", "title", "publisher", "abstract", "keywords", "contactPoint", "datasetStartDate"]


def _row(pid: str, title: str = "A dataset", publisher: str = "ALLIANCE > SAIL") -> list[str]:
    return [pid, title, publisher, "An abstract long enough", "one, two", "team@example.org", "2020-01-01"]


# ------------------------------------------------------------------------------------------- real file

def test_reads_all_605_datasets_without_errors():
    recs, errors = _read()
    assert errors == []
    assert len(recs) == 605
    assert [r.row for r in recs] == list(range(2, 607))
    assert len({r.pid for r in recs}) == 605
    assert all(r.document["identifier"] == r.pid for r in recs)


def test_recognises_the_export_header():
    header = next(csv.reader(io.StringIO(EXPORT.read_text(encoding="utf-8-sig"))))
    assert is_legacy_csv(header)
    assert not is_legacy_csv(["title", "publisher", "description"])
    assert not is_legacy_csv([h for h in header if h != "title"])


def test_annual_district_death_extract(records):
    rec = records["15cf4241-abad-4dcc-95b0-8cd7c02be999"]
    doc = rec.document
    assert (rec.row, rec.team, rec.member_group) == (12, "SAIL", "ALLIANCE")
    assert doc["summary"]["title"] == "Annual District Death Extract"
    assert doc["summary"]["keywords"] == ["Death", "SAIL", "NCS"]
    assert doc["summary"]["contactPoint"] == "SAILDatabank@swansea.ac.uk"
    assert doc["summary"]["dataCustodian"] == {
        "identifier": "ALLIANCE > SAIL", "name": "SAIL",
        "contactPoint": "SAILDatabank@swansea.ac.uk", "memberOf": "Alliance",
    }
    assert doc["summary"]["populationSize"] == 770000
    assert doc["summary"]["datasetAliases"] == ["ADDE"]
    assert doc["provenance"]["temporal"] == {
        "publishingFrequency": "Annual", "startDate": "1996-01-01", "endDate": "2018-12-31",
        "distributionReleaseDate": "2019-03-28",
    }
    assert doc["accessibility"]["access"]["deliveryLeadTime"] == "2-6 months"
    assert doc["accessibility"]["access"]["jurisdiction"] == ["GB"]
    assert doc["coverage"] == {"spatial": "Wales", "typicalAgeRangeMin": 0, "typicalAgeRangeMax": 150,
                               "materialType": ["None/not available"]}
    assert doc["version"] == "6.0.0"
    assert [r["version"] for r in doc["revisions"]] == ["0.0.1", "1.0.0", "2.0.0", "3.0.0", "4.0.0", "5.0.0"]
    assert doc["revisions"][0]["url"] == "urn:uuid:3be205c8-c1a3-4130-bef2-850b2d418169"
    assert (doc["issued"], doc["modified"]) == ("2020-01-13T14:47:26Z", "2021-01-20T17:55:57Z")
    assert doc["enrichmentAndLinkage"]["publicationAboutDataset"] == ["10.1097/CCM.0000000000003424"]
    # This row's description cell belongs to a data element flattened into it by the export.
    assert "documentation" not in doc
    assert any("data element 'DEATH_COUNTYANDDISTRICT_CD'" in n for n in rec.notes)


def test_cystic_fibrosis_sweat_tests(records):
    rec = records["34f0c2bd-d42e-4441-a89b-e0e384f12afa"]
    summary = rec.document["summary"]
    assert (rec.row, rec.team, rec.member_group) == (67, "CYSTIC FIBROSIS TRUST", "ALLIANCE")
    assert summary["title"] == "Cystic Fibrosis Patient Sweat Tests"
    assert summary["keywords"] == ["CYSTIC FIBROSIS"]
    assert summary["doiName"] == "10.1093/ije/dyx196"
    assert summary["contactPoint"] == "registry@cysticfibrosis.org.uk"
    assert rec.document["provenance"]["temporal"]["startDate"] == "1996-01-01"
    assert rec.document["provenance"]["temporal"]["endDate"] == "2019-09-01"
    # "16 WEEKS (8 WEEKS FOR COMMITTEE DECISION AND 8 WEEKS FOR DATA EXTRACTION ...)" falls in one band.
    assert rec.document["accessibility"]["access"]["deliveryLeadTime"] == "2-6 months"
    assert any("16 WEEKS" in n and "2-6 months" in n for n in rec.notes)


def test_eave_ii_is_a_hub_dataset(records):
    rec = records["25bc9862-5b6c-4dda-80b2-46642d9e518a"]
    summary = rec.document["summary"]
    assert (rec.row, rec.team, rec.member_group) == (86, "BREATHE", "HUB")
    assert summary["dataCustodian"]["memberOf"] == "Hub"
    assert summary["title"] == "Early Pandemic Evaluation and Enhanced Surveillance of COVID-19 (EAVE II)"
    assert summary["keywords"] == ["BREATHE", "COVID-19", "NCS"]
    assert summary["doiName"] == "10.1136/bmjopen-2020-039097"
    assert summary["contactPoint"] == "breathe.saildatabank@swansea.ac.uk"
    assert rec.document["accessibility"]["access"]["deliveryLeadTime"] == "1-2 months"
    assert rec.document["documentation"]["description"].startswith("Introduction: Following the emergence")


def test_us_short_dates_follow_the_files_own_evidence(records):
    # NHS Digital wrote 4/1/11 .. 3/31/13; "31" can only be a day, so these are month/day/yy.
    rec = records["29c61f09-c4a1-425f-9bbc-888c23d99516"]
    assert rec.row == 52
    temporal = rec.document["provenance"]["temporal"]
    assert (temporal["startDate"], temporal["endDate"]) == ("2011-04-01", "2013-03-31")
    assert "datasetStartDate '4/1/11' read as month/day/year: 2011-04-01" in rec.notes
    # ... while the HIC themes wrote 31/12/2017, so their 01/04/2015 is the 1st of April.
    hic = records["66be725a-b950-4bf8-9a35-7e33ce765a25"]
    assert hic.document["provenance"]["temporal"]["startDate"] == "2015-04-01"
    assert hic.document["provenance"]["temporal"]["endDate"] == "2018-12-08"


def test_publisher_without_group(records):
    rec = records["2ddf0659-f05a-4f1c-b558-63a96e5b49f7"]
    assert (rec.team, rec.member_group) == ("UK Biobank", None)
    assert "memberOf" not in rec.document["summary"]["dataCustodian"]


def test_publisher_splitting():
    recs, errors = read_legacy_csv(_csv(
        HEADER,
        _row("u1", publisher="ALLIANCE > SAIL"),
        _row("u2", publisher="HUBS > BREATHE"),
        _row("u3", publisher="NCS > OFFICE FOR NATIONAL STATISTICS"),
        _row("u4", publisher="UK Biobank"),
        _row("u5", publisher="  OTHER >  The University of Cambridge "),
    ))
    assert errors == []
    got = [(r.team, r.member_group, r.document["summary"]["dataCustodian"].get("memberOf")) for r in recs]
    assert got == [
        ("SAIL", "ALLIANCE", "Alliance"),
        ("BREATHE", "HUB", "Hub"),
        ("OFFICE FOR NATIONAL STATISTICS", "NCS", "NCS"),
        ("UK Biobank", None, None),
        ("The University of Cambridge", "OTHER", "Other"),
    ]
    assert "publisher group 'HUBS' read as 'HUB'" in recs[1].notes


def test_no_invented_values():
    recs, _ = _read()
    for rec in recs:
        doc = rec.document
        assert "timeLag" not in (doc.get("provenance") or {}).get("temporal", {})  # the export has none
        assert doc["observations"] == []
        assert doc["summary"]["populationSize"] == -1 or doc["summary"]["populationSize"] > 0
        assert "origin" not in (doc.get("provenance") or {})
    assert sum(r.document["summary"]["populationSize"] > 0 for r in recs) == 130


def test_placeholders_and_junk_are_dropped_with_notes(records):
    recs, _ = _read()
    by_row = {r.row: r for r in recs}
    assert "11998-02-01" in " ".join(by_row[339].notes)
    assert "startDate" not in by_row[339].document["provenance"]["temporal"]
    assert "distributionReleaseDate" not in by_row[357].document["provenance"]["temporal"]  # 0202-10-30
    assert all("In Progress" not in json.dumps(r.document) for r in recs)
    assert not any(r.document["summary"].get("doiName", "").startswith("http") for r in recs)


# ----------------------------------------------------------------------------------------- bad inputs

def test_latin1_bytes_are_rejected_naming_row_and_column():
    data = _csv(HEADER, _row("u1"), _row("u2", title="Café dataset"), _row("u3", title="Données")).decode()
    recs, errors = read_legacy_csv(data.encode("latin-1"))
    assert recs == []
    assert [e.path for e in errors] == ["row 3", "row 4"]
    assert "'title'" in errors[0].message and "UTF-8" in errors[0].message


def test_utf8_with_bom_is_fine():
    recs, errors = read_legacy_csv(b"\xef\xbb\xbf" + _csv(HEADER, _row("u1", title="Café dataset")))
    assert errors == []
    assert recs[0].document["summary"]["title"] == "Café dataset"


def test_unterminated_quote_costs_one_row():
    stray = 'u2,"Unclosed title,ALLIANCE > SAIL,abstract here,k,a@b.org,2020-01-01\n'
    plain = "u3,Plain title,ALLIANCE > SAIL,abstract here,k,a@b.org,2020-01-01\n"
    tail = stray + plain + plain.replace("u3", "u4")
    recs, errors = read_legacy_csv(_csv(HEADER, _row("u1")) + tail.encode())
    assert [e.path for e in errors] == ["row 3"]
    assert errors[0].message.startswith("unterminated quote")
    assert [(r.row, r.pid) for r in recs] == [(2, "u1"), (4, "u3"), (5, "u4")]


def test_stray_quote_closed_by_a_later_row():
    stray = 'u2,"Unclosed title,ALLIANCE > SAIL,abstract here,k,a@b.org,2020-01-01\n'
    later = _csv(HEADER, _row("u3")).decode().split("\n", 1)[1]  # its keywords cell is quoted
    recs, errors = read_legacy_csv(_csv(HEADER, _row("u1")) + (stray + later).encode())
    assert [e.path for e in errors] == ["row 3"]
    assert errors[0].message.startswith("broken quoting")
    assert [(r.row, r.pid) for r in recs] == [(2, "u1"), (4, "u3")]


def test_missing_title_column():
    recs, errors = read_legacy_csv(_csv([h for h in HEADER if h != "title"], ["u1", "ALLIANCE > SAIL",
                                                                                "abstract", "k", "a@b.org",
                                                                                "2020-01-01"]))
    assert recs == []
    assert errors == [FieldError("row 1", "missing required column 'title'")]


def test_empty_title_and_publisher_and_wrong_width_are_all_reported():
    recs, errors = read_legacy_csv(_csv(
        HEADER,
        _row("u1"),
        _row("u2", title="  "),
        _row("u3", publisher=""),
        _row("u4") + ["extra"],
        _row("u5"),
    ))
    assert [(r.row, r.pid) for r in recs] == [(2, "u1"), (6, "u5")]
    assert errors == [
        FieldError("row 3", "column 'title' is empty"),
        FieldError("row 4", "column 'publisher' is empty"),
        FieldError("row 5", "has 8 fields, the header has 7"),
    ]


def test_row_numbers_count_records_not_lines():
    multiline = ["u1", "Multi\nline\ntitle", "ALLIANCE > SAIL", "a", "k", "a@b.org", ""]
    data = _csv(HEADER, multiline, _row("u2", title=""))
    recs, errors = read_legacy_csv(data)
    assert recs[0].row == 2
    assert errors == [FieldError("row 3", "column 'title' is empty")]


def test_empty_file():
    assert read_legacy_csv(b"") == ([], [FieldError("row 1", "the file is empty")])


# ----------------------------------------------------------------------------------------- field readers

@pytest.mark.parametrize(("raw", "expected"), [
    ("2020-01-13", "2020-01-13"),
    ("2020-09-01T00:00:00Z", "2020-09-01"),
    ("31/01/2014", "2014-01-31"),
    ("1 April 2015", "2015-04-01"),
    ("sometime 2019", None),
    ("SLaM's electronic health record was implemented across all its services during 2006", None),
    ("11998-02-01", None),
    ("0202-10-30T00:00:00Z", None),
    ("2019-02-30", None),
    ("Not Available", None),
])
def test_parse_date(raw, expected):
    value, notes = lf.parse_date(raw, "datasetStartDate")
    assert value == expected
    if expected is None and raw != "Not Available":
        assert notes and notes[0].startswith("datasetStartDate ")


def test_parse_date_free_text_note():
    assert lf.parse_date("sometime 2019", "datasetStartDate") == (
        None, ["datasetStartDate 'sometime 2019' is not a date, dropped"])
    assert lf.parse_end_date("Ongoing", "datasetEndDate") == ("CONTINUOUS", [])


@pytest.mark.parametrize(("raw", "expected"), [
    ("2-6 MONTHS", "2-6 months"), ("1-2 months", "1-2 months"), ("LESS 1 WEEK", "Less than 1 week"),
    ("MORE 6 MONTHS", "More than 6 months"), ("VARIABLE", "Variable"), ("NOT APPLICABLE", "Not applicable"),
    ("OTHER", "Other"), ("~6-12 months", "More than 6 months"),
    ("2-3 months from a valid application.", "2-6 months"),
    ("3-9 months", None), ("Subject to negotiation", None), ("https://cprd.com/Data-access", None),
    ("PLEASE CONTACT THE PUBLISHER USING CONTACT POINT DETAILS PROVIDED", None),
])
def test_parse_lead_time(raw, expected):
    assert lf.parse_lead_time(raw, "accessRequestDuration")[0] == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("0-150", (0, 150)), ("18+", (18, None)), (">18 years", (18, None)), ("<5", (None, 5)),
    ("2-59 months", (0, 4)), ("ALL", (None, None)), ("Not Known", (None, None)), ("90-18", (None, None)),
])
def test_parse_age_band(raw, expected):
    assert lf.parse_age_band(raw, "ageBand")[:2] == expected


def test_keywords_emails_dois_and_codes():
    assert lf.split_list("DIDs, Diagnostic, Imaging,") == ["DIDs", "Diagnostic", "Imaging"]
    assert lf.split_list("HES, hes, A&E (Accident, Emergency)") == ["HES", "A&E (Accident, Emergency)"]
    assert lf.parse_emails("enquiries@cprd.com\xa0", "contactPoint") == (["enquiries@cprd.com"], [])
    emails, notes = lf.parse_emails("Contact: Jane <jane.doe@nhs.net> (weekdays)", "contactPoint")
    assert emails == ["jane.doe@nhs.net"] and notes
    doi = "10.1302/2058-5241.4.180084"
    assert lf.parse_doi(f"https://doi.org/{doi}", "doi") == (doi, [])
    assert lf.parse_doi("In Progress", "doi") == (None, [])
    text = ("see https://doi.org/10.1093/ije/dyq118,https://doi.org/10.1080/13557858.2013.814764 and "
            "doi:10.1017/S1368980015002669. Also https://example.org/articles/10.1186/x-1")
    assert lf.find_dois(text) == [
        "10.1093/ije/dyq118", "10.1080/13557858.2013.814764", "10.1017/S1368980015002669"]
    assert lf.parse_jurisdictions("GB-ENG,GB-NIR, 826", "jurisdiction")[0] == ["GB-ENG", "GB-NIR", "GB"]
    members, urls, notes = lf.map_enum_list("ODS, ICD-10, OPCS, SNOMED", "controlledVocabulary",
                                            lf.VOCABULARY, "vocabulary")
    assert members == ["ODS", "ICD10", "OPCS4", "SNOMED CT"] and urls == [] and notes == []
    members, _, _ = lf.map_enum_list("NOT AVAILABLE", "physicalSampleAvailability", lf.MATERIAL, "material")
    assert members == ["None/not available"]


# ------------------------------------------------------------------------------------ schema statistics

def _leaf(error: ValidationError) -> ValidationError:
    """The most specific reason behind an ``anyOf``/``allOf`` failure."""
    while error.context:
        reasons = [e for e in error.context if e.validator != "type"] or list(error.context)
        error = max(reasons, key=lambda e: len(e.absolute_path))
    return error


def test_report_schema_validity():
    """Prints how many mapped documents are valid 4.0.0 (run with -s), and checks that count against the
    one healthgate's own validator (jsonschema-rs) gets for the same documents, record by record."""
    recs, _ = _read()
    schema = json.loads(SCHEMA.read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    kinds: collections.Counter[str] = collections.Counter()
    valid = 0
    for rec in recs:
        errors = [_leaf(e) for e in validator.iter_errors(rec.document)]
        valid += not errors
        for e in errors:
            where = "/".join(str(p) for p in e.absolute_path if not isinstance(p, int)) or "$"
            kinds[f"{where}: {e.message if e.validator == 'required' else e.validator}"] += 1
    print(f"\n{valid} of {len(recs)} mapped documents are valid HDR UK 4.0.0")
    for kind, count in kinds.most_common(10):
        print(f"  {count:4d}  {kind}")
    notes = collections.Counter(n.split(" ", 1)[0] for r in recs for n in r.notes)
    print("mapping notes by column:", dict(notes.most_common()))
    from healthgate.catalogue.standard.validate import validate

    ours = [rec.pid for rec in recs if not validate(rec.document, "4.0.0")]
    theirs = [rec.pid for rec in recs if validator.is_valid(rec.document)]
    assert ours == theirs
    assert valid == len(theirs)
    assert valid >= 1  # the mapping makes at least some of the real records fully valid

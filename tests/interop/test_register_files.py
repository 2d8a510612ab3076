"""Register files read and written without a database: the real template, headers, dates, list separators,
encodings, formula neutralising, the zip-bomb guard, limits, and a 100,000-row file."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthgate.errors import Invalid, TooLarge, UnsupportedMediaType
from healthgate.interop import register_csv, register_xlsx
from healthgate.interop import register_table as T
from healthgate.register import fields as F
from healthgate.register.service import Applicant, DatasetRef, EntryData, output_of
from tests.register.upload_files import HEADERS, csv_bytes, filled_template, row


def test_the_real_template_parses_empty():
    table = register_xlsx.read(F.template_bytes())
    assert table.rows == [] and set(table.headers) == {f.name for f in F.FIELDS}
    assert table.headers["project_start"].startswith("Project start date")  # "Project start date\n" as written


def test_openpyxl_parses_through_defusedxml():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML


def test_filled_template_rows_and_numbers():
    table = register_xlsx.read(filled_template([row(1), {}, row(2)]))  # an empty row in between is skipped
    assert [r.number for r in table.rows] == [3, 5]
    entry, errors = T.to_entry(table.rows[0], epoch=table.excel_epoch)
    assert errors == [] and entry.approval_date == date(2023, 12, 1) and entry.project_id == "P-1"


def test_headers_in_any_case_spacing_and_without_the_group_row():
    headers = [h.upper().replace("*", "") + "\n" for h in HEADERS]
    table = register_csv.read(csv_bytes([row(1)], headers=headers))
    assert len(table.rows) == 1 and table.rows[0].number == 2
    grouped = register_csv.read(csv_bytes([row(1)], groups=True))
    assert grouped.rows[0].number == 3


def test_a_file_without_the_template_header():
    with pytest.raises(Invalid) as caught:
        register_csv.read(b"name,title\nx,y\n")
    assert caught.value.errors[0].path == "row 1"


def test_duplicate_and_unknown_columns():
    with pytest.raises(Invalid) as caught:
        register_csv.read(csv_bytes([row(1)], headers=[*HEADERS, "Project title*"]))
    assert [(e.path, e.message) for e in caught.value.errors] == [("row 1, column AF", "'Project title*' appears twice")]


def test_a_value_in_a_column_without_header():
    data = csv_bytes([row(1)]).replace(b"\r\n", b",stray\r\n", 2).replace(b",stray", b"", 1)
    with pytest.raises(Invalid) as caught:
        register_csv.read(data)
    assert caught.value.errors[0].path == "row 2, column AF"


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-31", date(2024, 3, 31)), ("31/03/2024", date(2024, 3, 31)), ("31.03.2024", date(2024, 3, 31)),
    ("2024/03/31", date(2024, 3, 31)), ("31 March 2024", date(2024, 3, 31)), ("1st Mar 2024", date(2024, 3, 1)),
    ("2024-03-31T12:00:00Z", date(2024, 3, 31)), (45382, date(2024, 3, 31)), (45382.0, date(2024, 3, 31)),
    ("45382", date(2024, 3, 31)), (datetime(2024, 3, 31, 0, 0), date(2024, 3, 31)),
])
def test_dates(value, expected):
    assert T.parse_date(value) == expected


@pytest.mark.parametrize("value", ["31/02/2024", "12/31/2024", "tomorrow", "2024-13-01", "0", True, "2024"])
def test_bad_dates(value):
    with pytest.raises(ValueError):
        T.parse_date(value)


def test_the_1904_date_system():
    assert T.parse_date(43920, T.EXCEL_1904) == date(2024, 3, 31)


def test_list_separators():
    assert T.split_cell("a, b, c") == ["a", "b", "c"]
    assert T.split_cell("Smith, J; Jones, K") == ["Smith, J", "Jones, K"]
    assert T.split_cell("HES, APC\nONS deaths; 2020") == ["HES, APC", "ONS deaths; 2020"]
    assert T.split_cell("0000-0002-1825-0097; ; 0000-0001-5109-3700", keep_empty=True) == [
        "0000-0002-1825-0097", "", "0000-0001-5109-3700"]


def test_dataset_names_with_commas_are_kept_together_when_the_catalogue_knows_them():
    known = {"hospital episode statistics, admitted patient care", "civil registration, deaths"}.__contains__
    lower = lambda n: known(n.casefold())
    cell = "Hospital Episode Statistics, Admitted Patient Care, Civil Registration, Deaths, Local audit"
    assert T.split_names(cell, lower) == ["Hospital Episode Statistics, Admitted Patient Care",
                                          "Civil Registration, Deaths", "Local audit"]
    assert T.split_names("Unknown, with comma", lower) == ["Unknown", "with comma"]
    assert T.split_names("Unknown, with comma;", lower) == ["Unknown, with comma"]


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from(",;'=+-@ "),
                        min_size=1, max_size=30).map(lambda s: " ".join(s.split())).filter(bool),
                min_size=1, max_size=5))
def test_joined_lists_split_back_the_same(items):
    assert T.split_cell(T.join_cell(items)) == items


@given(st.text(max_size=40))
def test_neutralising_is_undone_on_upload(text):
    assert T.unneutralise(T.neutralise(text)) == text
    assert not T.neutralise(text).startswith(T.FORMULA_START)


def _entry(**changes) -> EntryData:
    data = EntryData(organisation_name="Org, Ltd", project_title="=cmd|' /C calc'!A0", lay_summary="+1",
                     public_benefit="@x", approval_date=date(2024, 1, 2), access_type="TRE",
                     datasets=[DatasetRef("HES, APC")], applicants=[Applicant("A B", None), Applicant("C D", "0000-0002-1825-0097")],
                     funders=["Wellcome; UK"], outputs=[output_of("https://doi.org/10.1/x")],
                     technical_summary="-indented", project_id="-7")
    for k, v in changes.items():
        setattr(data, k, v)
    return data


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_written_entries_read_back_the_same(fmt):
    entry = _entry()
    writer = register_csv if fmt == "csv" else register_xlsx
    table = writer.read(writer.write([entry]))
    back, errors = T.to_entry(table.rows[0], epoch=table.excel_epoch)
    assert errors == []
    assert back.comparable() == entry.comparable()


def test_the_xlsx_export_never_holds_a_formula():
    data = register_xlsx.write([_entry()])
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[F.TEMPLATE_SHEET]
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)
    assert ws.cell(3, 10).value.startswith("=cmd") and ws.cell(3, 10).quotePrefix


def test_csv_export_cells_are_neutralised():
    text = register_csv.write([_entry()]).decode("utf-8-sig")
    assert "'=cmd" in text and ",'+1," in text and ",'@x," in text and "'-indented" in text and "'-7" in text


def test_formula_cells_in_an_uploaded_workbook_are_refused():
    wb = openpyxl.load_workbook(io.BytesIO(filled_template([row(1)])))
    wb[F.TEMPLATE_SHEET]["J3"] = "=CONCAT(\"a\",\"b\")"
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(Invalid) as caught:
        register_xlsx.read(out.getvalue())
    assert caught.value.errors[0].path == "row 3, column 'Project title*'"
    assert "formula" in caught.value.errors[0].message


def test_encodings():
    text, note = register_csv.decode("Universit\u00e9".encode("cp1252"))
    assert text == "Universit\u00e9" and "Windows-1252" in note
    assert register_csv.decode("\ufeffa".encode())[0] == "a"
    with pytest.raises(Invalid) as caught:  # 0x81 is undefined in Windows-1252 too
        register_csv.decode(b"Project ID\nabc\x81")
    assert caught.value.errors[0].path == "row 2"
    with pytest.raises(UnsupportedMediaType):
        register_csv.decode(b"\x00\x00binary")


def test_semicolon_and_tab_separated_csv():
    data = csv_bytes([row(1)]).decode()
    import csv as std

    for delimiter in (";", "\t"):
        out = io.StringIO()
        w = std.writer(out, delimiter=delimiter)
        for r in std.reader(io.StringIO(data)):
            w.writerow(r)
        assert len(register_csv.read(out.getvalue().encode()).rows) == 1


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def test_zip_bombs_and_impostors_are_refused_before_parsing():
    base = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}
    with pytest.raises(TooLarge) as caught:
        register_xlsx.read(_zip({**base, "xl/worksheets/sheet1.xml": b"\0" * 20_000_000}))
    assert "zip bomb" in caught.value.errors[0].message
    with pytest.raises(TooLarge):  # within the ratio, beyond the unpacked limit
        register_xlsx.read(_zip({**base, "xl/sharedStrings.xml": bytes(range(256)) * 8000}),
                           T.Limits(max_unpacked_bytes=1_000_000))
    with pytest.raises(UnsupportedMediaType):
        register_xlsx.read(_zip({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<Types/>"}))
    with pytest.raises(UnsupportedMediaType):
        register_xlsx.read(b"Project ID,Organisation name*\n")
    with pytest.raises(UnsupportedMediaType):
        register_xlsx.read(register_xlsx.OLE_MAGIC + b"\0" * 100)
    with pytest.raises(UnsupportedMediaType):
        register_xlsx.read(b"PK\x03\x04 truncated")


def test_row_and_size_limits():
    data = csv_bytes([row(i) for i in range(11)])
    with pytest.raises(TooLarge):
        register_csv.read(data, T.Limits(max_rows=10))
    assert len(register_csv.read(data, T.Limits(max_rows=11)).rows) == 11
    with pytest.raises(TooLarge):
        register_csv.read(data, T.Limits(max_bytes=len(data) - 1))
    with pytest.raises(TooLarge):
        register_xlsx.read(filled_template([row(i) for i in range(3)]), T.Limits(max_rows=2))


def test_errors_name_row_and_column():
    table = register_csv.read(csv_bytes([row(1, approval_date="31/02/2024", project_title="", lay_summary="x" * 40_000,
                                             applicants="A", applicant_ids="0000-0002-1825-0097, 0000-0001-5109-3700")]))
    _, errors = T.to_entry(table.rows[0])
    got = {e.path: e.message for e in errors}
    assert got["row 2, column 'Latest approval date*'"].startswith("'31/02/2024' is not a date")
    assert got["row 2, column 'Lay summary*'"] == "is longer than 32,767 characters"
    assert got["row 2, column 'Applicant ID'"].startswith("2 applicant ids for 1 applicant names")


def test_a_hundred_thousand_rows():
    data = csv_bytes([row(i) for i in range(100_000)])
    table = register_csv.read(data)
    assert len(table.rows) == 100_000 and table.rows[-1].number == 100_001
    entry, errors = T.to_entry(table.rows[-1])
    assert errors == [] and entry.project_id == "P-99999"


def test_control_characters_and_overlong_keys():
    table = register_csv.read(csv_bytes([row(1, lay_summary="a\x0bb\x01c\x07", project_id="P" * 201,
                                             outputs="https://doi.org/10.1000/" + "x" * 300)]))
    assert table.rows[0].values["lay_summary"] == "a\nbc"
    _, errors = T.to_entry(table.rows[0])
    assert {e.path for e in errors} == {"row 2, column 'Project ID'", "row 2, column 'Link to research outputs'"}

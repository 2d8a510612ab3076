"""Uploading a register file through the service: every row checked, errors by row and column, nothing written
on failure, dataset names matched (fuzzy ones only once confirmed), re-uploads update by project id."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from healthgate.audit.models import AuditEvent
from healthgate.errors import Forbidden, Invalid, TooLarge, UnsupportedMediaType
from healthgate.interop import register_csv
from healthgate.interop import register_table as T
from healthgate.register import service as register
from healthgate.register import upload
from healthgate.register.models import RegisterEntry, RegisterEntryDataset, RegisterUpload
from tests.access import harness
from tests.register.upload_files import csv_bytes, filled_template, row


def _count(s, model=RegisterEntry) -> int:
    return s.scalar(select(func.count()).select_from(model))


def _messages(exc: Invalid) -> list[str]:
    return [f"{e.path}: {e.message}" for e in exc.errors]


def test_a_filled_copy_of_the_real_template_uploads(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    data = filled_template([row(1), row(2, datasets="Alpha renal registry; Beta genomes", project_start="",
                                    project_end="")], dates_as="date")
    with db.sessions.begin() as s:
        preview = upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "register.xlsx", data, dry_run=True)
        assert preview.format == "xlsx" and not preview.applied
        assert [r.action for r in preview.rows] == ["create", "create"]
        assert [r.row for r in preview.rows] == [3, 4]  # the spreadsheet's own row numbers
        assert _count(s) == 0  # a dry run writes nothing
    with db.sessions.begin() as s:
        done = upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "register.xlsx", data, dry_run=False)
        assert done.applied and done.counts["created"] == 2 and done.counts["published"] == 2
    with db.sessions.begin() as s:
        entries = {e.project_id: e for e in s.scalars(select(RegisterEntry))}
        first = register.entry_data(s, entries["P-1"])
        assert entries["P-1"].status == "published" and entries["P-1"].origin == "upload"
        assert first.approval_date == date(2023, 12, 1) and first.access_type == "TRE"
        assert first.legal_basis.startswith("(e) processing")
        assert first.lawful_condition.startswith("(j) processing")
        assert [(a.name, a.orcid) for a in first.applicants] == [("Ada Lovelace", "0000-0002-1825-0097"),
                                                                  ("Charles Babbage", None)]
        assert first.funders == ["Wellcome Trust", "Medical Research Council"]
        assert [o.kind for o in first.outputs] == ["paper", "code"]
        assert first.datasets[0].dataset_id == w.datasets["A1"]  # matched exactly to the catalogue
        second = register.entry_data(s, entries["P-2"])
        assert [d.dataset_id for d in second.datasets] == [w.datasets["A2"], w.datasets["B1"]]
        assert s.scalar(select(RegisterUpload.counts)) ["created"] == 2
        actions = sorted(a for (a,) in s.execute(select(AuditEvent.action).where(
            AuditEvent.action.like("register_%"))))
        assert actions == ["register_entry.created"] * 2 + ["register_entry.published"] * 2 + [
            "register_upload.applied"]


@pytest.mark.parametrize("dates_as", ["serial", "text"])
def test_excel_serial_dates_and_text_dates(db, clock, dates_as):
    w = harness.build(db.sessions, clock, templates=False)
    data = filled_template([row(1, approval_date="2024-03-31")], dates_as=dates_as)
    with db.sessions.begin() as s:
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.xlsx", data, dry_run=False)
        assert s.scalar(select(RegisterEntry.approval_date)) == date(2024, 3, 31)


def test_every_bad_cell_is_named_by_row_and_column_and_nothing_is_written(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    rows = [row(1), row(2, approval_date="31/02/2024"), row(3, project_title=""),
            row(4, access_type="Download", legal_basis="(z)"), row(5, applicant_ids="0000-0002-1825-0098"),
            row(6, project_id="P-1"), row(7, organisation_sector="Pharma giant")]
    with db.sessions.begin() as s, pytest.raises(Invalid) as caught:
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", csv_bytes(rows), dry_run=False)
    got = _messages(caught.value)
    assert "row 3, column 'Latest approval date*': '31/02/2024' is not a date (write YYYY-MM-DD, e.g. " \
           "2024-03-31)" in got
    assert "row 4, column 'Project title*': is required" in got
    assert any(m.startswith("row 5, column 'Access type*': 'Download' is not one of: TRE; Release") for m in got)
    assert any(m.startswith("row 5, column 'Legal basis for provision of data under Article 6': '(z)'")
               for m in got)
    assert any(m.startswith("row 6, column 'Applicant ID': applicant 1: the check digit is wrong") for m in got)
    assert any(m.startswith("row 7, column 'Project ID': 'P-1' is also the project id of entry 1") for m in got)
    assert any(m.startswith("row 8, column 'Organisation sector': 'Pharma giant' is not one of") for m in got)
    with db.sessions.begin() as s:
        assert _count(s) == 0 and _count(s, RegisterUpload) == 0


def test_wrong_headers_are_named(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    headers = [f.header for f in register.F.FIELDS]
    headers[9] = "Project titel"  # a typo of a required column
    headers.append("Notes")
    with db.sessions.begin() as s, pytest.raises(Invalid) as caught:
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", csv_bytes([row(1)], headers=headers))
    got = _messages(caught.value)
    assert "row 1, column J: 'Project titel' is not a column of the data use template; did you mean " \
           "'Project title*'?" in got
    assert "row 1, column AF: 'Notes' is not a column of the data use template" in got
    assert "row 1: the required column 'Project title*' is missing" in got


def test_reupload_updates_by_project_id_instead_of_duplicating(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    first = csv_bytes([row(1), row(2)])
    with db.sessions.begin() as s:
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", first, dry_run=False)
    changed = csv_bytes([row(1), row(2, lay_summary="A new summary."), row(3)])
    with db.sessions.begin() as s:
        preview = upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", changed, dry_run=True)
        assert [(r.project_id, r.action) for r in preview.rows] == [("P-1", "unchanged"), ("P-2", "update"),
                                                                    ("P-3", "create")]
        assert preview.rows[1].changed == ["lay_summary"]
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", changed, dry_run=False)
    with db.sessions.begin() as s:
        assert _count(s) == 3
        p2 = s.scalar(select(RegisterEntry).where(RegisterEntry.project_id == "P-2"))
        assert p2.lay_summary == "A new summary." and p2.row_version == 2


def test_rows_without_project_id_match_their_earlier_upload(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    data = csv_bytes([row(1, project_id=""), row(2, project_id="")])
    with db.sessions.begin() as s:
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", data, dry_run=False)
    with db.sessions.begin() as s:
        again = upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", data, dry_run=False)
        assert [r.action for r in again.rows] == ["unchanged", "unchanged"]
        assert _count(s) == 2


def test_fuzzy_matches_are_linked_only_when_confirmed(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    data = csv_bytes([row(1, datasets="Alpha cardiovascular cohort study"), row(2, datasets="Unheard-of data")])
    with db.sessions.begin() as s:
        preview = upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", data)
        [fuzzy] = preview.to_confirm
        assert fuzzy.dataset_id == w.datasets["A1"] and fuzzy.title == "Alpha cardiovascular cohort"
        assert 80 <= fuzzy.score < 100 and fuzzy.rows == [2]
        assert {m.name: m.kind for m in preview.matches}["Unheard-of data"] == "none"
    with db.sessions.begin() as s:  # not confirmed: kept by name only
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", data, dry_run=False)
        assert s.scalar(select(RegisterEntryDataset.dataset_id).where(
            RegisterEntryDataset.name == "Alpha cardiovascular cohort study")) is None
    with db.sessions.begin() as s:  # confirmed on the next upload: linked (an update)
        done = upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", data, dry_run=False,
                             confirm=[fuzzy.token])
        assert [r.action for r in done.rows] == ["update", "unchanged"]
        assert s.scalar(select(RegisterEntryDataset.dataset_id).where(
            RegisterEntryDataset.name == "Alpha cardiovascular cohort study")) == w.datasets["A1"]


def test_dataset_names_with_commas_and_gateway_urls(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        from healthgate.catalogue import service as catalogue
        from tests.access.harness import document

        ds, _ = catalogue.create_draft(w.ctx(s, "system"), w.teams["A"],
                                       document("Hospital Episode Statistics, Admitted Patient Care"))
        catalogue.publish(w.ctx(s, "system"), ds.id)
    names = (f"Hospital Episode Statistics, Admitted Patient Care, Beta genomes, "
             f"https://gateway.example.org/dataset/{w.datasets['A2']}")
    with db.sessions.begin() as s:
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", csv_bytes([row(1, datasets=names)]),
                      dry_run=False)
        entry = s.scalar(select(RegisterEntry))
        got = [(d.name, d.dataset_id) for d in register.entry_data(s, entry).datasets]
        assert got == [("Hospital Episode Statistics, Admitted Patient Care", ds.id),
                       ("Beta genomes", w.datasets["B1"]), ("Alpha renal registry", w.datasets["A2"])]


def test_publish_on_upload_can_be_turned_off(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", csv_bytes([row(1)]), dry_run=False,
                      publish=False)
        assert s.scalar(select(RegisterEntry.status)) == "draft"
    with db.sessions.begin() as s:  # uploading it again with publishing on publishes the draft
        again = upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", csv_bytes([row(1)]), dry_run=False)
        assert again.counts["published"] == 1
        assert s.scalar(select(RegisterEntry.status)) == "published"


def test_only_the_custodians_register_managers_may_upload(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s, pytest.raises(Forbidden):
        upload.upload(w.ctx(s, "manager_B"), w.teams["A"], "r.csv", csv_bytes([row(1)]))


def test_wrong_encoding_and_types(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    latin = csv_bytes([row(1, organisation_name="Universit\u00e9 de Gen\u00e8ve")], encoding="cp1252")
    with db.sessions.begin() as s:
        preview = upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", latin, dry_run=False)
        assert "Windows-1252" in preview.notes[0]
        assert s.scalar(select(RegisterEntry.organisation_name)) == "Universit\u00e9 de Gen\u00e8ve"
    utf16 = csv_bytes([row(2)], encoding="utf-16")
    with db.sessions.begin() as s:
        assert upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", utf16).counts["created"] == 1
    with db.sessions.begin() as s:
        with pytest.raises(UnsupportedMediaType):
            upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.xlsx", csv_bytes([row(1)]))  # posing as XLSX
        with pytest.raises(UnsupportedMediaType):
            upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", b"%PDF-1.7\n...")
        with pytest.raises(UnsupportedMediaType):
            upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", b"\x00\x01\x02binary")


def test_limits(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    with db.sessions.begin() as s:
        with pytest.raises(TooLarge) as caught:
            upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", csv_bytes([row(i) for i in range(5)]),
                          limits=T.Limits(max_rows=4))
        assert "more than 4 entries" in caught.value.errors[0].message
        with pytest.raises(TooLarge):
            upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", csv_bytes([row(1)]),
                          limits=T.Limits(max_bytes=1024))


def test_formula_cells_upload_as_text_and_export_neutralised(db, clock):
    w = harness.build(db.sessions, clock, templates=False)
    risky = row(1, project_title="=HYPERLINK(\"http://evil.example\",\"click\")", lay_summary="+44 1234",
                technical_summary="-5 mmHg", privacy_enhancements="@SUM(A1)")
    with db.sessions.begin() as s:
        upload.upload(w.ctx(s, "manager_A"), w.teams["A"], "r.csv", csv_bytes([risky]), dry_run=False)
        entry = s.scalar(select(RegisterEntry))
        assert entry.project_title.startswith("=HYPERLINK")  # kept as written
        exported = register_csv.write([register.entry_data(s, entry)]).decode("utf-8-sig")
        assert "'=HYPERLINK" in exported and "'+44 1234" in exported and "'-5 mmHg" in exported
        assert "'@SUM(A1)" in exported

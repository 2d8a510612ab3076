"""Register files for upload tests: rows as custodians write them, as CSV or as a filled copy of HDR UK's own
template (the real file the package ships, opened and filled with openpyxl)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import openpyxl

from healthgate.register import fields as F

HEADERS = [f.header for f in F.FIELDS]


def row(n: int = 1, **changes: Any) -> dict[str, Any]:
    """One register row by template header (a valid one, changed by ``changes``: keyword = field name)."""
    values: dict[str, Any] = {
        "project_id": f"P-{n}",
        "organisation_name": "University of Exeter",
        "organisation_ror": "https://ror.org/03yghzc09",
        "organisation_sector": "Academic Institute",
        "applicants": "Ada Lovelace, Charles Babbage",
        "applicant_ids": "0000-0002-1825-0097",
        "funders": "Wellcome Trust; Medical Research Council",
        "accredited_researcher": "Yes",
        "sublicence": "No",
        "project_title": f"Heart failure after COVID-19 ({n})",
        "lay_summary": "We look at who develops heart failure.",
        "public_benefit": "Better follow-up care.",
        "request_category": "Public Health Research",
        "technical_summary": "A cohort study.",
        "other_approvals": "REC 21/NW/0001",
        "project_start": "2024-01-01",
        "project_end": "2026-12-31",
        "approval_date": "2023-12-01",
        "datasets": "Alpha cardiovascular cohort",
        "sensitivity": "De-Personalised",
        "legal_basis": "(e) processing is necessary for the performance of a task carried out in the public "
                       "interest or in the exercise of official authority vested in the controller;",
        "lawful_condition": "(j)",
        "confidentiality_duty": "Section 251 NHS Act 2006",
        "opt_out_applied": "Yes",
        "request_frequency": "One-off",
        "linkage_description": "",
        "confidential_description": "NHS number, date of birth",
        "access_date": "2024-02-01",
        "access_type": "TRE",
        "privacy_enhancements": "Pseudonymised in the TRE",
        "outputs": "https://doi.org/10.1000/xyz123, https://github.com/x/y",
    }
    values.update(changes)
    return values


def csv_bytes(rows: list[dict[str, Any]], *, headers: list[str] | None = None, encoding: str = "utf-8",
              bom: bool = False, groups: bool = False) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    if groups:
        w.writerow(["", "Safe People", *[""] * 7, "Safe Project", *[""] * 8, "Safe Data", *[""] * 9,
                    "Safe Setting", "", "Safe Outputs"])
    w.writerow(headers or HEADERS)
    for r in rows:
        w.writerow(["" if r.get(f.name) is None else r.get(f.name) for f in F.FIELDS])
    text = out.getvalue()
    return (("\ufeff" if bom else "") + text).encode(encoding)


def filled_template(rows: list[dict[str, Any]], *, dates_as: str = "date") -> bytes:
    """HDR UK's template itself, filled from row 3 (dates as real dates, Excel serial numbers or text)."""
    wb = openpyxl.load_workbook(io.BytesIO(F.template_bytes()))
    ws = wb[F.TEMPLATE_SHEET]
    for i, r in enumerate(rows, 3):
        for j, f in enumerate(F.FIELDS, 1):
            value = r.get(f.name)
            if f.kind == "date" and value:
                d = date.fromisoformat(value)
                if dates_as == "date":
                    value = d
                elif dates_as == "serial":
                    value = (d - date(1899, 12, 30)).days
            cell = ws.cell(row=i, column=j, value=value if value != "" else None)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

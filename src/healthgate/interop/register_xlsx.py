"""The data use register as XLSX, exactly as custodians fill in HDR UK's upload template.

Reading: the sheet "Data Uses Template" (or the one sheet whose first rows hold the template's headers); row 1
the Five Safes groups, row 2 the headers (a starred header is required; case, spacing and trailing line breaks do
not matter), data from row 3; dates as real Excel dates, serial numbers or text. A cell holding a formula is
refused with its row and column (its cached result may be stale, and a register has no reason for formulas).

Before anything is parsed the ZIP container is checked from its central directory: it must be a ZIP holding an
Excel workbook (not an old .xls, not another file renamed), with at most ``MAX_MEMBERS`` members, unpacking to at
most ``Limits.max_unpacked_bytes``, no member compressed more than ``MAX_RATIO`` to one (a zip bomb), nothing
encrypted. openpyxl then reads it in read-only mode (streamed), its XML parsed through defusedxml.

Writing: the template's layout (group row, header row, entries from row 3, a "Lookups" sheet with the allowed
values), dates as dates, text always as text (a value starting with "=" is never a formula; Excel's quote
prefix marks it), so the file uploads back to the same entries.
"""

from __future__ import annotations

import importlib
import io
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from healthgate.errors import FieldError, Invalid, TooLarge, UnsupportedMediaType
from healthgate.interop import register_table as T
from healthgate.register import fields as F
from healthgate.register.service import EntryData

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_MEMBERS = 5_000
MAX_RATIO = 250  # deflate's ceiling is about 1,030; real workbooks stay well under 100
_RATIO_FROM = 1024 * 1024  # members smaller than this may be as repetitive as they like
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _openpyxl(sub: str = "") -> Any:
    """openpyxl (untyped; imported when a workbook is read or written)."""
    return importlib.import_module("openpyxl" + (f".{sub}" if sub else ""))


def looks_like(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def guard(data: bytes, limits: T.Limits) -> None:
    """Refuse, before parsing, what is not an XLSX workbook or would unpack to too much (a zip bomb)."""
    if len(data) > limits.max_bytes:
        raise TooLarge("the file is too large", [FieldError("file", f"the limit is {limits.max_bytes:,} bytes")])
    if data.startswith(OLE_MAGIC):
        raise UnsupportedMediaType("an Excel 97-2003 (.xls) file", [FieldError(
            "file", "this is the old .xls format: save it as an Excel Workbook (.xlsx) or as CSV UTF-8")])
    if not looks_like(data):
        raise UnsupportedMediaType("not an XLSX file", [FieldError("file", "the file is not an Excel workbook "
                                                                   "(.xlsx): upload the template as XLSX or CSV")])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise UnsupportedMediaType("not an XLSX file", [FieldError("file", f"a damaged ZIP container: {exc}")]
                                   ) from exc
    if len(infos) > MAX_MEMBERS:
        raise TooLarge("too many parts", [FieldError("file", f"the workbook has {len(infos):,} parts (at most "
                                                     f"{MAX_MEMBERS:,})")])
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise UnsupportedMediaType("not an XLSX file", [FieldError("file", "a ZIP file, but not an Excel workbook "
                                                                   "(no xl/workbook.xml)")])
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnsupportedMediaType("an encrypted workbook", [FieldError("file", "remove the password and "
                                                                            "upload it again")])
        total += info.file_size
        if info.file_size > _RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise TooLarge("the workbook would unpack to far more than it holds", [FieldError(
                "file", f"{info.filename} is compressed {info.file_size // max(info.compress_size, 1):,} to one "
                f"(at most {MAX_RATIO} is accepted): refused as a zip bomb")])
    if total > limits.max_unpacked_bytes:
        raise TooLarge("the workbook unpacks to too much", [FieldError(
            "file", f"it unpacks to {total:,} bytes; the limit is {limits.max_unpacked_bytes:,}")])


def _sheet(workbook: Any) -> Any:
    for ws in workbook.worksheets:
        if ws.title.strip().casefold() == F.TEMPLATE_SHEET.casefold():
            return ws
    for ws in workbook.worksheets:
        head = [(n, [c for c in cells]) for n, cells in enumerate(ws.iter_rows(max_row=5, values_only=True), 1)]
        if T.find_header(head):
            return ws
    raise Invalid("no data use sheet", [FieldError("file", f"no sheet named '{F.TEMPLATE_SHEET}' and no sheet "
                                                   "with the template's header row")])


def read(data: bytes, limits: T.Limits | None = None) -> T.Table:
    """An XLSX register as a table of raw rows, or Invalid naming the header's problems and any formula cells
    (UnsupportedMediaType / TooLarge from ``guard``)."""
    limits = limits or T.Limits()
    guard(data, limits)
    openpyxl = _openpyxl()
    try:
        with warnings.catch_warnings():  # "Data Validation extension is not supported": the template's dropdowns
            warnings.simplefilter("ignore", UserWarning)
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise UnsupportedMediaType("not a readable XLSX workbook", [FieldError("file", str(exc)[:300])]) from exc
    try:
        ws = _sheet(workbook)
        rows = ws.iter_rows()
        head: list[tuple[int, list[Any]]] = []
        found = None
        for number, cells in enumerate(rows, 1):
            head.append((number, [c.value for c in cells]))
            found = T.find_header(head[-1:])
            if found or number >= 5:
                break
        if found is None:
            raise Invalid("no header row", [FieldError(f"sheet '{ws.title}'", "the template's header row (Project "
                                                       "ID, Organisation name*, ...) is not in rows 1 to 5")])
        header_row, header_cells = found
        columns, headers = T.map_headers(header_cells, header_row)
        table = T.Table("xlsx", headers, excel_epoch=workbook.epoch)
        errors: list[FieldError] = []
        for number, cells in enumerate(rows, header_row + 1):
            values = []
            for i, cell in enumerate(cells):
                value = cell.value
                if getattr(cell, "data_type", None) == "f" and value is not None:
                    f = columns[i] if i < len(columns) else None
                    col = f"column '{f.header}'" if f else f"column {T.column_letter(i)}"
                    errors.append(FieldError(f"row {number}, {col}", f"holds a formula ({str(value)[:60]}); "
                                             "paste the value itself"))
                    value = None
                values.append(value)
            if not T.add_row(table, number, columns, values, errors, max_rows=limits.max_rows):
                continue
            if len(errors) > 1000:
                break
    finally:
        workbook.close()
    if errors:
        raise Invalid("cells the register cannot take", errors[:1000])
    return table


def _cell(ws: Any, value: Any) -> Any:
    WriteOnlyCell = _openpyxl("cell").WriteOnlyCell
    if isinstance(value, date):
        cell = WriteOnlyCell(ws, value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    text = "" if value is None else str(value)
    if text.startswith("'"):
        text = T.neutralise(text)  # an apostrophe before =, +, ... is kept: upload takes one off
    cell = WriteOnlyCell(ws, text or None)
    if text:
        cell.data_type = "s"  # never a formula, whatever it starts with
        if text.startswith(T.FORMULA_START):
            cell.quotePrefix = True
    return cell


def write(entries: Iterable[EntryData], *, extra_headers: Sequence[str] = (),
          extras: Iterable[Sequence[str]] = ()) -> bytes:
    """Entries in the template's layout: sheet "Data Uses Template" (groups, headers, one row per entry) and the
    "Lookups" sheet."""
    openpyxl = _openpyxl()
    Font = _openpyxl("styles").Font
    workbook = openpyxl.Workbook(write_only=True)
    ws = workbook.create_sheet(F.TEMPLATE_SHEET)
    bold = Font(bold=True)
    for n, values in enumerate(T.iter_header_rows()):
        values = values + (list(extra_headers) if n == 1 else [""] * len(extra_headers))
        row = []
        for v in values:
            cell = _cell(ws, v)
            cell.font = bold
            row.append(cell)
        ws.append(row)
    more = iter(extras)
    for data in entries:
        tail = list(next(more, ())) if extra_headers else []
        ws.append([_cell(ws, v) for v in [*T.cells_of(data), *tail]])
    lookups = workbook.create_sheet("Lookups")
    table = F.lookups()
    names = list(table)
    lookups.append(names)
    for i in range(max((len(v) for v in table.values()), default=0)):
        lookups.append([table[n][i] if i < len(table[n]) else None for n in names])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

"""The data use register as CSV: HDR UK's upload template's columns, one row per entry.

Reading: UTF-8 with or without a byte order mark (Excel's "CSV UTF-8"), UTF-16 with its mark (Excel's "Unicode
text"), and Windows-1252 (Excel's plain "CSV" on Windows) when the bytes are not UTF-8, said in the table's notes.
Anything else that is not text (NUL bytes, a ZIP, a PDF) is refused. The separator is the header line's comma,
semicolon or tab. The header row is row 1, or row 2 under the template's Five Safes group row; rows are numbered
as a spreadsheet shows them. Writing: UTF-8 with a byte order mark, a single header row, every cell neutralised
against formula injection (``register_table.neutralise``), lists joined so that they read back the same.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date

from healthgate.errors import FieldError, Invalid, TooLarge, UnsupportedMediaType
from healthgate.interop import register_table as T
from healthgate.register import fields as F
from healthgate.register.service import EntryData

MEDIA_TYPE = "text/csv"
_FIELD_LIMIT = 4 * T.MAX_CELL_CHARS  # a longer cell is read, then refused by to_entry with its row and column
if csv.field_size_limit() < _FIELD_LIMIT:
    csv.field_size_limit(_FIELD_LIMIT)


def decode(data: bytes) -> tuple[str, str | None]:
    """The file's text and a note when it was not UTF-8; UnsupportedMediaType for bytes that are not text."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "The file is UTF-16 text (Excel's \"Unicode text\"); it was read as such."
        except UnicodeDecodeError as exc:
            raise UnsupportedMediaType("the file is not readable UTF-16 text", [
                FieldError("file", f"byte {exc.start} is not UTF-16; save it as \"CSV UTF-8\"")]) from exc
    if b"\x00" in data[:65536]:
        raise UnsupportedMediaType("not a CSV file", [FieldError("file", "the file holds binary data, not text: "
                                                                 "upload a CSV or an XLSX file")])
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise Invalid("the file is not UTF-8 text", [FieldError(
                f"row {line}", f"byte 0x{data[exc.start]:02x} is not UTF-8 (nor Windows-1252): save the file "
                "as \"CSV UTF-8\" and upload it again")]) from exc
        return text, (f"The file is not UTF-8 (the first other byte, 0x{data[exc.start]:02x}, is on row {line}); "
                      "it was read as Windows-1252, Excel's \"CSV\" on Windows. Check accented letters in the "
                      "preview, or save the file as \"CSV UTF-8\".")


def _delimiter(text: str) -> str:
    first = text.split("\n", 2)[:2]
    sample = "\n".join(first)
    counts = {d: sample.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read(data: bytes, limits: T.Limits | None = None) -> T.Table:
    """A CSV register as a table of raw rows, or Invalid naming the header's problems (and TooLarge beyond the
    limits). Cell problems are found later, row by row, by ``register_table.to_entry``."""
    limits = limits or T.Limits()
    if len(data) > limits.max_bytes:
        raise TooLarge("the file is too large", [FieldError("file", f"the limit is {limits.max_bytes:,} bytes")])
    text, note = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    head: list[tuple[int, list[str]]] = []
    found = None
    try:
        for number, cells in enumerate(reader, 1):
            head.append((number, cells))
            found = T.find_header(head[-1:])
            if found or number >= 5:
                break
        if found is None:
            raise Invalid("no header row", [FieldError("row 1", "the file does not start with the data use "
                                                       "template's header row (Project ID, Organisation name*, "
                                                       "...); download the template for its columns")])
        header_row, header_cells = found
        columns, headers = T.map_headers(header_cells, header_row)
        table = T.Table("csv", headers, notes=[note] if note else [])
        errors: list[FieldError] = []
        for number, cells in enumerate(reader, header_row + 1):
            T.add_row(table, number, columns, cells, errors, max_rows=limits.max_rows)
    except csv.Error as exc:
        raise Invalid("the file is not valid CSV", [FieldError(f"row {reader.line_num}", str(exc))]) from exc
    if errors:
        raise Invalid("cells outside the template's columns", errors[:1000])
    return table


def _cell(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return T.neutralise(str(value)) if value is not None else ""


def lines(rows: Iterable[tuple[EntryData, Sequence[str]]], extra_headers: Sequence[str] = ()) -> Iterator[str]:
    """The CSV of ``write``, a line at a time (the header row first, after the byte order mark): each row is an
    entry and its extra cells (under ``extra_headers``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def taken() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow([f.header for f in F.FIELDS] + list(extra_headers))
    yield "\ufeff" + taken()
    for data, tail in rows:
        writer.writerow([_cell(v) for v in T.cells_of(data)] + [_cell(v) for v in tail])
        yield taken()


def write(entries: Iterable[EntryData], *, extra_headers: Sequence[str] = (),
          extras: Iterable[Sequence[str]] = ()) -> bytes:
    """Entries as CSV with the template's header row (UTF-8 with a byte order mark, for Excel); ``extra_headers``
    and each entry's ``extras`` after the template's columns (``register_table.EXPORT_ONLY``)."""
    more = iter(extras)
    rows = ((data, next(more, ()) if extra_headers else ()) for data in entries)
    return "".join(lines(rows, extra_headers)).encode("utf-8")


def template() -> bytes:
    """The empty template as CSV: the header row only."""
    return write([])

"""A data use register as a table: the part the CSV and XLSX readers and writers share.

HDR UK's upload template (``register/fields.py`` names its 31 columns) is read into ``Table``: the header row
mapped to the template's fields, and each data row as raw cell values keyed by field name with its row number
as the custodian sees it in a spreadsheet. ``to_entry`` turns one raw row into ``EntryData``, naming every
problem by row and column ("row 7, column 'Latest approval date*'"). The writers use ``cell_text`` and
``neutralise``, so that what is exported reads back as the same entry.

Lists in one cell (datasets, applicants and their ORCID iDs, funders, research outputs) are separated by the
strongest separator the cell uses: line breaks if it has any, else semicolons, else commas (the template's own
rule). A dataset name may itself contain commas: a comma-separated cell is first matched against the catalogue's
titles (``known``), so "Hospital Episode Statistics, Admitted Patient Care" stays one name when the catalogue
has it. Exports never rely on that: they separate with "; " (line breaks when a name contains ";").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from rapidfuzz import process as fuzzy_process

from healthgate.errors import FieldError, Invalid, TooLarge
from healthgate.register import fields as F
from healthgate.register.service import Applicant, DatasetRef, EntryData, Output, output_of

DEFAULT_MAX_ROWS = 200_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_CELL_CHARS = 32_767  # Excel's own limit on the text of one cell
MAX_PROJECT_ID = 200  # register_entries.project_id
MAX_DOI = 300  # register_entry_outputs.doi
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALISED = re.compile(r"^'+[=+\-@\t\r]")
_RISKY = re.compile(r"^'*[=+\-@\t\r]")
# Columns an export adds after the template's 31 (who reports the entry, and its id on this gateway): read back
# without complaint and ignored, so an export uploads again as it is.
EXPORT_ONLY = ("Data custodian", "Register entry ID")
_IGNORED = F.Field("(export only)", "_ignored", "text", "")
GROUPS = ("Safe People", "Safe Project", "Safe Data", "Safe Setting", "Safe Outputs")
EXCEL_1900 = datetime(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's phantom 29 Feb 1900 is before any register)
EXCEL_1904 = datetime(1904, 1, 1)


@dataclass(frozen=True)
class Limits:
    """How much one register file may hold (HEALTHGATE_REGISTER_UPLOAD_MAX_*; docs/register-upload.md)."""

    max_rows: int = DEFAULT_MAX_ROWS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES


@dataclass
class RawRow:
    number: int  # the row number a spreadsheet shows (header rows included)
    values: dict[str, Any]  # field name -> the cell's value as read (str, number, date, datetime or None)


@dataclass
class Table:
    format: str  # csv | xlsx
    headers: dict[str, str]  # field name -> the column's header as the file writes it
    rows: list[RawRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader decided on the way (an encoding guessed)
    excel_epoch: datetime = EXCEL_1900


def where(row: int, f: F.Field) -> str:
    return f"row {row}, column '{f.header}'"


def _clean_header(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""


def _is_header_row(cells: Sequence[Any]) -> bool:
    hits = sum(1 for c in cells if isinstance(c, str) and F.header_key(c) in F.BY_HEADER)
    return hits >= 3


def find_header(rows: Sequence[tuple[int, Sequence[Any]]]) -> tuple[int, Sequence[Any]] | None:
    """The header row among the first rows read: the template's row 2 (under the Five Safes groups), or row 1
    of a file that left the groups out."""
    for number, cells in rows:
        if _is_header_row(cells):
            return number, cells
    return None


def map_headers(cells: Sequence[Any], row: int) -> tuple[list[F.Field | None], dict[str, str]]:
    """Each column's field (None for an empty trailing column), or Invalid naming every wrong header: unknown
    (with the nearest template header), repeated, or a required column missing."""
    errors: list[FieldError] = []
    columns: list[F.Field | None] = []
    seen: dict[str, str] = {}
    names = [f.header for f in F.FIELDS]
    for i, cell in enumerate(cells):
        text = _clean_header(cell)
        letter = column_letter(i)
        if not text:
            columns.append(None)
            continue
        f = F.BY_HEADER.get(F.header_key(text))
        if f is None and F.header_key(text) in {F.header_key(h) for h in EXPORT_ONLY}:
            columns.append(_IGNORED)
            continue
        if f is None:
            best = fuzzy_process.extractOne(text, names, score_cutoff=70)
            hint = f"; did you mean '{best[0]}'?" if best else ""
            errors.append(FieldError(f"row {row}, column {letter}",
                                     f"'{text[:80]}' is not a column of the data use template{hint}"))
            columns.append(None)
            continue
        if f.name in seen:
            errors.append(FieldError(f"row {row}, column {letter}", f"'{f.header}' appears twice"))
            columns.append(None)
            continue
        seen[f.name] = text
        columns.append(f)
    for f in F.REQUIRED:
        if f.name not in seen:
            errors.append(FieldError(f"row {row}", f"the required column '{f.header}' is missing"))
    if errors:
        raise Invalid("the header row does not match the data use template", errors)
    return columns, seen


def column_letter(index: int) -> str:
    """A spreadsheet column's letters (0 -> A, 30 -> AE)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BREAKS = re.compile(r"[\x0b\x0c]")  # vertical tab, form feed: line breaks from older spreadsheets


def clean(value: Any) -> Any:
    """A cell without control characters (no database stores NUL; XLSX cannot hold the others): vertical tabs
    and form feeds become line breaks, the rest are dropped."""
    if isinstance(value, str) and (_CONTROL.search(value) or _BREAKS.search(value)):
        return _CONTROL.sub("", _BREAKS.sub("\n", value))
    return value


def row_of(number: int, columns: Sequence[F.Field | None], cells: Sequence[Any],
           errors: list[FieldError]) -> RawRow | None:
    """A data row (None when every cell is empty); text in a column without a header is an error."""
    values: dict[str, Any] = {}
    empty = True
    for i, cell in enumerate(cells):
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        f = columns[i] if i < len(columns) else None
        if f is _IGNORED:
            continue
        empty = False
        if f is None:
            errors.append(FieldError(f"row {number}, column {column_letter(i)}",
                                     "has a value but the column has no header"))
            continue
        values[f.name] = clean(cell)
    return None if empty else RawRow(number, values)


def add_row(table: Table, number: int, columns: Sequence[F.Field | None], cells: Sequence[Any],
            errors: list[FieldError], *, max_rows: int) -> bool:
    """Add a data row to ``table`` (``row_of``), or nothing for an empty row (False); TooLarge past ``max_rows``
    rows."""
    row = row_of(number, columns, cells, errors)
    if row is None:
        return False
    table.rows.append(row)
    if len(table.rows) > max_rows:
        raise TooLarge("too many rows", [FieldError("file", f"more than {max_rows:,} entries; "
                                                    "split the register into several files")])
    return True


# ---- values ---------------------------------------------------------------------------------------------

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_SLASH_YMD = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                        "nov", "dec"), 1)}
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[ \-]([A-Za-z]{3,9})\.?[ \-,]+(\d{4})")


def excel_serial(value: float, epoch: datetime = EXCEL_1900) -> date:
    if not 1 <= value < 2_958_466:  # 9999-12-31
        raise ValueError("out of range")
    return (epoch + timedelta(days=float(value))).date()


def parse_date(value: Any, epoch: datetime = EXCEL_1900) -> date:
    """A date from a spreadsheet cell: a real date, an Excel serial number, or text as YYYY-MM-DD (an ISO date
    and time is cut to its date), DD/MM/YYYY (UK order; also with dots or hyphens), YYYY/MM/DD or "31 March
    2024". ValueError for anything else (an impossible day such as 31/02/2024 included)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return excel_serial(value, epoch)
    text = str(value).strip()
    if re.fullmatch(r"\d{5}(?:\.\d+)?", text):  # a serial number written out as text (a CSV saved by Excel)
        return excel_serial(float(text), epoch)
    for pattern, order in ((_ISO, "ymd"), (_SLASH_YMD, "ymd"), (_DMY, "dmy")):
        m = pattern.fullmatch(text)
        if m:
            a, b, c = (int(g) for g in m.groups())
            y, mo, d = (a, b, c) if order == "ymd" else (c, b, a)
            return date(y, mo, d)
    m = _DAY_MONTH_NAME.fullmatch(text)
    if m and m.group(2)[:3].lower() in _MONTHS:
        return date(int(m.group(3)), _MONTHS[m.group(2)[:3].lower()], int(m.group(1)))
    raise ValueError("not a date")


def cell_str(value: Any) -> str:
    """A cell as text: numbers without a spurious ".0" (a project id typed as 1234 in Excel), dates as ISO."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def unneutralise(text: str) -> str:
    """A value as the custodian meant it: the apostrophe an export put before a leading =, +, -, @, tab or
    carriage return (against formula injection) taken off again."""
    return text[1:] if _NEUTRALISED.match(text) else text


def neutralise(text: str) -> str:
    """A value safe to open in a spreadsheet: one starting with =, +, -, @, tab or carriage return (or with
    apostrophes before one) gets a leading apostrophe, which ``unneutralise`` removes on upload."""
    return "'" + text if _RISKY.match(text) else text


def split_cell(text: str, *, keep_empty: bool = False) -> list[str]:
    """The items of a list cell, by its strongest separator: line breaks, else semicolons, else commas."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    core = text.strip()
    if "\n" in core:
        parts = text.split("\n")
    elif text.rstrip(" ").endswith("\n") and ";" in core:
        parts = [core]  # one item with ";" in it, closed by a line break (as ``join_cell`` writes it)
    elif ";" in text:
        parts = text.split(";")
    else:
        parts = text.split(",")
    items = [" ".join(p.split()) for p in parts]
    if keep_empty:
        while items and not items[-1]:
            items.pop()
        return items
    return [i for i in items if i]


def split_names(text: str, known: Callable[[str], bool] | None) -> list[str]:
    """Dataset names: like ``split_cell``, but a comma-separated cell keeps together the longest runs of
    pieces that make a name ``known`` to the catalogue (names with commas in them)."""
    norm = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" in norm.strip() or ";" in norm or known is None:
        return split_cell(text)
    whole = " ".join(norm.split())
    if not whole:
        return []
    if known(whole):
        return [whole]
    pieces = [" ".join(p.split()) for p in whole.split(",")]
    names: list[str] = []
    i = 0
    while i < len(pieces):
        taken = 1
        for j in range(len(pieces), i + 1, -1):
            if known(", ".join(pieces[i:j])) or known(",".join(pieces[i:j])):
                taken = j - i
                break
        name = ", ".join(pieces[i:i + taken])
        if name:
            names.append(name)
        i += taken
    return names


def join_cell(items: Sequence[str], *, positional: bool = False) -> str:
    """A list as one cell that ``split_cell`` reads back as the same items: "; " between them (line breaks when
    an item has a ";" in it), and a closing separator after a single item that has a comma in it."""
    items = [" ".join(i.split()) for i in items]
    if not any(items):
        return ""
    sep = "\n" if any(";" in i for i in items) else "; "
    text = sep.join(items)
    if len(items) == 1 and ("," in items[0] or ";" in items[0]):
        text += sep.rstrip(" ")
    elif positional and items and not items[-1]:
        text += sep.rstrip(" ")  # keep a trailing empty slot's separator visible
    return text


# ---- a raw row -> EntryData ------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = unneutralise(cell_str(value)).strip()
    return text or None


def to_entry(row: RawRow, *, known: Callable[[str], bool] | None = None,
             epoch: datetime = EXCEL_1900) -> tuple[EntryData | None, list[FieldError]]:
    """One row as ``EntryData`` (not yet checked against lookups: ``register.service.check`` does that), or the
    problems of its cells, each by row and column."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    n = row.number
    for f in F.FIELDS:
        raw = row.values.get(f.name)
        if isinstance(raw, str) and len(raw) > MAX_CELL_CHARS:
            errors.append(FieldError(where(n, f), f"is longer than {MAX_CELL_CHARS:,} characters"))
            continue
        if f.kind == "date":
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                values[f.name] = None
                continue
            try:
                values[f.name] = parse_date(raw, epoch)
            except (ValueError, OverflowError):
                shown = cell_str(raw).strip()[:40]
                errors.append(FieldError(where(n, f), f"'{shown}' is not a date (write YYYY-MM-DD, e.g. 2024-03-31)"))
            continue
        if f.kind == "list":
            text = unneutralise(cell_str(raw)) if raw is not None else ""
            if f.name == "datasets":
                values[f.name] = [unneutralise(s) for s in split_names(text, known)]
            elif f.name == "applicant_ids":
                values[f.name] = [unneutralise(s) for s in split_cell(text, keep_empty=True)]
            else:
                values[f.name] = [unneutralise(s) for s in split_cell(text)]
            continue
        values[f.name] = _text(raw)
    if values.get("project_id") and len(values["project_id"]) > MAX_PROJECT_ID:
        errors.append(FieldError(where(n, F.BY_NAME["project_id"]), f"is longer than {MAX_PROJECT_ID} characters"))
    names: list[str] = values.pop("applicants")
    ids: list[str] = values.pop("applicant_ids")
    fa, fi = F.BY_NAME["applicants"], F.BY_NAME["applicant_ids"]
    if len(ids) > len(names):
        errors.append(FieldError(where(n, fi), f"{len(ids)} applicant ids for {len(names)} applicant names in "
                                 f"'{fa.header}': give one ORCID iD per applicant, in the same order"))
    applicants = [Applicant(name, (ids[i] or None) if i < len(ids) else None) for i, name in enumerate(names)]
    datasets = [DatasetRef(name) for name in values.pop("datasets")]
    outputs: list[Output] = []
    for url in values.pop("outputs"):
        outputs.extend(output_of(u) for u in url.split())  # URLs separated by spaces only
    for o in outputs:
        if o.doi and len(o.doi) > MAX_DOI:
            errors.append(FieldError(where(n, F.BY_NAME["outputs"]), f"the DOI {o.doi[:40]!r}... is longer than "
                                     f"{MAX_DOI} characters"))
    funders = values.pop("funders")
    if errors:
        return None, errors
    for f in F.REQUIRED:  # say which column: check() would say which field
        if f.name in values and values[f.name] is None:
            errors.append(FieldError(where(n, f), "is required"))
    if errors:
        return None, errors
    data = EntryData(datasets=datasets, applicants=applicants, outputs=outputs, funders=funders, **values)
    return data, []


_FIELD_PATH = re.compile(r"^(?P<name>[a-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<sub>\w+))?$")


def locate(row: int, error: FieldError) -> FieldError:
    """A service error (its path a field name, ``applicants[1].orcid``) as the row and column of the file."""
    m = _FIELD_PATH.match(error.path)
    if not m:
        return FieldError(f"row {row}", f"{error.path}: {error.message}")
    name = m.group("name")
    if name == "applicants" and m.group("sub") == "orcid":
        return FieldError(where(row, F.BY_NAME["applicant_ids"]), f"applicant {int(m.group('index')) + 1}: {error.message}")
    found = F.BY_NAME.get(name) or F.BY_NAME.get("datasets" if name.startswith("dataset") else name)
    if found is None:
        return FieldError(f"row {row}", f"{error.path}: {error.message}")
    return FieldError(where(row, found), error.message)


# ---- EntryData -> cells (exports) ------------------------------------------------------------------------


def cells_of(data: EntryData) -> list[Any]:
    """An entry as the template's 31 cells, in order: text (not yet neutralised), dates as ``date``."""
    out: list[Any] = []
    for f in F.FIELDS:
        if f.name == "datasets":
            out.append(join_cell([d.name for d in data.datasets]))
        elif f.name == "applicants":
            out.append(join_cell([a.name for a in data.applicants]))
        elif f.name == "applicant_ids":
            ids = [a.orcid or "" for a in data.applicants]
            while ids and not ids[-1]:
                ids.pop()
            out.append(join_cell(ids, positional=True) if any(ids) else "")
        elif f.name == "funders":
            out.append(join_cell(data.funders))
        elif f.name == "outputs":
            out.append(join_cell([o.url for o in data.outputs]))
        else:
            value = getattr(data, f.name)
            out.append(value if value is not None else "")
    return out


def iter_header_rows() -> Iterable[list[str]]:
    """The template's two header rows: the Five Safes groups (over each group's first column), the headers."""
    groups, last = [""], F.FIELDS[0].group  # as the template: Project ID (column A) has no group label
    for f in F.FIELDS[1:]:
        groups.append(f.group if f.group != last or len(groups) == 1 else "")
        last = f.group
    yield groups
    yield [f.header for f in F.FIELDS]

"""Readers for the free-text cells of the legacy (v1) HDR UK Gateway CSV export.

Every reader takes one cell and returns ``(value, notes)``: the value in the shape HDR UK 4.0.0 wants,
or ``None`` when the cell holds nothing usable, and a list of human-readable notes on anything that was
reinterpreted or dropped. Nothing is guessed: free text that does not clearly say a date, a duration or
an enum member is dropped with a note rather than coerced.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime

from dateutil import parser as dateparser

# Cells that say "no value" rather than giving one (compared case-insensitively, trailing dot ignored).
UNKNOWN = frozenset({
    "", "-", "n/a", "na", "none", "null", "(blank)", "blank", "tbc", "tbd", "to follow", "unknown",
    "not known", "not available", "not avaliable", "not specified", "in progress", "column empty",
})
NOT_APPLICABLE = frozenset({"not applicable", "no", "no derivations", "no group"})

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")
URL = re.compile(r"https?://\S+", re.IGNORECASE)
EMAIL = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
DOI = re.compile(r"^10\.\d{4,9}/[-._;()/:a-zA-Z0-9]+$")
_DOI_IN_TEXT = re.compile(
    r"(?:^|(?<=[\s(\[,;:]))(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/[^\s,<>\"]+)", re.IGNORECASE
)
_DOI_URL_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
ISO_COUNTRY = re.compile(r"^[A-Z]{2}(-[A-Z]{2,3})?$")


def short(value: str, limit: int = 60) -> str:
    """A cell quoted in a note: one line, at most ``limit`` characters."""
    one = " ".join(value.split())
    return repr(one if len(one) <= limit else one[: limit - 1] + "…")


def clean(value: str | None) -> str | None:
    """Trim odd spaces (NBSP, zero-width); ``None`` for empty cells and "unknown" placeholders."""
    if value is None:
        return None
    text = _SPACES.sub(" ", value).strip()
    return None if text.casefold().rstrip(".").strip() in UNKNOWN else text


def is_not_applicable(value: str) -> bool:
    return value.casefold().rstrip(".").strip() in NOT_APPLICABLE


def split_list(value: str, separators: str = ",;\n") -> list[str]:
    """Split on separators outside parentheses; trim, drop empties, de-duplicate ignoring case."""
    items: list[str] = []
    buf: list[str] = []
    depth = 0
    for ch in value:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        if ch in separators and depth == 0:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    items.append("".join(buf))
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        item = _SPACES.sub(" ", item).strip()
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return out


# ---------------------------------------------------------------------------------------------- dates

_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$")
_ISO_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"  # a date, then perhaps a time and a zone, which are ignored
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$",
    re.IGNORECASE,
)
_MONTH_NAME = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b", re.IGNORECASE)
_ONGOING = frozenset({"ongoing", "live", "continuous", "present", "current", "to date", "to present"})
PLAUSIBLE_YEARS = range(1800, 2101)


def slash_conventions(values: Iterable[str]) -> dict[int, str]:
    """Learn, from a whole file, whether ``a/b/yy`` and ``a/b/yyyy`` dates put the day or the month first.

    Evidence is a part above 12 (``3/31/13`` is month-first, ``31/12/2017`` day-first); each year width is
    decided by its own evidence, and day-first (the UK habit) when there is none or it is split evenly.
    """
    votes = {2: [0, 0], 4: [0, 0]}  # year digits -> [day-first, month-first]
    for value in values:
        m = _NUMERIC_DATE.match(value.strip())
        if m:
            a, b, y = int(m.group(1)), int(m.group(2)), m.group(3)
            if a > 12 >= b:
                votes[len(y)][0] += 1
            elif b > 12 >= a:
                votes[len(y)][1] += 1
    return {k: "mdy" if v[1] > v[0] else "dmy" for k, v in votes.items()}


def _checked(d: date, raw: str, column: str) -> tuple[str | None, list[str]]:
    if d.year not in PLAUSIBLE_YEARS:
        return None, [f"{column} {short(raw)} has an implausible year {d.year}, dropped"]
    if (d.year, d.month, d.day) == (1900, 1, 1):
        return d.isoformat(), [f"{column} {short(raw)} looks like a placeholder date; kept"]
    return d.isoformat(), []


Parsed = tuple[str | None, list[str]]


def parse_date(raw: str, column: str, conventions: dict[int, str] | None = None) -> Parsed:
    """A cell to an ISO ``YYYY-MM-DD`` date. ISO dates and datetimes, numeric day/month/year in either order
    (see :func:`slash_conventions`), and dates with a month name (``1 April 2015``, ``April 2015``)."""
    value = clean(raw)
    if value is None:
        return None, []
    conventions = conventions or {}
    m = _ISO_DATE.match(value)
    if m:
        try:
            return _checked(date(int(m.group(1)), int(m.group(2)), int(m.group(3))), raw, column)
        except ValueError:
            return None, [f"{column} {short(raw)} is not a valid date, dropped"]
    m = _NUMERIC_DATE.match(value)
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), m.group(3)
        year = int(y) if len(y) == 4 else (2000 + int(y) if int(y) < 50 else 1900 + int(y))
        order = conventions.get(len(y), "dmy")
        candidates = [(order, (b, a) if order == "mdy" else (a, b))]
        candidates.append(("dmy" if order == "mdy" else "mdy", candidates[0][1][::-1]))
        for used, (day, month) in candidates:
            try:
                d = date(year, month, day)
            except ValueError:
                continue
            notes = []
            if used != order or len(y) == 2 or (a != b and a <= 12 and b <= 12):
                reading = "month/day/year" if used == "mdy" else "day/month/year"
                notes.append(f"{column} {short(raw)} read as {reading}: {d.isoformat()}")
            value_iso, more = _checked(d, raw, column)
            return value_iso, notes + more
        return None, [f"{column} {short(raw)} is not a valid date, dropped"]
    if _MONTH_NAME.search(value) and re.search(r"\b\d{4}\b", value) and len(value) <= 40:
        first: datetime | None
        second: datetime | None
        try:
            first = dateparser.parse(value, dayfirst=True, default=datetime(1, 1, 1))
            second = dateparser.parse(value, dayfirst=True, default=datetime(1, 1, 2))
        except (ValueError, OverflowError):
            first = second = None
        if first is not None and second is not None:
            notes = []
            if first.day != second.day:
                notes.append(f"{column} {short(raw)} gives no day, read as the 1st of the month")
            value_iso, more = _checked(first.date(), raw, column)
            return value_iso, notes + more
    if re.fullmatch(r"\d{4}", value):
        value_iso, more = _checked(date(int(value), 1, 1), raw, column)
        return value_iso, [f"{column} {short(raw)} gives only a year, read as 1 January"] + more
    return None, [f"{column} {short(raw)} is not a date, dropped"]


def parse_end_date(raw: str, column: str, conventions: dict[int, str] | None = None) -> Parsed:
    """Like :func:`parse_date`, but "Ongoing"/"Live" become the 4.0.0 ``CONTINUOUS`` marker."""
    value = clean(raw)
    if value is not None and value.casefold().rstrip(".") in _ONGOING:
        return "CONTINUOUS", []
    return parse_date(raw, column, conventions)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)


def parse_datetime(raw: str, column: str, conventions: dict[int, str] | None = None) -> Parsed:
    """A cell to an RFC 3339 date-time; a bare date becomes midnight UTC (noted)."""
    value = clean(raw)
    if value is None:
        return None, []
    if _RFC3339.match(value):
        try:
            parsed = dateparser.isoparse(value)
        except ValueError:
            return None, [f"{column} {short(raw)} is not a valid date-time, dropped"]
        if parsed.year not in PLAUSIBLE_YEARS:
            return None, [f"{column} {short(raw)} has an implausible year {parsed.year}, dropped"]
        return value.upper(), []
    day, notes = parse_date(raw, column, conventions)
    if day is None:
        return None, notes
    return f"{day}T00:00:00Z", notes + [f"{column} {short(raw)} has no time, read as midnight UTC"]


# ------------------------------------------------------------------------------------------ durations

DELIVERY_LEAD_TIMES = ("Less than 1 week", "1-2 weeks", "2-4 weeks", "1-2 months", "2-6 months",
                       "More than 6 months", "Variable", "Not applicable", "Other")
_LEAD_TIME_WORDS = {
    "less1week": "Less than 1 week", "lessthan1week": "Less than 1 week", "12weeks": "1-2 weeks",
    "24weeks": "2-4 weeks", "12months": "1-2 months", "26months": "2-6 months",
    "more6months": "More than 6 months", "morethan6months": "More than 6 months",
    "6monthsplus": "More than 6 months", "variable": "Variable", "notapplicable": "Not applicable",
    "other": "Other",
}
_DAYS = {"day": 1.0, "working day": 1.4, "week": 7.0, "month": 365.25 / 12, "year": 365.25}
_BUCKETS = (  # inclusive day ranges of the DeliveryLeadTimeV2 buckets
    ("Less than 1 week", 0.0, 6.999), ("1-2 weeks", 7.0, 14.0), ("2-4 weeks", 14.0, 28.0),
    ("1-2 months", _DAYS["month"], 2 * _DAYS["month"]),
    ("2-6 months", 2 * _DAYS["month"], 6 * _DAYS["month"]),
    ("More than 6 months", 6 * _DAYS["month"], math.inf),
)
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*)?(working days?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)


def squash(value: str) -> str:
    return re.sub(r"[^a-z0-9+]", "", value.casefold())


def parse_lead_time(raw: str, column: str) -> tuple[str | None, list[str]]:
    """A request-duration cell to a DeliveryLeadTimeV2 member. The legacy enum (``2-6 MONTHS``,
    ``LESS 1 WEEK``) maps directly; free text is read only when its first duration (``16 weeks``,
    ``2-3 months``) falls entirely inside one bucket."""
    value = clean(raw)
    if value is None:
        return None, []
    direct = _LEAD_TIME_WORDS.get(squash(value))
    if direct:
        return direct, []
    m = _DURATION.search(value)
    if m and not URL.match(value):
        unit = _DAYS[m.group(3).casefold().rstrip("s")]
        lo = float(m.group(1)) * unit
        hi = float(m.group(2) or m.group(1)) * unit
        for name, a, b in _BUCKETS:
            if a - 1e-9 <= lo <= hi <= b + 1e-9:
                return name, [f"{column} {short(raw)} read as {name!r}"]
        return None, [f"{column} {short(raw)} spans several lead-time bands, dropped"]
    return None, [f"{column} {short(raw)} is not a duration, dropped"]


# -------------------------------------------------------------------------------------------- enums

PERIODICITY = {
    "static": "Static", "irregular": "Irregular", "continuous": "Continuous", "biennial": "Biennial",
    "annual": "Annual", "annually": "Annual", "updatedannually": "Annual", "yearly": "Annual",
    "biannual": "Biannual", "quarterly": "Quarterly", "bimonthly": "Bimonthly", "monthly": "Monthly",
    "1monthcycle": "Monthly", "biweekly": "Biweekly", "weekly": "Weekly", "semiweekly": "Twice a week",
    "twiceaweek": "Twice a week", "daily": "Daily", "other": "Other",
}

MATERIAL_TYPES = ("None/not available", "Bone marrow", "Cancer cell lines", "CDNA/MRNA", "Core biopsy", "DNA",
                  "Entire body organ", "Faeces", "Immortalized cell lines", "Isolated pathogen", "MicroRNA",
                  "Peripheral blood cells", "Plasma", "PM Tissue", "Primary cells", "RNA", "Saliva", "Serum",
                  "Swabs", "Tissue", "Urine", "Whole blood", "Availability to be confirmed", "Other")
MATERIAL = {squash(m): m for m in MATERIAL_TYPES} | {
    "notavailable": "None/not available", "notavaliable": "None/not available", "no": "None/not available",
    "none": "None/not available", "nonenotavailable": "None/not available",
}

VOCABULARIES = ("LOCAL", "OPCS4", "READ", "SNOMED CT", "SNOMED RT", "DM PLUS D", "DM+D", "NHS NATIONAL CODES",
                "NHS SCOTLAND NATIONAL CODES", "NHS WALES NATIONAL CODES", "ODS", "LOINC", "ICD10", "ICD10CM",
                "ICD10PCS", "ICD9CM", "ICD9", "ICDO3", "AMT", "APC", "ATC", "CIEL", "HPO", "CPT4", "DPD",
                "DRG", "HEMONC", "JMDC", "KCD7", "MULTUM", "NAACCR", "NDC", "NDFRT", "OXMIS", "RXNORM",
                "RXNORM EXTENSION", "SPL", "OTHER")
VOCABULARY = {squash(v): v for v in VOCABULARIES} | {
    "icd10codes": "ICD10", "icd9codes": "ICD9", "snomed": "SNOMED CT", "snomedctukedition": "SNOMED CT",
    "snomedctinternational": "SNOMED CT", "opcs": "OPCS4", "opcs48": "OPCS4", "opsc48": "OPCS4",
    "readcodes": "READ", "readcode": "READ", "icdo3codes": "ICDO3",
}

DATA_MODELS = ("HL7 FHIR", "HL7 V2", "HL7 CDA", "HL7 CCOW", "LOINC", "DICOM", "I2B2", "IHE", "OMOP",
               "OPENEHR", "SENTINEL", "PCORNET", "CDISC", "NHS DATA DICTIONARY",
               "NHS SCOTLAND DATA DICTIONARY", "NHS WALES DATA DICTIONARY", "LOCAL", "OTHER")
DATA_MODEL = {squash(v): v for v in DATA_MODELS} | {
    "fhir": "HL7 FHIR", "omopcdm": "OMOP", "locallynegotiatedstandard": "LOCAL",
}

LANGUAGES = {"en": "en", "engb": "en", "english": "en", "englishuk": "en", "englishgb": "en",
             "cy": "cy", "welsh": "cy", "gd": "gd", "gaelic": "gd", "scottishgaelic": "gd"}

MEMBER_OF = {"ALLIANCE": "Alliance", "HUB": "Hub", "HUBS": "Hub", "NCS": "NCS", "OTHER": "Other"}


def map_enum_list(raw: str, column: str, table: dict[str, str], what: str,
                  split_or: bool = False) -> tuple[list[str], list[str], list[str]]:
    """Split a cell on commas/semicolons/new lines and map each item onto an enum through ``table``
    (keys compared squashed: case, spaces and punctuation ignored).

    Returns ``(members, urls, notes)``: links are handed back for a links field instead of being dropped;
    items that are neither are listed in one note.
    """
    whole = table.get(squash(raw or ""))
    if whole:
        return [whole], [], []
    value = clean(raw)
    if value is None:
        return [], [], []
    if split_or:
        value = re.sub(r"\s+or\s+", ",", value, flags=re.IGNORECASE)
    members: list[str] = []
    urls: list[str] = []
    unknown: list[str] = []
    for item in split_list(value):
        member = table.get(squash(item))
        found = URL.findall(item)
        if member:
            if member not in members:
                members.append(member)
        elif clean(item) is None:
            continue
        elif found and not URL.sub("", item).strip(" ,;"):
            urls.extend(u.rstrip(".,;)") for u in found)
        else:
            unknown.append(item)
    notes = []
    if urls:
        notes.append(f"{column} link(s) {short(', '.join(urls))} moved to documentation.associatedMedia")
    if unknown:
        notes.append(f"{column} {short(', '.join(unknown))} not in the 4.0.0 {what} list, dropped")
    return members, urls, notes


# ------------------------------------------------------------------------------------ people and ages

_AGE_RANGE = re.compile(r"^(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})(\+?)\s*(years?|yrs?|months?)?$", re.IGNORECASE)
_AGE_OPEN = re.compile(r"^(?:>=?|≥|over\s+)?\s*(\d{1,3})\s*"
                       r"(\+|years?\s*(?:and|or)\s*(?:over|older)|and over)?\s*(years?)?$", re.IGNORECASE)
_AGE_BELOW = re.compile(r"^(?:<=?|≤|under\s+)\s*(\d{1,3})\s*(years?)?$", re.IGNORECASE)
_ALL_AGES = frozenset({"all", "all ages", "any age", "any ages"})


def parse_age_band(raw: str, column: str) -> tuple[int | None, int | None, list[str]]:
    """``0-150`` -> (0, 150); ``18+``/``>18`` -> (18, None); ``<5`` -> (None, 5); months -> whole years."""
    value = clean(raw)
    if value is None:
        return None, None, []
    if value.casefold() in _ALL_AGES:
        return None, None, [f"{column} {short(raw)} gives no numeric range, age range left empty"]
    m = _AGE_RANGE.match(value)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        notes = []
        if m.group(4) and m.group(4).casefold().startswith("month"):
            lo, hi = lo // 12, hi // 12
            notes.append(f"{column} {short(raw)} is in months, read as {lo}-{hi} years")
        if m.group(3):
            notes.append(f"{column} {short(raw)} has an open upper bound, read as maximum {hi}")
        if lo > hi:
            return None, None, [f"{column} {short(raw)} has minimum above maximum, dropped"]
        return lo, hi, notes
    m = _AGE_BELOW.match(value)
    if m:
        return None, int(m.group(1)), [f"{column} {short(raw)} read as maximum age {int(m.group(1))}"]
    m = _AGE_OPEN.match(value)
    if m and (m.group(2) or value.lstrip().startswith((">", "≥")) or value.casefold().startswith("over")):
        return int(m.group(1)), None, [f"{column} {short(raw)} read as minimum age {int(m.group(1))}"]
    return None, None, [f"{column} {short(raw)} is not an age range, dropped"]


_COUNT = re.compile(r"^(?:approx(?:imately|\.)?\s*|~\s*)?(\d{1,3}(?:,\d{3})+|\d+)\s*"
                    r"(patients|people|persons|participants|individuals|subjects)?$", re.IGNORECASE)


def parse_population(raw: str, column: str) -> tuple[int | None, list[str]]:
    """A count of people; anything else (events, lower bounds, rates) is dropped with a note."""
    value = clean(raw)
    if value is None:
        return None, []
    m = _COUNT.match(value)
    if not m:
        return None, [f"{column} {short(raw)} is not an exact number of people, dropped"]
    count = int(m.group(1).replace(",", ""))
    if count == 0:
        return None, [f"{column} {short(raw)} is zero, read as not reported"]
    notes = [f"{column} {short(raw)} read as {count}"] if str(count) != value else []
    return count, notes


def parse_emails(raw: str, column: str) -> tuple[list[str], list[str]]:
    """E-mail addresses in a cell, in order; text around them is noted and dropped."""
    value = clean(raw)
    if value is None:
        return [], []
    found: list[str] = []
    for e in EMAIL.findall(value):
        e = e.rstrip(".")
        if e.casefold() not in (f.casefold() for f in found):
            found.append(e)
    if not found:
        return [], [f"{column} {short(raw)} holds no e-mail address, dropped"]
    rest = EMAIL.sub("", value).strip(" ,;:/()<>[]\"'")
    notes = [f"{column} {short(raw)}: text around the address dropped"] if rest else []
    return found, notes


# ------------------------------------------------------------------------------------------------- DOIs

def _tidy_doi(doi: str) -> str:
    doi = doi.rstrip(".,;:'\"]>")
    while doi.endswith(")") and doi.count(")") > doi.count("("):
        doi = doi[:-1].rstrip(".,;:")
    return doi


def parse_doi(raw: str, column: str) -> tuple[str | None, list[str]]:
    """A DOI cell: bare ``10.x/y`` or a doi.org link, returned bare."""
    value = clean(raw)
    if value is None:
        return None, []
    doi = _tidy_doi(_DOI_URL_PREFIX.sub("", value))
    if DOI.match(doi):
        return doi, []
    return None, [f"{column} {short(raw)} is not a DOI, dropped"]


def find_dois(raw: str) -> list[str]:
    """DOIs written as such in free text (bare, ``doi:``, doi.org links), not inside other sites' URLs."""
    out: list[str] = []
    for m in _DOI_IN_TEXT.finditer(raw or ""):
        doi = _tidy_doi(m.group(1))
        if DOI.match(doi) and doi not in out:
            out.append(doi)
    return out


def parse_jurisdictions(raw: str, column: str) -> tuple[list[str], list[str]]:
    """ISO 3166 codes; the numeric UN code 826 is the United Kingdom (``GB``)."""
    value = clean(raw)
    if value is None:
        return [], []
    codes: list[str] = []
    notes: list[str] = []
    for item in split_list(value, ",;\n "):
        code = item.upper()
        if code == "826":
            code = "GB"
            notes.append(f"{column} {short(item)} is the numeric code of the United Kingdom, read as 'GB'")
        if not ISO_COUNTRY.match(code):
            notes.append(f"{column} {short(item)} is not an ISO 3166 code, dropped")
        elif code not in codes:
            codes.append(code)
    return codes, notes


def semver_key(version: str) -> tuple[int, int, int]:
    m = SEMVER.match(version)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (0, 0, 0)

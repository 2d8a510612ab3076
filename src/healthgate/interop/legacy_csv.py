"""Import the legacy HDR UK Innovation Gateway CSV export (v1 field names) as HDR UK 4.0.0 documents.

One CSV row is one dataset. :func:`read_legacy_csv` returns a :class:`LegacyRecord` per readable row and a
:class:`~healthgate.errors.FieldError` per unreadable one (bad encoding, broken quoting, wrong number of
fields, no title or publisher). A record's ``document`` is shaped like 4.0.0 but is *not* forced to be
valid: a required value the export does not have is left out, so schema validation reports it, and every
value that had to be reinterpreted or dropped is listed in ``notes``. Real catalogues are messy; records
are imported with their problems attached rather than rejected or padded with invented values.

What the export holds that 4.0.0 has no place for (``license``, ``fileSize``, ``populationType``,
``derivedDatasets`` -- datasets derived *from* this one, the inverse of 4.0.0 ``derivedFrom``) is named
in a note. For about half the rows the export flattened one data element over the dataset: those rows
have ``name``/``dataType`` set, and their ``description`` and ``id`` belong to that element, so the
description is not used (noted) and the version id is taken from ``latest``.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healthgate.errors import FieldError
from healthgate.interop import legacy_fields as lf

REQUIRED_COLUMNS = ("title", "publisher")
# Columns only this export has; a header with most of them is the legacy format.
_MARKERS = ("pid", "abstract", "keywords", "geographicCoverage", "datasetStartDate", "datasetEndDate",
            "accessRequestDuration", "ageBand", "physicalSampleAvailability", "contactPoint", "jurisdiction",
            "periodicity", "statisticalPopulation", "controlledVocabulary", "linkedDataset")
_VERSION_COLUMN = re.compile(r"^\d+\.\d+\.\d+$")
_DATE_COLUMNS = ("datasetStartDate", "datasetEndDate", "releaseDate", "issued", "modified")
_NO_TARGET = ("license", "fileSize", "populationType", "derivedDatasets")
_FIELD_SIZE_LIMIT = 64 * 1024 * 1024
_PROSE = re.compile(r"\b(is|are|was|were|can|could|will|be|been|has|have|had|we|our|this|there|any)\b",
                    re.IGNORECASE)


@dataclass(frozen=True)
class LegacyRecord:
    """One dataset row: where it was, who publishes it, its 4.0.0-shaped document and the mapping notes."""

    row: int  # 1-based row in the file; the header is row 1, so the first dataset is row 2
    pid: str | None  # persistent dataset id (UUID), the same across versions
    team: str  # custodian team, e.g. "SAIL" from publisher "ALLIANCE > SAIL"
    member_group: str | None  # e.g. "ALLIANCE"; None when the publisher names no group
    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def is_legacy_csv(header: list[str]) -> bool:
    """Whether a CSV header is the legacy Gateway export's: title and publisher plus most v1 columns."""
    names = {h.strip().lstrip("\ufeff") for h in header}
    if not all(c in names for c in REQUIRED_COLUMNS):
        return False
    return sum(c in names for c in _MARKERS) >= len(_MARKERS) // 2


def read_legacy_csv(source: str | os.PathLike[str] | bytes) -> tuple[list[LegacyRecord], list[FieldError]]:
    """Read a legacy export from a file path or from its bytes.

    The file must be UTF-8 (a byte-order mark is fine). If any cell is not, nothing is imported and each
    undecodable row is reported with its column. Otherwise every well-formed row becomes a record and
    every broken row an error (``path`` is ``row N``); reading carries on after a broken row.
    """
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [], [FieldError("row 1", "the file is UTF-16; save it as UTF-8 CSV")]
    text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")
    if not text.strip():
        return [], [FieldError("row 1", "the file is empty")]
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_SIZE_LIMIT))
    rows, errors = _parse(text)
    encoding_errors = _undecodable(rows)
    if encoding_errors:
        return [], encoding_errors
    if not rows or rows[0][0] != 1:
        return [], errors or [FieldError("row 1", "the header row could not be read")]
    header = [h.strip() for h in rows[0][2]]
    header_errors = _check_header(header)
    if header_errors:
        return [], header_errors + errors
    width = len(header)
    data = [(n, dict(zip(header, cells, strict=True))) for n, _line, cells in rows[1:] if len(cells) == width]
    errors += [
        FieldError(f"row {n}", f"has {len(cells)} fields, the header has {width}" + _line_hint(n, line))
        for n, line, cells in rows[1:] if len(cells) != width
    ]
    conventions = lf.slash_conventions(r[c] for _, r in data for c in _DATE_COLUMNS if c in r)
    records: list[LegacyRecord] = []
    for n, row in data:
        missing = [c for c in REQUIRED_COLUMNS if not (row.get(c) or "").strip()]
        if missing:
            errors += [FieldError(f"row {n}", f"column {c!r} is empty") for c in missing]
            continue
        team, group, publisher_notes = _publisher(row["publisher"])
        if not team:
            message = f"column 'publisher' {lf.short(row['publisher'])} names no team"
            errors.append(FieldError(f"row {n}", message))
            continue
        document, notes = _Mapper(row, conventions).document(team, group)
        pid = document.get("identifier")
        records.append(LegacyRecord(n, pid, team, group, document, publisher_notes + notes))
    errors.sort(key=lambda e: int(e.path.split()[1]))
    return records, errors


# ---------------------------------------------------------------------------------------------- parsing

def _line_hint(row: int, line: int) -> str:
    return f" (line {line})" if line != row else ""


def _parse(text: str) -> tuple[list[tuple[int, int, list[str]]], list[FieldError]]:
    """Rows as ``(row number, first physical line, cells)``, skipping blank lines but counting them.

    A row the csv module rejects (an unterminated or stray quote) is reported, and reading restarts on
    the physical line after the one that row began on, so one bad quote costs one row, not the file.
    """
    lines = io.StringIO(text, newline="").readlines()
    rows: list[tuple[int, int, list[str]]] = []
    errors: list[FieldError] = []
    pos, row_no = 0, 0
    while pos < len(lines):
        reader = csv.reader(iter(lines[pos:]), strict=True)
        start = pos
        try:
            for cells in reader:
                row_no += 1
                if cells:
                    rows.append((row_no, start + 1, cells))
                start = pos + reader.line_num
            break
        except csv.Error as exc:
            row_no += 1
            if "end of data" in str(exc):
                problem = "unterminated quote: a quoted field opened in this row is never closed"
            else:
                problem = f"broken quoting: a quote in this row is not closed where expected ({exc})"
            errors.append(FieldError(f"row {row_no}", problem + _line_hint(row_no, start + 1)))
            pos = start + 1
    return rows, errors


def _undecodable(rows: list[tuple[int, int, list[str]]]) -> list[FieldError]:
    """Cells holding bytes that were not UTF-8 (decoded as lone surrogates)."""
    header = rows[0][2] if rows and rows[0][0] == 1 else []
    errors = []
    for n, line, cells in rows:
        for i, cell in enumerate(cells):
            bad = [ord(c) - 0xDC00 for c in cell if 0xDC80 <= ord(c) <= 0xDCFF]
            if bad:
                column = f"column {header[i].strip()!r}" if n > 1 and i < len(header) else f"field {i + 1}"
                errors.append(FieldError(
                    f"row {n}",
                    f"{column} is not valid UTF-8 (byte {bad[0]:#04x}){_line_hint(n, line)}; "
                    "the file must be saved as UTF-8",
                ))
                break
    return errors


def _check_header(header: list[str]) -> list[FieldError]:
    errors = [FieldError("row 1", f"missing required column {c!r}")
              for c in REQUIRED_COLUMNS if c not in header]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(FieldError("row 1", f"column {name!r} appears more than once"))
        seen.add(name)
    return errors


def _publisher(value: str) -> tuple[str, str | None, list[str]]:
    """``"ALLIANCE > SAIL"`` -> ``("SAIL", "ALLIANCE")``; no ``>`` -> the whole value is the team."""
    text = " ".join(value.split())
    if ">" not in text:
        return text, None, []
    group, team = (part.strip() for part in text.split(">", 1))
    canonical = group.upper()
    notes = []
    if canonical == "HUBS":
        canonical = "HUB"
        notes.append(f"publisher group {group!r} read as 'HUB'")
    return team, canonical or None, notes


# ---------------------------------------------------------------------------------------------- mapping

class _Mapper:
    """Maps one row; collects notes as it goes."""

    def __init__(self, row: dict[str, str], conventions: dict[int, str]):
        self.row = row
        self.conventions = conventions
        self.notes: list[str] = []
        self.media: list[str] = []
        self.element_row = bool((row.get("name") or "").strip())

    def take(self, result: tuple[Any, list[str]]) -> Any:
        value, notes = result
        self.notes += notes
        return value

    def parse(self, reader: Any, column: str, *args: Any) -> Any:
        """Run a :mod:`legacy_fields` reader on a cell, keeping its notes."""
        return self.take(reader(self.row.get(column, ""), column, *args))

    def text(self, column: str, min_length: int = 2) -> str | None:
        value = lf.clean(self.row.get(column))
        if value is not None and len(value) < min_length:
            self.notes.append(f"{column} {lf.short(value)} is too short to mean anything, dropped")
            return None
        return value

    def document(self, team: str, group: str | None) -> tuple[dict[str, Any], list[str]]:
        doc: dict[str, Any] = {}
        pid = lf.clean(self.row.get("pid"))
        if pid:
            doc["identifier"] = pid
        version = lf.clean(self.row.get("version"))
        if version and lf.SEMVER.match(version):
            doc["version"] = version
        elif version:
            self.notes.append(f"version {lf.short(version)} is not major.minor.patch, dropped")
        doc["revisions"] = self.revisions(version)
        for column in ("issued", "modified"):
            value = self.parse(lf.parse_datetime, column, self.conventions)
            if value:
                doc[column] = value
        doc["summary"] = self.summary(team, group)
        documentation = self.documentation()
        coverage = self.coverage()
        provenance = self.provenance()
        accessibility = self.accessibility()  # collects associatedMedia links too
        if self.media:
            documentation["associatedMedia"] = self.media
        for key, section in (("documentation", documentation), ("coverage", coverage),
                             ("provenance", provenance)):
            if section:
                doc[key] = section
        doc["accessibility"] = accessibility
        linkage = self.linkage()
        if linkage:
            doc["enrichmentAndLinkage"] = linkage
        doc["observations"] = []
        dropped = [c for c in _NO_TARGET
                   if lf.clean(self.row.get(c)) and not lf.is_not_applicable(self.row[c])]
        if dropped:
            self.notes.append(f"no HDR UK 4.0.0 field for {', '.join(dropped)}; not imported")
        return doc, self.notes

    def revisions(self, current: str | None) -> list[dict[str, Any]]:
        """Earlier versions from the numbered columns (``1.0.0`` -> that version's id), oldest first."""
        found = [(c, v.strip()) for c, v in self.row.items()
                 if _VERSION_COLUMN.match(c) and v.strip() and c != current]
        found.sort(key=lambda cv: lf.semver_key(cv[0]))
        return [{"version": c, "url": f"urn:uuid:{v}"} for c, v in found]

    def summary(self, team: str, group: str | None) -> dict[str, Any]:
        row = self.row
        title = " ".join(row["title"].split())
        summary: dict[str, Any] = {"title": title}
        abstract = self.text("abstract")
        if abstract:
            summary["abstract"] = abstract
        emails = self.parse(lf.parse_emails, "contactPoint")
        if len(emails) > 1:
            self.notes.append(f"contactPoint has {len(emails)} addresses; the first is the dataset contact")
        custodian: dict[str, Any] = {"identifier": " ".join(row["publisher"].split()), "name": team}
        if emails:
            custodian["contactPoint"] = emails[0] if len(emails) == 1 else emails
        if group:
            member = lf.MEMBER_OF.get(group)
            if member:
                custodian["memberOf"] = member
            else:
                self.notes.append(f"publisher group {group!r} is not Hub, Alliance, NCS or Other; "
                                  "memberOf left empty")
        summary["dataCustodian"] = custodian
        population = self.parse(lf.parse_population, "statisticalPopulation")
        summary["populationSize"] = population if population is not None else -1  # HDR UK's "not reported"
        keywords = []
        for word in lf.split_list(lf.clean(row.get("keywords")) or ""):
            if len(word) < 2:
                self.notes.append(f"keyword {word!r} is too short, dropped")
            else:
                keywords.append(word)
        if keywords:
            summary["keywords"] = keywords
        doi = self.parse(lf.parse_doi, "doi")
        if doi:
            summary["doiName"] = doi
        if emails:
            summary["contactPoint"] = emails[0]
        alias = lf.clean(row.get("identifier"))
        if alias and alias.casefold() != title.casefold():
            summary["datasetAliases"] = [alias]
        return summary

    def documentation(self) -> dict[str, Any]:
        description = self.text("description")
        if description and self.element_row:
            self.notes.append(
                f"description {lf.short(description)} describes the data element "
                f"{lf.short(self.row['name'])}, not the dataset (flattened export); not used"
            )
            description = None
        return {"description": description} if description else {}

    def coverage(self) -> dict[str, Any]:
        coverage: dict[str, Any] = {}
        spatial = self.text("geographicCoverage")
        if spatial:
            coverage["spatial"] = spatial
        lo, hi, notes = lf.parse_age_band(self.row.get("ageBand", ""), "ageBand")
        self.notes += notes
        if lo is not None:
            coverage["typicalAgeRangeMin"] = lo
        if hi is not None:
            coverage["typicalAgeRangeMax"] = hi
        materials, urls, notes = lf.map_enum_list(self.row.get("physicalSampleAvailability", ""),
                                                  "physicalSampleAvailability", lf.MATERIAL, "material type")
        self.notes += notes
        self.media += urls
        if "None/not available" in materials and len(materials) > 1:
            self.notes.append("physicalSampleAvailability lists samples and 'not available'; kept both")
        if materials:
            coverage["materialType"] = materials
        return coverage

    def provenance(self) -> dict[str, Any]:
        temporal: dict[str, Any] = {}
        value = lf.clean(self.row.get("periodicity"))
        if value:
            frequency = lf.PERIODICITY.get(lf.squash(value))
            if frequency:
                temporal["publishingFrequency"] = frequency
            else:
                self.notes.append(f"periodicity {lf.short(value)} is not a 4.0.0 publishing frequency, "
                                  "dropped")
        start = self.parse(lf.parse_date, "datasetStartDate", self.conventions)
        if start:
            temporal["startDate"] = start
        end = self.parse(lf.parse_end_date, "datasetEndDate", self.conventions)
        if end:
            temporal["endDate"] = end
        if start and end and end != "CONTINUOUS" and end < start:
            self.notes.append(f"datasetEndDate {end} is before datasetStartDate {start}")
        release = self.parse(lf.parse_date, "releaseDate", self.conventions)
        if release:
            temporal["distributionReleaseDate"] = release
        return {"temporal": temporal} if temporal else {}

    def accessibility(self) -> dict[str, Any]:
        access: dict[str, Any] = {}
        for column, key in (("accessRights", "accessRights"), ("accessRequestCost", "accessRequestCost")):
            value = self.text(column)
            if value:
                access[key] = value
        lead = self.parse(lf.parse_lead_time, "accessRequestDuration")
        if lead:
            access["deliveryLeadTime"] = lead
        codes = self.parse(lf.parse_jurisdictions, "jurisdiction")
        if codes:
            access["jurisdiction"] = codes
        for column in ("dataController", "dataProcessor"):
            value = self.text(column)
            if value:
                access[column] = value
        accessibility: dict[str, Any] = {"access": access}
        creator = self.text("creator")
        if creator:
            accessibility["usage"] = {"resourceCreator": creator}
        standards: dict[str, Any] = {}
        for column, key, table, what, split_or in (
            ("controlledVocabulary", "vocabularyEncodingScheme", lf.VOCABULARY, "vocabulary", True),
            ("conformsTo", "conformsTo", lf.DATA_MODEL, "data model", False),
            ("language", "language", lf.LANGUAGES, "language code", False),
        ):
            members, urls, notes = lf.map_enum_list(self.row.get(column, ""), column, table, what, split_or)
            self.notes += notes
            self.media += urls
            if members:
                standards[key] = members
        formats = self.formats()
        if formats:
            standards["format"] = formats
        if standards:
            accessibility["formatAndStandards"] = standards
        return accessibility

    def formats(self) -> list[str]:
        value = lf.clean(self.row.get("format"))
        if value is None or lf.is_not_applicable(value):
            return []
        formats = []
        for item in lf.split_list(value):
            if lf.URL.fullmatch(item):
                self.media.append(item)
                self.notes.append(f"format link {lf.short(item)} moved to documentation.associatedMedia")
            else:
                formats.append(item)
        return formats

    def linkage(self) -> dict[str, Any]:
        linkage: dict[str, Any] = {}
        linkable = self.descriptors("linkedDataset")
        if linkable:
            linkage["linkableDatasets"] = linkable
        part_of = self.descriptors("group")
        if part_of:
            linkage["isPartOf"] = part_of
        citations = lf.clean(self.row.get("citations"))
        if citations and not lf.is_not_applicable(citations):
            dois = lf.find_dois(citations)
            if dois:
                linkage["publicationAboutDataset"] = dois
            rest = lf.URL.sub("", citations)
            for doi in dois:
                rest = rest.replace(doi, "")
            if re.search(r"[A-Za-z]{3}", rest) or not dois:
                self.notes.append(
                    f"citations {lf.short(citations)}: {len(dois)} DOI(s) kept in publicationAboutDataset; "
                    "the rest has no 4.0.0 field"
                )
        return linkage

    def descriptors(self, column: str) -> list[dict[str, str]]:
        """A list of dataset names or links as 4.0.0 DatasetDescriptors (``title`` or ``url``)."""
        value = lf.clean(self.row.get(column))
        if value is None or lf.is_not_applicable(value):
            return []
        if _PROSE.search(lf.URL.sub("", value)):  # a sentence about linkage, not a list of names
            if len(value) <= 150:
                return [{"title": value}]
            self.notes.append(f"{column} {lf.short(value)} is a description, not dataset names; dropped")
            return []
        out: list[dict[str, str]] = []
        for item in lf.split_list(value):
            if lf.clean(item) is None or lf.is_not_applicable(item):
                continue
            if lf.URL.fullmatch(item):
                out.append({"url": item})
            elif len(item) <= 150:
                out.append({"title": item})
            else:
                self.notes.append(f"{column} {lf.short(item)} is prose, not a dataset name; dropped")
        return out

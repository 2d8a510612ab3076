"""The fields of the alliance's data use register standard, as HDR UK's upload template names them.

``FIELDS`` lists the template's 31 columns in order: the header as custodians see it (``*`` = required), the
attribute of ``RegisterEntry`` (or of the entry's lists) it fills, its kind, and the lookup list that limits
its values (the template's "Lookups" sheet, shipped as ``data/lookups.json``). Upload, export, the entry form
and the API all read this one table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

TEMPLATE_SHEET = "Data Uses Template"  # row 1: the Five Safes groups; row 2: the headers; data from row 3
TEMPLATE_FILE = "hdruk-data-use-upload-template.xlsx"


@dataclass(frozen=True)
class Field:
    header: str  # as in the template, "*" marks a required field
    name: str  # RegisterEntry attribute, or datasets / applicants / applicant_ids / funders / outputs
    kind: str  # text | date | list
    group: str  # Safe People | Safe Project | Safe Data | Safe Setting | Safe Outputs
    lookup: str | None = None  # key of lookups.json

    @property
    def required(self) -> bool:
        return self.header.endswith("*")

    @property
    def label(self) -> str:
        return self.header.rstrip("*").strip()


FIELDS: tuple[Field, ...] = (
    Field("Project ID", "project_id", "text", "Safe People"),
    Field("Organisation name*", "organisation_name", "text", "Safe People"),
    Field("Organisation ID", "organisation_ror", "text", "Safe People"),
    Field("Organisation sector", "organisation_sector", "text", "Safe People", "Organisation Type"),
    Field("Applicant name(s)", "applicants", "list", "Safe People"),
    Field("Applicant ID", "applicant_ids", "list", "Safe People"),
    Field("Funders/ Sponsors", "funders", "list", "Safe People"),
    Field("DEA accredited researcher?", "accredited_researcher", "text", "Safe People", "DEA Accredited Researcher"),
    Field("Sub-licence arrangements (if any)?", "sublicence", "text", "Safe People", "Sub-Licence Arrangements"),
    Field("Project title*", "project_title", "text", "Safe Project"),
    Field("Lay summary*", "lay_summary", "text", "Safe Project"),
    Field("Public benefit statement*", "public_benefit", "text", "Safe Project"),
    Field("Request category type", "request_category", "text", "Safe Project", "Request Category Type"),
    Field("Technical summary", "technical_summary", "text", "Safe Project"),
    Field("Other approval committees", "other_approvals", "text", "Safe Project"),
    Field("Project start date", "project_start", "date", "Safe Project"),
    Field("Project end date", "project_end", "date", "Safe Project"),
    Field("Latest approval date*", "approval_date", "date", "Safe Project"),
    Field("Dataset(s) name*", "datasets", "list", "Safe Data"),
    Field("Data sensitivity level", "sensitivity", "text", "Safe Data", "Data Sensitivity Level"),
    Field("Legal basis for provision of data under Article 6", "legal_basis", "text", "Safe Data",
          "Legal basis for provision of data under Article 6"),
    Field("Lawful conditions for provision of data under Article 9", "lawful_condition", "text", "Safe Data",
          "Lawful conditions for provision of data under Article 9"),
    Field("Common Law Duty of Confidentiality", "confidentiality_duty", "text", "Safe Data",
          "Common Law Duty of Confidentiality"),
    Field("National data opt-out applied?", "opt_out_applied", "text", "Safe Data",
          "National Data Opt-Out Applied?"),
    Field("Request frequency", "request_frequency", "text", "Safe Data", "Request Frequency"),
    Field("For linked datasets, specify how the linkage will take place", "linkage_description", "text",
          "Safe Data"),
    Field("Description of the confidential data being used", "confidential_description", "text", "Safe Data"),
    Field("Release/Access date", "access_date", "date", "Safe Data"),
    Field("Access type*", "access_type", "text", "Safe Setting", "Access Type"),
    Field("How has data been processed to enhance privacy?", "privacy_enhancements", "text", "Safe Setting"),
    Field("Link to research outputs", "outputs", "list", "Safe Outputs"),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
REQUIRED: tuple[Field, ...] = tuple(f for f in FIELDS if f.required)


def header_key(header: str) -> str:
    """A header as matched: case, spacing, line breaks and the required star do not matter."""
    return re.sub(r"\s+", " ", header.replace("*", "")).strip().casefold()


BY_HEADER: dict[str, Field] = {header_key(f.header): f for f in FIELDS}


@cache
def lookups() -> dict[str, tuple[str, ...]]:
    """The template's lookup lists: list name -> allowed values, in the template's order."""
    raw = json.loads(resources.files("healthgate.register").joinpath("data/lookups.json").read_text("utf-8"))
    return {name: tuple(values) for name, values in raw.items()}


@lru_cache(maxsize=4096)  # the same few values, checked in every row of an upload
def lookup_key(value: str) -> str:
    """A lookup value as matched: case, spacing and punctuation spacing do not matter."""
    return re.sub(r"\s+", " ", value).strip().casefold()


def allowed(field: Field) -> tuple[str, ...]:
    return lookups()[field.lookup] if field.lookup else ()


def canonical_value(field: Field, value: str) -> str | None:
    """The lookup value ``value`` stands for (the template's own spelling), or None if it is not allowed.
    A legal-basis answer may be given by its letter alone ("(e)" or "e")."""
    options = allowed(field)
    if not options:
        return value
    key = lookup_key(value)
    for option in options:
        if lookup_key(option) == key:
            return option
    letter = re.fullmatch(r"\(?([a-j])\)?", key)
    if letter:
        for option in options:
            if lookup_key(option).startswith(f"({letter.group(1)})"):
                return option
    return None


def template_bytes() -> bytes:
    """HDR UK's upload template, as custodians already know it (offered for download)."""
    return resources.files("healthgate.register").joinpath(f"data/{TEMPLATE_FILE}").read_bytes()

"""Enum vocabularies for translating HDR UK metadata 2.1.x / 3.0.0 documents to 4.0.0.

HDR UK 2.1.x spelt every controlled value in upper case ("BIANNUAL", "PAPER BASED"); 3.0.0 renamed
them to sentence case and, for some enums, changed the vocabulary itself.  Each table below maps a
*normalised* source value (see :func:`norm`) to the 4.0.0 value with the same meaning.  The current
(V2) spellings are included as identity entries, so a 2.1 document that already uses the new
spelling is still understood.

A table value of ``None`` means "a known source value with no 4.0.0 equivalent": the translator then
falls back to the field's "Other" value (or drops it where the enum has no "Other") and records the
original text in the dataset description so nothing disappears silently.

The helpers at the end apply the tables: ``map_all``/``map_one`` for enum values, ``jurisdictions``
for country codes, ``group_dataset_types`` for the 3.0.0 -> 4.0.0 dataset type reshaping, and
``note``/``with_notes`` to record what could not be mapped in the dataset description.
"""

from __future__ import annotations

import re
from typing import Any

_SEPARATORS = re.compile(r"[\s_\-\u2013]+")
_ISO_3166 = re.compile(r"^[A-Z]{2}(-[A-Z]{2,3})?$")
NOTES_HEADING = "Information carried over from an earlier HDR UK metadata version:"
DESCRIPTION_MAX = 10_000  # Documentation.description maxLength


def norm(value: str) -> str:
    """Case- and separator-insensitive key: ``"In-patients"`` and ``"IN PATIENTS"`` compare equal."""
    return _SEPARATORS.sub(" ", value).strip().upper()


def _table(targets: tuple[str, ...], legacy: dict[str, str | None] | None = None) -> dict[str, str | None]:
    table: dict[str, str | None] = {norm(t): t for t in targets}
    table.update({norm(k): v for k, v in (legacy or {}).items()})
    return table


# Temporal.accrualPeriodicity (2.1) -> Temporal.publishingFrequency (PeriodicityV2).
# Only SEMIWEEKLY changed meaning-preservingly to "Twice a week"; the rest are case changes.
PERIODICITY = _table(
    ("Static", "Irregular", "Continuous", "Biennial", "Annual", "Biannual", "Quarterly", "Bimonthly",
     "Monthly", "Biweekly", "Weekly", "Twice a week", "Daily", "Other"),
    {"SEMIWEEKLY": "Twice a week", "TWICE WEEKLY": "Twice a week"},
)

# Temporal.timeLag (TimeLag -> TimeLagV2).  "NO TIMELAG" disappeared: a lag of zero is, truthfully,
# "Less than 1 week".  A missing/null 2.1 time lag becomes "Not applicable" (TimeLagV2 is not nullable).
TIME_LAG = _table(
    ("Less than 1 week", "1-2 weeks", "2-4 weeks", "1-2 months", "2-6 months", "More than 6 months",
     "Variable", "Not applicable", "Other"),
    {"LESS 1 WEEK": "Less than 1 week", "MORE 6 MONTHS": "More than 6 months",
     "6 MONTHS PLUS": "More than 6 months", "NO TIMELAG": "Less than 1 week"},
)

# Access.deliveryLeadTime (DeliveryLeadTime -> DeliveryLeadTimeV2).
DELIVERY_LEAD_TIME = _table(
    ("Less than 1 week", "1-2 weeks", "2-4 weeks", "1-2 months", "2-6 months", "More than 6 months",
     "Variable", "Not applicable", "Other"),
    {"LESS 1 WEEK": "Less than 1 week", "MORE 6 MONTHS": "More than 6 months"},
)

# Origin.purpose (Purpose -> PurposeV2).  "Research cohort" is new and has no 2.1 source.
PURPOSE = _table(
    ("Research cohort", "Study", "Disease registry", "Trial", "Care", "Audit", "Administrative",
     "Financial", "Statutory", "Other"),
)

# Origin.source (Source -> SourceV2).  "OTHER INFORMATION SYSTEM" has no equivalent (-> "Other").
SOURCE = _table(
    ("EPR", "Electronic survey", "LIMS", "Paper-based", "Free text NLP", "Machine generated", "Other"),
    {"FREETEXT NLP": "Free text NLP", "OTHER INFORMATION SYSTEM": None},
)

# Origin.collectionSituation (Setting) -> Origin.collectionSource (SettingV2).  3.0.0 split the care
# settings by tier; each 2.1 value goes to the V2 value whose definition matches the 2.1 definition:
# PRIMARY CARE was "General Medical Practitioner Practice" = "Primary care - Clinic"; PHARMACY goes to
# the community pharmacy (dispensing) setting; SOCIAL CARE to the generic "Other social data" bucket.
SETTING = _table(
    ("Cohort, study, trial", "Clinic", "Primary care - Referrals", "Primary care - Clinic",
     "Primary care - Out of hours", "Secondary care - Accident and Emergency",
     "Secondary care - Outpatients", "Secondary care - In-patients", "Secondary care - Ambulance",
     "Secondary care - ICU", "Prescribing - Community pharmacy", "Prescribing - Hospital",
     "Patient report outcome", "Wearables", "Local authority", "National government", "Community",
     "Services", "Home", "Private", "Social care - Health care at home",
     "Social care - Other social data", "Census", "Other"),
    {"PRIMARY CARE": "Primary care - Clinic",
     "ACCIDENT AND EMERGENCY": "Secondary care - Accident and Emergency",
     "OUTPATIENTS": "Secondary care - Outpatients",
     "IN-PATIENTS": "Secondary care - In-patients",
     "INPATIENTS": "Secondary care - In-patients",
     "PHARMACY": "Prescribing - Community pharmacy",
     "SOCIAL CARE": "Social care - Other social data"},
)

# Coverage.followup (Followup) -> Coverage.followUp (FollowupV2): case change only.
FOLLOW_UP = _table(
    ("0 - 6 Months", "6 - 12 Months", "1 - 10 Years", "> 10 Years", "Unknown", "Continuous", "Other"),
)

# Coverage.physicalSampleAvailability (free list) -> Coverage.materialType (MaterialTypeCategoriesV2).
MATERIAL_TYPE = _table(
    ("None/not available", "Bone marrow", "Cancer cell lines", "CDNA/MRNA", "Core biopsy", "DNA",
     "Entire body organ", "Faeces", "Immortalized cell lines", "Isolated pathogen", "MicroRNA",
     "Peripheral blood cells", "Plasma", "PM Tissue", "Primary cells", "RNA", "Saliva", "Serum",
     "Swabs", "Tissue", "Urine", "Whole blood", "Availability to be confirmed", "Other"),
    {"NOT AVAILABLE": "None/not available", "NONE": "None/not available",
     "IMMORTALISED CELL LINES": "Immortalized cell lines", "FECES": "Faeces",
     "CDNA": "CDNA/MRNA", "MRNA": "CDNA/MRNA", "BLOOD": "Whole blood"},  # 2.2 biological samples: "Blood"
)

# Usage.dataUseLimitation (DataUseLimitation -> DataUseLimitationV2).  No "Other" in V2.
DATA_USE_LIMITATION = _table(
    ("General research use", "Commercial research use", "Genetic studies only",
     "No general methods research", "No restriction", "Geographical restrictions",
     "Institution-specific restrictions", "Not for profit use", "Project-specific restrictions",
     "Research-specific restrictions", "User-specific restrictions", "Research use only", "No linkage"),
    {"USER SPECIFIC RESTRICTION": "User-specific restrictions"},
)

# Usage.dataUseRequirements (DataUseRequirements -> DataUseRequirementsV2).  No "Other" in V2.
# Note the V2 spelling differs from the limitation enum: "User-specific restriction" (singular).
DATA_USE_REQUIREMENTS = _table(
    ("Collaboration required", "Project-specific restrictions", "Ethics approval required",
     "Institution-specific restrictions", "Geographical restrictions", "Publication moratorium",
     "Publication required", "Return to database or resource", "Time limit on use",
     "Disclosure control", "Not for profit use", "User-specific restriction"),
    {"USER SPECIFIC RESTRICTIONS": "User-specific restriction"},
)

# Organisation.memberOf (MemberOf -> MemberOfV2).
MEMBER_OF = _table(("Hub", "Alliance", "Other", "NCS"))

# Observation.observedNode (StatisticalPopulationConstrained -> ...V2).
OBSERVED_NODE = _table(("Persons", "Events", "Findings", "Number of scans per modality"))

# Unchanged between versions (upper-case in every version); used to validate/normalise case.
CONTROLLED_VOCABULARY = _table(
    ("LOCAL", "OPCS4", "READ", "SNOMED CT", "SNOMED RT", "DM PLUS D", "DM+D", "NHS NATIONAL CODES",
     "NHS SCOTLAND NATIONAL CODES", "NHS WALES NATIONAL CODES", "ODS", "LOINC", "ICD10", "ICD10CM",
     "ICD10PCS", "ICD9CM", "ICD9", "ICDO3", "AMT", "APC", "ATC", "CIEL", "HPO", "CPT4", "DPD", "DRG",
     "HEMONC", "JMDC", "KCD7", "MULTUM", "NAACCR", "NDC", "NDFRT", "OXMIS", "RXNORM",
     "RXNORM EXTENSION", "SPL", "OTHER"),
    {"SNOMED": "SNOMED CT", "ICD 10": "ICD10", "ICD-10": "ICD10", "OPCS 4": "OPCS4"},
)
STANDARDISED_DATA_MODELS = _table(
    ("HL7 FHIR", "HL7 V2", "HL7 CDA", "HL7 CCOW", "LOINC", "DICOM", "I2B2", "IHE", "OMOP", "OPENEHR",
     "SENTINEL", "PCORNET", "CDISC", "NHS DATA DICTIONARY", "NHS SCOTLAND DATA DICTIONARY",
     "NHS WALES DATA DICTIONARY", "LOCAL", "OTHER"),
    {"FHIR": "HL7 FHIR", "OMOP CDM": "OMOP"},
)
_LANGUAGE_CODES = tuple(re.findall(r"[a-z]{2}", """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de
    dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id
    ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu
    lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu
    rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr
    ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"""))
# ISO 639-1 codes (unchanged between versions), plus a few language names seen in 2.1 CSV values.
LANGUAGE = _table(
    _LANGUAGE_CODES,
    {"ENGLISH": "en", "WELSH": "cy", "GAELIC": "gd", "SCOTTISH GAELIC": "gd", "IRISH": "ga"},
)

# Country/nation names for Access.jurisdiction (ISO 3166-1 alpha-2 / ISO 3166-2 codes in 4.0.0).
JURISDICTION_NAMES = {
    "UNITED KINGDOM": "GB", "GREAT BRITAIN": "GB", "ENGLAND": "GB-ENG", "SCOTLAND": "GB-SCT",
    "WALES": "GB-WLS", "NORTHERN IRELAND": "GB-NIR", "IRELAND": "IE",
}

# 3.0.0 Origin.datasetType / datasetSubType -> 4.0.0 [{name, subTypes}].  Keys: normalised 3.0.0 type;
# values: (4.0.0 name, allowed 4.0.0 sub-types).  Names are the defaults the 4.0.0 schema declares
# (note "Imaging Area Of The Body" is title-cased there, unlike the 3.0.0 enum value).
_NA = ("Not applicable",)
DATASET_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    norm(k): (name, subs)
    for k, name, subs in (
        ("Health and disease", "Health and disease",
         ("Mental health", "Cardiovascular", "Cancer", "Rare diseases", "Metabolic and endocrine",
          "Neurological", "Reproductive", "Maternity and neonatology", "Respiratory", "Immunity",
          "Musculoskeletal", "Vision", "Renal and urogenital", "Oral and gastrointestinal",
          "Cognitive function", "Hearing", "Others")),
        ("Treatments/Interventions", "Treatments/Interventions",
         ("Vaccines", "Preventive", "Therapeutic", "Others")),
        ("Measurements/Tests", "Measurements/Tests", ("Laboratory", "Other diagnostics")),
        ("Imaging types", "Imaging types", ("CT", "MRI", "PET", "X-ray", "Ultrasound", "Pathology", "Others")),
        ("Imaging area of the body", "Imaging Area Of The Body", ("Head", "Chest", "Arm", "Abdomen", "Leg", "Others")),
        ("Omics", "Omics",
         ("Proteomics", "Transcriptomics", "Epigenomics", "Metabolomics", "Metagenomics", "Genomics",
          "Lipidomics", "Others")),
        ("Socioeconomic", "Socioeconomic",
         ("Education", "Crime and justice", "Ethnicity", "Housing", "Labour", "Ageing", "Economics",
          "Marital status", "Social support", "Deprivation", "Religion", "Occupation", "Finances",
          "Family circumstance", "Others")),
        ("Lifestyle", "Lifestyle", ("Smoking", "Physical activity", "Dietary habits", "Alcohol", "Others")),
        ("Registry", "Registry",
         ("Disease registry (research)", "National disease registries and audits", "Births and deaths", "Others")),
        ("Environment and energy", "Environment and energy", _NA),
        ("Information and communication", "Information and communication", _NA),
        ("Politics", "Politics", _NA),
    )
}
# Also accept the 4.0.0 names (a 3.0.0-labelled document that already uses them).
DATASET_TYPES.update({norm(name): (name, subs) for name, subs in list(DATASET_TYPES.values())})
# Every 4.0.0 sub-type, keyed by its normalised spelling.
SUBTYPES = {norm(s): s for _, subs in DATASET_TYPES.values() for s in subs}


# --------------------------------------------------------------------------- applying the tables


def render(value: Any) -> str:
    """Human-readable text for any JSON value (used for notes in the description)."""
    if isinstance(value, list):
        return ", ".join(render(v) for v in value if v not in (None, "", [], {}))
    if isinstance(value, dict):
        parts = (f"{k}: {render(v)}" for k, v in value.items() if v not in (None, "", [], {}))
        return "(" + "; ".join(parts) + ")"
    try:
        return str(value)
    except ValueError:  # an integer too long to print
        return "<unprintable value>"


def note(notes: list[str], label: str, value: Any) -> None:
    """Record ``value`` (if it holds anything) as a ``label: text`` line."""
    text = render(value)
    if text.strip("(); "):
        notes.append(f"{label}: {text}")


def map_all(values: list[Any], table: dict[str, str | None], fallback: str | None,
            notes: list[str], label: str) -> list[str]:
    """Map enum values through ``table``; unknown ones become ``fallback`` (if any) and are noted."""
    mapped, lost = [], []
    for value in values:
        target = table.get(norm(value)) if isinstance(value, str) else None
        if target:
            mapped.append(target)
            continue
        lost.append(value)
        if fallback:
            mapped.append(fallback)
    note(notes, label, lost)
    return list(dict.fromkeys(mapped))


def with_notes(description: Any, notes: list[str]) -> Any:
    """Append ``notes`` under ``NOTES_HEADING`` to a description, within the schema's length limit."""
    if not notes:
        return description
    base = description if isinstance(description, str) else ""
    if len(base) >= DESCRIPTION_MAX - 2:
        return description
    lines = "\n".join(f"- {n}" for n in notes)
    if NOTES_HEADING in base:
        text = f"{base}\n{lines}"
    else:
        text = f"{base}\n\n{NOTES_HEADING}\n{lines}" if base else f"{NOTES_HEADING}\n{lines}"
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "\u2026"


def map_one(value: Any, table: dict[str, str | None], fallback: str | None, notes: list[str],
            label: str, missing: str | None = None) -> str | None:
    """Map a single enum value; ``missing`` is returned for null/empty input."""
    if value is None or value == "":
        return missing
    mapped = map_all([value], table, fallback, notes, label)
    return mapped[0] if mapped else fallback


def jurisdictions(values: list[Any], notes: list[str]) -> list[str] | None:
    """ISO 3166 codes ("GB-ENG") and the nation names in ``JURISDICTION_NAMES``; the rest is noted."""
    codes, lost = [], []
    for item in values:
        code = None
        if isinstance(item, str):
            code = item.upper() if _ISO_3166.match(item.upper()) else JURISDICTION_NAMES.get(norm(item))
        if code:
            codes.append(code)
        else:
            lost.append(item)
    note(notes, "Jurisdiction", lost)
    return list(dict.fromkeys(codes)) or None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def group_dataset_types(types: Any, subtypes: Any, notes: list[str]) -> list[dict[str, Any]]:
    """3.0.0 ``datasetType`` + flat ``datasetSubType`` lists -> 4.0.0 ``[{name, subTypes}]``.

    A sub-type goes under every declared type that allows it ("Others" may fit several); one whose
    type was not declared brings its (unique) type along; "Others"/"Not applicable" that fit no
    declared type carry no information and are dropped; anything else unplaceable is noted.
    """
    groups: dict[str, list[str]] = {}
    allowed: dict[str, tuple[str, ...]] = {}
    subs = list(_as_list(subtypes))
    for t in _as_list(types):
        if isinstance(t, dict):  # already 4.0.0-shaped
            subs.extend(_as_list(t.get("subTypes")))
            t = t.get("name")
        known = DATASET_TYPES.get(norm(t)) if isinstance(t, str) else None
        if known:
            groups.setdefault(known[0], [])
            allowed[known[0]] = known[1]
        else:
            note(notes, "Dataset type", t)
    lost: list[Any] = []
    for s in subs:
        sub = SUBTYPES.get(norm(s)) if isinstance(s, str) else None
        homes = [name for name in groups if sub in allowed[name]]
        owners = {name: options for name, options in DATASET_TYPES.values() if sub in options}
        if sub and not homes and len(owners) == 1:
            ((name, options),) = owners.items()
            groups[name], allowed[name], homes = [], options, [name]
        for name in homes:
            if sub is not None and sub not in groups[name]:
                groups[name].append(sub)
        if not homes and sub not in ("Others", "Not applicable"):
            lost.append(s)
    note(notes, "Dataset sub-type", lost)
    return [{"name": name, "subTypes": found} for name, found in groups.items()]

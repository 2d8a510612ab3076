"""The GA4GH DUO data-use check: does the application's stated purpose fit each dataset's conditions?

The rules are the published matching rules of DataBiosphere/consent-ontology (``docs/Algorithms.md``: the
Version 3 table, the Version 2 rows for methods development under NMDS and for control sets, and the
"Abstain from Decision" list), combined as its Version 4 matcher does: every rule that applies must APPROVE
for the advice to be APPROVE; any ABSTAIN makes it ABSTAIN; otherwise DENY. Each reason names the rule it
comes from. Disease restrictions match by ICD-10 ancestry (``diseases``). Modifiers that oblige rather than
forbid (IRB, PUB, COL, MOR, TS, RTN, and NCU/NPU when the purpose is not commercial) become conditions listed
on the advice and prefilled into a custodian's "approve with conditions" (``conditions_for``).

The advice is advice: custodians decide. It is computed on submission and stored in the ``submitted`` event."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from healthgate.access import data_use, diseases
from healthgate.access import duo_terms as duo
from healthgate.access.data_use import Conditions
from healthgate.access.lifecycle import State
from healthgate.catalogue.models import Dataset
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid

APPROVE, DENY, ABSTAIN = "APPROVE", "DENY", "ABSTAIN"
VERDICTS = (APPROVE, DENY, ABSTAIN)
ALGORITHMS = "DataBiosphere/consent-ontology docs/Algorithms.md"
V3 = f"{ALGORITHMS}, Version 3"
V2 = f"{ALGORITHMS}, Version 2"
V4 = "DataBiosphere/consent-ontology DataUseMatcherV4 (how the rules combine)"

# Sensitive research areas where the published rules render no decision ("Abstain from Decision").
SENSITIVE: dict[str, str] = {
    "gender": "Limited to one gender",
    "pediatric": "Restricted to a paediatric population (under 18)",
    "vulnerable": "Vulnerable populations (children, prisoners, pregnant women, people lacking capacity, "
                  "economically or educationally disadvantaged people)",
    "illegal": "Illegal behaviours (violence, domestic abuse, prostitution, sexual victimisation)",
    "addiction": "Alcohol or drug abuse, or abuse of other addictive products",
    "sexual": "Sexual preferences or sexually transmitted diseases",
    "stigmatising": "Stigmatising illnesses",
    "psychological": "Psychological traits, including intelligence, attention, emotion",
    "not_health": "Ethnicity, race or gender with genotypic or other phenotypic variables, beyond health research",
}
PURPOSE_KEYS = ("terms", "diseases", "commercial", "for_profit", "methods", "controls", "sensitive")
_FLAGS = ("commercial", "for_profit", "methods", "controls")

# What each modifier obliges, as a condition on the decision (CC allows more and obliges nothing).
CONDITIONS: dict[str, str] = {
    duo.IRB: "Ethics approval (IRB): provide documentation of local ethics committee (IRB/ERB) approval",
    duo.PUB: "Publication (PUB): make the results of studies using the data available to the wider "
             "scientific community",
    duo.COL: "Collaboration (COL): collaborate with the primary study investigator(s)",
    duo.MOR: "Publication moratorium (MOR): do not publish results before the date the custodian sets",
    duo.TS: "Time limit (TS): use is approved for the number of months the custodian sets",
    duo.RTN: "Return to resource (RTN): return derived or enriched data to the custodian's resource",
    duo.NCU: "Non-commercial use only (NCU): the data may not be used for commercial purposes",
    duo.NPU: "Not-for-profit organisations only (NPU): the data may be used only by not-for-profit "
             "organisations",
    duo.NPUNCU: "Not-for-profit, non-commercial use only (NPUNCU): use only by not-for-profit organisations, "
                "for non-commercial purposes",
    duo.GS: "Geographical restriction (GS): use only within the region the custodian sets",
    duo.US: "Approved users only (US): use only by the users the custodian approves",
    duo.IS: "Approved institution only (IS): use only within the institution the custodian approves",
    duo.PS: "This project only (PS): use only within the approved project",
    duo.RS: "Research-specific restriction (RS): use only for the research type the custodian sets",
    duo.GSO: "Genetic studies only (GSO): use only for genotype, or genotype and phenotype, research",
    duo.NMDS: "No general methods research (NMDS): methods development only within the other restrictions",
    duo.NPOA: "No population origins or ancestry research (NPOA)",
}
# Modifiers whose fit the purpose cannot show: a person must judge ("areas where categorization is not
# possible", V3's abstain list names GS and GSO).
JUDGED = (duo.GS, duo.GSO, duo.US, duo.IS, duo.PS, duo.RS)


# -- the stated purpose ---------------------------------------------------------------------------------------


def _values(raw: Any, path: str, errors: list[FieldError]) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Sequence) or isinstance(raw, (bytes, bytearray)):
        errors.append(FieldError(path, "a list"))
        return []
    out = []
    for i, v in enumerate(raw):
        if not isinstance(v, str):
            errors.append(FieldError(f"{path}/{i}", "text"))
        elif v.strip():
            out.append(v.strip())
    return out


def clean_purpose(purpose: Mapping[str, Any]) -> dict[str, Any]:
    """The application's stated purpose, checked (DUO purpose terms, diseases, commercial or not); raises
    ``Invalid`` naming the field. The answer always holds every key, so saving it replaces the whole purpose:
    ``{"terms": [DUO ids of GRU/HMB/DS/POA], "diseases": [ICD10 ids], "commercial": bool, "for_profit": bool,
    "methods": bool, "controls": bool, "sensitive": [keys of SENSITIVE]}``."""
    errors: list[FieldError] = []
    for key in sorted(set(purpose) - set(PURPOSE_KEYS)):
        errors.append(FieldError(f"purpose/{key}", f"not a purpose field ({', '.join(PURPOSE_KEYS)})"))
    terms: list[str] = []
    for i, ref in enumerate(_values(purpose.get("terms"), "purpose/terms", errors)):
        term = duo.find(ref)
        if term is None:
            errors.append(FieldError(f"purpose/terms/{i}", f"{ref[:40]!r} is not a DUO term"))
        elif term.id not in duo.PURPOSES:
            errors.append(FieldError(f"purpose/terms/{i}", f"{term.name} is not a research purpose; choose among "
                                     + ", ".join(t.shorthand for t in duo.purposes())))
        elif term.id not in terms:
            terms.append(term.id)
    collector = data_use._Errors()
    disease_ids = data_use.clean_diseases(purpose.get("diseases"), "purpose/diseases", collector)
    errors.extend(collector.items)
    flags: dict[str, bool] = {}
    for key in _FLAGS:
        value = purpose.get(key, False)
        if value is None:
            value = False
        if not isinstance(value, bool):
            errors.append(FieldError(f"purpose/{key}", "true or false"))
            value = False
        flags[key] = value
    sensitive: list[str] = []
    for i, key in enumerate(_values(purpose.get("sensitive"), "purpose/sensitive", errors)):
        if key not in SENSITIVE:
            errors.append(FieldError(f"purpose/sensitive/{i}", f"{key[:40]!r} is not one of {', '.join(SENSITIVE)}"))
        elif key not in sensitive:
            sensitive.append(key)
    disease_errors = any(e.path.startswith("purpose/diseases") for e in errors)
    if duo.DS in terms and not disease_ids and not disease_errors:
        errors.append(FieldError("purpose/diseases", "disease-specific research (DS) names at least one disease"))
    if disease_ids and duo.DS not in terms:
        errors.append(FieldError("purpose/terms", "research on named diseases is disease-specific: choose DS"))
    if errors:
        raise Invalid("the stated purpose is not valid", errors)
    return {"terms": [t for t in duo.PURPOSES if t in terms], "diseases": disease_ids, **flags,
            "sensitive": [k for k in SENSITIVE if k in sensitive]}


_SPLIT = re.compile(r"[\s,;]+")


def split_codes(text: str) -> list[str]:
    """Disease codes typed in one box, separated by commas, semicolons or spaces."""
    return [d for d in _SPLIT.split(text) if d]


def _posted_values(posted: Any, name: str) -> list[str]:
    fields = getattr(posted, "fields", posted)
    got = fields.get(name) if isinstance(fields, Mapping) else None
    if got is None:
        return []
    return [got] if isinstance(got, str) else [str(v) for v in got]


def purpose_from_form(posted: Any) -> dict[str, Any]:
    """The purpose as the fields of ``access/duo/_purpose_fields.html`` post it (a ``web.posted.Posted`` or a
    mapping of field name to value(s)), ready for ``clean_purpose``."""
    def yes(name: str) -> bool:
        return any(v in ("yes", "on", "true", "1") for v in _posted_values(posted, name))

    return {
        "terms": _posted_values(posted, "purpose_terms"),
        "diseases": split_codes(" ".join(_posted_values(posted, "purpose_diseases"))),
        **{key: yes(f"purpose_{key}") for key in _FLAGS},
        "sensitive": _posted_values(posted, "purpose_sensitive"),
    }


@dataclass(frozen=True)
class PurposeForm:
    """What ``access/duo/_purpose_fields.html`` shows: the choices, the values and the errors by field."""

    terms: list[duo.Term]
    sensitive: dict[str, str]
    values: dict[str, Any]
    errors: dict[str, list[str]]

    @property
    def diseases_text(self) -> str:
        raw = self.values.get("diseases") or []
        return ", ".join(d.removeprefix(diseases.PREFIX) for d in raw)

    def disease_names(self) -> list[str]:
        found = (diseases.normalise(d) for d in self.values.get("diseases") or [] if isinstance(d, str))
        return [diseases.name(d) for d in found if d]


def purpose_form(purpose: Mapping[str, Any] | None = None, errors: Iterable[Any] | None = None) -> PurposeForm:
    """The purpose fields' view: ``purpose`` as stored (or as posted), ``errors`` the FieldErrors of a 422."""
    by_field: dict[str, list[str]] = {}
    for e in errors or ():
        path = getattr(e, "path", "")
        if path.startswith("purpose/"):
            by_field.setdefault(path.split("/")[1], []).append(e.message)
    values = dict(purpose or {})
    values["terms"] = [t.id for t in (duo.find(r) for r in values.get("terms") or [] if isinstance(r, str)) if t]
    return PurposeForm(terms=duo.purposes(), sensitive=SENSITIVE, values=values, errors=by_field)


# -- matching ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    rule: str  # which rule: DS, HMB, GRU, POA, MDS, CONTROLS, COMMERCIAL, NPOA, JUDGED, SENSITIVE, UNSET, PURPOSE
    verdict: str
    text: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "verdict": self.verdict, "text": self.text, "source": self.source}


@dataclass
class Advice:
    dataset_id: uuid.UUID
    verdict: str
    reasons: list[Reason] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    team_id: uuid.UUID | None = None

    @property
    def reason(self) -> str:
        """The reasons that decided the verdict, in one sentence or a few."""
        deciding = [r.text for r in self.reasons if r.verdict == self.verdict] or [r.text for r in self.reasons]
        return " ".join(deciding)

    def as_dict(self) -> dict[str, Any]:
        return {"dataset_id": str(self.dataset_id), "team_id": str(self.team_id) if self.team_id else None,
                "verdict": self.verdict, "reason": self.reason,
                "reasons": [r.as_dict() for r in self.reasons], "conditions": list(self.conditions)}


def _name(term_id: str | None) -> str:
    return duo.get(term_id).name if term_id else "none"


def _unfitting(purpose_diseases: Sequence[str], c: Conditions) -> list[str]:
    """The purpose's diseases that are neither a dataset disease nor narrower than one."""
    return [d for d in purpose_diseases if not diseases.fits_any(d, c.diseases)]


def _disease_rule(purpose_diseases: Sequence[str], c: Conditions) -> Reason:
    src = f"{V3}: Disease focused research (DS-X)"
    perm = c.permission
    if perm in (duo.NRES, duo.GRU):
        return Reason("DS", APPROVE, "The proposed disease-specific research is within the dataset's "
                                     f"{_name(perm)} permission.", src)
    if perm == duo.HMB:
        return Reason("DS", APPROVE, "The proposed disease-specific research is within the dataset's "
                                     "health/medical/biomedical (HMB) permission.", src)
    if perm == duo.DS:
        misfits = _unfitting(purpose_diseases, c)
        allowed = ", ".join(diseases.name(d) for d in c.diseases)
        if not misfits:
            return Reason("DS", APPROVE, "Every disease of the purpose is one the dataset is restricted to "
                                         f"({allowed}) or a narrower one.", src)
        return Reason("DS", DENY, "Not within the dataset's disease restriction (" + allowed + "): "
                      + "; ".join(diseases.name(d) for d in misfits)
                      + " is neither that disease nor a narrower one.", src)
    return Reason("DS", DENY, f"Disease-specific research does not fit the dataset's {_name(perm)} permission.", src)


def _term_rule(term: str, purpose: Mapping[str, Any], c: Conditions) -> Reason:
    perm = c.permission
    assert perm is not None
    if term == duo.DS:
        return _disease_rule(purpose.get("diseases") or [], c)
    if term == duo.HMB:
        src = f"{V3}: Use limited to health/medical/biomedical purposes (HMB)"
        if perm in (duo.NRES, duo.GRU, duo.HMB):
            return Reason("HMB", APPROVE, "The proposed health/medical/biomedical research is within the dataset's "
                                          f"{_name(perm)} permission.", src)
        return Reason("HMB", DENY, "Health/medical/biomedical research is broader than the dataset's "
                                   f"{_name(perm)} permission.", src)
    if term == duo.POA:
        src = f"{V3}: Study population origins or ancestry (POA)"
        if perm in (duo.NRES, duo.GRU, duo.POA):
            return Reason("POA", APPROVE, "The proposed population origins or ancestry research is within the "
                                          f"dataset's {_name(perm)} permission.", src)
        return Reason("POA", DENY, "Population origins or ancestry research does not fit the dataset's "
                                   f"{_name(perm)} permission.", src)
    src = f"{V3}: HMB row (a general research purpose against narrower permissions, GRU > HMB > DS)"
    if perm in (duo.NRES, duo.GRU):
        return Reason("GRU", APPROVE, f"General research use is within the dataset's {_name(perm)} permission.", src)
    return Reason("GRU", DENY, f"A general research purpose is broader than the dataset's {_name(perm)} permission.",
                  src)


def match(purpose: Mapping[str, Any], c: Conditions) -> Advice:
    """The advice for one dataset: ``purpose`` as ``clean_purpose`` returns it, ``c`` the dataset's conditions."""
    advice = Advice(dataset_id=c.dataset_id, verdict=ABSTAIN, team_id=c.team_id)
    reasons = advice.reasons
    abstain_src = f"{V3}: Abstain from Decision"
    if not c.set:
        reasons.append(Reason("UNSET", ABSTAIN, "The custodian has set no data-use conditions for this dataset, "
                                                "so there is nothing to match the purpose against.", abstain_src))
        return advice
    terms = [t for t in purpose.get("terms") or [] if t in duo.PURPOSES]
    if not terms:
        reasons.append(Reason("PURPOSE", ABSTAIN, "The application states no DUO research purpose (GRU, HMB, DS "
                                                  "or POA).", abstain_src))
    for term in terms:
        reasons.append(_term_rule(term, purpose, c))
    purpose_diseases = purpose.get("diseases") or []
    if purpose.get("methods"):
        if c.has(duo.NMDS):
            src = f"{V2}: Methods development/Validation study (NMDS)"
            if c.permission == duo.DS and purpose_diseases and not _unfitting(purpose_diseases, c):
                reasons.append(Reason("MDS", APPROVE, "Methods development is prohibited outside the dataset's "
                                                      "restrictions (NMDS), and it stays within its diseases.", src))
            else:
                reasons.append(Reason("MDS", DENY, "The dataset prohibits general methods research (NMDS); methods "
                                                   "development is allowed only within its disease restriction.",
                                      src))
        else:
            reasons.append(Reason("MDS", APPROVE, "Methods research is permitted so long as it is not expressly "
                                                  "prohibited (no NMDS).", f"{V3}: Methods development (MDS)"))
    if purpose.get("controls"):
        src = f"{V2}: Control Set"
        if c.permission in (duo.NRES, duo.GRU, duo.HMB):
            reasons.append(Reason("CONTROLS", APPROVE, "Use as a control set is allowed under the dataset's "
                                                       f"{_name(c.permission)} permission.", src))
        elif c.permission == duo.DS and purpose_diseases and not _unfitting(purpose_diseases, c):
            reasons.append(Reason("CONTROLS", APPROVE, "Use as a control set stays within the dataset's diseases.",
                                  src))
        else:
            reasons.append(Reason("CONTROLS", DENY, "Use as a control set needs a GRU or HMB dataset, or a "
                                                    "disease that fits the dataset's restriction.", src))
    commercial_src = f"{V3}: Commercial purpose/by a commercial entity (NPU, NCU)"
    if purpose.get("commercial") and (c.has(duo.NCU) or c.has(duo.NPUNCU)):
        reasons.append(Reason("COMMERCIAL", DENY, "The dataset is for non-commercial use only (NCU) and the purpose "
                                                  "is commercial.", commercial_src))
    if purpose.get("for_profit") and (c.has(duo.NPU) or c.has(duo.NPUNCU)):
        reasons.append(Reason("COMMERCIAL", DENY, "The dataset is for not-for-profit organisations only (NPU) and "
                                                  "the applicant is a for-profit organisation.", commercial_src))
    if duo.POA in terms and c.has(duo.NPOA):
        reasons.append(Reason("NPOA", DENY, "The dataset prohibits population origins or ancestry research (NPOA).",
                              "GA4GH DUO, DUO:0000044 (NPOA)"))
    judged = [m for m in JUDGED if c.has(m)]
    if judged:
        reasons.append(Reason("JUDGED", ABSTAIN, "A custodian must judge restrictions the purpose cannot show: "
                              + ", ".join(duo.shorthand(m) for m in judged) + ".", abstain_src))
    sensitive = [k for k in purpose.get("sensitive") or [] if k in SENSITIVE]
    if sensitive:
        reasons.append(Reason("SENSITIVE", ABSTAIN, "Sensitive research areas are not decided by rule: "
                              + "; ".join(SENSITIVE[k] for k in sensitive) + ".", abstain_src))
    verdicts = {r.verdict for r in reasons}
    advice.verdict = APPROVE if verdicts == {APPROVE} else ABSTAIN if ABSTAIN in verdicts else DENY
    if advice.verdict != DENY:
        advice.conditions = conditions_of(c)
    return advice


def conditions_of(c: Conditions) -> list[str]:
    """The conditions a dataset's modifiers put on any use of it."""
    return [CONDITIONS[m] for m in duo.MODIFIERS if m in c.modifiers and m in CONDITIONS]


def evaluate(ctx: Context, state: State) -> list[dict[str, Any]]:
    """Advice per dataset: ``{"dataset_id", "team_id", "verdict": APPROVE|DENY|ABSTAIN, "reason", "reasons",
    "conditions"}``, in the application's order of datasets."""
    purpose = _stored_purpose(state.purpose)
    found = data_use.for_datasets(ctx, [d for d, _ in state.datasets])
    out = []
    for dataset_id, team_id in state.datasets:
        c = found.get(dataset_id) or Conditions(dataset_id=dataset_id)
        advice = match(purpose, c)
        advice.team_id = team_id
        out.append(advice.as_dict())
    return out


def _stored_purpose(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A purpose as stored; one saved before these rules (or by hand) is read as far as it is valid."""
    try:
        return clean_purpose(raw)
    except Invalid:
        return {"terms": [], "diseases": []}


def check(ctx: Context, purpose: Mapping[str, Any], dataset_ids: Iterable[uuid.UUID]) -> list[Advice]:
    """Advice before submitting: the purpose against datasets the actor may see (404 for others)."""
    cleaned = clean_purpose(purpose)
    return [match(cleaned, data_use.get(ctx, d)) for d in dict.fromkeys(dataset_ids)]


def conditions_for(ctx: Context, state: State, team_id: uuid.UUID) -> list[str]:
    """The conditions the datasets of ``team_id``'s part put on the use, for the custodian's "approve with
    conditions" form: every obligation of their modifiers, once each, in DUO's order."""
    ids = [d for d, t in state.datasets if t == team_id]
    held = {m for c in data_use.for_datasets(ctx, ids).values() for m in c.modifiers}
    return [CONDITIONS[m] for m in duo.MODIFIERS if m in held and m in CONDITIONS]


def latest_advice(events: Iterable[Any], team_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """The advice of the latest submission among ``events`` (``ApplicationEvent`` rows or lifecycle events, e.g.
    ``service.visible_events(view, rows)``): what applicant and custodian pages show. ``team_id``: only the
    datasets of that custodian's part."""
    found: list[dict[str, Any]] = []
    for e in events:
        if e.type in ("submitted", "resubmitted") and isinstance((e.data or {}).get("duo"), list):
            found = e.data["duo"]
    if team_id is not None:
        found = [a for a in found if a.get("team_id") == str(team_id)]
    return found


def dataset_titles(ctx: Context, dataset_ids: Iterable[uuid.UUID | str]) -> dict[str, str]:
    """Dataset id (text) -> its title, for ``access/duo/_advice.html``'s ``dataset_titles``."""
    out = {}
    for raw in dict.fromkeys(dataset_ids):
        try:
            dataset = ctx.session.get(Dataset, raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            continue
        if dataset is not None:
            out[str(dataset.id)] = data_use.title(ctx, dataset)
    return out

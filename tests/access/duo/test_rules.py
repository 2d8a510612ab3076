"""The DUO matching rules as a table of cases from DataBiosphere/consent-ontology docs/Algorithms.md (Version 3
rows, the Version 2 rows for methods development under NMDS and for control sets, the abstain list), the ICD-10
ancestry behind disease restrictions, the shipped terms, and the purpose's validation. Pure: no database."""

from __future__ import annotations

import uuid

import pytest

from healthgate.access import diseases, duo
from healthgate.access import duo_terms as terms
from healthgate.access.data_use import Conditions
from healthgate.errors import Invalid

A, D, X = duo.APPROVE, duo.DENY, duo.ABSTAIN


def purpose(*purpose_terms: str, diseases: tuple[str, ...] = (), **flags) -> dict:
    return duo.clean_purpose({"terms": list(purpose_terms), "diseases": list(diseases), **flags})


def dataset(permission: str | None, *modifiers: str, diseases: tuple[str, ...] = ()) -> Conditions:
    perm = terms.find(permission).id if permission else None
    return Conditions(dataset_id=uuid.uuid4(), permission=perm,
                      diseases=tuple(d if d.startswith("ICD10:") else f"ICD10:{d}" for d in diseases),
                      modifiers=tuple(terms.find(m).id for m in modifiers))


CASES = [
    # (case, purpose, dataset conditions, expected verdict, rule that decides)
    # Disease focused research (DS-X): GRU and HMB datasets fit; a DS dataset fits the same or a parent disease
    ("DS on GRU", purpose("DS", diseases=("E11",)), dataset("GRU"), A, "DS"),
    ("DS on NRES", purpose("DS", diseases=("E11",)), dataset("NRES"), A, "DS"),
    ("DS on HMB", purpose("DS", diseases=("E11",)), dataset("HMB"), A, "DS"),
    ("DS same disease", purpose("DS", diseases=("E11",)), dataset("DS", diseases=("E11",)), A, "DS"),
    ("DS narrower disease fits", purpose("DS", diseases=("E11.9",)), dataset("DS", diseases=("E11",)), A, "DS"),
    ("DS disease inside a block", purpose("DS", diseases=("E11.9",)), dataset("DS", diseases=("E10-E14",)), A, "DS"),
    ("DS disease inside a chapter", purpose("DS", diseases=("I21",)), dataset("DS", diseases=("IX",)), A, "DS"),
    ("DS broader disease does not fit", purpose("DS", diseases=("E11",)), dataset("DS", diseases=("E11.9",)),
     D, "DS"),
    ("DS block broader than category", purpose("DS", diseases=("E10-E14",)), dataset("DS", diseases=("E11",)),
     D, "DS"),
    ("DS other disease", purpose("DS", diseases=("I21",)), dataset("DS", diseases=("E11",)), D, "DS"),
    ("DS every disease must fit", purpose("DS", diseases=("E11.9", "I21")), dataset("DS", diseases=("E11",)),
     D, "DS"),
    ("DS any dataset disease may cover", purpose("DS", diseases=("E11.9", "I21.0")),
     dataset("DS", diseases=("E11", "I20-I25")), A, "DS"),
    ("DS on POA", purpose("DS", diseases=("E11",)), dataset("POA"), D, "DS"),
    # HMB: approve GRU, HMB; deny DS, POA
    ("HMB on GRU", purpose("HMB"), dataset("GRU"), A, "HMB"),
    ("HMB on HMB", purpose("HMB"), dataset("HMB"), A, "HMB"),
    ("HMB on DS", purpose("HMB"), dataset("DS", diseases=("E11",)), D, "HMB"),
    ("HMB on POA", purpose("HMB"), dataset("POA"), D, "HMB"),
    # GRU purpose: only GRU (or NRES) datasets; GRU > HMB > DS
    ("GRU on GRU", purpose("GRU"), dataset("GRU"), A, "GRU"),
    ("GRU on NRES", purpose("GRU"), dataset("NRES"), A, "GRU"),
    ("GRU on HMB", purpose("GRU"), dataset("HMB"), D, "GRU"),
    ("GRU on DS", purpose("GRU"), dataset("DS", diseases=("E11",)), D, "GRU"),
    # POA: approve GRU, POA; deny DS, HMB; POA stands apart from the hierarchy
    ("POA on GRU", purpose("POA"), dataset("GRU"), A, "POA"),
    ("POA on POA", purpose("POA"), dataset("POA"), A, "POA"),
    ("POA on HMB", purpose("POA"), dataset("HMB"), D, "POA"),
    ("POA on DS", purpose("POA"), dataset("DS", diseases=("E11",)), D, "POA"),
    ("POA on GRU with NPOA", purpose("POA"), dataset("GRU", "NPOA"), D, "NPOA"),
    ("HMB on GRU with NPOA", purpose("HMB"), dataset("GRU", "NPOA"), A, "HMB"),
    # Commercial purpose/by a commercial entity: denied where NCU or NPU
    ("commercial on NCU", purpose("HMB", commercial=True), dataset("HMB", "NCU"), D, "COMMERCIAL"),
    ("commercial on NPUNCU", purpose("HMB", commercial=True), dataset("HMB", "NPUNCU"), D, "COMMERCIAL"),
    ("commercial, no NCU", purpose("HMB", commercial=True), dataset("HMB", "NPU"), A, "HMB"),
    ("non-commercial on NCU", purpose("HMB"), dataset("HMB", "NCU"), A, "HMB"),
    ("for-profit on NPU", purpose("HMB", for_profit=True), dataset("GRU", "NPU"), D, "COMMERCIAL"),
    ("for-profit on NCU only", purpose("HMB", for_profit=True), dataset("GRU", "NCU"), A, "HMB"),
    # Methods development: allowed unless NMDS; under NMDS only within a matching disease restriction
    ("methods, no NMDS", purpose("HMB", methods=True), dataset("HMB"), A, "MDS"),
    ("methods on NMDS", purpose("HMB", methods=True), dataset("HMB", "NMDS"), D, "MDS"),
    ("methods on NMDS within DS", purpose("DS", diseases=("E11.9",), methods=True),
     dataset("DS", "NMDS", diseases=("E11",)), A, "MDS"),
    ("methods on NMDS outside DS", purpose("DS", diseases=("I21",), methods=True),
     dataset("DS", "NMDS", diseases=("E11",)), D, "MDS"),
    ("no methods on NMDS", purpose("HMB"), dataset("HMB", "NMDS"), A, "HMB"),
    # Control set: GRU or HMB datasets, or a matching disease restriction
    ("controls on HMB", purpose("HMB", controls=True), dataset("HMB"), A, "CONTROLS"),
    ("controls on DS, disease fits", purpose("DS", diseases=("E11",), controls=True),
     dataset("DS", diseases=("E10-E14",)), A, "CONTROLS"),
    ("controls on POA", purpose("POA", controls=True), dataset("POA"), D, "CONTROLS"),
    # Abstain: no conditions, no purpose, restrictions a person must judge, sensitive areas
    ("dataset without conditions", purpose("HMB"), dataset(None), X, "UNSET"),
    ("no purpose stated", purpose(), dataset("GRU"), X, "PURPOSE"),
    ("geographical restriction", purpose("HMB"), dataset("HMB", "GS"), X, "JUDGED"),
    ("genetic studies only", purpose("HMB"), dataset("GRU", "GSO"), X, "JUDGED"),
    ("sensitive area", purpose("HMB", sensitive=["pediatric"]), dataset("GRU"), X, "SENSITIVE"),
    ("abstain outranks deny (V4 matcher)", purpose("HMB", sensitive=["addiction"]), dataset("POA"), X, "SENSITIVE"),
    # Obligations are conditions, not refusals
    ("IRB PUB COL MOR TS RTN", purpose("HMB"), dataset("HMB", "IRB", "PUB", "COL", "MOR", "TS", "RTN"), A, "HMB"),
]


@pytest.mark.parametrize(("case", "stated", "conditions", "verdict", "rule"), CASES, ids=[c[0] for c in CASES])
def test_matching_table(case, stated, conditions, verdict, rule):
    advice = duo.match(stated, conditions)
    assert advice.verdict == verdict, advice.as_dict()
    deciding = [r for r in advice.reasons if r.verdict == verdict]
    assert rule in {r.rule for r in deciding}, advice.as_dict()
    assert all(r.source for r in advice.reasons)  # every reason cites the rule it comes from
    assert advice.reason  # one readable sentence


def test_obligations_become_conditions_on_the_advice():
    advice = duo.match(purpose("HMB"), dataset("HMB", "IRB", "PUB", "COL", "MOR", "TS", "RTN", "NCU", "CC"))
    shorthands = [c.split("(")[1].split(")")[0] for c in advice.conditions]
    assert shorthands == ["NCU", "IRB", "PUB", "COL", "MOR", "TS", "RTN"]  # DUO's order; CC obliges nothing
    assert "ethics" in advice.conditions[1].lower()


def test_a_denied_dataset_lists_no_conditions():
    advice = duo.match(purpose("HMB", commercial=True), dataset("HMB", "NCU", "IRB"))
    assert advice.verdict == D and advice.conditions == []
    assert "non-commercial" in advice.reason


def test_reason_names_the_disease_that_does_not_fit():
    advice = duo.match(purpose("DS", diseases=("E11", "E11.9")), dataset("DS", diseases=("E11.9",)))
    assert advice.verdict == D
    assert "E11 Type 2 diabetes mellitus" in advice.reason
    assert "Algorithms.md" in advice.reasons[0].source


# -- the ontology and the terms -----------------------------------------------------------------------------


def test_icd10_ancestry_works_offline():
    assert diseases.normalise("e119") == "ICD10:E11.9"
    assert diseases.normalise("ICD10:E11") == "ICD10:E11"
    assert diseases.normalise("E10-E14") == "ICD10:E10-E14"
    assert diseases.normalise("XX99") is None and diseases.normalise("") is None
    assert diseases.ancestors("ICD10:E11.9") == ("ICD10:E11", "ICD10:E10-E14", "ICD10:IV")
    assert diseases.fits("ICD10:E11.9", "ICD10:E11") and not diseases.fits("ICD10:E11", "ICD10:E11.9")
    assert diseases.label("ICD10:I21") == "Acute myocardial infarction"
    assert "ICD10:E11" in diseases.search("type 2 diabetes")


def test_shipped_terms_and_their_facts():
    all_terms = terms.terms()
    assert len(all_terms) == 25
    assert terms.find("gru").id == "DUO:0000042" and terms.find("DUO_0000006").shorthand == "HMB"
    assert [t.shorthand for t in terms.permissions()] == ["NRES", "GRU", "HMB", "DS", "POA"]
    assert {t.shorthand for t in terms.modifiers()} >= {"IRB", "PUB", "COL", "MOR", "TS", "RTN", "NCU", "NPU",
                                                        "NMDS", "NPOA", "GS", "GSO"}
    assert {t.kind for t in all_terms} == {"permission", "modifier", "root"}
    assert terms.COVERS[terms.GRU] > terms.COVERS[terms.HMB] > terms.COVERS[terms.DS]
    assert terms.POA not in terms.COVERS[terms.HMB]


# -- the stated purpose ---------------------------------------------------------------------------------------


def test_clean_purpose_normalises_and_fills_every_key():
    got = duo.clean_purpose({"terms": ["ds", "DUO:0000006"], "diseases": ["e11.9"], "methods": True})
    assert got == {"terms": [terms.HMB, terms.DS], "diseases": ["ICD10:E11.9"], "commercial": False,
                   "for_profit": False, "methods": True, "controls": False, "sensitive": []}
    assert duo.clean_purpose({}) == duo.clean_purpose({"terms": []})


@pytest.mark.parametrize(("given", "paths"), [
    ({"terms": ["DS"]}, ["purpose/diseases"]),
    ({"terms": ["HMB"], "diseases": ["E11"]}, ["purpose/terms"]),
    ({"terms": ["XYZ", "IRB"]}, ["purpose/terms/0", "purpose/terms/1"]),
    ({"terms": ["DS"], "diseases": ["E11", "nope"]}, ["purpose/diseases/1"]),
    ({"commercial": "maybe"}, ["purpose/commercial"]),
    ({"sensitive": ["gossip"]}, ["purpose/sensitive/0"]),
    ({"colour": "blue"}, ["purpose/colour"]),
    ({"terms": "GRU", "diseases": 5}, ["purpose/diseases"]),
])
def test_clean_purpose_names_every_bad_field(given, paths):
    with pytest.raises(Invalid) as raised:
        duo.clean_purpose(given)
    assert [e.path for e in raised.value.errors] == paths


def test_purpose_from_form_reads_the_partials_fields():
    posted = {"purpose_terms": ["DS", "HMB"], "purpose_diseases": ["E11, I21.9;  C50"], "purpose_commercial": ["no"],
              "purpose_for_profit": ["yes"], "purpose_methods": ["yes"], "purpose_sensitive": ["pediatric"]}
    raw = duo.purpose_from_form(posted)
    assert raw == {"terms": ["DS", "HMB"], "diseases": ["E11", "I21.9", "C50"], "commercial": False,
                   "for_profit": True, "methods": True, "controls": False, "sensitive": ["pediatric"]}
    cleaned = duo.clean_purpose(raw)
    assert cleaned["diseases"] == ["ICD10:E11", "ICD10:I21.9", "ICD10:C50"]
    form = duo.purpose_form(cleaned)
    assert form.diseases_text == "E11, I21.9, C50" and form.values["terms"] == [terms.HMB, terms.DS]

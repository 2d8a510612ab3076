"""Properties of the matching rules over random purposes and conditions (hypothesis): the advice is always one
of the three verdicts with a cited reason, a DENY lists no conditions, an APPROVE has no refusing reason, and
disease ancestry is monotone (narrowing the purpose's disease never turns APPROVE into DENY)."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from healthgate.access import diseases, duo
from healthgate.access import duo_terms as terms
from healthgate.access.data_use import Conditions

CODES = ["E10-E14", "E11", "E11.9", "E10", "I20-I25", "I21", "I21.0", "C50", "C50.9", "IV", "IX", "F32", "J45"]
code = st.sampled_from(CODES).map(lambda c: f"ICD10:{c}")
purpose_st = st.builds(
    lambda ts, ds, flags, sens: duo.clean_purpose({
        "terms": ts + (["DS"] if ds and "DS" not in ts else []), "diseases": ds if ("DS" in ts or ds) else [],
        **flags, "sensitive": sens}),
    st.lists(st.sampled_from(["GRU", "HMB", "POA"]), unique=True, max_size=2),
    st.lists(code, unique=True, max_size=2),
    st.fixed_dictionaries({k: st.booleans() for k in ("commercial", "for_profit", "methods", "controls")}),
    st.lists(st.sampled_from(sorted(duo.SENSITIVE)), unique=True, max_size=1),
)


@st.composite
def conditions_st(draw):
    permission = draw(st.sampled_from([None, *terms.PERMISSIONS]))
    ds = draw(st.lists(code, unique=True, min_size=1, max_size=2)) if permission == terms.DS else []
    mods = draw(st.lists(st.sampled_from(terms.MODIFIERS), unique=True, max_size=4)) if permission else []
    return Conditions(uuid.uuid4(), permission, tuple(ds), tuple(m for m in terms.MODIFIERS if m in mods))


@settings(max_examples=300, deadline=None)
@given(purpose_st, conditions_st())
def test_advice_is_well_formed(purpose, conditions):
    advice = duo.match(purpose, conditions)
    assert advice.verdict in duo.VERDICTS
    assert advice.reasons and all(r.source and r.text for r in advice.reasons)
    verdicts = {r.verdict for r in advice.reasons}
    if advice.verdict == duo.APPROVE:
        assert verdicts == {duo.APPROVE}
    if advice.verdict == duo.DENY:
        assert advice.conditions == [] and duo.ABSTAIN not in verdicts
    if advice.verdict == duo.ABSTAIN:
        assert duo.ABSTAIN in verdicts


@settings(max_examples=300, deadline=None)
@given(purpose_st, conditions_st(), st.data())
def test_a_narrower_disease_never_fits_worse(purpose, conditions, data):
    if not purpose["diseases"]:
        return
    broad = purpose["diseases"][0]
    narrower = [c for c in (f"ICD10:{x}" for x in CODES) if broad in diseases.ancestors(c)]
    if not narrower:
        return
    narrow = data.draw(st.sampled_from(narrower))
    before = duo.match(purpose, conditions).verdict
    after = duo.match({**purpose, "diseases": [narrow, *purpose["diseases"][1:]]}, conditions).verdict
    if before == duo.APPROVE:
        assert after == duo.APPROVE

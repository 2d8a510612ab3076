"""ORCID iDs: the ISO 7064 MOD 11-2 check character is checked; a wrong one says the check digit is wrong, a
malformed iD says which part is malformed; every way of writing a valid iD gives its canonical form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_11_2

from healthgate.errors import Invalid
from healthgate.identity import orcid


@pytest.mark.parametrize("written", [
    "0000-0002-1825-0097", "0000000218250097", "https://orcid.org/0000-0002-1825-0097",
    "http://orcid.org/0000-0002-1825-0097/", " orcid.org/0000-0002-1825-0097 ",
])
def test_ways_of_writing_an_orcid_id(written):
    assert orcid.normalise(written) == "0000-0002-1825-0097"


def test_x_check_character_in_either_case():
    # 0000-0002-9079-593X is a real iD whose check character is X
    assert orcid.normalise("0000-0002-9079-593x") == "0000-0002-9079-593X"


@pytest.mark.parametrize(("wrong", "should"), [
    ("0000-0002-1825-0098", "7"), ("0000-0002-1825-009X", "7"),
    ("0000-0002-1852-0097", "3"),  # two digits swapped: MOD 11-2 catches every transposition
])
def test_a_wrong_check_digit_says_so(wrong, should):
    with pytest.raises(Invalid) as caught:
        orcid.normalise(wrong)
    (error,) = caught.value.errors
    assert error.path == "orcid"
    assert "check digit is wrong" in error.message and f"should end in {should}" in error.message


@pytest.mark.parametrize(("malformed", "says"), [
    ("", "give an ORCID iD"),
    ("0000-0002-1825", "four groups"),
    ("0000-0002-1825-0097-1", "not 5 groups"),
    ("0000-00A2-1825-0097", "group 2 ('00A2') must be digits"),
    ("0000-0002-182-50097", "group 3 ('182') must have four characters"),
    ("0000-0002-1825-009Y", "check character ('Y') must be a digit or X"),
    ("000000021825009", "16 characters, not 15"),
    ("X000-0002-1825-0097", "group 1"),
])
def test_a_malformed_id_says_which_part(malformed, says):
    with pytest.raises(Invalid) as caught:
        orcid.normalise(malformed)
    assert says in caught.value.errors[0].message
    assert "check digit is wrong" not in caught.value.errors[0].message


@given(st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_every_body_with_its_check_character_is_valid_and_any_other_is_not(body):
    check = mod_11_2.calc_check_digit(body)
    groups = [body[i:i + 4] for i in range(0, 12, 4)] + [body[12:] + check]
    assert orcid.normalise("".join(groups)) == "-".join(groups)
    for other in "0123456789X":
        if other != check:
            with pytest.raises(Invalid, match="check digit is wrong"):
                orcid.normalise("-".join(groups)[:-1] + other)


@given(st.text(max_size=40))
def test_any_text_is_an_answer_or_invalid_never_a_crash(text):
    try:
        result = orcid.normalise(text)
    except Invalid as exc:
        assert exc.errors and exc.errors[0].path == "orcid"
    else:
        assert len(result) == 19 and mod_11_2.is_valid(result.replace("-", ""))

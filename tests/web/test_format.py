"""How values read on pages: field names, numbers, dates, and links made only from safe schemes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthgate.catalogue.diff import list_delta
from healthgate.web.format import field_label, linkify, parse_date, record_date, thousands


@pytest.mark.parametrize(("path", "label"), [
    ("documentation.description", "Documentation › Description"),
    ("$.summary.dataCustodian.contactPoint", "Summary › Data custodian › Contact point"),
    ("$.summary.keywords[2]", "Summary › Keywords › item 3"),
    ("$.enrichmentAndLinkage.isPartOf[0].title", "Enrichment and linkage › Is part of › item 1 › Title"),
    ("$", "Whole document"),
])
def test_field_label(path, label):
    assert field_label(path) == label


def test_thousands():
    assert thousands(950000) == "950,000"
    assert thousands(4695) == "4,695"
    assert thousands(12.5) == "12.5" and thousands(3.0) == "3"
    assert thousands(True) == "True" and thousands("n/a") == "n/a" and thousands(None) == ""


def test_dates():
    assert parse_date("2020-01-13T14:55:22Z") == date(2020, 1, 13)
    assert parse_date("2020-01-13") == date(2020, 1, 13)
    assert parse_date(datetime(2026, 1, 15, 9, 30, tzinfo=UTC)) == date(2026, 1, 15)
    for bad in ("2020-13-01", "2020", "soon", "", None, 2020):
        assert parse_date(bad) is None
    assert record_date("2019-03-14T09:30:00Z") == '<time datetime="2019-03-14">14 Mar 2019</time>'
    assert record_date("<b>spring</b>") == "&lt;b&gt;spring&lt;/b&gt;"


@pytest.mark.parametrize(("text", "html"), [
    ("write to data@uni.ac.uk.", 'write to <a href="mailto:data@uni.ac.uk" rel="nofollow ugc">data@uni.ac.uk</a>.'),
    ("mailto:data@uni.ac.uk", '<a href="mailto:data@uni.ac.uk" rel="nofollow ugc">mailto:data@uni.ac.uk</a>'),
    ("10.1097/CCM.0000000000003424",
     '<a href="https://doi.org/10.1097/CCM.0000000000003424" rel="nofollow ugc">10.1097/CCM.0000000000003424</a>'),
    ("(doi:10.5555/x.1)", '(<a href="https://doi.org/10.5555/x.1" rel="nofollow ugc">doi:10.5555/x.1</a>)'),
    ("see https://x.org/a?b=1&c=2, then",
     'see <a href="https://x.org/a?b=1&amp;c=2" rel="nofollow ugc">https://x.org/a?b=1&amp;c=2</a>, then'),
    ("https://en.wikipedia.org/wiki/Cohort_(study)",
     ('<a href="https://en.wikipedia.org/wiki/Cohort_(study)" rel="nofollow ugc">'
     "https://en.wikipedia.org/wiki/Cohort_(study)</a>")),
    ("javascript:alert(1)", "javascript:alert(1)"),
    ("data:text/html,<script>alert(1)</script>", "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"),
    ('https://x.org/"onmouseover="alert(1)', "https://x.org/&#34;onmouseover=&#34;alert(1)"),
    ("a@b and ftp://x.org", "a@b and ftp://x.org"),
    ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
])
def test_linkify(text, html):
    assert linkify(text) == html


@given(st.text(alphabet=st.sampled_from(list("ab:/.@()<>\"'& \n10jvshtpmilo")), max_size=60))
def test_linkify_never_makes_an_unsafe_link_or_loses_text(text):
    html = str(linkify(text))
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("https://", "http://", "mailto:")), href
    assert "<" not in re.sub(r'<a href="[^"<>]*" rel="nofollow ugc">|</a>', "", html)
    plain = re.sub(r"<[^>]+>", "", html).replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"')
    assert plain.replace("&#39;", "'").replace("&amp;", "&") == text


def test_list_delta():
    assert list_delta(["a", "b"], ["b", "c"]) == (["c"], ["a"])
    assert list_delta(None, ["x"]) == (["x"], [])
    assert list_delta("solo", ["solo", "duo"]) == (["duo"], [])
    assert list_delta([{"a": 1}], [{"a": 2}]) == ([{"a": 2}], [{"a": 1}])

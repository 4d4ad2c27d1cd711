"""Accept-Language: RFC 9110 §12.5.4 parsing with q-values, RFC 4647 §3.4 lookup."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline.personalize import Negotiator, lookup, parse_accept_language


def test_weights_order_the_ranges_stably() -> None:
    assert parse_accept_language("da, en-gb;q=0.8, en;q=0.7") == [
        ("da", 1.0), ("en-gb", 0.8), ("en", 0.7)]
    assert parse_accept_language("fr;q=0.5, de, it;q=0.5, *;q=0.1") == [
        ("de", 1.0), ("fr", 0.5), ("it", 0.5), ("*", 0.1)]


def test_q_zero_means_not_acceptable() -> None:
    assert parse_accept_language("de;q=0, en") == [("en", 1.0)]


@pytest.mark.parametrize("header", [
    "", ",,,", ";q=1", "de;q=2", "de;q=1.5", "de;q=0.1234", "de;x=1", "de;q=", "123",
    "de_DE", "toolongsubtag-x", "en-", "-en", "\x00", "de;q=abc", "ü",
])
def test_malformed_elements_are_skipped(header) -> None:
    assert parse_accept_language(header) == []


def test_one_bad_element_does_not_hide_the_others() -> None:
    assert parse_accept_language("de_DE, fr;q=2, en;q=0.3, it") == [("it", 1.0), ("en", 0.3)]


def test_element_count_is_bounded() -> None:
    header = ", ".join(["xx"] * 1000 + ["de"])
    assert len(parse_accept_language(header)) == 32


def test_lookup_truncates_per_rfc_4647() -> None:
    # §3.4's example: zh-Hant-CN-x-private1-private2 falls back step by step,
    # dropping the singleton "x" together with what follows it.
    available = {"zh-hant": "zh-Hant"}
    assert lookup(["zh-hant-cn-x-private1-private2"], available, None) == "zh-Hant"
    assert lookup(["de-ch-1996"], {"de": "de"}, None) == "de"
    # Lookup never widens: a range "de" does not pick the tag "de-DE".
    assert lookup(["de"], {"de-de": "de-DE"}, "en") == "en"


def test_wildcard_returns_the_default() -> None:
    assert lookup(["*"], {"de": "de"}, "en") == "en"


def test_negotiator_picks_by_weight_and_keeps_configured_case() -> None:
    n = Negotiator(["en", "de-DE", "fr"], "en")
    assert n.negotiate("fr;q=0.4, de-de;q=0.9") == "de-DE"
    assert n.negotiate("de-DE-1996, fr;q=0.1") == "de-DE"
    assert n.negotiate("es, pt") == "en"
    assert n.negotiate(None) == "en" and n.negotiate("") == "en"
    assert n.negotiate("garbage;;;q=q") == "en"


tags = st.from_regex(r"[a-z]{2}(-[A-Za-z0-9]{1,8}){0,2}", fullmatch=True)


@given(st.text(max_size=200), st.lists(tags, min_size=1, max_size=5))
def test_negotiation_never_fails_and_stays_in_the_list(header, available) -> None:
    n = Negotiator(available, available[0])
    assert n.negotiate(header) in available


@given(st.lists(st.tuples(tags, st.sampled_from(["", ";q=0.5", ";q=1", ";q=0.001", ";q=0"])),
                max_size=6), st.lists(tags, min_size=1, max_size=5))
def test_the_first_acceptable_range_with_a_match_wins(ranges, available) -> None:
    header = ", ".join(tag + q for tag, q in ranges)
    result = Negotiator(available, None).negotiate(header)
    parsed = parse_accept_language(header)
    lowered = {t.lower(): t for t in available}
    expected = None
    for language_range, _ in parsed:
        parts = language_range.split("-")
        while parts:
            if "-".join(parts) in lowered:
                expected = lowered["-".join(parts)]
                break
            parts.pop()
            if parts and len(parts[-1]) == 1:
                parts.pop()
        if expected is not None:
            break
    assert result == expected

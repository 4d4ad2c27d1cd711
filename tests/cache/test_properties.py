"""Property tests: freshness arithmetic, directive parsing and Vary matching against references."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeline.cache import (
    corrected_initial_age,
    current_age,
    format_http_date,
    freshness_lifetime,
    parse_cache_control,
    parse_http_date,
    parse_vary,
    vary_values,
)
from edgeline.cache._directives import MAX_DELTA, parse_targeted
from edgeline.cache._keys import KeyPolicy, secondary_key
from edgeline.headers import Headers

times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
small = st.integers(min_value=0, max_value=10**6)


@given(age=small, date=times, request_time=times, delay=st.floats(0, 1000), resident=st.floats(0, 1e6))
def test_age_matches_rfc9111_formula(age: int, date: float, request_time: float, delay: float,
                                     resident: float) -> None:
    response_time = request_time + delay
    initial = corrected_initial_age(age=age, date=date, request_time=request_time,
                                    response_time=response_time)
    # The reference: RFC 9111 §4.2.3, written out literally.
    apparent_age = max(0, response_time - date)
    corrected_age_value = age + (response_time - request_time)
    assert abs(initial - max(apparent_age, corrected_age_value)) < 1e-6
    now = response_time + resident
    assert abs(current_age(initial, response_time, now) - (initial + resident)) < 1e-6
    assert initial >= age


@given(max_age=st.one_of(st.none(), small), s_maxage=st.one_of(st.none(), small),
       expires_in=st.one_of(st.none(), st.integers(-10**6, 10**6)),
       lm_ago=st.one_of(st.none(), st.integers(1, 10**8)),
       status=st.sampled_from([200, 201, 204, 404, 500, 599]), public=st.booleans())
def test_lifetime_precedence(max_age: int | None, s_maxage: int | None, expires_in: int | None,
                             lm_ago: int | None, status: int, public: bool) -> None:
    parts = []
    if max_age is not None:
        parts.append(f"max-age={max_age}")
    if s_maxage is not None:
        parts.append(f"s-maxage={s_maxage}")
    if public:
        parts.append("public")
    d = parse_cache_control([", ".join(parts)] if parts else [])
    date = 1_700_000_000.0
    expires = format_http_date(date + expires_in) if expires_in is not None else None
    lifetime, heuristic = freshness_lifetime(
        d, status=status, date=date, expires=expires, has_expires=expires is not None,
        last_modified=date - lm_ago if lm_ago is not None else None)
    # Reference: RFC 9111 §4.2.1's order, then §4.2.2.
    if s_maxage is not None:
        want = s_maxage
    elif max_age is not None:
        want = max_age
    elif expires_in is not None:
        want = max(0, expires_in)
    elif lm_ago is not None and (status in (200, 203, 204, 404) or public):
        want = min(lm_ago * 0.1, 86400)
    else:
        want = 0
    assert abs(lifetime - want) < 1e-6
    assert heuristic == (s_maxage is None and max_age is None and expires_in is None and want > 0)


@given(st.integers(min_value=0, max_value=10**15))
def test_delta_seconds_values(n: int) -> None:
    d = parse_cache_control([f"max-age={n}"])
    assert d.delta("max-age") == min(n, MAX_DELTA)
    assert parse_cache_control([f'max-age="{n}"']).delta("max-age") == min(n, MAX_DELTA)


@given(st.text(alphabet="abc -=,\"'0123456789;", max_size=30))
def test_parsers_never_raise(text: str) -> None:
    d = parse_cache_control([text])
    for name in d.values:
        d.delta(name)
    parse_targeted([text])


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_http_date_roundtrip(when: float) -> None:
    assert parse_http_date(format_http_date(when)) == float(int(when))


def test_http_date_obsolete_forms() -> None:
    imf = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
    assert imf == parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT")
    assert imf == parse_http_date("Sun Nov  6 08:49:37 1994")
    assert parse_http_date("0") is None and parse_http_date("yesterday") is None


names = st.sampled_from(["foo", "bar", "accept-language", "x-a"])
values = st.one_of(st.none(), st.sampled_from(["1", "2", "1, 2", "1,2", " 1 ,2", "en", ""]))


def _headers(pairs: dict[str, str | None]) -> Headers:
    return Headers([(k, v) for k, v in pairs.items() if v is not None])


def _reference_match(vary: list[str], a: dict[str, str | None], b: dict[str, str | None]) -> bool:
    """RFC 9111 §4.1, literally: every nominated field matches after normalisation."""
    if any(v.strip() == "*" for v in vary):
        return False
    for name in {n.strip().lower() for n in vary if n.strip()}:
        x, y = a.get(name), b.get(name)
        if (x is None) != (y is None):
            return False
        if x is not None and [s.strip() for s in x.split(",")] != [s.strip() for s in y.split(",")]:
            return False
    return True


@settings(max_examples=300)
@given(vary=st.lists(st.sampled_from(["foo", "Bar", "ACCEPT-LANGUAGE", "x-a", "*"]), min_size=1,
                     max_size=3),
       a=st.dictionaries(names, values), b=st.dictionaries(names, values))
def test_vary_matching_against_reference(vary: list[str], a: dict[str, str | None],
                                         b: dict[str, str | None]) -> None:
    parsed = parse_vary([", ".join(vary)])
    expected = _reference_match(vary, a, b)
    if parsed is None:
        assert expected is False
        return
    key_a = secondary_key("k", parsed, vary_values(_headers(a), parsed))
    key_b = secondary_key("k", parsed, vary_values(_headers(b), parsed))
    assert (key_a == key_b) == expected


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "utm_x", "fbclid", "c d"]),
                          st.text(alphabet="xyz&=% ", max_size=3)), max_size=5))
def test_query_key_ignores_tracking_and_order(pairs: list[tuple[str, str]]) -> None:
    from urllib.parse import quote

    policy = KeyPolicy()
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    shuffled = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(pairs, key=lambda p: p[0]))
    key = policy.url_key("u1" + query, "h", "/p", query)
    assert key == policy.url_key("u2" + shuffled, "h", "/p", shuffled)
    assert "utm_x" not in key and "fbclid" not in key


def test_key_is_bounded() -> None:
    policy = KeyPolicy(max_length=200)
    key = policy.url_key("u", "h", "/" + "a" * 5000, "")
    assert len(key) <= 200 and key.startswith("h/aaa")
    assert time.time() > 0


# -- Accept-Language normalisation and selection (RFC 9111 §4.1, RFC 9110 §12.5.4) --------

tags = st.sampled_from(["en", "de", "fr", "en-gb", "pt-br", "*"])
weights = st.sampled_from([None, "1", "0.9", "0.5", "0.1", "0"])


def _render(ranges: list[tuple[str, str | None]], cases: list[bool], spaces: list[str]) -> str:
    parts = []
    for i, (tag, q) in enumerate(ranges):
        text = tag.upper() if cases[i % len(cases)] else tag
        if q is not None:
            text += f";q={q}"
        parts.append(spaces[i % len(spaces)] + text + spaces[(i + 1) % len(spaces)])
    return ",".join(parts)


@settings(max_examples=300)
@given(ranges=st.lists(st.tuples(tags, weights), min_size=1, max_size=5, unique_by=lambda r: r[0]),
       cases=st.lists(st.booleans(), min_size=1, max_size=5),
       spaces=st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=1, max_size=5),
       order=st.randoms(use_true_random=False))
def test_accept_language_normalisation(ranges: list[tuple[str, str | None]], cases: list[bool],
                                       spaces: list[str], order: object) -> None:
    from edgeline.cache._keys import normalize_accept_language

    plain = normalize_accept_language(_render(ranges, [False], [""]))
    shuffled = list(ranges)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    # Case, whitespace and order change nothing: the weights say what is wanted.
    assert normalize_accept_language(_render(shuffled, cases, spaces)) == plain
    # Reference: the same set of (range, weight) pairs, and nothing else, normalises alike.
    reference = {(t, float(q) if q is not None else 1.0) for t, q in ranges}
    for other in ([(t, q) for t, q in ranges[:-1]], [(t, "0.3") for t, _ in ranges]):
        other_ref = {(t, float(q) if q is not None else 1.0) for t, q in other}
        assert (normalize_accept_language(_render(other, [False], [""])) == plain) == \
            (other_ref == reference)


@given(ranges=st.lists(st.tuples(tags, weights), max_size=5, unique_by=lambda r: r[0]))
def test_preferred_language_against_reference(ranges: list[tuple[str, str | None]]) -> None:
    from edgeline.cache._keys import preferred_language

    best: tuple[float, str] | None = None
    for tag, q in ranges:
        weight = float(q) if q is not None else 1.0
        if tag != "*" and weight > 0 and (best is None or weight > best[0]):
            best = (weight, tag)
    assert preferred_language(_render(ranges, [True], [" "])) == (best[1] if best else None)


# -- Surrogate-Control targeting ------------------------------------------------------------

@given(items=st.lists(st.tuples(st.sampled_from(["max-age=5", "no-store", "max-age=9", "foo"]),
                                st.sampled_from([None, "edgeline", "EdgeLine", "other"])),
                      max_size=5))
def test_surrogate_control_keeps_what_is_aimed_at_us(items: list[tuple[str, str | None]]) -> None:
    from edgeline.cache._directives import parse_surrogate_control

    text = ", ".join(d if t is None else f"{d};{t}" for d, t in items)
    parsed = parse_surrogate_control([text], "edgeline")
    kept = [d for d, t in items if t is None or t.lower() == "edgeline"]
    if not kept:
        assert not parsed.present
        return
    assert parsed.values == parse_cache_control([", ".join(kept)]).values


# -- Age with clock skew (RFC 9111 §4.2.3) ---------------------------------------------------

@given(age=small, skew=st.floats(-1e6, 1e6), request_time=st.floats(1e9, 2e9),
       delay=st.floats(0, 100))
def test_corrected_age_never_below_age_header_or_apparent_age(age: int, skew: float,
                                                              request_time: float,
                                                              delay: float) -> None:
    response_time = request_time + delay
    date = response_time + skew  # an origin clock ahead (skew > 0) or behind
    corrected = corrected_initial_age(age=age, date=date, request_time=request_time,
                                      response_time=response_time)
    assert corrected >= age + delay - 1e-6  # a fast origin clock never makes a response younger
    assert corrected >= max(0.0, -skew) - 1e-6  # a slow one ages it by the gap
    assert corrected >= 0
    later = current_age(corrected, response_time, response_time + 10)
    assert later == pytest.approx(corrected + 10)

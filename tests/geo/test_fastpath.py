"""The stage's fast paths agree with the plain definitions they stand in for."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline.geo import GeoContext
from edgeline.personalize import CompiledExperiment, GeoPlan, PolicyView
from edgeline.personalize._plan import _cookie, _cookies

from .helpers import compiled, config

_codes = st.one_of(st.none(), st.sampled_from(["US", "us", "DE", "CA", "ca", "EU", "eu", "NA", "OC",
                                                "", "XX", "T1", "Germany", "1"]),
                   st.text(max_size=3), st.integers(-2, 2), st.booleans(), st.just(1.0),
                   st.lists(st.text(max_size=2), max_size=1))


@given(country=_codes, region=_codes, continent=_codes)
def test_locate_agrees_with_policy_for_and_geocontext(country, region, continent) -> None:
    plan = compiled()["geo"]
    cf = {k: v for k, v in (("country", country), ("regionCode", region),
                            ("continent", continent)) if v is not None}
    for _ in range(2):  # a miss, then (when remembered) a hit
        geo = GeoContext(cf)
        assert plan.locate(cf) == (plan.policy_for(geo), geo.country, geo.continent)


def test_locate_does_not_confuse_equal_keys_of_other_types() -> None:
    us_1 = PolicyView("us-1")
    plan = GeoPlan([(us_1, ["US-1"], [], [])])
    assert plan.locate({"country": "US", "regionCode": 1})[0] is us_1
    # True == 1 as a key, but str(True) is "True": no region policy applies.
    assert plan.locate({"country": "US", "regionCode": True})[0] is plan.default


_cookie_text = st.text(alphabet="ab_=; \t\"xyz-", max_size=40)


@given(before=_cookie_text, uid=_cookie_text, after=_cookie_text)
def test_cookies_agree_with_cookie(before, uid, after) -> None:
    plan = GeoPlan(id_cookie="a_b", exposure_cookie="b")
    for header in (before + uid + after, f"{before}a_b={uid}; b={after}", f"b={uid};a_b={after}"):
        assert _cookies(header, plan) == (_cookie(header, "a_b"), _cookie(header, "b"))
    assert _cookies(None, plan) == (None, None) and _cookies("", plan) == (None, None)


@given(client_id=st.text(min_size=1, max_size=40), traffic=st.sampled_from([0.0, 0.3, 1.0]))
def test_assign_follows_the_documented_digest(client_id, traffic) -> None:
    experiment = CompiledExperiment("hero", [("a", 1), ("b", 3), ("c", 0), ("d", 2)],
                                    traffic=traffic, salt="s")
    digest = hashlib.sha256(b"s\x00" + client_id.encode()).digest()
    enrol = int.from_bytes(digest[:4], "big")
    spin = int.from_bytes(digest[4:8], "big")
    expected = None
    if enrol < round(traffic * 2**32):
        point = spin * 6 >> 32
        expected = "a" if point < 1 else "b" if point < 4 else "d"
    assert experiment.assign(client_id) == expected


@pytest.mark.anyio
async def test_a_single_forged_field_is_stripped_and_the_rest_kept_in_order() -> None:
    from edgeline import Context, Request, Response
    from edgeline.headers import Headers
    from edgeline.personalize import personalize

    seen: list[list[tuple[str, str]]] = []

    async def handler(request: Request, ctx: Context) -> Response:
        seen.append(list(request.headers.raw))
        return Response(b"ok")

    original = [("accept", "a"), ("x-edgeline-region", "forged"), ("accept", "b")]
    request = Request("GET", "https://edge.test/", Headers.from_trusted(list(original)),
                      cf={"country": "DE"})
    await personalize(compiled()["geo"])(request, Context(request), handler)
    names = [name for name, _ in seen[0]]
    assert seen[0][:2] == [("accept", "a"), ("accept", "b")]
    assert ("x-edgeline-region", "forged") not in seen[0]
    assert names.count("x-edgeline-region") == 1


_query_part = st.one_of(st.sampled_from(["edge_geo=off", "edge_geo=ON", "edge_geo=on",
                                         "edge_geo=", "edge_geo", "Edge_geo=off", "a=1", ""]),
                        st.text(alphabet="ab_=egdo%", max_size=10))


@given(parts=st.lists(_query_part, max_size=6))
def test_opt_out_choice_and_removal_agree_with_a_plain_reading(parts) -> None:
    plan = GeoPlan()
    query = "&".join(parts)
    expected = None
    for part in parts:
        for piece in part.split("&"):
            name, _, value = piece.partition("=")
            if name == "edge_geo" and value.lower() in ("off", "on"):
                expected = value.lower()
    assert plan.opt_out_choice(query) == expected
    kept = plan.without_opt_out(query)
    assert [p for p in kept.split("&") if p.partition("=")[0] == "edge_geo"] == []
    assert "&".join(p for p in query.split("&") if p.partition("=")[0] != "edge_geo") == kept
    assert GeoPlan(opt_out_param=None).opt_out_choice(query) is None


@given(country=_codes, first=st.tuples(_codes, _codes), second=st.tuples(_codes, _codes))
def test_the_country_table_holds_only_where_region_and_continent_cannot_matter(
        country, first, second) -> None:
    by_continent = {"experiments": [{"name": "e", "continents": ["EU"], "arms": [{"name": "a"}]}]}
    usa = {"geo_policies": [*config()["geo_policies"], {"name": "usa", "countries": ["US"]}]}
    for doc in (None, {"experiments": []}, by_continent, usa):
        plan = compiled(doc)["geo"] if doc is None else compiled({**config(), **doc})["geo"]
        cf1 = {k: v for k, v in (("country", country), ("regionCode", first[0]),
                                 ("continent", first[1])) if v is not None}
        cf2 = {k: v for k, v in (("country", country), ("regionCode", second[0]),
                                 ("continent", second[1])) if v is not None}
        plan.locate(cf1)
        try:
            entry = plan.by_raw_country.get(cf1.get("country"))
        except TypeError:
            entry = None
        if entry is not None:
            geo = GeoContext(cf2)
            assert entry == (plan.policy_for(geo), geo.country, None)
            assert plan.by_continent_experiments is False


def test_the_country_table_is_used_for_a_country_policy_and_not_for_regions() -> None:
    plan = compiled()["geo"]
    plan.locate({"country": "DE", "continent": "EU"})
    plan.locate({"country": "US", "regionCode": "CA"})
    plan.locate({"country": "IT", "continent": "EU"})  # no country policy: the continent decides
    assert set(plan.by_raw_country) == {"DE"}
    usa = compiled({**config(), "geo_policies": [*config()["geo_policies"],
                                                 {"name": "usa", "countries": ["US"]}]})["geo"]
    usa.locate({"country": "US", "regionCode": "TX"})  # a region policy elsewhere in the US
    assert usa.by_raw_country == {}

"""request.cf in the emulator: every geo field, and the developer's override header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline.emulator.cf import LOCATIONS, GeoOverrideError, build_cf, parse_override
from edgeline.geo import GEO_FIELDS, GeoContext


@pytest.mark.parametrize("code", sorted(LOCATIONS))
def test_every_location_fills_every_geo_field_with_platform_types(code: str) -> None:
    cf = build_cf(code, None)
    for field in GEO_FIELDS:
        if field == "metroCode" and code != "US":
            continue  # Cloudflare sends metroCode for US clients only
        assert field in cf, (code, field)
    assert isinstance(cf["asn"], int)
    assert all(isinstance(cf[f], str) for f in ("latitude", "longitude", "isEUCountry", "country"))
    geo = GeoContext(cf)
    assert geo.country == code and geo.latitude is not None and geo.asn == cf["asn"]


def test_override_by_location_then_fields() -> None:
    cf = build_cf("US", "JP, city=Osaka, asn=17676")
    assert (cf["country"], cf["city"], cf["asn"], cf["timezone"]) == ("JP", "Osaka", 17676, "Asia/Tokyo")


def test_override_fields_on_default() -> None:
    cf = build_cf("US", "country=fr")
    assert cf["country"] == "FR" and cf["isEUCountry"] == "1" and cf["city"] == "San Francisco"


@pytest.mark.parametrize(("header", "message"), [
    ("XX", "unknown location"),
    ("country=France", "two-letter"),
    ("asn=abc", "number"),
    ("planet=mars", "unknown cf field"),
    ("city=Paris, DE", "only come first"),
])
def test_bad_override_is_a_clear_error(header: str, message: str) -> None:
    with pytest.raises(GeoOverrideError, match=message):
        parse_override(header)


@given(st.text(max_size=200))
def test_any_header_parses_or_fails_cleanly(header: str) -> None:
    try:
        fields = parse_override(header)
    except GeoOverrideError:
        return
    assert isinstance(fields, dict)

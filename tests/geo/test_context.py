"""GeoContext: typed, lazy, tolerant of missing and malformed fields; its helpers."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline.geo import EU_COUNTRIES, GEO_FIELDS, GeoContext, haversine_km

coords = st.tuples(st.floats(-90, 90), st.floats(-180, 180))


def test_known_distances() -> None:
    london, paris = (51.5074, -0.1278), (48.8566, 2.3522)
    assert haversine_km(*london, *paris) == pytest.approx(343.5, abs=1.0)
    sf, tokyo = (37.7749, -122.4194), (35.6762, 139.6503)
    assert haversine_km(*sf, *tokyo) == pytest.approx(8270, rel=0.01)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * 6371.0088)


@given(coords, coords)
def test_distance_is_a_metric_within_half_the_circumference(a, b) -> None:
    d = haversine_km(*a, *b)
    assert 0.0 <= d <= math.pi * 6371.0088 + 1e-6
    assert d == pytest.approx(haversine_km(*b, *a), abs=1e-6)
    assert haversine_km(*a, *a) == pytest.approx(0.0, abs=1e-6)


def test_every_field_typed() -> None:
    cf = {"country": "de", "region": "Hesse", "regionCode": "HE", "city": "Frankfurt",
          "continent": "EU", "latitude": "50.11090", "longitude": "8.68210",
          "postalCode": "60311", "metroCode": "1", "timezone": "Europe/Berlin", "colo": "FRA",
          "asn": 3320, "asOrganization": "Deutsche Telekom AG", "isEUCountry": "1"}
    assert set(cf) == set(GEO_FIELDS)
    geo = GeoContext(cf)
    assert geo.country == "DE" and geo.subdivision == "DE-HE" and geo.continent == "EU"
    assert geo.coordinates == (50.1109, 8.6821) and geo.asn == 3320
    assert geo.is_eu is True and geo.eu is True
    assert geo.distance_km(50.1109, 8.6821) == pytest.approx(0.0)


def test_missing_fields_read_as_none_as_in_previews() -> None:
    geo = GeoContext({})
    for name in ("country", "region", "region_code", "subdivision", "city", "continent",
                 "latitude", "longitude", "coordinates", "postal_code", "metro_code", "timezone",
                 "colo", "asn", "as_organization", "eu", "verified_bot", "verified_bot_category"):
        assert getattr(geo, name) is None, name
    assert geo.is_eu is False
    assert geo.distance_km(0, 0) is None and geo.local_time() is None


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -1, 2**32, "x", "", None, [1]])
def test_malformed_asn_is_none(bad) -> None:
    assert GeoContext({"asn": bad}).asn is None
    assert GeoContext({"asn": "13335"}).asn == 13335


@pytest.mark.parametrize("bad", ["ZZZ", "", "1", "D", 49, None, "ü1"])
def test_malformed_country_is_no_country(bad) -> None:
    assert GeoContext({"country": bad}).country is None


@pytest.mark.parametrize("lat", ["abc", "NaN", "inf", "91", "-90.5", None, ""])
def test_malformed_coordinates_are_none(lat) -> None:
    geo = GeoContext({"latitude": lat, "longitude": "8.0"})
    assert geo.latitude is None and geo.coordinates is None


def test_unknown_continent_is_none() -> None:
    assert GeoContext({"continent": "XX"}).continent is None
    assert GeoContext({"continent": "eu"}).continent == "EU"


def test_eu_membership_from_flag_then_country() -> None:
    assert GeoContext({"isEUCountry": "0", "country": "DE"}).eu is False  # the flag wins
    assert GeoContext({"country": "FR"}).eu is True
    assert GeoContext({"country": "CH"}).eu is False
    assert GeoContext({"country": "XX"}).eu is None
    assert "DE" in EU_COUNTRIES and "GB" not in EU_COUNTRIES and len(EU_COUNTRIES) == 27


def test_local_time_uses_the_iana_zone() -> None:
    noon_utc = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    berlin = GeoContext({"timezone": "Europe/Berlin"}).local_time(noon_utc)
    assert berlin is not None and berlin.hour == 14  # CEST, UTC+2
    tokyo = GeoContext({"timezone": "Asia/Tokyo"}).local_time(noon_utc)
    assert tokyo is not None and tokyo.hour == 21
    now = GeoContext({"timezone": "America/New_York"}).local_time()
    assert now is not None and now.tzinfo is not None


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "x" * 100])
def test_unknown_time_zone_gives_none(zone) -> None:
    assert GeoContext({"timezone": zone}).local_time() is None


def test_local_time_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        GeoContext({"timezone": "Europe/Berlin"}).local_time(datetime(2024, 1, 1))


def test_verified_bot_from_bot_management_or_category() -> None:
    assert GeoContext({"botManagement": {"verifiedBot": True}}).verified_bot is True
    assert GeoContext({"botManagement": {"verifiedBot": False},
                       "verifiedBotCategory": "Search Engine Crawler"}).verified_bot is False
    assert GeoContext({"verifiedBotCategory": "Search Engine Crawler"}).verified_bot is True
    assert GeoContext({"verifiedBotCategory": ""}).verified_bot is None


@given(st.dictionaries(st.sampled_from(GEO_FIELDS + ("botManagement",)),
                       st.one_of(st.text(max_size=8), st.integers(), st.none(), st.floats(),
                                 st.dictionaries(st.text(max_size=3), st.booleans()))))
def test_no_cf_content_makes_a_property_raise(cf) -> None:
    geo = GeoContext(cf)
    for name in dir(GeoContext):
        if isinstance(getattr(GeoContext, name), property):
            getattr(geo, name)
    geo.local_time()

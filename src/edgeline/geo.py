"""GeoContext: the client's location as the platform reports it in ``request.cf``.

Fields are read from the raw ``cf`` mapping on first access. Cloudflare sends
every geo field as a string (latitude and longitude included) and may omit
any of them (previews, requests built without ``cf``): a missing or malformed
field reads as ``None``, never as an error.

Helpers: :func:`haversine_km` (great-circle distance), :meth:`GeoContext.distance_km`,
:meth:`GeoContext.local_time` (from the IANA ``timezone``) and
:attr:`GeoContext.eu` (EU membership, from ``isEUCountry`` or the country).

NOTE: ``local_time`` needs IANA time zone data. CPython on Linux reads the
system's; Pyodide has none of its own, so a worker that wants local times
ships the ``tzdata`` package (pure Python, installs with micropip). Without
it, ``local_time`` returns ``None`` instead of raising: time-of-day
personalization degrades to "unknown", it never fails a request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["EU_COUNTRIES", "GEO_FIELDS", "GeoContext", "haversine_km", "valid_country"]

# The geo fields of IncomingRequestCfProperties, in Cloudflare's names.
GEO_FIELDS = (
    "country", "region", "regionCode", "city", "continent", "latitude", "longitude",
    "postalCode", "metroCode", "timezone", "colo", "asn", "asOrganization", "isEUCountry",
)

# EU member states, ISO 3166-1 alpha-2 (used when cf carries a country but no isEUCountry).
EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)

_CONTINENTS = frozenset({"AF", "AN", "AS", "EU", "NA", "OC", "SA"})
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius


def valid_country(value: object) -> str | None:
    """Return ``value`` as an upper-case two-character country code, or None if it is not one.

    Cloudflare sends ISO 3166-1 alpha-2 codes plus ``XX`` (unknown) and ``T1``
    (Tor); anything else (empty, ``"ZZZ"``, a number) is treated as no country.
    """
    if not isinstance(value, str) or len(value) != 2 or not value.isascii() or not value.isalnum():
        return None
    return value.upper()


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in kilometres between two points in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    # min(): rounding can push a hair above 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _str(cf: Mapping[str, Any], key: str) -> str | None:
    value = cf.get(key)
    if value is None or value == "":
        return None
    return str(value)


def _float(cf: Mapping[str, Any], key: str, bound: float) -> float | None:
    try:
        value = float(cf[key])
    except (KeyError, TypeError, ValueError):
        return None
    # NaN, infinities and out-of-range values are malformed, not locations.
    if not -bound <= value <= bound:
        return None
    return value


class GeoContext:
    """A typed, read-only view of the geo fields of ``request.cf``."""

    __slots__ = ("_cf", "_country")

    def __init__(self, cf: Mapping[str, Any]) -> None:
        self._cf = cf
        self._country: str | None | bool = False  # False: not parsed yet

    @property
    def country(self) -> str | None:
        """ISO 3166-1 alpha-2 code, upper case (Cloudflare's ``T1`` for Tor, ``XX`` unknown)."""
        country = self._country
        if country is False:
            country = self._country = valid_country(self._cf.get("country"))
        return country  # type: ignore[return-value]

    @property
    def region(self) -> str | None:
        return _str(self._cf, "region")

    @property
    def region_code(self) -> str | None:
        return _str(self._cf, "regionCode")

    @property
    def subdivision(self) -> str | None:
        """``COUNTRY-REGIONCODE`` in the form of ISO 3166-2 (``US-CA``), if both are known."""
        country = self.country
        code = self.region_code
        if country is None or code is None:
            return None
        return f"{country}-{code.upper()}"

    @property
    def city(self) -> str | None:
        return _str(self._cf, "city")

    @property
    def continent(self) -> str | None:
        value = _str(self._cf, "continent")
        if value is None:
            return None
        value = value.upper()
        return value if value in _CONTINENTS else None

    @property
    def latitude(self) -> float | None:
        return _float(self._cf, "latitude", 90.0)

    @property
    def longitude(self) -> float | None:
        return _float(self._cf, "longitude", 180.0)

    @property
    def coordinates(self) -> tuple[float, float] | None:
        """``(latitude, longitude)`` when both are present and in range."""
        lat = self.latitude
        lon = self.longitude
        if lat is None or lon is None:
            return None
        return lat, lon

    @property
    def postal_code(self) -> str | None:
        return _str(self._cf, "postalCode")

    @property
    def metro_code(self) -> str | None:
        return _str(self._cf, "metroCode")

    @property
    def timezone(self) -> str | None:
        return _str(self._cf, "timezone")

    @property
    def colo(self) -> str | None:
        return _str(self._cf, "colo")

    @property
    def asn(self) -> int | None:
        """The autonomous system number (32 bits unsigned); None when absent or malformed."""
        try:
            value = int(self._cf["asn"])
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: inf
            return None
        return value if 0 <= value <= 0xFFFFFFFF else None

    @property
    def as_organization(self) -> str | None:
        return _str(self._cf, "asOrganization")

    @property
    def is_eu(self) -> bool:
        """True when the platform marks the country as an EU member (``isEUCountry == "1"``)."""
        return str(self._cf.get("isEUCountry", "")) == "1"

    @property
    def eu(self) -> bool | None:
        """EU membership: ``isEUCountry`` when sent, else from the country; None if neither."""
        flag = self._cf.get("isEUCountry")
        if flag is not None and flag != "":
            return str(flag) == "1"
        country = self.country
        if country is None or country in ("XX", "T1"):
            return None
        return country in EU_COUNTRIES

    @property
    def verified_bot(self) -> bool | None:
        """Whether Cloudflare verified the client as a known good bot; None if cf does not say.

        Read from ``cf.botManagement.verifiedBot`` (Bot Management) or, failing
        that, a non-empty ``cf.verifiedBotCategory``.
        """
        manager = self._cf.get("botManagement")
        if isinstance(manager, Mapping) and "verifiedBot" in manager:
            return bool(manager.get("verifiedBot"))
        category = self._cf.get("verifiedBotCategory")
        if isinstance(category, str) and category:
            return True
        return None

    @property
    def verified_bot_category(self) -> str | None:
        """``cf.verifiedBotCategory`` (e.g. ``"Search Engine Crawler"``), if sent."""
        return _str(self._cf, "verifiedBotCategory")

    def distance_km(self, latitude: float, longitude: float) -> float | None:
        """Return the great-circle distance from the client to a point; None without coordinates."""
        here = self.coordinates
        if here is None:
            return None
        return haversine_km(here[0], here[1], latitude, longitude)

    def local_time(self, now: datetime | None = None) -> datetime | None:
        """Return the client's local time (``now`` or the current time) in its IANA time zone.

        None when cf has no time zone, the zone is unknown, or this runtime has
        no time zone data (Pyodide without ``tzdata``; see the module docstring).
        The clock is read only here, per call.
        """
        name = self.timezone
        if name is None:
            return None
        zone = _zone(name)
        if zone is None:
            return None
        if now is None:
            return datetime.now(zone)
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return now.astimezone(zone)

    def as_dict(self) -> dict[str, Any]:
        """Return the geo fields present in ``cf``, in Cloudflare's names."""
        return {k: self._cf[k] for k in GEO_FIELDS if k in self._cf}

    def __repr__(self) -> str:
        return f"GeoContext(country={self.country!r}, city={self.city!r}, colo={self.colo!r})"


_ZONES: dict[str, Any] = {}


def _zone(name: str) -> Any:
    """Return the ZoneInfo for ``name``, or None; memoized, including misses."""
    try:
        return _ZONES[name]
    except KeyError:
        pass
    zone: Any = None
    if len(name) <= 64 and ".." not in name and not name.startswith("/"):
        try:
            # NOTE: imported here: zoneinfo reads tz data from disk on first use.
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(name)
        except Exception:  # ZoneInfoNotFoundError, ValueError, ImportError on odd runtimes
            zone = None
    if len(_ZONES) < 1024:
        _ZONES[name] = zone
    return zone

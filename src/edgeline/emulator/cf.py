"""``request.cf`` for the emulator: a default location and a per-request override.

Every request gets the full set of geo fields Cloudflare sends
(``country``, ``region``, ``regionCode``, ``city``, ``continent``,
``latitude``, ``longitude``, ``postalCode``, ``metroCode``, ``timezone``,
``colo``, ``asn``, ``asOrganization``, ``isEUCountry``), as strings where
Cloudflare sends strings, plus the connection facts (``httpProtocol``,
``tlsVersion``, ``clientTcpRtt``...).

A developer acts as a client from elsewhere with the override header::

    X-Edgeline-Geo: DE                        every field from the DE location
    X-Edgeline-Geo: JP, city=Osaka            a location, then single fields
    X-Edgeline-Geo: country=BR, asn=28573     fields on top of the default

The header is removed before the worker sees the request.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GEO_HEADER", "LOCATIONS", "GeoOverrideError", "build_cf", "parse_override"]

GEO_HEADER = "x-edgeline-geo"

# Representative locations: a data centre (colo) city with a typical ISP of
# the country. Used only locally; every value has the type Cloudflare sends.
_FIELDS = ("country", "city", "region", "regionCode", "continent", "latitude", "longitude",
           "postalCode", "metroCode", "timezone", "colo", "asn", "asOrganization")
_TABLE = [
    ("US", "San Francisco", "California", "CA", "NA", "37.77490", "-122.41940", "94107", "807",
     "America/Los_Angeles", "SFO", 7922, "Comcast Cable Communications, LLC"),
    ("CA", "Toronto", "Ontario", "ON", "NA", "43.65320", "-79.38320", "M5H", None,
     "America/Toronto", "YYZ", 812, "Rogers Communications Canada Inc."),
    ("BR", "São Paulo", "São Paulo", "SP", "SA", "-23.55050", "-46.63330", "01000-000", None,
     "America/Sao_Paulo", "GRU", 28573, "Claro NXT Telecomunicacoes Ltda"),
    ("GB", "London", "England", "ENG", "EU", "51.50740", "-0.12780", "EC1A", None,
     "Europe/London", "LHR", 2856, "British Telecommunications PLC"),
    ("DE", "Frankfurt am Main", "Hesse", "HE", "EU", "50.11090", "8.68210", "60311", None,
     "Europe/Berlin", "FRA", 3320, "Deutsche Telekom AG"),
    ("FR", "Paris", "Île-de-France", "IDF", "EU", "48.85660", "2.35220", "75001", None,
     "Europe/Paris", "CDG", 3215, "Orange"),
    ("NL", "Amsterdam", "North Holland", "NH", "EU", "52.36760", "4.90410", "1012", None,
     "Europe/Amsterdam", "AMS", 1136, "KPN B.V."),
    ("ES", "Madrid", "Madrid", "MD", "EU", "40.41680", "-3.70380", "28001", None,
     "Europe/Madrid", "MAD", 3352, "Telefonica de Espana S.A.U."),
    ("IT", "Milan", "Lombardy", "25", "EU", "45.46420", "9.19000", "20121", None,
     "Europe/Rome", "MXP", 3269, "Telecom Italia S.p.A."),
    ("SE", "Stockholm", "Stockholm County", "AB", "EU", "59.32930", "18.06860", "111 20", None,
     "Europe/Stockholm", "ARN", 3301, "Telia Company AB"),
    ("CH", "Zurich", "Zurich", "ZH", "EU", "47.37690", "8.54170", "8001", None,
     "Europe/Zurich", "ZRH", 3303, "Swisscom (Schweiz) AG"),
    ("IN", "Mumbai", "Maharashtra", "MH", "AS", "19.07600", "72.87770", "400001", None,
     "Asia/Kolkata", "BOM", 55836, "Reliance Jio Infocomm Limited"),
    ("JP", "Tokyo", "Tokyo", "13", "AS", "35.67620", "139.65030", "100-0001", None,
     "Asia/Tokyo", "NRT", 2516, "KDDI Corporation"),
    ("SG", "Singapore", "Singapore", "01", "AS", "1.35210", "103.81980", "018989", None,
     "Asia/Singapore", "SIN", 9506, "Singtel Fibre Broadband"),
    ("AU", "Sydney", "New South Wales", "NSW", "OC", "-33.86880", "151.20930", "2000", None,
     "Australia/Sydney", "SYD", 1221, "Telstra Limited"),
    ("ZA", "Johannesburg", "Gauteng", "GP", "AF", "-26.20410", "28.04730", "2001", None,
     "Africa/Johannesburg", "JNB", 5713, "Telkom SA Ltd."),
    ("MX", "Mexico City", "Mexico City", "CMX", "NA", "19.43260", "-99.13320", "06000", None,
     "America/Mexico_City", "QRO", 8151, "UNINET"),
    ("KR", "Seoul", "Seoul", "11", "AS", "37.56650", "126.97800", "04524", None,
     "Asia/Seoul", "ICN", 4766, "Korea Telecom"),
]
# EU member states (for isEUCountry), ISO 3166-1 alpha-2.
EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
LOCATIONS: dict[str, dict[str, Any]] = {}
for _row in _TABLE:
    _loc = {k: v for k, v in zip(_FIELDS, _row, strict=True) if v is not None}
    _loc["isEUCountry"] = "1" if _row[0] in EU_COUNTRIES else "0"
    LOCATIONS[_row[0]] = _loc
del _row, _loc

_NUMERIC = {"asn": int, "clientTcpRtt": int}
_ALLOWED = set(_FIELDS) | {"isEUCountry", "clientTcpRtt", "httpProtocol", "tlsVersion",
                           "tlsCipher", "botManagement"}


class GeoOverrideError(ValueError):
    """The override header could not be understood."""


def _location(code: str) -> dict[str, Any]:
    code = code.strip().upper()
    try:
        return dict(LOCATIONS[code])
    except KeyError:
        raise GeoOverrideError(
            f"unknown location {code!r}; known: {', '.join(sorted(LOCATIONS))} "
            "(or set fields: country=XX, city=...)"
        ) from None


def parse_override(value: str) -> dict[str, Any]:
    """Parse the ``X-Edgeline-Geo`` header into cf fields; raise GeoOverrideError."""
    fields: dict[str, Any] = {}
    for i, item in enumerate(p.strip() for p in value.split(",")):
        if not item:
            continue
        if "=" not in item:
            if i != 0:
                raise GeoOverrideError(f"{item!r}: a location code may only come first")
            fields.update(_location(item))
            continue
        key, _, raw = (s.strip() for s in item.partition("="))
        if key not in _ALLOWED:
            raise GeoOverrideError(f"unknown cf field {key!r}; known: {', '.join(sorted(_ALLOWED))}")
        if key in _NUMERIC:
            try:
                fields[key] = _NUMERIC[key](raw)
            except ValueError:
                raise GeoOverrideError(f"{key} must be a number, got {raw!r}") from None
        elif key == "country":
            code = raw.upper()
            if len(code) != 2 or not code.isalpha():
                raise GeoOverrideError(f"country must be a two-letter code, got {raw!r}")
            fields["country"] = code
            fields.setdefault("isEUCountry", "1" if code in EU_COUNTRIES else "0")
        else:
            fields[key] = raw
    return fields


def build_cf(default: str | dict[str, Any], override: str | None, *,
             http_protocol: str = "HTTP/1.1") -> dict[str, Any]:
    """Return a full ``request.cf`` for one request."""
    base = _location(default) if isinstance(default, str) else dict(default)
    cf: dict[str, Any] = {
        **base,
        "httpProtocol": http_protocol,
        "tlsVersion": "",
        "tlsCipher": "",
        "clientTcpRtt": 0,
        "requestPriority": "",
        "edgeRequestKeepAliveStatus": 1,
        "clientAcceptEncoding": "",
        "verifiedBotCategory": "",
    }
    if override:
        cf.update(parse_override(override))
    return cf

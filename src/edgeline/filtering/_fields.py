"""The fields, maps and functions of the rules language, with their types.

Types: ``str``, ``int``, ``bool``, ``ip`` (the client address: compared with
networks, looked up in IP lists) and ``map`` (indexed by a string key). A
field that is absent reads as the empty value of its type (``""``, ``0``,
``false``), never as an error; an absent client address is in no network.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import unquote

__all__ = ["FIELDS", "FUNCTIONS", "MAPS", "to_string", "url_decode"]

# name -> (type, RequestView attribute, one-line description)
FIELDS: Final[dict[str, tuple[str, str, str]]] = {
    "ip.src": ("ip", "ip", "client address (cf-connecting-ip)"),
    "geo.country": ("str", "country", "ISO 3166-1 alpha-2 country, upper case"),
    "geo.continent": ("str", "continent", "continent code (EU, NA, AS, ...)"),
    "geo.asn": ("int", "asn", "autonomous system number"),
    "geo.is_eu": ("bool", "is_eu", "the country is an EU member"),
    "geo.region": ("str", "region", "ISO 3166-2 region code"),
    "geo.city": ("str", "city", "city name"),
    "geo.colo": ("str", "colo", "data centre (IATA code)"),
    "http.host": ("str", "host", "host, lower case, no port"),
    "http.method": ("str", "method", "request method, upper case"),
    "http.path": ("str", "path", "normalized, decoded path"),
    "http.query": ("str", "query", "query string, decoded once"),
    "http.uri": ("str", "uri", "path and decoded query"),
    "http.user_agent": ("str", "user_agent", "User-Agent header"),
    "http.referer": ("str", "referer", "Referer header"),
    "http.cookies": ("str", "cookie_header", "the whole Cookie header"),
    "http.body": ("str", "body", "first 64 KiB of the body, as text"),
    "http.version": ("str", "http_version", "protocol (HTTP/1.1, HTTP/2, HTTP/3)"),
    "raw.http.path": ("str", "raw_path", "path as sent (not normalized)"),
    "raw.http.query": ("str", "raw_query", "query string as sent"),
    "tls.version": ("str", "tls_version", "TLS version (TLSv1.3)"),
    "tls.cipher": ("str", "tls_cipher", "TLS cipher suite"),
    "tls.client_cert.presented": ("bool", "tls_client_cert_presented", "a client certificate was sent"),
    "tls.client_cert.verified": ("bool", "tls_client_cert_verified", "the client certificate verified"),
    "time.now": ("int", "time_now", "Unix time, seconds"),
    "time.hour": ("int", "time_hour", "hour of the day, UTC (0-23)"),
    "time.weekday": ("int", "time_weekday", "day of the week, UTC (0 = Monday)"),
}

# name -> (RequestView attribute, key is case-insensitive, description)
MAPS: Final[dict[str, tuple[str, bool, str]]] = {
    "http.header": ("headers", True, "a request header by name (repeated fields joined)"),
    "http.cookie": ("cookies", False, "a cookie by name"),
    "http.args": ("args", False, "the first value of a query parameter, decoded"),
}


def url_decode(text: str) -> str:
    """Percent-decode ``text`` once, reading ``+`` as a space."""
    if "%" not in text and "+" not in text:
        return text
    return unquote(text.replace("+", " "), errors="replace")


def to_string(value: object) -> str:
    """Render a value as the rules language prints it (booleans as true/false)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


# name -> (argument types or None for variadic any, result type, Python template)
FUNCTIONS: Final[dict[str, tuple[tuple[str, ...] | None, str, str]]] = {
    "lower": (("str",), "str", "({0}).lower()"),
    "upper": (("str",), "str", "({0}).upper()"),
    "len": (("str",), "int", "len({0})"),
    "trim": (("str",), "str", "({0}).strip()"),
    "url_decode": (("str",), "str", "_url_decode({0})"),
    "to_string": (("any",), "str", "_to_string({0})"),
    "concat": (None, "str", ""),
}

"""Geo policies and settings: what changes for clients in given places.

A ``GeoPolicy`` applies to requests from one of its ``regions`` (ISO 3166-2
style ``COUNTRY-REGION``, from ``request.cf.country`` and ``regionCode``),
``countries`` or ``continents``; a region match wins over a country match,
which wins over a continent match, and each code may be claimed by one
policy only (checked when configuration loads). It carries:

``locale``
    The default BCP 47 language tag (RFC 5646) for these clients.
``languages``
    Tags these clients may be served in; the client's ``Accept-Language`` picks
    one with RFC 4647 §3.4 lookup, ``locale`` when nothing matches. Empty:
    the global ``GeoSettings.languages`` are used (with this ``locale`` as the
    default); with neither, ``locale`` decides alone.
``currency``, ``units``, ``variant``
    ISO 4217 currency, ``metric``/``imperial``, and a content variant name
    the origin renders by. With the locale they form the coarse *variant*
    the cache keys on and the origin receives in trusted headers.
``values``
    Strings filled into ``<!--edge:NAME-->`` placeholders of cached HTML.
``origin``, ``headers``
    An origin to prefer (for the app's code) and request headers added for
    the origin.
``redirect``
    A ``GeoRedirect``: send these clients to a path prefix or another host.
``block``
    A ``GeoBlock``: refuse these clients with 451 (RFC 7725).

``GeoSettings`` holds what is not per policy: the hosts redirects may go
to, cookie names, the global language list, and nearest-origin groups
(origins tagged with locations).

NOTE: every field added since version 1 has a default (evolution rule 1).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ._base import CountryCode, Name, Schema

__all__ = [
    "Continent",
    "GeoBlock",
    "GeoPolicy",
    "GeoRedirect",
    "GeoSettings",
    "LanguageTag",
    "NearestGroup",
    "OriginLocation",
]

# The continent codes of request.cf.continent.
Continent = Literal["AF", "AN", "AS", "EU", "NA", "OC", "SA"]

# BCP 47 language tag (RFC 5646), e.g. "de-DE".
LanguageTag = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
                                          max_length=35)]
# ISO 3166-2 style: country, "-", the region code request.cf.regionCode gives ("US-CA").
RegionCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]-[A-Z0-9]{1,3}$")]
# A path prefix: starts with one "/" and is not "//" or "/\" (those would be read as a host).
PathPrefix = Annotated[str, msgspec.Meta(pattern=r"^/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$",
                                         max_length=256)]
# An exact host name (a redirect target; no wildcard, no port, no userinfo).
HostName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?"
                                               r"(\.[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?)*$",
                                       max_length=253)]
# RFC 6265 §4.1.1 cookie-name (a token).
CookieName = Annotated[str, msgspec.Meta(pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$", max_length=64)]
# A query parameter name, matched as sent (not percent-decoded).
QueryName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
SlotName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.\-]{1,48}$")]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class GeoRedirect(Schema, frozen=True):
    """Send a policy's clients elsewhere: to a path prefix on this host, or to another host.

    Exactly one of ``path_prefix`` and ``host`` is set. A ``host`` must be in
    ``GeoSettings.redirect_hosts``. ``status`` is 302 (the method may become
    GET) or 307 (method and body kept, RFC 9110 §15.4.8).
    """

    path_prefix: PathPrefix | None = None
    host: HostName | None = None
    status: Literal[302, 307] = 302
    # Only requests whose path starts with one of these are redirected (empty: all).
    paths: tuple[PathPrefix, ...] = ()


class GeoBlock(Schema, frozen=True):
    """Refuse a policy's clients for legal reasons: 451 (RFC 7725)."""

    # The legal demand, in words: the body's detail (RFC 7725 §3 SHOULD explain it).
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    # The entity implementing the block: Link: <...>; rel="blocked-by" (RFC 7725 §4).
    blocked_by: Annotated[str, msgspec.Meta(pattern=r"^https://[^\s<>\"]+$", max_length=2048)] | None = None
    # Only requests whose path starts with one of these are blocked (empty: all).
    paths: tuple[PathPrefix, ...] = ()


class GeoPolicy(Schema, frozen=True):
    """Personalization for a set of regions, countries and continents."""

    name: Name
    countries: tuple[CountryCode, ...] = ()
    continents: tuple[Continent, ...] = ()
    locale: LanguageTag | None = None
    # ISO 4217 code, e.g. "EUR".
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] | None = None
    origin: Name | None = None
    headers: dict[str, str] = {}
    # -- version 2 --
    regions: tuple[RegionCode, ...] = ()
    languages: tuple[LanguageTag, ...] = ()
    units: Literal["metric", "imperial"] | None = None
    variant: Name | None = None
    values: dict[SlotName, Annotated[str, msgspec.Meta(max_length=1024)]] = {}
    redirect: GeoRedirect | None = None
    block: GeoBlock | None = None


class OriginLocation(Schema, frozen=True):
    """Tag one origin (by name, from ``$.origins``) with where it runs."""

    origin: Name
    latitude: Latitude
    longitude: Longitude


class NearestGroup(Schema, frozen=True):
    """Origins that serve the same API from several places: each client gets the nearest healthy one."""

    name: Name
    origins: Annotated[list[OriginLocation], msgspec.Meta(min_length=1, max_length=16)]


class GeoSettings(Schema, frozen=True):
    """Personalization settings shared by every policy."""

    # Language tags served to clients no policy (or policy language list) covers.
    languages: tuple[LanguageTag, ...] = ()
    default_locale: LanguageTag | None = None
    # The only hosts a geo redirect may send clients to (APPSEC: no open redirect).
    redirect_hosts: tuple[HostName, ...] = ()
    # A client with this cookie set to "1" is never geo-redirected.
    opt_out_cookie: CookieName = "edgeline_geo_optout"
    # ``?NAME=off`` sets the opt-out cookie (and is not redirected); ``?NAME=on``
    # clears it. Honoured where a geo redirect is configured for the client's
    # place; None turns the parameter off.
    opt_out_param: QueryName | None = "edge_geo"
    # Search-engine crawlers are never redirected (they must see every version).
    exempt_bots: bool = True
    nearest: list[NearestGroup] = []
    # The stable client id experiments hash, and the record of exposures already logged.
    id_cookie: CookieName = "edgeline_uid"
    exposure_cookie: CookieName = "edgeline_exp"

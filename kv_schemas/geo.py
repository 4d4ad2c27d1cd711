"""Geo policies: what changes for clients in given countries or continents.

A ``GeoPolicy`` applies to requests whose ``request.cf.country`` is in
``countries`` or whose ``request.cf.continent`` is in ``continents``; a
country match wins over a continent match, and a country may be claimed by
one policy only (checked when configuration loads). It carries the locale and
currency to personalize with, an origin to prefer, and request headers to add
for the origin.

NOTE: minimal and versioned like every schema here; the personalization
issue adds behaviour (and fields with defaults) on top.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ._base import CountryCode, Name, Schema

__all__ = ["Continent", "GeoPolicy"]

# The continent codes of request.cf.continent.
Continent = Literal["AF", "AN", "AS", "EU", "NA", "OC", "SA"]


class GeoPolicy(Schema, frozen=True):
    """Personalization for a set of countries and continents."""

    name: Name
    countries: tuple[CountryCode, ...] = ()
    continents: tuple[Continent, ...] = ()
    # BCP 47 language tag (RFC 5646), e.g. "de-DE".
    locale: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")] | None = None
    # ISO 4217 code, e.g. "EUR".
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] | None = None
    origin: Name | None = None
    headers: dict[str, str] = {}

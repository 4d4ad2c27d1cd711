"""The base every edgeline KV schema derives from, and the field types they share."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = [
    "CountryCode",
    "HostPattern",
    "Method",
    "Name",
    "RoutePath",
    "Schema",
    "Status",
]


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True,
             omit_defaults=True):
    """Base of every Struct kept in KV: keyword-only, immutable, strict about fields.

    ``forbid_unknown_fields``: a misspelt field (``strip_prefx``) is an error
    naming the field, never silently ignored (rule 6 in :mod:`kv_schemas`).
    ``frozen``: a compiled configuration is shared by every request of an
    isolate; nothing may change it in place.
    ``omit_defaults``: encoded values carry only what the operator set.

    Subclasses repeat ``frozen=True`` in their class line: msgspec inherits it,
    but type checkers (mypy's dataclass_transform) only see it where written.
    """


# A name other values refer to: an origin, an IP list, a rule, a geo policy.
Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=64)]

# RFC 9110 §9: the methods a route may name (CONNECT and TRACE are not served at the edge).
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

# A route pattern as edgeline.routing takes it: /users/{id:int}, /files/{rest:path}.
RoutePath = Annotated[str, msgspec.Meta(pattern=r"^/", max_length=2048)]

# An exact host name or a "*.suffix" wildcard, as edgeline.routing matches them.
HostPattern = Annotated[str, msgspec.Meta(pattern=r"^(\*\.)?[A-Za-z0-9.\-]+$", max_length=253)]

# ISO 3166-1 alpha-2, upper case, as request.cf.country gives it (plus "XX"/"T1").
CountryCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]$")]

Status = Annotated[int, msgspec.Meta(ge=100, le=599)]

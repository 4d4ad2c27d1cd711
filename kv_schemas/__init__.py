"""msgspec schemas of every value edgeline keeps in Workers KV.

Each value kept in KV is a Struct deriving from :class:`Schema` with a
``version`` field: :class:`EdgeConfig` (one document holding origins,
routes, rules, IP lists, rate limits, authenticators and geo policies) and
:class:`APIKey` (one API key's record under ``apikey:<sha256 hex>``). :data:`KINDS` maps each
kind of KV value to its Struct, and :data:`DECODERS` holds one JSON decoder
per kind, built once at import (PERF: building a decoder walks the whole
type tree; decoding with a prebuilt one does not).

Schema evolution rules
======================

These follow msgspec's rules (jcristharif.com/msgspec/schema-evolution.html),
tightened where configuration needs it. Every change to a Struct here obeys
them; a reviewer checks each one.

1. A new field always has a default (``= ...`` or ``msgspec.field(default_factory=...)``),
   so every document written before it still decodes.
2. A field is never removed, renamed or given a different type. To replace
   one, add a new field with a default, keep reading the old one, and say in
   its comment which one wins.
3. Variants are tagged unions: one Struct per variant, ``tag_field="type"``
   and a ``tag`` naming it. A new variant is a new Struct with a new tag; a
   tag is never reused or renamed. ``array_like`` is never used (field order
   must not matter).
4. A default never changes: a document that omits the field must keep its
   meaning.
5. Every change that adds a field or a variant bumps the kind's
   ``SCHEMA_VERSION`` (and its history comment). Documents record the version
   they were written for in ``version``; code reads every version up to its
   own, and refuses a newer one with an error saying so, keeping its last
   good configuration.
6. Unknown fields are errors (``forbid_unknown_fields``). A misspelt field
   must not be silently ignored: ``strip_prefx`` would send traffic to the
   wrong path. This departs from msgspec's "newer messages decode with older
   schemas"; rule 5 takes its place, so the order of a rollout is always
   *code first, then configuration*. A document that uses fields this code
   does not know is reported as "version N is newer than this code", not as
   a typo, whenever its ``version`` says so.
7. Values are immutable (``frozen=True``): a compiled configuration is shared
   by every request of an isolate.
8. Constraints live in the type (``Annotated[int, msgspec.Meta(ge=...)]``) so
   that errors name the field path and the JSON Schema carries them to
   editors; checks that span fields (a route naming an unknown origin) are
   done by the compilers in :mod:`edgeline.config`.

Adding a kind of value
======================

A later feature (cache policies, experiments, API keys ...) adds its data in
one small change:

1. write its Structs in ``kv_schemas/<feature>.py`` as
   ``class CachePolicy(Schema, frozen=True):``, using the field types of
   :mod:`kv_schemas._base`;
2. add one field to :class:`EdgeConfig` with an empty default
   (``cache_policies: list[CachePolicy] = []``) and bump
   ``SCHEMA_VERSION`` (rule 5);
3. register a compiler for it in edgeline (``@edgeline.config.compiler("cache_policies")``)
   if it becomes a runtime object.

A kind stored under its own KV key (not inside ``EdgeConfig``) is one more
entry in :data:`KINDS`; it gets a decoder and a JSON Schema file with no
other change.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ._base import CountryCode, HostPattern, Method, Name, RoutePath, Schema, Status
from .access import APIKey, APIKeyAuth, AuthenticatorSpec, JWTAuth, Penalty, RateLimitSpec
from .config import SCHEMA_VERSION, EdgeConfig
from .experiments import Arm, Experiment
from .geo import (
    Continent,
    GeoBlock,
    GeoPolicy,
    GeoRedirect,
    GeoSettings,
    LanguageTag,
    NearestGroup,
    OriginLocation,
)
from .lists import IPList
from .origins import Breaker, ForwardedPolicy, Origin, OriginAuth, Retry
from .routes import Action, Forward, Redirect, Respond, Route
from .rules import Allow, Block, Log, Match, RateLimit, RequireAuth, Rule, RuleAction

__all__ = [
    "DECODERS",
    "ENCODER",
    "KINDS",
    "SCHEMA_VERSION",
    "VERSIONS",
    "APIKey",
    "APIKeyAuth",
    "Action",
    "Allow",
    "Arm",
    "AuthenticatorSpec",
    "Block",
    "Breaker",
    "Continent",
    "CountryCode",
    "EdgeConfig",
    "Experiment",
    "Forward",
    "ForwardedPolicy",
    "GeoBlock",
    "GeoPolicy",
    "GeoRedirect",
    "GeoSettings",
    "HostPattern",
    "IPList",
    "JWTAuth",
    "LanguageTag",
    "Log",
    "Match",
    "Method",
    "Name",
    "NearestGroup",
    "Origin",
    "OriginAuth",
    "OriginLocation",
    "Penalty",
    "RateLimit",
    "RateLimitSpec",
    "Redirect",
    "RequireAuth",
    "Respond",
    "Retry",
    "Route",
    "RoutePath",
    "Rule",
    "RuleAction",
    "Schema",
    "Status",
]

# Each kind of value kept under its own KV key: kind name -> (Struct, newest version).
# "api-key": one API key's record under "apikey:<sha256 hex>" (kv_schemas/access.py).
KINDS: Final[dict[str, type[Schema]]] = {
    "edge-config": EdgeConfig,
    "api-key": APIKey,
}
VERSIONS: Final[dict[str, int]] = {
    "edge-config": SCHEMA_VERSION,
    "api-key": 1,
}

# PERF: decoders are built once, here, and reused for every load.
DECODERS: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    kind: msgspec.json.Decoder(struct) for kind, struct in KINDS.items()
}
ENCODER: Final = msgspec.json.Encoder()

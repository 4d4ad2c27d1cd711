"""Geo-aware personalization that keeps pages cacheable.

::

    from edgeline.personalize import cache_variant, nearest_origin, personalize

    app.use(personalize(plane))          # before plane.middleware
    app.use(plane.middleware)
    cache = CachingTransport(origin, store, variant=cache_variant)
    app.any("/api/{rest:path}")(forward(nearest_origin("api", plane)))

Policies (``geo_policies``), settings (``geo``) and ``experiments`` come from
the KV configuration and are compiled once into a :class:`GeoPlan` (the
configuration part ``"geo"``); a :class:`GeoPlan` can also be built in code.
Modules: ``_language`` (Accept-Language, RFC 4647 lookup), ``_redirect``
(safe targets, crawler exemption), ``_experiments`` (sticky bucketing),
``_slots`` (streaming HTML placeholders), ``_nearest`` (nearest healthy
origin), ``_plan`` (the compiled plan), ``_middleware`` (the stage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from ._middleware import (
    STATE_KEY,
    VARIANT_HEADER,
    PlanSource,
    cache_variant,
    nearest_origin,
    personalize,
)

if TYPE_CHECKING:
    from ._experiments import CompiledExperiment, bucket, new_client_id, valid_client_id
    from ._language import Negotiator, lookup, parse_accept_language
    from ._nearest import NearestMember, NearestOrigin, PlannedNearest
    from ._plan import NO_POLICY, Block, Decision, GeoPlan, PolicyView, Redirect
    from ._redirect import SEARCH_BOT, is_search_bot, quote_path, safe_location
    from ._slots import MARKER, SlotFiller, encode_values, fill_stream

__all__ = [
    "MARKER", "NO_POLICY", "SEARCH_BOT", "STATE_KEY", "VARIANT_HEADER", "Block",
    "CompiledExperiment", "Decision", "GeoPlan", "Negotiator", "NearestMember", "NearestOrigin",
    "PlanSource", "PlannedNearest", "PolicyView", "Redirect", "SlotFiller", "bucket",
    "cache_variant", "encode_values", "fill_stream", "is_search_bot", "lookup", "nearest_origin",
    "new_client_id", "parse_accept_language", "personalize", "quote_path", "safe_location",
    "valid_client_id",
]

# PERF: the stage is imported with the package (the example worker uses it); the
# plan and its parts only when a configuration or the code uses them.
_SUBMODULES = {
    "._experiments": ("CompiledExperiment", "bucket", "new_client_id", "valid_client_id"),
    "._language": ("Negotiator", "lookup", "parse_accept_language"),
    "._nearest": ("NearestMember", "NearestOrigin", "PlannedNearest"),
    "._plan": ("NO_POLICY", "Block", "Decision", "GeoPlan", "PolicyView", "Redirect"),
    "._redirect": ("SEARCH_BOT", "is_search_bot", "quote_path", "safe_location"),
    "._slots": ("MARKER", "SlotFiller", "encode_values", "fill_stream"),
}

__getattr__, __dir__ = lazy_names(__name__, globals(), _SUBMODULES)

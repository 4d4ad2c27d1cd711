"""The edge cache: RFC 9111 shared-cache semantics as a transport, over pluggable stores.

::

    from edgeline.cache import CachePolicy, CachingTransport, MemoryStore

    cache = CachingTransport(origin, MemoryStore(64 << 20), CachePolicy())
    response = await cache.handle(request)
    await cache.purge(tag="product-42")

Modules: ``_directives`` (Cache-Control, targeted fields), ``_freshness``
(RFC 9111 §4.2 arithmetic), ``_keys`` (cache keys, Vary), ``_entry``
(stored responses), ``_store`` (the seam, tiers), ``_memory`` / ``_cache_api``
/ ``_kv`` (the stores), ``_serve`` (304s and ranges from the store),
``_status`` (Cache-Status), ``_policy`` (settings), ``_transport``.
Runtime-neutral: stdlib and asyncio only, clock injected.
"""

from ._cache_api import CacheApi, CacheApiStore
from ._directives import Directives, parse_cache_control, parse_targeted
from ._entry import Entry, EntryFacts
from ._freshness import (
    HEURISTICALLY_CACHEABLE,
    corrected_initial_age,
    current_age,
    format_http_date,
    freshness_lifetime,
    parse_http_date,
)
from ._keys import DEFAULT_IGNORED_PARAMS, KeyPolicy, normalize_path, parse_vary, vary_values
from ._kv import KVStore
from ._memory import MemoryStore
from ._policy import CachePolicy
from ._status import cache_status
from ._store import PurgeUnsupported, Store, TieredStore
from ._transport import CachingTransport

__all__ = [
    "DEFAULT_IGNORED_PARAMS", "HEURISTICALLY_CACHEABLE", "CacheApi", "CacheApiStore",
    "CachePolicy", "CachingTransport", "Directives", "Entry", "EntryFacts", "KVStore",
    "KeyPolicy", "MemoryStore", "PurgeUnsupported", "Store", "TieredStore", "cache_status",
    "corrected_initial_age", "current_age", "format_http_date", "freshness_lifetime",
    "normalize_path", "parse_cache_control", "parse_http_date", "parse_targeted", "parse_vary",
    "vary_values",
]

"""The cache store seam: ``get / put / delete / purge``, and a tiered combination.

Every store keeps :class:`Entry` objects under string keys. A Vary marker
sits under a primary key and the variants under ``primary + "\\x00" + ...``
(see ``_keys``), so ``purge(key=K)`` removes K and all of its variants,
``purge(prefix=P)`` everything whose key starts with P, and
``purge(tag=T)`` everything stored with ``Cache-Tag: T``.

``ttl`` on ``put`` is how long the store should keep the entry (freshness
plus the stale windows it may still be served in); a store may drop an
entry earlier (eviction) but must not serve it later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from ._entry import Entry

__all__ = ["PurgeUnsupported", "Store", "TieredStore"]

log = logging.getLogger("edgeline.cache")


class PurgeUnsupported(Exception):
    """The store cannot purge this way (e.g. the Cache API has no prefix listing)."""


class Store(Protocol):
    """Where stored responses live (isolate memory, Workers Cache API, KV)."""

    async def get(self, key: str) -> Entry | None: ...

    async def put(self, key: str, entry: Entry, ttl: float) -> None: ...

    async def delete(self, key: str) -> bool: ...

    async def purge(self, *, key: str | None = None, prefix: str | None = None,
                    tag: str | None = None) -> int: ...


class TieredStore:
    """Read through ``tiers`` in order (promoting what a later tier had); write to all.

    Typical: isolate memory, then the colo's Cache API, then KV (global,
    eventually consistent, for chosen routes). A failing tier is logged and
    skipped: a broken shared tier must not break serving.
    """

    __slots__ = ("tiers", "promote_ttl")

    def __init__(self, tiers: Sequence[Store], *, promote_ttl: float = 60.0) -> None:
        if not tiers:
            raise ValueError("TieredStore needs at least one tier")
        self.tiers = tuple(tiers)
        self.promote_ttl = promote_ttl

    async def get(self, key: str) -> Entry | None:
        for i, tier in enumerate(self.tiers):
            try:
                entry = await tier.get(key)
            except Exception as exc:
                log.warning("cache tier %s get failed: %s", type(tier).__name__, exc)
                continue
            if entry is not None:
                for upper in self.tiers[:i]:
                    try:
                        await upper.put(key, entry, self.promote_ttl)
                    except Exception as exc:
                        log.warning("cache tier %s promote failed: %s", type(upper).__name__, exc)
                return entry
        return None

    async def put(self, key: str, entry: Entry, ttl: float) -> None:
        for tier in self.tiers:
            try:
                await tier.put(key, entry, ttl)
            except Exception as exc:
                log.warning("cache tier %s put failed: %s", type(tier).__name__, exc)

    async def delete(self, key: str) -> bool:
        found = False
        for tier in self.tiers:
            try:
                found = await tier.delete(key) or found
            except Exception as exc:
                log.warning("cache tier %s delete failed: %s", type(tier).__name__, exc)
        return found

    async def purge(self, *, key: str | None = None, prefix: str | None = None,
                    tag: str | None = None) -> int:
        total = 0
        for tier in self.tiers:
            try:
                total += await tier.purge(key=key, prefix=prefix, tag=tag)
            except PurgeUnsupported as exc:
                log.warning("cache tier %s cannot purge: %s", type(tier).__name__, exc)
        return total

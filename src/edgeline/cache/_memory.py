"""The isolate-memory store: bounded in bytes, SIEVE or LRU eviction.

SIEVE (Zhang et al., NSDI '24) keeps one FIFO queue and a "visited" bit per
object; a hit only sets the bit (no list surgery, so hits are cheap); the
eviction hand walks from the oldest object towards the newest, clearing
bits, and evicts the first unvisited object it finds. Under the Zipf
workloads of a CDN it keeps popular objects that LRU lets one-hit wonders
push out. The measured comparison is in docs/adr/0002-cache-eviction.md
(``bench/cache.py`` reproduces it); LRU stays available as a policy.

Size accounting is in bytes: body plus header fields plus a fixed overhead
per entry (``Entry.size``); an entry larger than ``max_entry_bytes`` is
not kept. Entries past their ``ttl`` are dropped when read.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ._entry import Entry
from ._keys import VARY_SEP

__all__ = ["MemoryStore"]


class _Node:
    __slots__ = ("key", "entry", "expires", "visited", "newer", "older")

    def __init__(self, key: str, entry: Entry, expires: float) -> None:
        self.key = key
        self.entry = entry
        self.expires = expires
        self.visited = False
        self.newer: _Node | None = None
        self.older: _Node | None = None


class MemoryStore:
    """Keep entries in this isolate's memory, at most ``max_bytes`` of them."""

    __slots__ = ("max_bytes", "max_entry_bytes", "policy", "used", "_map", "_head", "_tail",
                 "_hand", "_tags", "_clock", "evictions")

    def __init__(
        self, max_bytes: int = 32 * 1024 * 1024, *, policy: str = "sieve",
        max_entry_bytes: int | None = None, clock: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        if policy not in ("sieve", "lru"):
            raise ValueError(f"eviction policy must be 'sieve' or 'lru', not {policy!r}")
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes if max_entry_bytes is not None else max_bytes // 4
        self.policy = policy
        self.used = 0
        self.evictions = 0
        self._map: dict[str, _Node] = {}
        self._head: _Node | None = None  # newest
        self._tail: _Node | None = None  # oldest
        self._hand: _Node | None = None
        self._tags: dict[str, set[str]] = {}
        self._clock = clock

    def __len__(self) -> int:
        return len(self._map)

    # -- the list --------------------------------------------------------------

    def _link_head(self, node: _Node) -> None:
        node.older = self._head
        node.newer = None
        if self._head is not None:
            self._head.newer = node
        self._head = node
        if self._tail is None:
            self._tail = node

    def _unlink(self, node: _Node) -> None:
        if self._hand is node:
            self._hand = node.newer
        if node.newer is not None:
            node.newer.older = node.older
        else:
            self._head = node.older
        if node.older is not None:
            node.older.newer = node.newer
        else:
            self._tail = node.newer
        node.newer = node.older = None

    def _remove(self, node: _Node) -> None:
        self._unlink(node)
        del self._map[node.key]
        self.used -= node.entry.size
        for tag in node.entry.tags:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(node.key)
                if not keys:
                    del self._tags[tag]

    def _evict_one(self) -> None:
        if self.policy == "lru":
            victim = self._tail
        else:
            node = self._hand or self._tail
            while node is not None and node.visited:
                node.visited = False
                node = node.newer or self._tail
            victim = node
            if victim is not None:
                self._hand = victim.newer
        if victim is not None:
            self._remove(victim)
            self.evictions += 1

    # -- Store -------------------------------------------------------------------

    def get_now(self, key: str) -> Entry | None:
        """Return the entry under ``key`` without awaiting (the hot path's form)."""
        node = self._map.get(key)
        if node is None:
            return None
        if node.expires < self._clock():
            self._remove(node)
            return None
        if self.policy == "lru":
            if self._head is not node:
                self._unlink(node)
                self._link_head(node)
        else:
            node.visited = True  # PERF: SIEVE's hit is one store, no relinking
        return node.entry

    async def get(self, key: str) -> Entry | None:
        return self.get_now(key)

    def put_now(self, key: str, entry: Entry, ttl: float) -> None:
        """Store ``entry`` under ``key`` for at most ``ttl`` seconds."""
        old = self._map.get(key)
        if old is not None:
            self._remove(old)
        size = entry.size
        if size > self.max_entry_bytes:
            return
        while self.used + size > self.max_bytes and self._map:
            self._evict_one()
        node = _Node(key, entry, self._clock() + max(0.0, ttl))
        self._map[key] = node
        self._link_head(node)
        self.used += size
        for tag in entry.tags:
            self._tags.setdefault(tag, set()).add(key)

    async def put(self, key: str, entry: Entry, ttl: float) -> None:
        self.put_now(key, entry, ttl)

    async def delete(self, key: str) -> bool:
        node = self._map.get(key)
        if node is None:
            return False
        self._remove(node)
        return True

    async def purge(self, *, key: str | None = None, prefix: str | None = None,
                    tag: str | None = None) -> int:
        """Remove by key (with its Vary variants), by key prefix, or by Cache-Tag."""
        doomed: set[str] = set()
        if key is not None:
            if key in self._map:
                doomed.add(key)
            variants = key + VARY_SEP
            doomed.update(k for k in self._map if k.startswith(variants))
        if prefix is not None:
            doomed.update(k for k in self._map if k.startswith(prefix))
        if tag is not None:
            doomed.update(self._tags.get(tag, ()))
        for k in doomed:
            node = self._map.get(k)
            if node is not None:
                self._remove(node)
        return len(doomed)

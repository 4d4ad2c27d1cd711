"""KV as a global cache tier: entries in a Workers KV namespace (binding or emulator).

KV is eventually consistent (60 s or more to propagate) and takes at most
one write per second per key, so it suits chosen routes whose objects are
read far more than written. Keys are ``prefix + cache key`` (cut with a
digest past KV's 512-byte limit); metadata carries the tags so purge by
tag is a listing scan. ``expirationTtl`` is at least 60 s (KV's minimum).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from ..types import KVNamespace
from ._entry import Entry, EntryFacts, decode, encode
from ._keys import VARY_SEP

__all__ = ["KVStore"]

_MAX_KEY_BYTES = 512
_MIN_TTL = 60


def _field(obj: Any, name: str) -> Any:
    try:
        return obj[name]
    except (KeyError, TypeError, IndexError):
        return getattr(obj, name, None)


class KVStore:
    """Keep entries in a KV namespace under ``prefix``."""

    __slots__ = ("kv", "prefix", "facts", "max_ttl")

    def __init__(self, kv: KVNamespace, *, prefix: str = "cache:", facts: EntryFacts | None = None,
                 max_ttl: float = 7 * 86400) -> None:
        self.kv = kv
        self.prefix = prefix
        self.facts = facts or EntryFacts()
        self.max_ttl = max_ttl

    def _kv_key(self, key: str) -> str:
        full = self.prefix + key
        raw = full.encode("utf-8", "surrogatepass")
        if len(raw) <= _MAX_KEY_BYTES:
            return full
        digest = hashlib.sha256(raw).hexdigest()
        return raw[:_MAX_KEY_BYTES - 70].decode("utf-8", "ignore") + "#~" + digest

    async def get(self, key: str) -> Entry | None:
        value = await self.kv.get(self._kv_key(key), type="arrayBuffer")
        if value is None:
            return None
        try:
            return decode(bytes(value), self.facts)
        except ValueError:
            return None  # NOTE: a foreign or corrupt value is a miss, not an error

    async def put(self, key: str, entry: Entry, ttl: float) -> None:
        ttl = max(_MIN_TTL, min(self.max_ttl, math.ceil(ttl)))
        await self.kv.put(self._kv_key(key), encode(entry), expirationTtl=int(ttl),
                          metadata={"t": list(entry.tags)[:20]})

    async def delete(self, key: str) -> bool:
        await self.kv.delete(self._kv_key(key))
        return True

    async def _list(self, prefix: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        cursor = None
        while True:
            options: dict[str, Any] = {"prefix": prefix}
            if cursor:
                options["cursor"] = cursor
            page = await self.kv.list(**options)
            for item in _field(page, "keys") or []:
                out.append((_field(item, "name"), _field(item, "metadata")))
            if _field(page, "list_complete") or not _field(page, "cursor"):
                return out
            cursor = _field(page, "cursor")

    async def purge(self, *, key: str | None = None, prefix: str | None = None,
                    tag: str | None = None) -> int:
        names: set[str] = set()
        if key is not None:
            names.add(self._kv_key(key))
            names.update(n for n, _ in await self._list(self._kv_key(key + VARY_SEP)))
        if prefix is not None:
            names.update(n for n, _ in await self._list(self._kv_key(prefix)))
        if tag is not None:
            for name, meta in await self._list(self.prefix):
                tags = _field(meta, "t") if meta is not None else None
                if tags and tag in tags:
                    names.add(name)
        for name in names:
            await self.kv.delete(name)
        return len(names)

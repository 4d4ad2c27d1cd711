"""The Workers Cache API as a store tier (one data centre's cache).

The platform object (``caches.default``) is reached through
:class:`CacheApi`, a three-method adapter interface in edgeline's own
types: the Cloudflare adapter wraps the JS cache in it, and
``edgeline.emulator.cache_api.EmulatedCache`` implements it locally with
the platform's documented semantics.

The Cache API applies its own HTTP rules on ``put`` (it honours
Cache-Control, refuses ``Vary: *``, drops Set-Cookie responses) and on
``match`` (conditionals, Range). This tier therefore stores each entry as
an opaque body (``_entry.encode``) in a wrapper response whose only
caching header is ``Cache-Control: max-age=<ttl>`` plus ``Cache-Tag``:
the stored response's own semantics stay with edgeline, which adds what
the Cache API lacks (stale-while-revalidate, stale-if-error, collapsing).

Purge by key works here; purge by tag is passed to the backend when it
offers ``purge_tags`` (the emulator; in production tag and prefix purges
are zone-level API calls made outside the worker) and is otherwise
:class:`PurgeUnsupported`, as is purge by prefix.
"""

from __future__ import annotations

import math
from typing import Protocol
from urllib.parse import quote

from ..messages import Request, Response
from ._entry import Entry, EntryFacts, decode, encode
from ._store import PurgeUnsupported

__all__ = ["CacheApi", "CacheApiStore"]


class CacheApi(Protocol):
    """``caches.default`` in edgeline types: match, put, delete."""

    async def match(self, request: Request) -> Response | None: ...

    async def put(self, request: Request, response: Response) -> None: ...

    async def delete(self, request: Request) -> bool: ...


class CacheApiStore:
    """Keep entries in a Cache API cache under synthetic URLs below ``base``."""

    __slots__ = ("cache", "base", "facts")

    def __init__(self, cache: CacheApi, *, base: str = "https://edgeline-cache.invalid/",
                 facts: EntryFacts | None = None) -> None:
        self.cache = cache
        self.base = base if base.endswith("/") else base + "/"
        self.facts = facts or EntryFacts()

    def _request(self, key: str) -> Request:
        return Request("GET", self.base + quote(key, safe=""))

    async def get(self, key: str) -> Entry | None:
        response = await self.cache.match(self._request(key))
        if response is None or response.status != 200:
            return None
        try:
            return decode(await response.read(), self.facts)
        except ValueError:
            return None

    async def put(self, key: str, entry: Entry, ttl: float) -> None:
        headers = [("cache-control", f"max-age={max(1, math.ceil(ttl))}"),
                   ("content-type", "application/octet-stream")]
        if entry.tags:
            headers.append(("cache-tag", ",".join(entry.tags)))
        await self.cache.put(self._request(key), Response(encode(entry), 200, headers))

    async def delete(self, key: str) -> bool:
        return await self.cache.delete(self._request(key))

    async def purge(self, *, key: str | None = None, prefix: str | None = None,
                    tag: str | None = None) -> int:
        count = 0
        if prefix is not None:
            raise PurgeUnsupported("the Cache API cannot list keys; purge by prefix "
                                   "through the zone's purge API")
        if key is not None:
            # NOTE: Vary variants live under keys this tier cannot enumerate;
            # the marker goes, so the variants become unreachable.
            count += int(await self.cache.delete(self._request(key)))
        if tag is not None:
            purge_tags = getattr(self.cache, "purge_tags", None)
            if purge_tags is None:
                raise PurgeUnsupported("this Cache API backend has no purge by tag")
            count += await purge_tags([tag])
        return count

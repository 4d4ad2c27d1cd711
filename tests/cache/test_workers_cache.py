"""The Cloudflare adapter's WorkersCache over the emulator's ``caches.default``.

``WorkersCache`` speaks the platform's web API (``match`` / ``put`` /
``delete`` on web Request/Response objects); under CPython that is
``edgeline.emulator.cache_api.PlatformCache``, the emulated Cache API with
the platform's refusals. The same edge cache then runs on it as on Workers.
"""

from __future__ import annotations

import pytest

from edgeline.emulator import install_workers_module

install_workers_module()

from edgeline.adapters.cloudflare import WorkersCache, default_cache  # noqa: E402
from edgeline.cache import (  # noqa: E402
    CacheApiStore,
    CachePolicy,
    CachingTransport,
    Entry,
    EntryFacts,
    PurgeUnsupported,
)
from edgeline.emulator.cache_api import PlatformCache, platform_caches  # noqa: E402
from edgeline.messages import Request, Response  # noqa: E402
from edgeline.testing import FunctionTransport  # noqa: E402

pytestmark = pytest.mark.anyio

FACTS = EntryFacts()


def entry(body: bytes = b"hello", tags: tuple[str, ...] = ()) -> Entry:
    return Entry(200, [("cache-control", "max-age=60"), ("etag", '"1"')], body, initial_age=0.0,
                 response_time=1000.0, request_time=999.0, facts=FACTS, tags=tags)


async def test_store_roundtrip_through_the_web_api() -> None:
    store = CacheApiStore(WorkersCache(PlatformCache()))
    await store.put("example.com/a", entry(b"A" * 1000, tags=("t",)), 600)
    got = await store.get("example.com/a")
    assert got is not None and got.body == b"A" * 1000 and got.etag == '"1"'
    assert got.lifetime == 60 and got.tags == ("t",)
    assert await store.get("example.com/b") is None
    assert await store.purge(key="example.com/a") == 1
    assert await store.get("example.com/a") is None
    with pytest.raises(PurgeUnsupported):  # tag and prefix purges are zone API calls
        await store.purge(tag="t")


async def test_the_default_cache_is_the_emulated_caches_default() -> None:
    assert default_cache() is platform_caches().default
    assert WorkersCache().cache is platform_caches().default
    assert await platform_caches().open("other") is await platform_caches().open("other")


async def test_platform_refusals_reach_the_caller() -> None:
    cache = WorkersCache(PlatformCache())
    url = "https://edge.test/x"
    with pytest.raises(TypeError, match="206"):
        await cache.put(Request("GET", url), Response(b"p", 206, {"content-range": "bytes 0-0/9"}))
    with pytest.raises(TypeError, match="Vary"):
        await cache.put(Request("GET", url), Response(b"v", 200, {"cache-control": "max-age=60",
                                                                  "vary": "*"}))
    await cache.put(Request("GET", url), Response(b"c", 200, {"cache-control": "max-age=60",
                                                              "set-cookie": "a=b"}))
    assert await cache.match(Request("GET", url)) is None  # Set-Cookie: not stored
    await cache.put(Request("GET", url), Response(b"0123456789", 200,
                                                  {"cache-control": "max-age=60", "etag": '"e"'}))
    ranged = await cache.match(Request("GET", url, {"range": "bytes=2-3"}))
    assert ranged is not None and ranged.status == 206 and await ranged.read() == b"23"
    not_modified = await cache.match(Request("GET", url, {"if-none-match": '"e"'}))
    assert not_modified is not None and not_modified.status == 304
    assert await cache.delete(Request("GET", url)) is True
    assert await cache.delete(Request("GET", url)) is False


async def test_edge_cache_adds_stale_while_revalidate_on_top_of_the_cache_api() -> None:
    now = [1_700_000_000.0]
    calls = []

    async def origin(request: Request) -> Response:
        calls.append(request.headers.get("if-none-match"))
        return Response(f"v{len(calls)}".encode(), 200, {
            "cache-control": "max-age=10, stale-while-revalidate=60", "etag": f'"{len(calls)}"'})

    pending = []
    cache = CachingTransport(FunctionTransport(origin), CacheApiStore(WorkersCache(PlatformCache())),
                             CachePolicy(), clock=lambda: now[0], background=pending.append)
    assert (await cache.handle(Request("GET", "https://edge.test/p"))).body == b"v1"
    hit = await cache.handle(Request("GET", "https://edge.test/p"))
    assert hit.body == b"v1" and "hit" in hit.headers.get_all("cache-status")[-1]
    now[0] += 30  # stale, inside the stale-while-revalidate window
    stale = await cache.handle(Request("GET", "https://edge.test/p"))
    assert stale.body == b"v1" and "stale-while-revalidate" in stale.headers["cache-status"]
    assert len(pending) == 1
    await pending.pop()
    assert calls == [None, '"1"']
    assert (await cache.handle(Request("GET", "https://edge.test/p"))).body == b"v2"

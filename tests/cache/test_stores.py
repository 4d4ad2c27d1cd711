"""One contract for every store (memory SIEVE/LRU, KV on real SQLite, Cache API emulation, tiers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edgeline.cache import (
    CacheApiStore,
    Entry,
    EntryFacts,
    KVStore,
    MemoryStore,
    PurgeUnsupported,
    TieredStore,
)
from edgeline.cache._entry import decode, encode
from edgeline.emulator.cache_api import EmulatedCache
from edgeline.emulator.kv import KVStorage
from edgeline.messages import Request, Response

pytestmark = pytest.mark.anyio

FACTS = EntryFacts()


def entry(body: bytes = b"hello", tags: tuple[str, ...] = (), **headers: str) -> Entry:
    items = [("cache-control", "max-age=60"), ("etag", '"1"'), *headers.items()]
    return Entry(200, items, body, initial_age=0.0, response_time=1000.0, request_time=999.0,
                 facts=FACTS, tags=tags)


@pytest.fixture(params=["memory-sieve", "memory-lru", "kv", "cache-api", "tiered"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    kind = request.param
    if kind.startswith("memory"):
        yield MemoryStore(1 << 20, policy=kind.split("-")[1])
    elif kind == "kv":
        with KVStorage(tmp_path / "kv.sqlite3") as storage:
            yield KVStore(storage.namespace("cache"))
    elif kind == "cache-api":
        yield CacheApiStore(EmulatedCache())
    else:
        with KVStorage(tmp_path / "kv.sqlite3") as storage:
            yield TieredStore([MemoryStore(1 << 20), KVStore(storage.namespace("cache"))])


async def test_roundtrip_and_delete(store: object) -> None:
    await store.put("h/a", entry(b"A"), 600)  # type: ignore[attr-defined]
    got = await store.get("h/a")  # type: ignore[attr-defined]
    assert got is not None and got.body == b"A" and got.etag == '"1"' and got.lifetime == 60
    assert await store.get("h/b") is None  # type: ignore[attr-defined]
    assert await store.delete("h/a")  # type: ignore[attr-defined]
    assert await store.get("h/a") is None  # type: ignore[attr-defined]


async def test_purge_by_key_takes_variants_and_by_tag(store: object) -> None:
    s = store
    await s.put("h/p", entry(), 600)  # type: ignore[attr-defined]
    await s.put("h/p\x00lang=de", entry(tags=("t1",)), 600)  # type: ignore[attr-defined]
    await s.put("h/q", entry(tags=("t1", "t2")), 600)  # type: ignore[attr-defined]
    if isinstance(s, CacheApiStore):
        assert await s.purge(tag="t2") == 1
        with pytest.raises(PurgeUnsupported):
            await s.purge(prefix="h/")
        return
    await s.purge(key="h/p")  # type: ignore[attr-defined]
    assert await s.get("h/p") is None and await s.get("h/p\x00lang=de") is None  # type: ignore[attr-defined]
    assert await s.get("h/q") is not None  # type: ignore[attr-defined]
    await s.purge(tag="t2")  # type: ignore[attr-defined]
    assert await s.get("h/q") is None  # type: ignore[attr-defined]
    await s.put("h/r/1", entry(), 600)  # type: ignore[attr-defined]
    await s.put("h/s", entry(), 600)  # type: ignore[attr-defined]
    await s.purge(prefix="h/r/")  # type: ignore[attr-defined]
    assert await s.get("h/r/1") is None and await s.get("h/s") is not None  # type: ignore[attr-defined]


def test_encode_decode_and_corrupt_values() -> None:
    e = entry(b"\x00\xffbody", tags=("a",), vary="x")
    back = decode(encode(e), FACTS)
    assert back.body == e.body and back.headers == e.headers and back.tags == ("a",)
    with pytest.raises(ValueError):
        decode(b"ELC1\x00\x00\x00\x05{bad", FACTS)
    with pytest.raises(ValueError):
        decode(b"not ours", FACTS)


async def test_memory_store_is_bounded_in_bytes() -> None:
    store = MemoryStore(50_000)
    for i in range(200):
        store.put_now(f"k{i}", entry(b"x" * 1000), 600)
    assert store.used <= 50_000 and len(store) < 50 and store.evictions > 0
    store.put_now("huge", entry(b"x" * 20_000), 600)  # over max_entry_bytes (a quarter)
    assert store.get_now("huge") is None


async def test_sieve_keeps_a_hot_object_that_lru_would_keep_too() -> None:
    for policy in ("sieve", "lru"):
        store = MemoryStore(12_000, policy=policy)
        store.put_now("hot", entry(b"h" * 1000), 600)
        for i in range(100):
            store.get_now("hot")
            store.put_now(f"cold{i}", entry(b"c" * 1000), 600)
        assert store.get_now("hot") is not None, policy


async def test_memory_store_drops_entries_past_their_ttl() -> None:
    now = [0.0]
    store = MemoryStore(1 << 20, clock=lambda: now[0])
    store.put_now("a", entry(), 10)
    now[0] = 11
    assert store.get_now("a") is None and len(store) == 0


async def test_emulated_cache_api_semantics() -> None:
    cache = EmulatedCache()
    url = "https://example.test/x"
    with pytest.raises(TypeError):
        await cache.put(Request("POST", url), Response(b"", 200, {"cache-control": "max-age=60"}))
    with pytest.raises(TypeError):
        await cache.put(url, Response(b"", 206, {"cache-control": "max-age=60"}))
    with pytest.raises(TypeError):
        await cache.put(url, Response(b"", 200, {"cache-control": "max-age=60", "vary": "*"}))
    await cache.put(url, Response(b"c", 200, {"cache-control": "max-age=60", "set-cookie": "a=b"}))
    assert await cache.match(url) is None
    await cache.put(url, Response(b"nope", 200, {"cache-control": "no-store"}))
    assert await cache.match(url) is None
    await cache.put(url, Response(b"0123456789", 200, {
        "cache-control": "max-age=60", "etag": '"e"', "cache-tag": "a,b",
        "last-modified": "Sun, 06 Nov 1994 08:49:37 GMT"}))
    assert (await cache.match(url)).body == b"0123456789"  # type: ignore[union-attr]
    assert (await cache.match(Request("GET", url, {"if-none-match": 'W/"e"'}))).status == 304  # type: ignore[union-attr]
    assert (await cache.match(Request("GET", url, {
        "if-modified-since": "Mon, 07 Nov 1994 08:49:37 GMT"}))).status == 304  # type: ignore[union-attr]
    ranged = await cache.match(Request("GET", url, {"range": "bytes=2-4"}))
    assert ranged is not None and ranged.status == 206 and ranged.body == b"234"
    assert await cache.match(Request("HEAD", url)) is None
    assert await cache.purge_tags(["b"]) == 1
    assert await cache.match(url) is None
    now = [0.0]
    timed = EmulatedCache(clock=lambda: now[0])
    await timed.put(url, Response(b"t", 200, {"cache-control": "s-maxage=5, max-age=100"}))
    now[0] = 6
    assert await timed.match(url) is None  # no stale serving in the Cache API

"""CachingTransport in process: collapsing, stale-while-revalidate, stale-if-error, purge, streaming."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from edgeline.cache import CachePolicy, CachingTransport, MemoryStore
from edgeline.messages import Request, Response
from edgeline.testing import FunctionTransport
from tests.conftest import ServerThread

from .origin_server import ScriptedOrigin

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def get(url: str = "http://edge.test/a", **headers: str) -> Request:
    return Request("GET", url, headers)


async def test_thousand_concurrent_cold_requests_make_one_origin_fetch() -> None:
    calls = 0

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return Response(b"x" * 1000, 200, {"cache-control": "max-age=60"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20))
    responses = await asyncio.gather(*(cache.handle(get()) for _ in range(1000)))
    assert calls == 1
    assert all(r.status == 200 and r.body == b"x" * 1000 for r in responses)
    statuses = [r.headers.get_all("cache-status")[-1] for r in responses]
    assert sum("fwd=uri-miss" in s for s in statuses) == 1
    assert sum("collapsed" in s for s in statuses) == 999


async def test_collapsed_waiters_fetch_themselves_when_uncacheable() -> None:
    calls = 0

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return Response(b"private", 200, {"cache-control": "private"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20))
    await asyncio.gather(*(cache.handle(get()) for _ in range(5)))
    assert calls == 5


async def test_collapse_wait_is_bounded() -> None:
    gate = asyncio.Event()

    async def origin(request: Request) -> Response:
        if request.headers.get("x-slow"):
            await gate.wait()
        return Response(b"ok", 200, {"cache-control": "max-age=60"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20),
                             CachePolicy(collapse_timeout=0.05))
    slow = asyncio.ensure_future(cache.handle(get(**{"x-slow": "1"})))
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    fast = await cache.handle(get())
    assert fast.status == 200 and time.perf_counter() - started < 1.0
    gate.set()
    await slow


async def test_stale_while_revalidate_serves_at_hit_latency_with_one_refresh() -> None:
    clock = Clock()
    calls = 0
    refresh_started = asyncio.Event()
    release = asyncio.Event()

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls > 1:
            refresh_started.set()
            await release.wait()  # a slow origin: the refresh must not hold anyone up
        return Response(f"v{calls}".encode(), 200,
                        {"cache-control": "max-age=10, stale-while-revalidate=100"})

    background: list[asyncio.Future[object]] = []
    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20), clock=clock,
                             background=lambda aw: background.append(asyncio.ensure_future(aw)))
    await cache.handle(get())
    clock.now += 20  # stale, within the window
    started = time.perf_counter()
    answers = [await cache.handle(get()) for _ in range(50)]
    elapsed = time.perf_counter() - started
    assert all(a.body == b"v1" for a in answers)
    assert all("stale-while-revalidate" in a.headers.get_all("cache-status")[-1] for a in answers)
    assert elapsed < 0.5
    await asyncio.wait_for(refresh_started.wait(), 2)
    assert len(background) == 1 and calls == 2  # exactly one background refresh
    release.set()
    await asyncio.gather(*background)
    fresh = await cache.handle(get())
    assert fresh.body == b"v2" and "hit" in fresh.headers.get_all("cache-status")[-1]
    clock.now += 200  # past the window: validated in the foreground
    release.set()
    assert (await cache.handle(get())).body == b"v3"


async def test_stale_if_error_while_the_real_origin_is_down() -> None:
    from edgeline.origin.httpx_transport import HttpxTransport

    scripted = ScriptedOrigin()
    scripted.script("/item", [{"status": 200, "headers": [
        ("cache-control", "max-age=1, stale-if-error=300")], "body": "kept"}])
    clock = Clock()
    transport = HttpxTransport(connect_timeout=1.0)
    server = ServerThread(scripted)
    with server:
        url = f"{server.url}/item"
        cache = CachingTransport(transport, MemoryStore(1 << 20), clock=clock)
        assert (await cache.handle(get(url))).body == b"kept"
    # The origin has been stopped: connections are refused now.
    clock.now += 30
    response = await cache.handle(get(url))
    assert response.status == 200 and response.body == b"kept"
    assert "stale-if-error" in response.headers.get_all("cache-status")[-1]
    clock.now += 1000  # past the stale-if-error window: the failure shows
    from edgeline.errors import OriginError

    with pytest.raises(OriginError):
        await cache.handle(get(url))
    await transport.aclose()


async def test_must_revalidate_is_never_served_stale_on_error() -> None:
    from edgeline.origin import OriginUnreachable

    clock = Clock()
    up = True

    async def origin(request: Request) -> Response:
        if not up:
            raise OriginUnreachable("down", url=str(request.url))
        return Response(b"x", 200, {"cache-control": "max-age=1, must-revalidate"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20), clock=clock)
    await cache.handle(get())
    up = False
    clock.now += 10
    with pytest.raises(OriginUnreachable):
        await cache.handle(get())


async def test_purge_by_key_prefix_and_tag() -> None:
    calls: dict[str, int] = {}

    async def origin(request: Request) -> Response:
        path = request.url.path
        calls[path] = calls.get(path, 0) + 1
        tags = "product,p-" + path.rsplit("/", 1)[-1]
        return Response(b"x", 200, {"cache-control": "max-age=600", "cache-tag": tags,
                                    "vary": "accept-language"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20))
    urls = [f"http://edge.test/shop/{i}" for i in range(3)] + ["http://edge.test/blog/1"]
    for url in urls:
        await cache.handle(get(url, **{"accept-language": "de"}))
        await cache.handle(get(url, **{"accept-language": "fr"}))
    assert await cache.purge(url="http://edge.test/shop/0") == 3  # marker + two variants
    assert await cache.purge(tag="p-1") == 4  # /shop/1 and /blog/1, two variants each
    # Left under the prefix: the /shop/1 marker, and /shop/2 with its two variants.
    assert await cache.purge(prefix="edge.test/shop/") == 4
    for url in urls:
        await cache.handle(get(url, **{"accept-language": "de"}))
    assert calls == {"/shop/0": 3, "/shop/1": 3, "/shop/2": 3, "/blog/1": 3}


async def test_streamed_miss_is_teed_into_the_store_and_large_bodies_are_not() -> None:
    async def chunks(n: int) -> AsyncIterator[bytes]:
        for i in range(n):
            await asyncio.sleep(0)
            yield bytes([65 + i % 26]) * 1000

    calls = 0

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        n = int(request.url.params.get("n") or 1)
        return Response(chunks(n), 200, {"cache-control": "max-age=60"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 22),
                             CachePolicy(max_object_size=50_000))
    first = await cache.handle(get("http://edge.test/s?n=10"))
    assert first.is_streaming
    body = await first.read()
    assert len(body) == 10_000
    again = await cache.handle(get("http://edge.test/s?n=10"))
    assert again.body == body and calls == 1
    big = await cache.handle(get("http://edge.test/s?n=100"))
    assert len(await big.read()) == 100_000
    await (await cache.handle(get("http://edge.test/s?n=100"))).read()
    assert calls == 3


async def test_head_miss_passes_through_and_options_not_cached() -> None:
    seen: list[str] = []

    async def origin(request: Request) -> Response:
        seen.append(request.method)
        return Response(b"", 200, {"cache-control": "max-age=60"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20))
    await cache.handle(Request("HEAD", "http://edge.test/h"))
    await cache.handle(Request("OPTIONS", "http://edge.test/h"))
    await cache.handle(Request("OPTIONS", "http://edge.test/h"))
    assert seen == ["HEAD", "OPTIONS", "OPTIONS"]


class _AwaitOnlyStore:
    """A store reachable only by awaiting (like the KV tier): no synchronous hit path."""

    def __init__(self) -> None:
        self.inner = MemoryStore(1 << 20)

    async def get(self, key: str):  # type: ignore[no-untyped-def]
        return await self.inner.get(key)

    async def put(self, key: str, entry, ttl: float) -> None:  # type: ignore[no-untyped-def]
        await self.inner.put(key, entry, ttl)

    async def delete(self, key: str) -> bool:
        return await self.inner.delete(key)

    async def purge(self, **kw):  # type: ignore[no-untyped-def]
        return await self.inner.purge(**kw)


@pytest.mark.parametrize("store_kind", ["memory", "await-only"])
async def test_hit_fields_are_the_same_on_the_synchronous_and_awaited_paths(store_kind: str) -> None:
    clock = Clock()
    calls = 0

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(b"body", 200, {"cache-control": "max-age=100", "etag": '"v1"'})

    store = MemoryStore(1 << 20, clock=clock) if store_kind == "memory" else _AwaitOnlyStore()
    cache = CachingTransport(FunctionTransport(origin), store, clock=clock)  # type: ignore[arg-type]
    await cache.handle(get())
    clock.now += 30.4
    hit = await cache.handle(get())
    assert (hit.status, await hit.read(), calls) == (200, b"body", 1)
    assert hit.headers.get_all("age") == ["30"]
    assert hit.headers.get_all("cache-status") == ["edgeline; hit; ttl=70"]
    head = await cache.handle(Request("HEAD", "http://edge.test/a"))
    assert (await head.read(), head.headers["content-length"]) == (b"", "4")
    # Request directives, conditionals and staleness leave the synchronous path and still decide.
    assert (await cache.handle(get(**{"cache-control": "max-age=10"}))).headers[
        "cache-status"].startswith("edgeline; fwd=stale")
    assert (await cache.handle(get(**{"if-none-match": '"v1"'}))).status == 304
    clock.now += 200
    stale = await cache.handle(get())
    assert "fwd=stale" in stale.headers["cache-status"] and calls == 3
    # A hit's fields can be changed downstream without touching the stored copy.
    again = await cache.handle(get())
    again.headers["via"] = "changed"
    assert "via" not in (await cache.handle(get())).headers


class _ForgetfulStore(MemoryStore):
    """A store that keeps nothing (a full or failing tier)."""

    def put_now(self, key: str, entry: object, ttl: float) -> None:  # type: ignore[override]
        return None


async def test_waiters_share_the_leaders_response_when_the_store_kept_none() -> None:
    calls = 0

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return Response(b"shared", 200, {"cache-control": "max-age=60"})

    cache = CachingTransport(FunctionTransport(origin), _ForgetfulStore(1 << 20))
    responses = await asyncio.gather(*(cache.handle(get()) for _ in range(20)))
    assert calls == 1
    assert all(r.body == b"shared" for r in responses)
    assert sum("collapsed" in r.headers.get_all("cache-status")[-1] for r in responses) == 19


async def test_waiters_do_not_share_a_response_for_another_variant() -> None:
    calls = 0

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return Response(request.headers.get("foo") or "", 200,
                        {"cache-control": "max-age=60", "vary": "Foo"})

    cache = CachingTransport(FunctionTransport(origin), _ForgetfulStore(1 << 20))
    one, two = await asyncio.gather(cache.handle(get(foo="1")), cache.handle(get(foo="2")))
    assert (one.body, two.body) == (b"1", b"2") and calls == 2


async def test_leader_failure_releases_waiters_at_once() -> None:
    calls = 0

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.05)
            from edgeline.errors import OriginError

            raise OriginError("origin reset")
        return Response(b"ok", 200, {"cache-control": "no-store"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20),
                             CachePolicy(collapse_timeout=5.0))
    started = time.monotonic()
    results = await asyncio.gather(*(cache.handle(get()) for _ in range(5)),
                                   return_exceptions=True)
    assert time.monotonic() - started < 1.0  # not the 5 s collapse timeout
    assert sum(isinstance(r, Exception) for r in results) == 1
    assert calls == 5  # each waiter retried once, on its own


async def test_cancelled_leader_releases_waiters_at_once() -> None:
    gate = asyncio.Event()

    async def origin(request: Request) -> Response:
        if not gate.is_set():
            gate.set()
            await asyncio.sleep(30)
        return Response(b"ok", 200, {"cache-control": "max-age=60"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20),
                             CachePolicy(collapse_timeout=5.0))
    leader = asyncio.ensure_future(cache.handle(get()))
    await gate.wait()
    waiter = asyncio.ensure_future(cache.handle(get()))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    leader.cancel()  # e.g. its client went away
    response = await asyncio.wait_for(waiter, 2.0)
    assert response.body == b"ok" and time.monotonic() - started < 1.0


async def test_abandoned_streamed_miss_releases_waiters() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * 10
        await asyncio.sleep(30)
        yield b"b"

    calls = 0

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Response(chunks(), 200, {"cache-control": "max-age=60"})
        return Response(b"second", 200, {"cache-control": "max-age=60"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20),
                             CachePolicy(collapse_timeout=5.0))
    first = await cache.handle(get())
    stream = first.stream()
    assert await stream.__anext__() == b"a" * 10
    waiter = asyncio.ensure_future(cache.handle(get()))
    await asyncio.sleep(0.01)
    await first.body.aclose()  # type: ignore[union-attr]  # the client went away mid-body
    response = await asyncio.wait_for(waiter, 2.0)
    assert response.body == b"second"

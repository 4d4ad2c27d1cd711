"""Fault tests: a real origin process on 127.0.0.1, started, slowed, failed and killed."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from edgeline import App
from edgeline.origin import (
    HealthRegistry,
    OriginStreamError,
    build_origin_transport,
    forward,
)
from edgeline.origin.httpx_transport import HttpxTransport
from edgeline.testing import TestClient
from kv_schemas.origins import Breaker, Origin, Retry
from tests.conftest import free_port

from .conftest import OriginProcess

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

Spawn = Callable[[str], OriginProcess]


@pytest.fixture
async def base() -> AsyncIterator[HttpxTransport]:
    transport = HttpxTransport()
    yield transport
    await transport.aclose()


def client_for(origin: Origin, base: HttpxTransport, health: HealthRegistry) -> TestClient:
    app = App()
    app.any("/api/{rest:path}")(forward(build_origin_transport(origin, base, health=health),
                                        strip_prefix="/api"))
    return TestClient(app)


def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


async def test_killed_mid_stream_truncates_and_then_fails_cleanly(
    spawn_origin: Spawn, base: HttpxTransport, caplog: pytest.LogCaptureFixture,
) -> None:
    proc = spawn_origin("a")
    health = HealthRegistry()
    client = client_for(Origin(name="a", urls=[proc.url], retry=Retry(attempts=1)), base, health)
    response = await client.get("/api/stream?n=200&ms=20")
    assert response.status == 200 and response.is_streaming
    stream = response.stream()
    first = await stream.__anext__()
    assert first == b"data: 0\n\n"
    proc.kill()
    with caplog.at_level(logging.WARNING, logger="edgeline.origin"):
        with pytest.raises(OriginStreamError):
            async for _ in stream:
                pass
    assert any("broke off" in r.getMessage() for r in caplog.records)
    after = await client.get("/api/ok")
    assert after.status == 502
    assert after.headers["content-type"] == "application/problem+json"
    assert (await after.json())["title"] == "Bad Gateway"


async def test_slower_than_the_timeout_is_a_504(
    shared_origin: OriginProcess, base: HttpxTransport, caplog: pytest.LogCaptureFixture,
) -> None:
    origin = Origin(name="slow", urls=[shared_origin.url], timeout=0.2, retry=Retry(attempts=1))
    client = client_for(origin, base, HealthRegistry())
    loop = asyncio.get_running_loop()
    began = loop.time()
    with caplog.at_level(logging.WARNING, logger="edgeline.origin"):
        response = await client.get("/api/slow?ms=2000")
    assert loop.time() - began < 1.0
    assert response.status == 504
    doc = await response.json()
    assert doc["status"] == 504 and "Traceback" not in json.dumps(doc)
    record = next(r for r in caplog.records if "failed after" in r.getMessage())
    assert record.origin == "slow" and record.attempts == 1 and record.elapsed_ms >= 190


async def test_a_5xx_burst_opens_the_breaker_which_then_half_opens_and_closes(
    shared_origin: OriginProcess, base: HttpxTransport,
) -> None:
    origin = Origin(name="burst", urls=[shared_origin.url], retry=Retry(attempts=1),
                    breaker=Breaker(failures=3, open_for=0.3))
    health = HealthRegistry()
    client = client_for(origin, base, health)
    await client.get("/api/_fail?code=503&count=3")
    statuses = [(await client.get("/api/ok")).status for _ in range(3)]
    assert statuses == [503, 503, 503]  # the origin's own answers, passed through
    assert health.snapshot()["burst"][shared_origin.url]["state"] == "open"
    refused = await client.get("/api/ok")  # not sent: the breaker is open
    assert refused.status == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert (await refused.json())["title"] == "Service Unavailable"
    await asyncio.sleep(0.35)
    probe = await client.get("/api/ok")  # half-open: one probe goes through, and succeeds
    assert probe.status == 200
    assert health.snapshot()["burst"][shared_origin.url]["state"] == "closed"


async def test_a_failed_probe_opens_the_breaker_again(
    shared_origin: OriginProcess, base: HttpxTransport,
) -> None:
    origin = Origin(name="reopen", urls=[shared_origin.url], retry=Retry(attempts=1),
                    breaker=Breaker(failures=1, open_for=0.2))
    health = HealthRegistry()
    client = client_for(origin, base, health)
    await client.get("/api/_fail?code=502&count=2")
    assert (await client.get("/api/ok")).status == 502
    await asyncio.sleep(0.25)
    assert (await client.get("/api/ok")).status == 502  # the probe fails
    assert health.snapshot()["reopen"][shared_origin.url]["state"] == "open"
    assert "retry-after" in (await client.get("/api/ok")).headers


async def test_connection_refused_is_a_502(base: HttpxTransport) -> None:
    client = client_for(Origin(name="down", urls=[refused_url()],
                               retry=Retry(attempts=3, backoff=0.01)), base, HealthRegistry())
    response = await client.get("/api/ok")
    assert response.status == 502
    doc = await response.json()
    assert doc == {"type": "about:blank", "title": "Bad Gateway", "status": 502,
                   "detail": "the origin could not be reached"}
    assert response.headers["cache-control"] == "no-store"


async def test_failover_to_the_second_origin(spawn_origin: Spawn, base: HttpxTransport) -> None:
    first, second = spawn_origin("first"), spawn_origin("second")
    origin = Origin(name="pair", urls=[first.url, second.url], retry=Retry(attempts=1),
                    breaker=Breaker(failures=2, open_for=30))
    health = HealthRegistry()
    client = client_for(origin, base, health)
    assert (await (await client.get("/api/ok")).json())["origin"] == "first"
    first.kill()
    for _ in range(3):
        response = await client.get("/api/ok")
        assert response.status == 200
        assert (await response.json())["origin"] == "second"
    # Nothing was sent to the dead origin, so even a POST goes over.
    posted = await client.post("/api/echo", body=b"payload")
    assert (await posted.json())["origin"] == "second"
    assert health.snapshot()["pair"][first.url]["state"] == "open"


async def test_a_post_is_not_retried_after_it_was_sent(
    shared_origin: OriginProcess, base: HttpxTransport,
) -> None:
    origin = Origin(name="post", urls=[shared_origin.url], retry=Retry(attempts=3, backoff=0))
    client = client_for(origin, base, HealthRegistry())
    await client.get("/api/_fail?code=503&count=1")
    assert (await client.post("/api/ok", body=b"x")).status == 503  # once, not retried
    assert (await client.get("/api/ok")).status == 200


async def test_an_idempotent_request_is_retried_past_a_5xx(
    shared_origin: OriginProcess, base: HttpxTransport,
) -> None:
    origin = Origin(name="retry", urls=[shared_origin.url], retry=Retry(attempts=3, backoff=0.01))
    client = client_for(origin, base, HealthRegistry())
    await client.get("/api/_fail?code=503&count=2")
    response = await client.get("/api/ok")
    assert response.status == 200


async def _raw_server(reply: bytes, *, close_only: bool = False) -> tuple[asyncio.Server, str]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if not close_only:
            writer.write(reply)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(("reply", "close_only"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", False),  # malformed
    (b"NOT HTTP AT ALL\r\n\r\n", False),
    (b"", True),  # reset: the connection closes without an answer
])
async def test_a_malformed_or_missing_response_is_a_502(
    base: HttpxTransport, reply: bytes, close_only: bool,
) -> None:
    server, url = await _raw_server(reply, close_only=close_only)
    async with server:
        client = client_for(Origin(name="raw", urls=[url], retry=Retry(attempts=1)), base,
                            HealthRegistry())
        response = await client.get("/api/ok")
    assert response.status == 502
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_large_download_and_sse_stream_through(
    shared_origin: OriginProcess, base: HttpxTransport,
) -> None:
    client = client_for(Origin(name="big", urls=[shared_origin.url]), base, HealthRegistry())
    response = await client.get("/api/big?size=3000000")
    assert response.is_streaming
    size = chunks = 0
    async for chunk in response.stream():
        size += len(chunk)
        chunks += 1
    assert size == 3_000_000 and chunks > 10
    events = await client.get("/api/stream?n=3&ms=100")
    loop = asyncio.get_running_loop()
    began = loop.time()
    stream = events.stream()
    assert await stream.__anext__() == b"data: 0\n\n"
    assert loop.time() - began < 0.09  # the first event arrives before the stream ends
    assert [c async for c in stream] == [b"data: 1\n\n", b"data: 2\n\n"]


async def test_request_bodies_stream_and_are_limited(
    shared_origin: OriginProcess, base: HttpxTransport,
) -> None:
    client = client_for(Origin(name="up", urls=[shared_origin.url], max_request_body=100_000),
                        base, HealthRegistry())

    async def body(n: int) -> AsyncIterator[bytes]:
        for _ in range(n):
            yield b"y" * 10_000

    ok = await client.post("/api/echo", body=body(10))
    assert (await ok.json())["body_bytes"] == 100_000
    too_big = await client.post("/api/echo", body=body(11))
    assert too_big.status == 413
    declared = await client.post("/api/echo", body=body(1), headers={"content-length": "200000"})
    assert declared.status == 413

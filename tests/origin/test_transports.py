"""One contract every origin transport passes: httpx to a real server, ASGI in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from edgeline import Request, Response
from edgeline.demo import DemoOrigin
from edgeline.origin import AsgiTransport, OriginBadResponse, OriginStreamError
from edgeline.origin.httpx_transport import HttpxTransport
from edgeline.types import Transport
from tests.conftest import ServerThread

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def demo_server() -> ServerThread:
    with ServerThread(DemoOrigin()) as server:
        yield server


@pytest.fixture(params=["httpx", "asgi"])
async def transport(request: pytest.FixtureRequest, demo_server: ServerThread
                    ) -> AsyncIterator[tuple[Transport, str]]:
    if request.param == "httpx":
        t = HttpxTransport()
        yield t, demo_server.url
        await t.aclose()
    else:
        yield AsgiTransport(DemoOrigin()), "http://origin.internal"


async def test_json_roundtrip(transport: tuple[Transport, str]) -> None:
    t, base = transport
    response = await t.handle(Request("GET", base + "/api/items/1"))
    assert response.status == 200
    assert response.headers["x-served-by"] == "demo-origin"
    assert (await response.json())["name"] == "espresso"


async def test_status_and_query_pass_through(transport: tuple[Transport, str]) -> None:
    t, base = transport
    missing = await t.handle(Request("GET", base + "/api/items/99"))
    assert missing.status == 404
    echo = await t.handle(Request("GET", base + "/api/echo?a=1&b=%20", {"x-test": "yes"}))
    doc = await echo.json()
    assert doc["query"] == "a=1&b=%20"
    assert ["x-test", "yes"] in doc["headers"]


async def test_streamed_request_body(transport: tuple[Transport, str]) -> None:
    t, base = transport

    async def body() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"z" * 1000

    echo = await t.handle(Request("POST", base + "/api/echo", body=body()))
    assert (await echo.json())["body_bytes"] == 5000


async def test_sse_streams(transport: tuple[Transport, str]) -> None:
    t, base = transport
    response = await t.handle(Request("GET", base + "/api/stream?n=3"))
    assert response.is_streaming
    assert response.headers["content-type"] == "text/event-stream"
    chunks = [c async for c in response.stream()]
    assert b"".join(chunks).count(b"data: tick") == 3


async def test_head_has_no_body(transport: tuple[Transport, str]) -> None:
    t, base = transport
    response = await t.handle(Request("HEAD", base + "/api/items"))
    assert response.status == 200 and await response.read() == b""


async def test_an_asgi_app_that_crashes_is_a_clean_origin_error() -> None:
    async def before(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    with pytest.raises(OriginBadResponse):
        await AsgiTransport(before).handle(Request("GET", "http://x/"))

    async def during(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        raise RuntimeError("boom")

    response = await AsgiTransport(during).handle(Request("GET", "http://x/"))
    with pytest.raises(OriginStreamError):
        await response.read()

    async def silent(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(OriginBadResponse):
        await AsgiTransport(silent).handle(Request("GET", "http://x/"))


async def test_closing_an_unread_asgi_body_stops_the_app() -> None:
    stopped = []

    async def endless(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
        finally:
            stopped.append(True)

    response: Response = await AsgiTransport(endless).handle(Request("GET", "http://x/"))
    await response.body.aclose()  # type: ignore[union-attr]
    import asyncio
    await asyncio.sleep(0.01)
    assert stopped == [True]

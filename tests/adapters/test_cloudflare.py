"""The Cloudflare adapter over the SDK stand-in: conversions, streaming, fetch, waitUntil."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from edgeline.emulator import install_workers_module
from tests.conftest import ServerThread, free_port

install_workers_module()

import workers  # noqa: E402
from workers._web import JsObject, ReadableStream  # noqa: E402

from edgeline import App, Context, Request, Response  # noqa: E402
from edgeline.adapters.cloudflare import FetchTransport, serve, to_core_request  # noqa: E402
from edgeline.errors import OriginError  # noqa: E402

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fetch_clients() -> AsyncIterator[None]:
    """Close the pooled outbound clients inside the test's own event loop."""
    yield
    from workers.fetch import aclose_clients

    await aclose_clients()


class Ctx:
    def __init__(self) -> None:
        self.tasks: list[Any] = []

    def waitUntil(self, task: Any) -> None:
        self.tasks.append(task)


async def ticks(n: int) -> AsyncIterator[bytes]:
    for i in range(n):
        await asyncio.sleep(0)
        yield f"tick {i}\n".encode()


def streaming_app() -> App:
    app = App()

    @app.post("/echo")
    async def echo(request: Request, ctx: Context) -> Response:
        assert request.is_streaming
        return Response(request.stream(), headers={"x-country": ctx.geo.country or "?"})

    @app.get("/ticks")
    async def tick(request: Request, ctx: Context) -> Response:
        ctx.wait_until(asyncio.sleep(0, result="done"))
        return Response(ticks(3), headers=[("set-cookie", "a=1"), ("set-cookie", "b=2")])

    return app


async def test_request_conversion_keeps_the_body_a_stream() -> None:
    sdk_request = workers.Request("https://edge.test/echo?x=1", method="POST",
                                  body=ReadableStream(ticks(2)), headers=[("X-A", "1"), ("x-a", "2")])
    sdk_request.js_object.cf = JsObject({"country": "NL", "asn": 1136})
    core = to_core_request(sdk_request)
    assert core.method == "POST" and core.url.query == "x=1"
    assert core.headers["x-a"] == "1, 2"
    assert core.cf == {"country": "NL", "asn": 1136}
    assert core.is_streaming and await core.read() == b"tick 0\ntick 1\n"


async def test_serve_streams_both_ways_and_passes_wait_until() -> None:
    app = streaming_app()
    ctx = Ctx()
    sdk_request = workers.Request("https://edge.test/echo", method="POST", body=ReadableStream(ticks(3)))
    sdk_request.js_object.cf = JsObject({"country": "SE"})
    response = await serve(app, sdk_request, None, ctx)
    assert response.headers["x-country"] == "SE"
    assert response.js_object.body._source is not None  # still a stream, not a buffer
    assert await response.text() == "tick 0\ntick 1\ntick 2\n"

    ticks_response = await serve(app, workers.Request("https://edge.test/ticks"), None, ctx)
    assert ticks_response.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert await ctx.tasks[0] == "done"


async def test_null_body_statuses_send_no_body() -> None:
    app = App()

    @app.get("/nc")
    async def nc(request: Request, ctx: Context) -> Response:
        return Response(b"", 304, {"etag": '"x"'})

    response = await serve(app, workers.Request("https://edge.test/nc"), None, Ctx())
    assert response.status == 304 and response.body is None


async def test_fetch_transport_against_a_real_origin(demo_origin: ServerThread, fetch_clients: None) -> None:
    transport = FetchTransport()
    upload = Request("POST", f"{demo_origin.url}/api/echo", {"x-test": "1"}, ticks(50))
    echoed = await (await transport.handle(upload)).json()
    assert echoed["body_bytes"] == sum(len(f"tick {i}\n") for i in range(50))
    assert ["x-test", "1"] in echoed["headers"]
    stream = await transport.handle(Request("GET", f"{demo_origin.url}/api/stream?n=3"))
    assert stream.is_streaming
    assert [c async for c in stream.stream()][2].startswith(b"id: 2")


async def test_fetch_transport_translates_failures(fetch_clients: None) -> None:
    with pytest.raises(OriginError, match="failed") as info:
        await FetchTransport().handle(Request("GET", f"http://127.0.0.1:{free_port()}/"))
    assert info.value.status == 502

"""A client that goes away mid-miss: the ASGI adapter closes the body, the cache lets waiters go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from edgeline.messages import Request, Response
from edgeline.proxy import ProxyConfig, build_app
from edgeline.testing import FunctionTransport

pytestmark = pytest.mark.anyio


def scope() -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/a", "raw_path": b"/a",
            "query_string": b"", "headers": [(b"host", b"edge.test")], "scheme": "http",
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000)}


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_send_failure_closes_the_body_and_releases_collapsed_waiters() -> None:
    never = asyncio.Event()  # the first transfer would never end on its own
    first_called = asyncio.Event()
    closed: list[str] = []
    calls = 0

    async def slow_body() -> AsyncIterator[bytes]:
        try:
            yield b"a" * 10
            await never.wait()
            yield b"b"
        finally:
            closed.append("origin body")

    async def origin(request: Request) -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            first_called.set()
            return Response(slow_body(), 200, {"cache-control": "max-age=60"})
        return Response(b"second", 200, {"cache-control": "max-age=60"})

    adapter = build_app("http://origin.test", ProxyConfig(collapse_timeout=600.0),
                        transport=FunctionTransport(origin))

    async def gone(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            raise OSError("client disconnected")

    sent: list[dict[str, Any]] = []

    async def collect(message: dict[str, Any]) -> None:
        sent.append(message)

    leader = asyncio.ensure_future(adapter(scope(), receive, gone))
    await first_called.wait()
    waiter = asyncio.ensure_future(adapter(scope(), receive, collect))
    await asyncio.sleep(0)  # the waiter is now collapsed onto the first transfer
    with pytest.raises(OSError):
        await leader
    # Without closing the body the waiter would wait for a transfer that never ends
    # (collapse_timeout is 600 s); closed, it fetches for itself at once.
    await asyncio.wait_for(waiter, 30)
    never.set()
    assert closed == ["origin body"]
    assert calls == 2
    assert b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body") == \
        b"second"

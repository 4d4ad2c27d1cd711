"""HttpxTransport's own connections: one exchange per connection at a time, reused, bounded.

The origin is a small HTTP/1.1 server on 127.0.0.1 that records which
connection (peer port) served each request and how many requests were in
progress at once, so the tests see the connections the transport really
opened.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from edgeline import Request
from edgeline.origin import OriginStreamError, OriginTimeout, OriginUnreachable
from edgeline.origin.httpx_transport import HttpxTransport
from tests.conftest import free_port

pytestmark = pytest.mark.anyio


class Origin:
    """Answers ``/ok``, ``/slow``, ``/204``, ``/304``, ``/cut`` (hangs up mid-body) and
    ``/hold`` (streams until released)."""

    def __init__(self) -> None:
        self.peers: list[int] = []  # the peer port of every request, in order
        self.active = 0
        self.most_active = 0
        self.release_hold = asyncio.Event()
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("peername")[1]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.peers.append(port)
                self.active += 1
                self.most_active = max(self.most_active, self.active)
                try:
                    await self.answer(method, target, writer)
                finally:
                    self.active -= 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def answer(self, method: str, target: str, writer: asyncio.StreamWriter) -> None:
        if target == "/slow":
            await asyncio.sleep(0.05)
        if target in ("/204", "/304"):
            writer.write(f"HTTP/1.1 {target[1:]} X\r\n\r\n".encode())
        elif target == "/cut":  # a chunked body that ends with the connection
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()
            raise ConnectionResetError
        elif target == "/hold":
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()
            await self.release_hold.wait()
            writer.write(b"4\r\nlast\r\n0\r\n\r\n")
        else:
            body = b"" if method == "HEAD" else b"hello"
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n" + body)
        await writer.drain()


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    served = Origin()
    served.server = await asyncio.start_server(served.serve, "127.0.0.1", 0)
    async with served.server:
        yield served
        served.release_hold.set()


async def test_sequential_exchanges_share_one_connection(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=4)
    try:
        assert (await transport.handle(Request("GET", origin.url + "/ok"))).body == b"hello"
        origin.release_hold.set()
        streamed = await transport.handle(Request("GET", origin.url + "/hold"))
        assert streamed.is_streaming
        assert b"".join([chunk async for chunk in streamed.stream()]) == b"firstlast"
        posted = await transport.handle(Request("POST", origin.url + "/ok", body=b"x" * 100))
        assert posted.body == b"hello"
    finally:
        await transport.aclose()
    assert len(origin.peers) == 3
    assert len(set(origin.peers)) == 1, origin.peers


async def test_bodiless_answers_free_their_connection(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=1, read_timeout=1.0)
    try:
        for _ in range(2):
            head = await transport.handle(Request("HEAD", origin.url + "/ok"))
            assert head.status == 200 and head.body == b""
            for status in (204, 304):
                answer = await transport.handle(Request("GET", f"{origin.url}/{status}"))
                assert answer.status == status and answer.body == b""
    finally:
        await transport.aclose()
    assert len(origin.peers) == 6


async def test_concurrent_requests_use_at_most_max_connections(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=3)
    try:
        answers = await asyncio.gather(*[
            transport.handle(Request("GET", origin.url + "/slow")) for _ in range(12)])
        assert [a.body for a in answers] == [b"hello"] * 12
        assert origin.most_active == 3
        assert len(set(origin.peers)) == 3
        # Idle connections are reused by the next burst, not opened again.
        await asyncio.gather(*[
            transport.handle(Request("GET", origin.url + "/slow")) for _ in range(6)])
    finally:
        await transport.aclose()
    assert len(set(origin.peers)) == 3


async def test_an_unread_stream_holds_its_connection_until_closed(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=1, read_timeout=0.3)
    try:
        held = await transport.handle(Request("GET", origin.url + "/hold"))
        stream = held.stream()
        assert await stream.__anext__() == b"first"
        with pytest.raises(OriginTimeout, match="no free connection") as caught:
            await transport.handle(Request("GET", origin.url + "/ok"))
        assert caught.value.sent is False
        waiting = asyncio.ensure_future(transport.handle(Request("GET", origin.url + "/ok")))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await held.body.aclose()  # closing the response frees the connection for the waiter
        assert (await waiting).body == b"hello"
    finally:
        await transport.aclose()


async def test_a_cancelled_waiter_does_not_take_a_connection(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=1)
    try:
        held = await transport.handle(Request("GET", origin.url + "/hold"))
        waiter = asyncio.ensure_future(transport.handle(Request("GET", origin.url + "/ok")))
        await asyncio.sleep(0.02)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await held.body.aclose()
        assert (await transport.handle(Request("GET", origin.url + "/ok"))).body == b"hello"
    finally:
        await transport.aclose()


async def test_a_waiter_cancelled_as_it_is_handed_a_connection_gives_it_back(
    origin: Origin,
) -> None:
    transport = HttpxTransport(max_connections=1, read_timeout=1.0)
    try:
        held = await transport.handle(Request("GET", origin.url + "/hold"))
        waiter = asyncio.ensure_future(transport.handle(Request("GET", origin.url + "/ok")))
        await asyncio.sleep(0.02)
        await held.body.aclose()  # hands the connection to the waiter, which has not run yet
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (await transport.handle(Request("GET", origin.url + "/ok"))).body == b"hello"
    finally:
        await transport.aclose()


async def test_a_cancelled_exchange_gives_its_connection_back(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=1, read_timeout=2.0)
    try:
        # Cancelled while the origin is still working on the answer.
        exchange = asyncio.ensure_future(transport.handle(Request("GET", origin.url + "/slow")))
        await asyncio.sleep(0.01)
        exchange.cancel()
        with pytest.raises(asyncio.CancelledError):
            await exchange
        assert (await transport.handle(Request("GET", origin.url + "/ok"))).body == b"hello"
    finally:
        await transport.aclose()


async def test_failures_give_their_connection_back(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=1, connect_timeout=1.0, read_timeout=1.0)
    try:
        refused = f"http://127.0.0.1:{free_port()}/ok"
        for _ in range(3):
            with pytest.raises(OriginUnreachable):
                await transport.handle(Request("GET", refused))
        assert (await transport.handle(Request("GET", origin.url + "/ok"))).body == b"hello"
    finally:
        await transport.aclose()


async def test_a_stream_cut_off_gives_its_connection_back(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=1, read_timeout=1.0)
    try:
        cut = await transport.handle(Request("GET", origin.url + "/cut"))
        stream = cut.stream()
        assert await stream.__anext__() == b"first"
        with pytest.raises(OriginStreamError):
            await stream.__anext__()
        assert (await transport.handle(Request("GET", origin.url + "/ok"))).body == b"hello"
    finally:
        await transport.aclose()


async def test_siblings_share_the_connections(origin: Origin) -> None:
    transport = HttpxTransport(max_connections=1)
    sibling = transport.with_timeouts(connect=1.0, read=0.2)
    try:
        held = await transport.handle(Request("GET", origin.url + "/hold"))
        with pytest.raises(OriginTimeout, match="no free connection"):
            await sibling.handle(Request("GET", origin.url + "/ok"))
        await held.body.aclose()
        assert (await sibling.handle(Request("GET", origin.url + "/ok"))).body == b"hello"
    finally:
        await transport.aclose()
    assert len(set(origin.peers)) == 2  # /hold's connection was closed unread, so a new one


def test_max_connections_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        HttpxTransport(max_connections=0)


async def test_lanes_come_from_the_factory(origin: Origin) -> None:
    made: list[Counting] = []

    class Counting(httpx.AsyncHTTPTransport):
        def __init__(self) -> None:
            super().__init__(limits=httpx.Limits(max_connections=1))
            self.requests = 0
            made.append(self)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.requests += 1
            return await super().handle_async_request(request)

    transport = HttpxTransport(max_connections=2, lane_factory=Counting)
    try:
        answers = await asyncio.gather(*[
            transport.handle(Request("GET", origin.url + "/slow")) for _ in range(5)])
        assert [a.body for a in answers] == [b"hello"] * 5
    finally:
        await transport.aclose()
    assert len(made) == 2
    assert sum(lane.requests for lane in made) == 5


async def test_a_client_and_a_lane_factory_exclude_each_other() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError, match="not both"):
            HttpxTransport(client, lane_factory=httpx.AsyncHTTPTransport)

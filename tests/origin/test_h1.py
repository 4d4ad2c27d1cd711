"""H1Lane, HttpxTransport's HTTP/1.1 connection, against origins that answer scripted bytes.

Each origin here answers each request on a connection with the next reply
of a script and records what it received, so the tests see the framing the
lane sends and what it does with odd or broken answers.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from edgeline import Request
from edgeline.origin import OriginBadResponse, OriginStreamError, OriginTimeout, httpx_transport
from edgeline.origin.httpx_transport import H1Lane, HttpxTransport, SharedTLS

pytestmark = pytest.mark.anyio

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class Scripted:
    """Answers the n-th request of each connection with ``replies[n]`` (then closes, if asked)."""

    def __init__(self, replies: list[bytes], close_after: bool = False) -> None:
        self.replies = replies
        self.close_after = close_after
        self.connections = 0
        self.received: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        try:
            for index in range(len(self.replies)):
                head = await reader.readuntil(b"\r\n\r\n")
                body = b""
                if b"transfer-encoding: chunked" in head.lower():
                    body = await reader.readuntil(b"0\r\n\r\n")
                self.received.append(head + body)
                writer.write(self.replies[index] if first else OK)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Start = Callable[..., "asyncio.Future[tuple[Scripted, str]]"]


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., object]]:
    servers: list[asyncio.Server] = []

    async def starting(replies: list[bytes], close_after: bool = False,
                       tls: ssl.SSLContext | None = None) -> tuple[Scripted, str]:
        script = Scripted(replies, close_after)
        server = await asyncio.start_server(script.serve, "127.0.0.1", 0, ssl=tls)
        servers.append(server)
        scheme = "https" if tls else "http"
        return script, f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield starting
    for server in servers:
        server.close()


async def test_bytes_after_a_response_close_its_connection(start: Start) -> None:
    script, url = await start([OK[:-2] + b"okHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nbad"] * 2)
    transport = HttpxTransport(max_connections=1)
    try:
        assert (await transport.handle(Request("GET", url + "/a"))).body == b"ok"
        assert (await transport.handle(Request("GET", url + "/b"))).body == b"ok"
    finally:
        await transport.aclose()
    assert script.connections == 2  # the misframed connection was not asked again


async def test_a_clean_connection_is_reused_and_connection_close_is_obeyed(
    start: Start,
) -> None:
    closing = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
    script, url = await start([OK, OK, closing, OK])
    transport = HttpxTransport(max_connections=1)
    try:
        for _ in range(4):
            assert (await transport.handle(Request("GET", url + "/"))).body == b"ok"
    finally:
        await transport.aclose()
    assert script.connections == 2


async def test_an_interim_answer_is_skipped(start: Start) -> None:
    _, url = await start([b"HTTP/1.1 100 Continue\r\n\r\n" + OK])
    transport = HttpxTransport()
    try:
        response = await transport.handle(Request("POST", url + "/", body=b"x"))
    finally:
        await transport.aclose()
    assert response.status == 200 and response.body == b"ok"


async def test_a_body_that_ends_with_the_connection_streams_whole(start: Start) -> None:
    script, url = await start([b"HTTP/1.1 200 OK\r\n\r\nall of it"], close_after=True)
    transport = HttpxTransport(max_connections=1)
    try:
        response = await transport.handle(Request("GET", url + "/"))
        assert response.is_streaming
        assert b"".join([chunk async for chunk in response.stream()]) == b"all of it"
        assert (await transport.handle(Request("GET", url + "/"))).body == b"ok"
    finally:
        await transport.aclose()
    assert script.connections == 2


@pytest.mark.parametrize("buffer_below", [64 * 1024, 0])
async def test_a_body_shorter_than_its_length_fails(start: Start, buffer_below: int) -> None:
    _, url = await start([b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello"],
                         close_after=True)
    transport = HttpxTransport(buffer_below=buffer_below)
    try:
        if buffer_below:
            with pytest.raises(OriginBadResponse, match="complete message body"):
                await transport.handle(Request("GET", url + "/"))
        else:
            response = await transport.handle(Request("GET", url + "/"))
            with pytest.raises(OriginStreamError):
                [chunk async for chunk in response.stream()]
    finally:
        await transport.aclose()


async def test_a_streamed_request_body_is_sent_chunked(start: Start) -> None:
    script, url = await start([OK])

    async def body() -> AsyncIterator[bytes]:
        yield b"hello"
        yield b""
        yield b"0123456789abcdef!"

    transport = HttpxTransport()
    try:
        assert (await transport.handle(Request("POST", url + "/up", body=body()))).body == b"ok"
    finally:
        await transport.aclose()
    head, _, sent = script.received[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /up HTTP/1.1\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert sent == b"5\r\nhello\r\n11\r\n0123456789abcdef!\r\n0\r\n\r\n"


async def test_a_header_holding_a_line_break_is_not_sent(start: Start) -> None:
    script, url = await start([OK])
    lane = H1Lane()
    try:
        for value in ("a\r\nx-injected: 1", "a\nb", "a\rb"):
            request = httpx.Request("GET", url + "/", headers={"x-test": value})
            with pytest.raises(httpx.LocalProtocolError):
                await lane.handle_async_request(request)
    finally:
        await lane.aclose()
    assert script.received == []


async def test_a_malformed_answer_is_a_protocol_error(start: Start) -> None:
    _, url = await start([b"HTTP/1.1 abc\r\n\r\n"])
    lane = H1Lane()
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            await lane.handle_async_request(httpx.Request("GET", url + "/"))
    finally:
        await lane.aclose()


def _certificate(folder: Path) -> tuple[Path, Path] | None:
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], capture_output=True, check=False)
    return (cert, key) if made.returncode == 0 else None


async def test_https_with_the_given_trust(start: Start, tmp_path: Path) -> None:
    pair = _certificate(tmp_path)
    if pair is None:
        pytest.skip("openssl could not make a certificate")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*pair)
    script, url = await start([OK, OK], tls=server_tls)
    trusting = ssl.create_default_context(cafile=str(pair[0]))
    transport = HttpxTransport(lane_factory=lambda: H1Lane(SharedTLS(trusting)))
    try:
        for _ in range(2):
            assert (await transport.handle(Request("GET", url + "/"))).body == b"ok"
    finally:
        await transport.aclose()
    assert script.connections == 1
    untrusting = HttpxTransport()  # the system's CAs do not know this certificate
    try:
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.handle(Request("GET", url + "/"))
    finally:
        await untrusting.aclose()


async def test_an_origin_that_does_not_answer_in_time_is_a_timeout(start: Start) -> None:
    stall = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n"
    _, url = await start([stall, stall])  # waits for a second request: the body never ends

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1024):  # until the client gives up and closes
            pass
        writer.close()

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    silent_url = f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}"
    transport = HttpxTransport(read_timeout=0.1)
    try:
        with pytest.raises(OriginTimeout) as caught:
            await transport.handle(Request("GET", silent_url + "/"))
        assert caught.value.sent is True
        stalled = await transport.handle(Request("GET", url + "/"))
        stream = stalled.stream()
        assert await stream.__anext__() == b"ok"
        with pytest.raises(OriginStreamError, match="OriginTimeout"):
            await stream.__anext__()
    finally:
        await transport.aclose()
        silent.close()


async def test_a_connection_idle_too_long_is_not_used_again(
    start: Start, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(httpx_transport, "_KEEP_IDLE", 0.1)
    script, url = await start([OK] * 3)
    transport = HttpxTransport(max_connections=1)
    try:
        for pause in (0.0, 0.3):
            await asyncio.sleep(pause)
            assert (await transport.handle(Request("GET", url + "/"))).body == b"ok"
        assert script.connections == 2
    finally:
        await transport.aclose()

"""One HTTP/1.1 connection as an httpx transport: asyncio streams and httptools (CPython only).

``H1Lane`` is a lane for ``HttpxTransport`` (its ``lane_factory``): it
serves one exchange at a time over at most one keep-alive connection, which
the lanes' owner lends to one request at a time. Errors are httpx's own
(``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError``...), so the
translation to ``OriginFailure`` is the same as for httpx's transport.

A connection is kept for the next exchange only when its response ended
cleanly (framed by Content-Length or chunked encoding, read to the end, the
origin did not ask to close) and nothing followed it: bytes after the end of
a response mean a misframed origin, and the connection is closed rather
than letting the next request read them as its answer. HEAD answers end
the connection too (httptools cannot be told a response has no body).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

__all__ = ["H1Lane", "SharedTLS"]

_READ = 64 * 1024


class _Parse:
    """httptools callbacks for one response."""

    __slots__ = ("status", "headers", "headers_done", "body", "done", "extra", "framed",
                 "keep_alive", "parser")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.keep_alive = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.body: list[bytes] = []
        self.done = False
        self.extra = False  # bytes after the end of the response
        self.framed = False

    def on_message_begin(self) -> None:
        if self.headers_done:
            self.extra = True  # a second response: bytes the first one did not account for

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.headers_done:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers = []  # an interim answer (100 Continue...): the final one follows
            return
        self.status = status
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if not self.done:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.headers_done and not self.done:
            self.keep_alive = self.parser.should_keep_alive()  # reset once the message ends
            self.done = True


class SharedTLS:
    """One TLS client context, made when first needed (loading the CAs takes ~15 ms)."""

    __slots__ = ("_context",)

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self._context = context

    def get(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = httpx.create_ssl_context(trust_env=False)
        return self._context


class _Conn:
    __slots__ = ("key", "reader", "writer")

    def __init__(self, key: tuple[bytes, bytes, int], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.key = key
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


def _port(url: httpx.URL) -> int:
    if url.port is not None:
        return url.port
    return 443 if url.scheme == "https" else 80


class H1Lane(httpx.AsyncBaseTransport):
    """An httpx transport over one HTTP/1.1 connection at a time (see the module)."""

    def __init__(self, tls: SharedTLS | None = None) -> None:
        self._tls = tls or SharedTLS()
        self._conn: _Conn | None = None
        self._busy = False

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def _connect(self, url: httpx.URL, timeout: float | None) -> _Conn:
        key = (url.raw_scheme, url.raw_host, _port(url))
        conn = self._conn
        if conn is not None:
            if conn.key == key and not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            self._conn = None
            conn.close()
        tls: ssl.SSLContext | None = None
        if url.scheme == "https":
            tls = self._tls.get()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    url.host, key[2], ssl=tls, server_hostname=url.host if tls else None,
                    limit=_READ)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"could not connect within {timeout}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return _Conn(key, reader, writer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._busy:
            raise RuntimeError("an H1Lane serves one exchange at a time")
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        conn = await self._connect(url, timeouts.get("connect"))
        self._conn = None  # given back by the response when it ends cleanly
        self._busy = True
        try:
            return await self._exchange(conn, request, timeouts)
        except BaseException:
            self._busy = False
            conn.close()
            raise

    async def _exchange(self, conn: _Conn, request: httpx.Request,
                        timeouts: dict[str, Any]) -> httpx.Response:
        head = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        chunked = False
        for name, value in request.headers.raw:
            head += (name, b": ", value, b"\r\n")
            if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
                chunked = True
        head.append(b"\r\n")
        data = b"".join(head)
        lines = len(request.headers.raw) + 2
        if data.count(b"\n") != lines or data.count(b"\r") != lines or b"\0" in data:
            raise httpx.LocalProtocolError("a request header holds CR, LF or NUL")
        write_timeout = timeouts.get("write")
        writer = conn.writer
        try:
            writer.write(data)
            stream = request.stream
            if isinstance(stream, httpx.ByteStream):
                for part in stream:
                    writer.write(part)
            else:
                async for part in stream:  # type: ignore[union-attr]
                    if chunked:
                        if part:
                            writer.write(b"%x\r\n%b\r\n" % (len(part), part))
                    else:
                        writer.write(part)
                    await self._drain(writer, write_timeout)
                if chunked:
                    writer.write(b"0\r\n\r\n")
            await self._drain(writer, write_timeout)
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from None
        parse = _Parse()
        read_timeout = timeouts.get("read")
        head_only = request.method == "HEAD"
        received = False
        while True:
            data = await self._read(conn, read_timeout)
            if not data:
                if not received:
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response.")
                raise httpx.RemoteProtocolError("the origin closed the connection mid-headers")
            received = True
            self._feed(parse, data)
            if parse.headers_done:
                break
        parse.framed = parse.status in (204, 304) or any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in parse.headers)
        if head_only:
            parse.done = True
            parse.body.clear()
        body = _Stream(self, conn, parse, read_timeout, keep=not head_only)
        return httpx.Response(parse.status, headers=parse.headers, stream=body,
                              extensions={"http_version": b"HTTP/1.1"})

    @staticmethod
    async def _drain(writer: asyncio.StreamWriter, timeout: float | None) -> None:
        try:
            async with asyncio.timeout(timeout):
                await writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout(f"could not send within {timeout}s") from None

    @staticmethod
    async def _read(conn: _Conn, timeout: float | None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await conn.reader.read(_READ)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {timeout}s") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from None

    @staticmethod
    def _feed(parse: _Parse, data: bytes) -> None:
        try:
            parse.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise httpx.RemoteProtocolError("the origin switched protocols") from None
        except httptools.HttpParserError as exc:
            if parse.done:
                parse.extra = True  # garbage after a complete response
                return
            raise httpx.RemoteProtocolError(f"malformed response: {exc}") from None

    def _finish(self, conn: _Conn, reusable: bool) -> None:
        self._busy = False
        if reusable and self._conn is None:
            self._conn = conn
        else:
            conn.close()


class _Stream(httpx.AsyncByteStream):
    """The body of one response, read from its connection as it is iterated."""

    def __init__(self, lane: H1Lane, conn: _Conn, parse: _Parse, timeout: float | None,
                 keep: bool) -> None:
        self._lane = lane
        self._conn: _Conn | None = conn
        self._parse = parse
        self._timeout = timeout
        self._keep = keep

    async def __aiter__(self) -> AsyncIterator[bytes]:
        parse = self._parse
        try:
            while True:
                if parse.body:
                    chunks, parse.body = parse.body, []
                    for chunk in chunks:
                        yield chunk
                if parse.done or self._conn is None:
                    break
                data = await H1Lane._read(self._conn, self._timeout)
                if not data:
                    if parse.framed:
                        raise httpx.RemoteProtocolError(
                            "peer closed connection without sending complete message body")
                    parse.done = True  # a body delimited by the end of the connection
                    self._keep = False
                    break
                H1Lane._feed(parse, data)
        except BaseException:
            self._keep = False
            await self.aclose()
            raise
        await self.aclose()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        parse = self._parse
        clean = (self._keep and parse.done and not parse.extra and parse.framed
                 and parse.keep_alive)
        self._lane._finish(conn, clean)

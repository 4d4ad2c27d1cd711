"""The local origin transport: httpx requests over pooled HTTP/1.1 connections (CPython only).

Not imported by ``edgeline.origin`` itself: Pyodide has no httpx. httpx's
exceptions are translated here, at the boundary, into ``OriginFailure``::

    ConnectError, ConnectTimeout          OriginUnreachable (nothing sent)
    ReadTimeout, WriteTimeout, PoolTimeout OriginTimeout
    RemoteProtocolError                   OriginBadResponse (or OriginReset when
                                          the peer just hung up)
    ReadError, WriteError, NetworkError   OriginReset
    errors while streaming the body       OriginStreamError

``H1Lane`` (the default lane of ``HttpxTransport``) is one HTTP/1.1
connection as an httpx transport, on asyncio streams with httptools; it
raises httpx's own errors, so the table above holds for it too. A
connection is kept for the next exchange only when its response ended
cleanly (framed by Content-Length or chunked encoding, read to the end, the
origin did not ask to close) and nothing followed it: bytes after the end
of a response mean a misframed origin, and the connection is closed rather
than letting the next request read them as its answer. HEAD answers end
the connection too (httptools cannot be told a response has no body).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httptools
import httpx

from ..errors import EdgelineError
from ..headers import Headers
from ..messages import Request, Response
from ._errors import (
    OriginBadResponse,
    OriginFailure,
    OriginReset,
    OriginStreamError,
    OriginTimeout,
    OriginUnreachable,
)

__all__ = ["H1Lane", "HttpxTransport", "SharedTLS"]

# Statuses whose responses carry no body (RFC 9110 §6.4.1).
_NO_BODY = frozenset({204, 205, 304})


def translate(exc: Exception, url: str) -> OriginFailure:
    """Return the ``OriginFailure`` for an httpx error on the way to ``url``."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return OriginTimeout(f"connect timeout: {text}", url=url, sent=False)
    if isinstance(exc, httpx.ConnectError):
        return OriginUnreachable(text, url=url)
    if isinstance(exc, httpx.PoolTimeout):
        return OriginTimeout(f"no free connection: {text}", url=url, sent=False)
    if isinstance(exc, httpx.TimeoutException):
        return OriginTimeout(text, url=url)
    if isinstance(exc, httpx.RemoteProtocolError):
        if "disconnected" in text.lower():
            return OriginReset(text, url=url)
        return OriginBadResponse(text, url=url)
    if isinstance(exc, (httpx.NetworkError, httpx.TransportError)):
        return OriginReset(text, url=url)
    return OriginBadResponse(text, url=url)


_READ = 64 * 1024
# An idle connection older than this is not used again (httpx's keep-alive expiry): origins
# close idle connections after a few seconds, and one closing as a request is sent loses it.
_KEEP_IDLE = 5.0


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
    __slots__ = ("key", "reader", "writer", "idle_since")

    def __init__(self, key: tuple[bytes, bytes, int], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.key = key
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

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
        self._conn: _Conn | None = None  # idle, kept for the next exchange
        self._active: _Conn | None = None  # serving an exchange

    async def aclose(self) -> None:
        for conn in (self._conn, self._active):
            if conn is not None:
                conn.close()
        self._conn = self._active = None

    async def _connect(self, url: httpx.URL, timeout: float | None) -> _Conn:
        key = (url.raw_scheme, url.raw_host, _port(url))
        conn = self._conn
        if conn is not None:
            if (conn.key == key and not conn.reader.at_eof() and not conn.writer.is_closing()
                    and asyncio.get_running_loop().time() - conn.idle_since < _KEEP_IDLE):
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
        if self._active is not None:
            raise RuntimeError("an H1Lane serves one exchange at a time")
        timeouts = request.extensions.get("timeout", {})
        conn = await self._connect(request.url, timeouts.get("connect"))
        self._conn = None  # given back by the response when it ends cleanly
        self._active = conn
        try:
            return await self._exchange(conn, request, timeouts)
        except BaseException:
            self._active = None
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
        if self._active is conn:
            self._active = None
        if reusable and self._conn is None:
            conn.idle_since = asyncio.get_running_loop().time()
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


class _Lanes:
    """Transports of one connection each, lent to one exchange at a time, last returned first.

    httpx's pool, shared by concurrent requests, scans every connection (a
    poll() per idle one) on each step and may hand one idle connection to
    several queued requests at once, the losers queueing again; a pool that
    serves one exchange at a time never queues and scans one connection.
    At most ``size`` transports (so connections) exist; a request that finds
    none free waits up to the pool timeout. The lanes are httpx transports,
    not clients: a client's per-request work (auth, redirects, and a cookie
    jar that would store origins' cookies) has no use here.
    """

    __slots__ = ("_size", "_made", "_idle", "_waiters", "_tls", "_factory")

    def __init__(self, size: int, factory: Callable[[], httpx.AsyncBaseTransport] | None) -> None:
        if size < 1:
            raise ValueError(f"max_connections must be at least 1, got {size}")
        self._size = size
        self._factory = factory or self._lane
        self._made: list[httpx.AsyncBaseTransport] = []
        self._idle: list[httpx.AsyncBaseTransport] = []
        self._waiters: deque[asyncio.Future[httpx.AsyncBaseTransport]] = deque()
        self._tls = SharedTLS()

    def _lane(self) -> httpx.AsyncBaseTransport:
        return H1Lane(self._tls)

    async def acquire(self, timeout: float | None) -> httpx.AsyncBaseTransport:
        if self._idle:
            return self._idle.pop()
        if len(self._made) < self._size:
            lane = self._factory()
            self._made.append(lane)
            return lane
        waiter: asyncio.Future[httpx.AsyncBaseTransport] = (
            asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())  # handed over just as the wait ended
            else:
                waiter.cancel()
            raise

    def release(self, lane: httpx.AsyncBaseTransport) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(lane)
                return
        self._idle.append(lane)

    async def aclose(self) -> None:
        made, self._made, self._idle = self._made, [], []
        for lane in made:
            await lane.aclose()


class _Body:
    """The response body as raw chunks (no decoding: Content-Encoding passes through)."""

    __slots__ = ("_response", "_iter", "_url", "_release")

    def __init__(self, response: httpx.Response, url: str, release: Callable[[], None]) -> None:
        self._response = response
        self._iter = response.aiter_raw()
        self._url = url
        self._release = release

    async def _close(self) -> None:
        try:
            await self._response.aclose()
        finally:
            release, self._release = self._release, _noop
            release()

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._iter.__anext__()
        except StopAsyncIteration:
            await self._close()
            raise
        except httpx.HTTPError as exc:
            await self._close()
            failure = translate(exc, self._url)
            raise OriginStreamError(f"{type(failure).__name__}: {failure}", url=self._url) from exc

    async def aclose(self) -> None:
        await self._close()


def _noop() -> None:
    pass


class HttpxTransport:
    """Send requests with httpx; bodies stream both ways.

    Responses with a Content-Length of at most ``buffer_below`` bytes are
    read whole (like a proxy's response buffer: cheaper, and cacheable as
    bytes); anything longer or of unknown length (SSE) streams. Redirects
    are passed on, not followed. ``with_timeouts`` returns a sibling sharing
    the connections.

    Given a ``client``, every request goes through it (its pool, its
    transport). Otherwise the transport owns up to ``max_connections``
    single-connection httpx transports and lends each to one exchange at a
    time, until its response is read or closed (see ``_Lanes``).
    ``lane_factory`` makes those transports: by default ``H1Lane``, one
    HTTP/1.1 connection on asyncio streams parsed by httptools (less work
    per exchange than httpx's own transport; ``bench/origin.py``); an
    ``httpx.AsyncHTTPTransport`` limited to one connection works as well.
    """

    __slots__ = ("_client", "_lanes", "_timeout", "_pool_timeout", "buffer_below")

    def __init__(
        self, client: httpx.AsyncClient | None = None, *, connect_timeout: float = 5.0,
        read_timeout: float | None = None, buffer_below: int = 64 * 1024,
        max_connections: int = 100,
        lane_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        if client is not None and lane_factory is not None:
            raise ValueError("give HttpxTransport a client or a lane_factory, not both")
        self._client = client
        self._lanes = None if client is not None else _Lanes(max_connections, lane_factory)
        self._set_timeouts(connect_timeout, read_timeout)
        self.buffer_below = buffer_below

    def _set_timeouts(self, connect: float | None, read: float | None) -> None:
        self._timeout = httpx.Timeout(read, connect=connect).as_dict()
        self._pool_timeout: float | None = self._timeout["pool"]

    def with_timeouts(self, *, connect: float | None, read: float | None) -> HttpxTransport:
        """Return a transport over the same connections with these connect and read timeouts."""
        sibling = HttpxTransport.__new__(HttpxTransport)
        sibling._client = self._client
        sibling._lanes = self._lanes
        sibling._set_timeouts(connect, read)
        sibling.buffer_below = self.buffer_below
        return sibling

    async def aclose(self) -> None:
        """Close the connections this transport created (not a client it was given)."""
        if self._lanes is not None:
            await self._lanes.aclose()

    async def handle(self, request: Request) -> Response:
        url = str(request.url)
        body = request.body
        content: Any = body if isinstance(body, bytes) else request.stream()
        if isinstance(body, bytes) and not body and request.method in ("GET", "HEAD"):
            content = None
        upstream = httpx.Request(request.method, url, headers=request.headers.raw,
                                 content=content, extensions={"timeout": self._timeout})
        lanes = self._lanes
        if lanes is None:
            assert self._client is not None
            sending = self._client.send(upstream, stream=True)
            release = _noop
        else:
            try:
                lane = await lanes.acquire(self._pool_timeout)
            except TimeoutError:
                raise OriginTimeout("no free connection: every connection is busy", url=url,
                                    sent=False) from None
            sending = lane.handle_async_request(upstream)

            def release() -> None:
                lanes.release(lane)

        try:
            response = await sending
        except EdgelineError:
            release()
            raise  # e.g. the request body hit its size limit while streaming
        except httpx.HTTPError as exc:
            release()
            raise translate(exc, url) from exc
        except BaseException:
            release()
            raise
        headers = Headers.from_trusted(
            [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw])
        status = response.status_code
        if request.method == "HEAD" or status in _NO_BODY:
            try:
                await response.aclose()
            finally:
                release()
            return Response(b"", status, headers)
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) <= self.buffer_below:
            try:
                data = b"".join([chunk async for chunk in response.aiter_raw()])
            except httpx.HTTPError as exc:
                raise translate(exc, url) from exc
            finally:
                try:
                    await response.aclose()
                finally:
                    release()
            return Response(data, status, headers)
        return Response(_Body(response, url, release), status, headers)

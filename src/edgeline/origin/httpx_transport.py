"""The local origin transport: httpx requests over pooled HTTP/1.1 connections (CPython only).

Not imported by ``edgeline.origin`` itself: Pyodide has no httpx. httpx's
exceptions are translated here, at the boundary, into ``OriginFailure``::

    ConnectError, ConnectTimeout          OriginUnreachable (nothing sent)
    ReadTimeout, WriteTimeout, PoolTimeout OriginTimeout
    RemoteProtocolError                   OriginBadResponse (or OriginReset when
                                          the peer just hung up)
    ReadError, WriteError, NetworkError   OriginReset
    errors while streaming the body       OriginStreamError
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

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
from ._h1 import H1Lane, SharedTLS

__all__ = ["HttpxTransport"]

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

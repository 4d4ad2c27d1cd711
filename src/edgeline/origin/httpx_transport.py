"""The local origin transport: httpx over a pooled connection (CPython only).

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


class _Body:
    """The response body as raw chunks (no decoding: Content-Encoding passes through)."""

    __slots__ = ("_response", "_iter", "_url")

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self._iter = response.aiter_raw()
        self._url = url

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._iter.__anext__()
        except StopAsyncIteration:
            await self._response.aclose()
            raise
        except httpx.HTTPError as exc:
            await self._response.aclose()
            failure = translate(exc, self._url)
            raise OriginStreamError(f"{type(failure).__name__}: {failure}", url=self._url) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxTransport:
    """Send requests with an ``httpx.AsyncClient``; bodies stream both ways.

    Responses with a Content-Length of at most ``buffer_below`` bytes are
    read whole (like a proxy's response buffer: cheaper, and cacheable as
    bytes); anything longer or of unknown length (SSE) streams. Redirects
    are passed on, not followed. ``with_timeouts`` returns a sibling sharing
    the connection pool.
    """

    __slots__ = ("_client", "_owned", "_timeout", "buffer_below")

    def __init__(
        self, client: httpx.AsyncClient | None = None, *, connect_timeout: float = 5.0,
        read_timeout: float | None = None, buffer_below: int = 64 * 1024,
        max_connections: int = 100,
    ) -> None:
        self._owned = client is None
        if client is None:
            client = httpx.AsyncClient(
                trust_env=False, follow_redirects=False,
                limits=httpx.Limits(max_connections=max_connections,
                                    max_keepalive_connections=max_connections),
            )
        self._client = client
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout).as_dict()
        self.buffer_below = buffer_below

    def with_timeouts(self, *, connect: float | None, read: float | None) -> HttpxTransport:
        """Return a transport over the same pool with these connect and read timeouts."""
        sibling = HttpxTransport.__new__(HttpxTransport)
        sibling._client = self._client
        sibling._owned = False
        sibling._timeout = httpx.Timeout(read, connect=connect).as_dict()
        sibling.buffer_below = self.buffer_below
        return sibling

    async def aclose(self) -> None:
        """Close the connection pool if this transport created it."""
        if self._owned:
            await self._client.aclose()

    async def handle(self, request: Request) -> Response:
        url = str(request.url)
        body = request.body
        content: Any = body if isinstance(body, bytes) else request.stream()
        if isinstance(body, bytes) and not body and request.method in ("GET", "HEAD"):
            content = None
        upstream = httpx.Request(request.method, url, headers=request.headers.raw,
                                 content=content, extensions={"timeout": self._timeout})
        try:
            response = await self._client.send(upstream, stream=True)
        except EdgelineError:
            raise  # e.g. the request body hit its size limit while streaming
        except httpx.HTTPError as exc:
            raise translate(exc, url) from exc
        headers = Headers.from_trusted(
            [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw])
        status = response.status_code
        if request.method == "HEAD" or status in _NO_BODY:
            await response.aclose()
            return Response(b"", status, headers)
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) <= self.buffer_below:
            try:
                data = b"".join([chunk async for chunk in response.aiter_raw()])
            except httpx.HTTPError as exc:
                raise translate(exc, url) from exc
            finally:
                await response.aclose()
            return Response(data, status, headers)
        return Response(_Body(response, url), status, headers)

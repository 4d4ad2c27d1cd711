"""Body wrappers on the origin path: a request size limit, and a response stall guard."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from ..errors import BodyTooLarge
from ..messages import close_body
from ._errors import OriginFailure, OriginStreamError

__all__ = ["LimitedBody", "GuardedBody"]

log = logging.getLogger("edgeline.origin")


class LimitedBody:
    """A request stream that stops with 413 past ``limit`` bytes; knows if it was read.

    ``started`` tells the resilience layers whether the stream was touched:
    an untouched stream can still go to another URL.
    """

    __slots__ = ("_source", "_iter", "limit", "size", "started")

    def __init__(self, source: AsyncIterable[bytes], limit: int | None) -> None:
        self._source = source
        self._iter: AsyncIterator[bytes] | None = None
        self.limit = limit
        self.size = 0
        self.started = False

    def __aiter__(self) -> LimitedBody:
        return self

    async def __anext__(self) -> bytes:
        self.started = True
        it = self._iter
        if it is None:
            it = self._iter = self._source.__aiter__()
        chunk = await it.__anext__()
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            raise BodyTooLarge(f"request body larger than {self.limit} bytes")
        return chunk


class GuardedBody:
    """A response stream cut off after ``idle`` seconds without a chunk, failures logged.

    A failure after the head was passed on cannot change the status any more;
    the stream raises, so the server aborts the response and the client sees a
    truncated message rather than a clean end (RFC 9112 §8).
    """

    __slots__ = ("_source", "_iter", "_idle", "_origin", "_url", "_started")

    def __init__(self, source: Any, idle: float, origin: str, url: str) -> None:
        self._source = source
        self._iter = source.__aiter__()
        self._idle = idle
        self._origin = origin
        self._url = url
        self._started = time.perf_counter()

    def __aiter__(self) -> GuardedBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            if self._idle:
                async with asyncio.timeout(self._idle):
                    return await self._iter.__anext__()
            return await self._iter.__anext__()
        except StopAsyncIteration:
            raise
        except TimeoutError:
            exc: OriginFailure = OriginStreamError(
                f"response body stalled for {self._idle:g} s", url=self._url)
            self._fail(exc)
            await self.aclose()
            raise exc from None
        except OriginFailure as failure:
            self._fail(failure)
            raise

    def _fail(self, exc: OriginFailure) -> None:
        exc.origin = self._origin
        exc.elapsed_ms = (time.perf_counter() - self._started) * 1000.0
        log.warning("origin %s: response stream broke off after %.1f ms: %s (%s)",
                    self._origin, exc.elapsed_ms, exc, self._url,
                    extra={"origin": self._origin, "elapsed_ms": exc.elapsed_ms})

    async def aclose(self) -> None:
        await close_body(self._source)

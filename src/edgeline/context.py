"""The per-request context: env bindings, geo, waitUntil, the origin transport, timings."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .geo import GeoContext
from .messages import Request, Response
from .types import Transport

__all__ = ["Bindings", "Context", "Timings"]

log = logging.getLogger("edgeline")


class Bindings:
    """Env bindings by attribute (``env.CONFIG``) and by key (``env["CONFIG"]``).

    Wraps a plain mapping for tests and other hosts; on Cloudflare the
    platform's own env object is used as it is.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_values", dict(values or {}))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no binding named {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def __repr__(self) -> str:
        return f"Bindings({sorted(self._values)!r})"


class Timings:
    """Named durations of one request, rendered as a Server-Timing header (W3C)."""

    __slots__ = ("start", "entries")

    def __init__(self, start: float | None = None) -> None:
        self.start = time.perf_counter() if start is None else start
        self.entries: list[tuple[str, float]] = []

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        """Time the block and record it under ``name``."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.entries.append((name, (time.perf_counter() - began) * 1000.0))

    def record(self, name: str, ms: float) -> None:
        self.entries.append((name, ms))

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0

    def header(self) -> str:
        """Return the ``Server-Timing`` field value (``name;dur=1.23, ...``)."""
        return ", ".join(f"{name};dur={ms:.2f}" for name, ms in self.entries)


def _no_wait_until(awaitable: Awaitable[Any]) -> None:
    raise RuntimeError("this runtime gave the context no waitUntil")


# PERF: contexts without bindings share one empty (read-only) Bindings.
_NO_BINDINGS = Bindings()


class Context:
    """What a handler or middleware gets besides the request.

    ``env``: the platform's bindings (KV namespaces, vars, secrets).
    ``geo``: the client's location, parsed from ``request.cf`` on first use.
    ``origin``: the transport that carries requests to origin APIs.
    ``state``: a dict for middleware to pass values along.
    """

    __slots__ = ("env", "request", "origin", "state", "_timings", "_start", "_wait_until", "_geo")

    def __init__(
        self,
        request: Request,
        *,
        env: Any = None,
        wait_until: Callable[[Awaitable[Any]], None] = _no_wait_until,
        origin: Transport | None = None,
    ) -> None:
        self.request = request
        self.env = env if env is not None else _NO_BINDINGS
        self.origin = origin
        self.state: dict[str, Any] = {}
        # PERF: only the start is read now; Timings is built on first use.
        self._start = time.perf_counter()
        self._timings: Timings | None = None
        self._wait_until = wait_until
        self._geo: GeoContext | None = None

    @property
    def timings(self) -> Timings:
        """The request's Server-Timing entries; its clock started with the context."""
        timings = self._timings
        if timings is None:
            timings = self._timings = Timings(self._start)
        return timings

    @property
    def geo(self) -> GeoContext:
        geo = self._geo
        if geo is None:
            geo = self._geo = GeoContext(self.request.cf)
        return geo

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Keep ``awaitable`` running after the response is sent (``ctx.waitUntil``)."""
        self._wait_until(awaitable)

    async def fetch(self, request: Request) -> Response:
        """Send ``request`` through the origin transport."""
        if self.origin is None:
            raise RuntimeError("no origin transport configured for this context")
        with self.timings.measure("origin"):
            return await self.origin.handle(request)

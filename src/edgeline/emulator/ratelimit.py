"""Emulate the Workers Rate Limiting binding locally.

A binding is declared in wrangler.toml::

    [[ratelimits]]
    name = "LIMITER"
    namespace_id = "1001"
    simple = { limit = 100, period = 60 }

and used from a worker as ``outcome = await env.LIMITER.limit(key="...")``
(the JS shape ``limit({"key": ...})`` is accepted too); ``outcome.success``
is False once the key has been seen ``limit`` times in the current period.
Periods are 10 or 60 seconds, as on the platform.

Known differences from production, by design: production counts per
Cloudflare location and is approximate (eventually consistent between the
machines of a location); here counts are exact, in process memory, in
fixed windows aligned to the clock. Bindings declared with the same
``namespace_id`` share counters, as they do in production.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .jsobject import JsDict

__all__ = ["RateLimitBinding", "RateLimitOutcome", "bindings_from_config"]

PERIODS = (10, 60)

_shared: dict[str, dict[str, tuple[float, int]]] = {}
_lock = threading.Lock()


class RateLimitOutcome(JsDict):
    """``{success: bool}``, readable as ``outcome.success`` or ``outcome["success"]``."""

    __slots__ = ()


class RateLimitBinding:
    """One ``[[ratelimits]]`` binding: ``limit`` calls per ``period`` seconds per key."""

    def __init__(self, *, limit: int, period: int, namespace_id: str = "0",
                 clock: Callable[[], float] = time.time) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"ratelimits: simple.limit must be a positive integer, not {limit!r}")
        if period not in PERIODS:
            raise ValueError(f"ratelimits: simple.period must be 10 or 60, not {period!r}")
        # NOTE: not "self.limit": that name is the binding's method.
        self.max_requests = limit
        self.period = period
        self.namespace_id = str(namespace_id)
        self._clock = clock
        with _lock:
            self._counts = _shared.setdefault(f"{self.namespace_id}/{limit}/{period}", {})

    async def limit(self, options: Mapping[str, Any] | None = None, *,
                    key: str | None = None) -> RateLimitOutcome:
        """Count one call for ``key``; ``success`` says whether it is within the limit."""
        if options is not None:
            if not isinstance(options, Mapping):
                raise TypeError("limit() takes an options object: limit({'key': ...}) or limit(key=...)")
            if key is not None:
                raise TypeError("limit(): pass the key once, as key= or in the options")
            key = options.get("key")
        if not isinstance(key, str) or not key:
            raise TypeError("limit(): 'key' must be a non-empty string")
        now = self._clock()
        start = now - now % self.period
        with _lock:
            window, count = self._counts.get(key, (start, 0))
            if window != start:
                window, count = start, 0
            count += 1
            self._counts[key] = (window, count)
            if len(self._counts) > 100_000:
                for old in list(self._counts)[:10_000]:
                    del self._counts[old]
        return RateLimitOutcome({"success": count <= self.max_requests})

    def __repr__(self) -> str:
        return f"RateLimitBinding(limit={self.max_requests}, period={self.period})"


def bindings_from_config(entries: Sequence[Mapping[str, Any]]) -> dict[str, RateLimitBinding]:
    """Build the bindings of a wrangler ``ratelimits`` array: ``{name: binding}``."""
    out: dict[str, RateLimitBinding] = {}
    for index, entry in enumerate(entries):
        where = f"ratelimits[{index}]"
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}.name must be a non-empty string")
        simple = entry.get("simple")
        if not isinstance(simple, Mapping):
            raise ValueError(f"{where}.simple must be a table {{ limit = N, period = 10|60 }}")
        try:
            out[name] = RateLimitBinding(limit=simple.get("limit"), period=simple.get("period"),  # type: ignore[arg-type]
                                         namespace_id=str(entry.get("namespace_id", "0")))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return out

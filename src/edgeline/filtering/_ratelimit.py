"""Rate limiting: fixed window, sliding window and token bucket, over two stores.

Stores (one seam, ``async hit(key, now) -> Decision``):

* isolate memory: exact counts per isolate, bounded in keys (the oldest are
  evicted first); an isolate serves one data centre's share of traffic, so
  limits are per isolate, as the platform's are per location;
* the Workers Rate Limiting binding (``await env.LIMITER.limit(key=...)``
  gives ``success``): shared across a location, periods of 10 or 60 s
  only, and it says nothing about what remains, so responses carry the
  policy but no remaining count.

Algorithms (in memory):

* ``fixed``: a counter per ``period``-long window aligned to the epoch;
* ``sliding``: the sliding-window counter: this window's count plus the
  previous window's, weighted by how much of it still overlaps the last
  ``period`` seconds; it smooths the burst a fixed window allows at a boundary;
* ``token_bucket``: ``limit`` tokens refilled at ``limit / period`` per second,
  one taken per request; allows bursts up to ``limit``.

A penalty box bans a key for ``ban`` seconds once it has been refused
``violations`` times within ``within`` seconds.

Responses carry the RateLimit header fields of draft-ietf-httpapi-ratelimit-headers-10
(``RateLimit-Policy: "api";q=100;w=60`` and ``RateLimit: "api";r=41;t=17``)
and, when refused, ``Retry-After`` in seconds (RFC 9110 §10.2.3) with 429
(RFC 6585 §4).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Final

from ..headers import Headers
from ..messages import Response
from ._compile import Expression, compile_expression
from ._errors import FilterConfigError, RuleError
from ._fields import to_string

__all__ = [
    "ALGORITHMS",
    "BindingStore",
    "Decision",
    "MemoryStore",
    "PenaltyBox",
    "RateLimiter",
    "too_many_requests",
]

ALGORITHMS: Final = ("fixed", "sliding", "token_bucket")
BINDING_PERIODS: Final = (10, 60)


class Decision:
    """The outcome of one rate-limit check."""

    __slots__ = ("allowed", "limit", "remaining", "reset", "retry_after", "policy", "window")

    def __init__(self, allowed: bool, limit: int, remaining: int | None, reset: float,
                 retry_after: float = 0.0, *, policy: str = "default", window: int = 0) -> None:
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.reset = reset
        self.retry_after = retry_after
        self.policy = policy
        self.window = window

    def headers(self) -> dict[str, str]:
        """Return the RateLimit fields (and Retry-After when refused) for this decision."""
        name = _sf_string(self.policy)
        out = {"ratelimit-policy": f"{name};q={self.limit};w={self.window}"}
        reset = max(0, math.ceil(self.reset))
        if self.remaining is not None:
            out["ratelimit"] = f"{name};r={max(0, self.remaining)};t={reset}"
        if not self.allowed:
            out["retry-after"] = str(max(1, math.ceil(self.retry_after)))
        return out

    def __repr__(self) -> str:
        return (f"Decision(allowed={self.allowed}, remaining={self.remaining}, "
                f"retry_after={self.retry_after:.1f})")


def _sf_string(text: str) -> str:
    # RFC 8941 §3.3.3: an sf-string is printable ASCII in quotes, '"' and '\' escaped.
    clean = "".join(c for c in text if 32 <= ord(c) < 127).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{clean}"'


def too_many_requests(decision: Decision, body: str = "") -> Response:
    """Return the 429 response for a refused decision."""
    response = Response.problem(429, "Too Many Requests",
                                body or "rate limit exceeded; retry after the time in Retry-After",
                                headers=Headers(decision.headers()))
    return response


class MemoryStore:
    """Counters in isolate memory: key -> small mutable state, at most ``max_keys`` keys."""

    __slots__ = ("entries", "max_keys")

    def __init__(self, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise FilterConfigError("max_keys must be at least 1")
        self.entries: dict[str, list[float]] = {}
        self.max_keys = max_keys

    def get(self, key: str) -> list[float] | None:
        return self.entries.get(key)

    def put(self, key: str, state: list[float]) -> None:
        entries = self.entries
        if key not in entries and len(entries) >= self.max_keys:
            # Dicts keep insertion order: drop the oldest tenth in one go.
            for old in list(entries)[: max(1, self.max_keys // 10)]:
                del entries[old]
        entries[key] = state

    def __len__(self) -> int:
        return len(self.entries)


class _Memory:
    """One algorithm over a MemoryStore."""

    __slots__ = ("algorithm", "limit", "period", "store", "policy")

    def __init__(self, algorithm: str, limit: int, period: float, store: MemoryStore,
                 policy: str) -> None:
        self.algorithm = algorithm
        self.limit = limit
        self.period = period
        self.store = store
        self.policy = policy

    async def hit(self, key: str, now: float) -> Decision:
        return self.hit_sync(key, now)

    def hit_sync(self, key: str, now: float) -> Decision:
        limit = self.limit
        period = self.period
        state = self.store.get(key)
        window = int(period)
        if self.algorithm == "token_bucket":
            rate = limit / period
            if state is None:
                tokens, last = float(limit), now
            else:
                tokens, last = state
                tokens = min(float(limit), tokens + max(0.0, now - last) * rate)
            if tokens >= 1.0:
                tokens -= 1.0
                self.store.put(key, [tokens, now])
                return Decision(True, limit, int(tokens), (limit - tokens) / rate,
                                policy=self.policy, window=window)
            self.store.put(key, [tokens, now])
            wait = (1.0 - tokens) / rate
            return Decision(False, limit, 0, wait, wait, policy=self.policy, window=window)
        start = now - now % period
        if state is None or state[0] != start:
            previous = 0.0
            if state is not None and state[0] == start - period:
                previous = state[1]
            state = [start, 0.0, previous]
        reset = start + period - now
        count = state[1]
        if self.algorithm == "sliding":
            weight = (period - (now - start)) / period
            used = count + state[2] * weight
        else:
            used = count
        if used + 1 > limit:
            self.store.put(key, state)
            if self.algorithm == "sliding" and state[2] and count < limit:
                # The previous window's weight falls linearly; wait until enough of it has.
                needed = used + 1 - limit
                wait = min(reset, needed * period / state[2])
            else:
                wait = reset
            return Decision(False, limit, 0, reset, wait, policy=self.policy, window=window)
        state[1] = count + 1
        self.store.put(key, state)
        return Decision(True, limit, int(limit - used - 1), reset, policy=self.policy,
                        window=window)


class BindingStore:
    """The Workers Rate Limiting binding named ``binding`` (limit and period set in wrangler.toml)."""

    __slots__ = ("binding", "limit", "period", "policy")

    def __init__(self, binding: str, limit: int, period: int, policy: str) -> None:
        if period not in BINDING_PERIODS:
            raise FilterConfigError(f"the Rate Limiting binding allows periods of 10 or 60 "
                                    f"seconds, not {period}")
        self.binding = binding
        self.limit = limit
        self.period = period
        self.policy = policy

    async def hit_env(self, env: Any, key: str) -> Decision:
        try:
            limiter = env[self.binding] if not hasattr(env, self.binding) else getattr(env, self.binding)
        except (KeyError, AttributeError, TypeError):
            raise FilterConfigError(f"no Rate Limiting binding named {self.binding!r} in env") from None
        outcome = await limiter.limit(key=key)
        success = outcome["success"] if isinstance(outcome, Mapping) else outcome.success
        # NOTE: the binding reports no remaining count and no reset time.
        return Decision(bool(success), self.limit, None, self.period,
                        0.0 if success else float(self.period), policy=self.policy,
                        window=self.period)


class PenaltyBox:
    """Ban a key for ``ban`` seconds after ``violations`` refusals within ``within`` seconds."""

    __slots__ = ("violations", "within", "ban", "_strikes", "_banned", "max_keys")

    def __init__(self, violations: int = 3, within: float = 60.0, ban: float = 600.0,
                 max_keys: int = 100_000) -> None:
        if violations < 1 or within <= 0 or ban <= 0:
            raise FilterConfigError("penalty box: violations >= 1, within > 0 and ban > 0")
        self.violations = violations
        self.within = within
        self.ban = ban
        self.max_keys = max_keys
        self._strikes: dict[str, list[float]] = {}
        self._banned: dict[str, float] = {}

    def banned_for(self, key: str, now: float) -> float:
        """Return the seconds left on ``key``'s ban (0 when not banned)."""
        until = self._banned.get(key)
        if until is None:
            return 0.0
        if until <= now:
            del self._banned[key]
            return 0.0
        return until - now

    def strike(self, key: str, now: float) -> bool:
        """Record a refusal; return True if it puts the key in the box."""
        strikes = [t for t in self._strikes.get(key, ()) if now - t < self.within]
        strikes.append(now)
        if len(strikes) >= self.violations:
            self._strikes.pop(key, None)
            if len(self._banned) >= self.max_keys:
                self._banned.pop(next(iter(self._banned)))
            self._banned[key] = now + self.ban
            return True
        if len(self._strikes) >= self.max_keys and key not in self._strikes:
            self._strikes.pop(next(iter(self._strikes)))
        self._strikes[key] = strikes
        return False


class RateLimiter:
    """A named limit: ``limit`` requests per ``period`` seconds per value of ``key``.

    ``key`` is a rules-language expression of any type (``ip.src``,
    ``http.header["x-api-key"]``, ``concat(ip.src, http.path)``), compiled
    once. ``store`` is ``"memory"`` or ``"binding:NAME"`` (the Workers Rate
    Limiting binding ``env.NAME``; its limit and period must match the ones
    in wrangler.toml, which is what the platform enforces).
    """

    __slots__ = ("name", "algorithm", "limit", "period", "key", "store", "penalty", "_backend",
                 "_binding")

    def __init__(
        self, name: str, *, limit: int, period: float, key: str = "ip.src",
        algorithm: str = "sliding", store: str = "memory", penalty: PenaltyBox | None = None,
        lists: Mapping[str, Any] | None = None, memory: MemoryStore | None = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise FilterConfigError(f"rate limiter {name!r}: algorithm must be one of "
                                    f"{', '.join(ALGORITHMS)}, not {algorithm!r}")
        if not isinstance(limit, int) or limit < 1:
            raise FilterConfigError(f"rate limiter {name!r}: limit must be a positive integer")
        if not period > 0:
            raise FilterConfigError(f"rate limiter {name!r}: period must be positive")
        try:
            self.key: Expression = compile_expression(key, lists=lists, want=None)
        except RuleError as exc:
            raise exc.with_rule(f"ratelimit {name}") from None
        self.name = name
        self.algorithm = algorithm
        self.limit = limit
        self.period = period
        self.penalty = penalty
        self.store = store
        self._binding: BindingStore | None = None
        self._backend: _Memory | None = None
        if store == "memory":
            # NOTE: an empty store is falsy (it has __len__); a caller's must still be used.
            counters = memory if memory is not None else MemoryStore()
            self._backend = _Memory(algorithm, limit, period, counters, name)
        elif store.startswith("binding:") and store[8:]:
            if algorithm != "fixed" and algorithm != "sliding":
                raise FilterConfigError(f"rate limiter {name!r}: the binding store counts "
                                        "requests per period; token_bucket needs store='memory'")
            self._binding = BindingStore(store[8:], limit, int(period), name)
        else:
            raise FilterConfigError(f"rate limiter {name!r}: store must be 'memory' or "
                                    f"'binding:NAME', not {store!r}")

    def key_of(self, view: Any) -> str:
        """Return the counter key for the request seen through ``view``."""
        return f"{self.name}:{to_string(self.key.evaluate(view))}"

    async def check(self, view: Any, env: Any = None, now: float | None = None) -> Decision:
        """Count the request and return the decision."""
        key = self.key_of(view)
        now = time.time() if now is None else now
        penalty = self.penalty
        if penalty is not None:
            left = penalty.banned_for(key, now)
            if left:
                return Decision(False, self.limit, 0, left, left, policy=self.name,
                                window=int(self.period))
        if self._backend is not None:
            decision = self._backend.hit_sync(key, now)
        else:
            assert self._binding is not None
            decision = await self._binding.hit_env(env, key)
        if not decision.allowed and penalty is not None and penalty.strike(key, now):
            decision.retry_after = decision.reset = penalty.ban
        return decision

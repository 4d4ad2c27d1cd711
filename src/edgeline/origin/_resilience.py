"""Resilience as transports wrapping transports: timeout, breaker, failover, retry.

For one origin with URLs ``u1, u2`` the stack is::

    RetryTransport                  idempotent only, jittered backoff, budget
    └── FailoverTransport           first URL that admits and answers
        ├── BreakerTransport(u1)    closed / open / half-open, per URL
        │   └── TargetTransport     rebase the URL, set Host, sign
        │       └── TimeoutTransport    bound the time to the response head
        │           └── base transport  (Workers fetch, httpx, ASGI)
        └── BreakerTransport(u2) ...

Breakers and retry budgets live in a ``HealthRegistry``: module state, so
one per isolate, kept across configuration reloads (a reload that leaves an
origin's URL in place keeps what was learned about it).

Clocks and randomness are read when called, never at import.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from random import SystemRandom
from typing import Any

from ..errors import OriginError
from ..messages import Request, Response, close_body
from ..types import Transport
from ._errors import OriginFailure, OriginReset, OriginTimeout, OriginUnavailable

__all__ = [
    "IDEMPOTENT", "BreakerTransport", "CircuitBreaker", "FailoverTransport", "HealthRegistry",
    "RetryBudget", "RetryTransport", "TimeoutTransport", "backoff_delay", "can_resend",
]

Clock = Callable[[], float]

# RFC 9110 §9.2.2: methods whose repetition has the effect of one request.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


def can_resend(request: Request, exc: BaseException | None = None) -> bool:
    """Tell whether ``request`` may be sent again after ``exc`` (or a bad status).

    A request that certainly never left (``exc.sent`` false) may go elsewhere
    whatever its method, as long as its body was not consumed; otherwise only
    an idempotent request with a replayable (bytes) body may.
    """
    body = request.body
    replayable = isinstance(body, bytes) or not getattr(body, "started", True)
    if exc is not None and not getattr(exc, "sent", True):
        return replayable
    return request.method in IDEMPOTENT and isinstance(body, bytes)


class CircuitBreaker:
    """Closed → open after ``failures`` consecutive failures → half-open after ``open_for``.

    In half-open at most ``probes`` requests go through at once; a success
    closes the breaker, a failure opens it again for another ``open_for``.
    """

    __slots__ = ("failures", "open_for", "probes", "on_status", "state", "_count",
                 "_opened_at", "_in_flight", "_clock")

    def __init__(
        self, *, failures: int = 5, open_for: float = 10.0, probes: int = 1,
        on_status: Sequence[int] = (502, 503, 504), clock: Clock = time.monotonic,
    ) -> None:
        if failures < 1 or probes < 1 or open_for <= 0:
            raise ValueError("breaker needs failures >= 1, probes >= 1 and open_for > 0")
        self.failures = failures
        self.open_for = open_for
        self.probes = probes
        self.on_status = frozenset(on_status)
        self.state = CLOSED
        self._count = 0
        self._opened_at = 0.0
        self._in_flight = 0
        self._clock = clock

    def admit(self) -> bool | None:
        """Return False (closed), True (a half-open probe), or None (rejected)."""
        state = self.state
        if state == CLOSED:
            return False
        if state == OPEN:
            if self._clock() - self._opened_at < self.open_for:
                return None
            self.state = HALF_OPEN
            self._in_flight = 0
        if self._in_flight >= self.probes:
            return None
        self._in_flight += 1
        return True

    def retry_after(self) -> float:
        """Seconds until the breaker lets a probe through (0 if it would now)."""
        if self.state != OPEN:
            return 0.0
        return max(0.0, self.open_for - (self._clock() - self._opened_at))

    def success(self, probe: bool) -> None:
        if probe:
            self._in_flight = max(0, self._in_flight - 1)
        if self.state != OPEN:
            self.state = CLOSED
            self._count = 0

    def failure(self, probe: bool) -> None:
        if probe:
            self._in_flight = max(0, self._in_flight - 1)
        if self.state == HALF_OPEN:
            self._open()
            return
        self._count += 1
        if self.state == CLOSED and self._count >= self.failures:
            self._open()

    def release(self, probe: bool) -> None:
        """Give back a probe slot without a verdict (the caller went away)."""
        if probe:
            self._in_flight = max(0, self._in_flight - 1)

    def _open(self) -> None:
        self.state = OPEN
        self._opened_at = self._clock()
        self._count = 0

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state, "failures": self._count,
                "retry_after": round(self.retry_after(), 3)}


class RetryBudget:
    """Allow retries up to ``min_retries + ratio × requests`` over a sliding window.

    Two fixed buckets, the previous one weighted by how much of it is still
    inside the window: cheap, and close enough to a true sliding window.
    """

    __slots__ = ("ratio", "min_retries", "window", "_clock", "_start", "_requests",
                 "_retries", "_prev_requests", "_prev_retries")

    def __init__(
        self, *, ratio: float = 0.2, min_retries: int = 10, window: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.min_retries = min_retries
        self.window = window
        self._clock = clock
        self._start: float | None = None
        self._requests = self._retries = 0
        self._prev_requests = self._prev_retries = 0

    def _roll(self) -> float:
        now = self._clock()
        start = self._start
        if start is None:
            self._start = start = now
        elapsed = now - start
        if elapsed >= self.window:
            if elapsed >= 2 * self.window:
                self._prev_requests = self._prev_retries = 0
            else:
                self._prev_requests, self._prev_retries = self._requests, self._retries
            self._requests = self._retries = 0
            self._start = start = now - (elapsed % self.window)
            elapsed = now - start
        return 1.0 - elapsed / self.window

    def request(self) -> None:
        """Count one request (first attempts only)."""
        self._roll()
        self._requests += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget; False when it is spent."""
        weight = self._roll()
        requests = self._requests + self._prev_requests * weight
        retries = self._retries + self._prev_retries * weight
        if retries + 1 > self.min_retries + self.ratio * requests:
            return False
        self._retries += 1
        return True


_random: SystemRandom | None = None


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Return the wait before retry ``attempt`` (1-based): full jitter.

    Uniform in [0, min(cap, base × 2^(attempt-1))]; full jitter spreads the
    retries of many isolates apart instead of synchronizing them.
    """
    global _random
    if _random is None:
        _random = SystemRandom()  # reads the OS's randomness per call, snapshot-safe
    return _random.random() * min(cap, base * (2 ** (attempt - 1)))


class TimeoutTransport:
    """Bound the time from sending a request to receiving its response head.

    It sits right above the base transport, so it also turns a base's plain
    ``OriginError`` (the Workers fetch raises those) into an ``OriginFailure``
    the layers above can count; whether such a request was sent is unknown,
    so it is taken as sent.
    """

    __slots__ = ("_inner", "timeout")

    def __init__(self, inner: Transport, timeout: float) -> None:
        self._inner = inner
        self.timeout = timeout

    async def handle(self, request: Request) -> Response:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._inner.handle(request)
        except TimeoutError:
            raise OriginTimeout(f"no response head within {self.timeout:g} s",
                                url=str(request.url)) from None
        except OriginFailure:
            raise
        except OriginError as exc:
            raise OriginReset(str(exc), url=str(request.url)) from exc


class _BreakerBody:
    """A response stream that reports a mid-stream failure to the breaker."""

    __slots__ = ("_iter", "_source", "_breaker")

    def __init__(self, source: Any, breaker: CircuitBreaker) -> None:
        self._source = source
        self._iter = source.__aiter__()
        self._breaker = breaker

    def __aiter__(self) -> _BreakerBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._iter.__anext__()
        except OriginFailure:
            self._breaker.failure(False)
            raise

    async def aclose(self) -> None:
        close = getattr(self._source, "aclose", None)
        if close is not None:
            await close()


class BreakerTransport:
    """Refuse requests fast while the URL's breaker is open; feed it every outcome."""

    __slots__ = ("_inner", "breaker", "url")

    def __init__(self, inner: Transport, breaker: CircuitBreaker, url: str = "") -> None:
        self._inner = inner
        self.breaker = breaker
        self.url = url

    async def handle(self, request: Request) -> Response:
        breaker = self.breaker
        probe = breaker.admit()
        if probe is None:
            exc = OriginUnavailable("circuit breaker open", url=self.url,
                                    retry_after=breaker.retry_after())
            exc.attempts = 0
            raise exc
        try:
            response = await self._inner.handle(request)
        except OriginFailure:
            breaker.failure(probe)
            raise
        except BaseException:
            breaker.release(probe)  # not the origin's fault (cancelled, body too large)
            raise
        if response.status in breaker.on_status:
            breaker.failure(probe)
        else:
            breaker.success(probe)
            if not isinstance(response.body, bytes):
                response = Response(_BreakerBody(response.body, breaker), response.status,
                                    response.headers)
        return response


class FailoverTransport:
    """Try each transport in order, moving on when one cannot serve the request.

    It moves on after a failure that left the request resendable (nothing
    sent, or idempotent with a bytes body), and after a status in
    ``on_status`` when a resendable request still has somewhere to go.
    """

    __slots__ = ("_members", "on_status")

    def __init__(self, members: Sequence[Transport], *, on_status: Sequence[int] = ()) -> None:
        if not members:
            raise ValueError("failover needs at least one transport")
        self._members = tuple(members)
        self.on_status = frozenset(on_status)

    async def handle(self, request: Request) -> Response:
        members = self._members
        if len(members) == 1:
            return await members[0].handle(request)
        attempts = 0
        last: OriginFailure | None = None
        retry_after: float | None = None
        final = len(members) - 1
        for i, member in enumerate(members):
            try:
                response = await member.handle(request)
            except OriginFailure as exc:
                attempts += exc.attempts
                if isinstance(exc, OriginUnavailable) and exc.retry_after is not None:
                    retry_after = min(retry_after or exc.retry_after, exc.retry_after)
                if not isinstance(exc, OriginUnavailable) or last is None:
                    last = exc
                if i == final or not can_resend(request, exc):
                    break
                continue
            if i < final and response.status in self.on_status and can_resend(request):
                await close_body(response.body)
                attempts += 1
                continue
            return response
        assert last is not None
        last.attempts = attempts
        if isinstance(last, OriginUnavailable):
            last.retry_after = retry_after
        raise last


class RetryTransport:
    """Try an idempotent request again after a failure, within a budget, with backoff."""

    __slots__ = ("_inner", "attempts", "backoff", "backoff_max", "on_status", "budget",
                 "_sleep")

    def __init__(
        self, inner: Transport, *, attempts: int = 2, backoff: float = 0.05,
        backoff_max: float = 1.0, on_status: Sequence[int] = (502, 503, 504),
        budget: RetryBudget | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("retry attempts must be at least 1")
        self._inner = inner
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.on_status = frozenset(on_status)
        self.budget = budget if budget is not None else RetryBudget()
        self._sleep = sleep

    async def handle(self, request: Request) -> Response:
        budget = self.budget
        budget.request()
        if self.attempts == 1 or request.method not in IDEMPOTENT:
            return await self._inner.handle(request)
        tries = 0
        n = 1
        while True:
            try:
                response = await self._inner.handle(request)
            except OriginFailure as exc:
                tries += exc.attempts
                # A 503 from open breakers is not worth retrying within
                # milliseconds; neither is a request that cannot be resent.
                if (isinstance(exc, OriginUnavailable) or n >= self.attempts
                        or not can_resend(request, exc) or not budget.try_spend()):
                    exc.attempts = tries
                    raise
            else:
                if (response.status not in self.on_status or n >= self.attempts
                        or not can_resend(request) or not budget.try_spend()):
                    return response
                await close_body(response.body)
                tries += 1
            await self._sleep(backoff_delay(n, self.backoff, self.backoff_max))
            n += 1


class HealthRegistry:
    """The breakers and retry budgets of one isolate, by origin name and URL."""

    __slots__ = ("_breakers", "_budgets", "clock")

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._budgets: dict[str, RetryBudget] = {}
        self.clock = clock

    def breaker(self, origin: str, url: str, **thresholds: Any) -> CircuitBreaker:
        """Return the breaker for ``url`` of ``origin``, keeping its state across reloads."""
        key = (origin, url)
        found = self._breakers.get(key)
        fresh = CircuitBreaker(clock=self.clock, **thresholds)
        if found is None:
            self._breakers[key] = fresh
            return fresh
        found.failures, found.open_for = fresh.failures, fresh.open_for
        found.probes, found.on_status = fresh.probes, fresh.on_status
        return found

    def budget(self, origin: str, **limits: Any) -> RetryBudget:
        """Return the retry budget of ``origin`` (limits updated, counts kept)."""
        found = self._budgets.get(origin)
        if found is None:
            found = self._budgets[origin] = RetryBudget(clock=self.clock, **limits)
        else:
            found.ratio = limits.get("ratio", found.ratio)
            found.min_retries = limits.get("min_retries", found.min_retries)
            found.window = limits.get("window", found.window)
        return found

    def forget(self, origin: str) -> None:
        """Drop what is known about ``origin`` (it left the configuration)."""
        self._breakers = {k: v for k, v in self._breakers.items() if k[0] != origin}
        self._budgets.pop(origin, None)

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Return breaker states by origin and URL, for a health endpoint or a log."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (origin, url), breaker in self._breakers.items():
            out.setdefault(origin, {})[url] = breaker.snapshot()
        return out


HEALTH = HealthRegistry()
"""The isolate's registry (module state survives between requests, not isolates)."""

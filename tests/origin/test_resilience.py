"""Breaker, retry budget, backoff, failover and retry: state machines with a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline import Request, Response
from edgeline.errors import OriginError
from edgeline.origin import (
    BreakerTransport,
    CircuitBreaker,
    FailoverTransport,
    HealthRegistry,
    OriginReset,
    OriginTimeout,
    OriginUnavailable,
    OriginUnreachable,
    RetryBudget,
    RetryTransport,
    TimeoutTransport,
    backoff_delay,
)
from edgeline.testing import FunctionTransport

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=3, open_for=5, probes=1, clock=clock)
    for _ in range(2):
        assert b.admit() is False
        b.failure(False)
    b.success(False)  # a success resets the count of consecutive failures
    for _ in range(3):
        b.failure(b.admit() or False)
    assert b.state == "open" and b.admit() is None and b.retry_after() == 5
    clock.now += 5
    assert b.admit() is True and b.state == "half-open"
    assert b.admit() is None  # only one probe at a time
    b.success(True)
    assert b.state == "closed" and b.admit() is False


def test_a_failed_probe_reopens_and_a_released_probe_frees_its_slot() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=1, open_for=1, probes=1, clock=clock)
    b.failure(b.admit() or False)
    clock.now += 1
    probe = b.admit()
    b.release(bool(probe))
    assert b.admit() is True  # the slot came back
    b.failure(True)
    assert b.state == "open" and b.retry_after() == 1


def test_retry_budget_caps_retries_to_a_ratio_of_requests() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.1, min_retries=2, window=10, clock=clock)
    for _ in range(100):
        budget.request()
    spent = sum(budget.try_spend() for _ in range(50))
    assert spent == 12  # 2 + 0.1 × 100
    clock.now += 25  # two windows later the counts are forgotten
    assert sum(budget.try_spend() for _ in range(50)) == 2


@given(st.integers(1, 20), st.floats(0, 5), st.floats(0, 30))
def test_backoff_stays_within_its_cap(attempt: int, base: float, cap: float) -> None:
    delay = backoff_delay(attempt, base, cap)
    assert 0 <= delay <= min(cap, base * 2 ** (attempt - 1))


def failing(exc: Exception) -> FunctionTransport:
    async def handler(request: Request) -> Response:
        raise exc

    return FunctionTransport(handler)


def answering(status: int = 200, body: bytes = b"ok") -> FunctionTransport:
    async def handler(request: Request) -> Response:
        return Response(body, status)

    return FunctionTransport(handler)


async def test_failover_moves_on_only_when_the_request_can_be_resent() -> None:
    down, up = failing(OriginUnreachable("refused")), answering()
    pair = FailoverTransport([down, up])
    post = Request("POST", "http://o/x", body=b"1")
    assert (await pair.handle(post)).status == 200  # nothing was sent: any method goes over
    reset, up2 = failing(OriginReset("lost")), answering()
    with pytest.raises(OriginReset) as info:
        await FailoverTransport([reset, up2]).handle(post)
    assert up2.requests == [] and info.value.attempts == 1
    assert (await FailoverTransport([reset, up2]).handle(Request("GET", "http://o/"))).status == 200


async def test_failover_reports_the_shortest_retry_after_when_all_are_open() -> None:
    clock = Clock()
    breakers = [CircuitBreaker(failures=1, open_for=s, clock=clock) for s in (9, 4)]
    for b in breakers:
        b.failure(False)
    members = [BreakerTransport(answering(), b) for b in breakers]
    with pytest.raises(OriginUnavailable) as info:
        await FailoverTransport(members).handle(Request("GET", "http://o/"))
    assert info.value.retry_after == 4 and info.value.attempts == 0
    assert info.value.response().headers["retry-after"] == "4"


async def test_retry_backs_off_and_gives_up_after_its_attempts() -> None:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    t = failing(OriginTimeout("slow"))
    retry = RetryTransport(t, attempts=3, backoff=0.1, backoff_max=1, sleep=sleep)
    with pytest.raises(OriginTimeout) as info:
        await retry.handle(Request("GET", "http://o/"))
    assert len(t.requests) == 3 and info.value.attempts == 3
    assert len(slept) == 2 and 0 <= slept[0] <= 0.1 and 0 <= slept[1] <= 0.2


async def test_retry_is_for_idempotent_requests_within_the_budget() -> None:
    async def sleep(delay: float) -> None:
        return None

    t = failing(OriginTimeout("slow"))
    with pytest.raises(OriginTimeout):
        await RetryTransport(t, attempts=3, sleep=sleep).handle(
            Request("POST", "http://o/", body=b"x"))
    assert len(t.requests) == 1
    t2 = failing(OriginTimeout("slow"))
    broke = RetryTransport(t2, attempts=5, budget=RetryBudget(ratio=0, min_retries=1),
                           sleep=sleep)
    with pytest.raises(OriginTimeout):
        await broke.handle(Request("GET", "http://o/"))
    assert len(t2.requests) == 2  # one retry, then the budget is spent


async def test_timeout_and_plain_origin_errors_become_failures() -> None:
    import asyncio

    async def slow(request: Request) -> Response:
        await asyncio.sleep(1)
        return Response(b"")

    with pytest.raises(OriginTimeout):
        await TimeoutTransport(FunctionTransport(slow), 0.05).handle(Request("GET", "http://o/"))
    with pytest.raises(OriginReset):
        await TimeoutTransport(failing(OriginError("fetch failed")), 1).handle(
            Request("GET", "http://o/"))


def test_registry_keeps_state_across_reloads() -> None:
    health = HealthRegistry()
    b = health.breaker("api", "http://a", failures=1, open_for=10)
    b.failure(False)
    again = health.breaker("api", "http://a", failures=2, open_for=5)
    assert again is b and again.state == "open" and again.failures == 2
    health.forget("api")
    assert health.snapshot() == {}

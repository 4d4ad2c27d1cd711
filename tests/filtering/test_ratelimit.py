"""Rate limiting: algorithms, penalty box, headers, the emulated Workers binding."""

from __future__ import annotations

import pytest

from edgeline.context import Bindings
from edgeline.emulator.ratelimit import RateLimitBinding, bindings_from_config
from edgeline.filtering import FilterConfigError, MemoryStore, PenaltyBox, RateLimiter, RuleError

from .helpers import make_view

pytestmark = pytest.mark.anyio

T0 = 1_700_000_040.0  # a multiple of 60 plus 0: the start of a fixed window


async def test_fixed_window_counts_and_resets() -> None:
    limiter = RateLimiter("f", limit=3, period=60, algorithm="fixed")
    view = make_view("/", headers={"cf-connecting-ip": "192.0.2.1"})
    decisions = [await limiter.check(view, now=T0 + i) for i in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after == pytest.approx(57.0)
    assert (await limiter.check(view, now=T0 + 60)).allowed


async def test_sliding_window_weighs_the_previous_window() -> None:
    limiter = RateLimiter("s", limit=10, period=60, algorithm="sliding")
    view = make_view("/", headers={"cf-connecting-ip": "192.0.2.1"})
    for i in range(10):
        assert (await limiter.check(view, now=T0 + 50 + i * 0.1)).allowed
    # 15 s into the next window, 75% of the previous 10 still count: 2 more fit.
    results = [(await limiter.check(view, now=T0 + 75)).allowed for _ in range(3)]
    assert results == [True, True, False]
    # A fixed window would have allowed 10 at once here.
    assert (await limiter.check(view, now=T0 + 119)).allowed


async def test_token_bucket_allows_bursts_then_refills() -> None:
    limiter = RateLimiter("t", limit=5, period=10, algorithm="token_bucket")
    view = make_view("/", headers={"cf-connecting-ip": "192.0.2.1"})
    assert all([(await limiter.check(view, now=T0)).allowed for _ in range(5)])
    refused = await limiter.check(view, now=T0)
    assert not refused.allowed and refused.retry_after == pytest.approx(2.0)
    assert (await limiter.check(view, now=T0 + 2.0)).allowed


async def test_key_expression_and_penalty_box() -> None:
    limiter = RateLimiter("k", limit=1, period=10, algorithm="fixed",
                          key='concat(http.header["x-api-key"], ":", http.path)',
                          penalty=PenaltyBox(violations=2, within=60, ban=300))
    a = make_view("/x", headers={"x-api-key": "A"})
    b = make_view("/x", headers={"x-api-key": "B"})
    assert limiter.key_of(a) == "k:A:/x"
    assert (await limiter.check(a, now=T0)).allowed
    assert (await limiter.check(b, now=T0)).allowed
    assert not (await limiter.check(a, now=T0 + 1)).allowed
    boxed = await limiter.check(a, now=T0 + 2)  # second violation: banned for 300 s
    assert not boxed.allowed and boxed.retry_after == 300
    later = await limiter.check(a, now=T0 + 100)  # a new window, but still in the box
    assert not later.allowed and later.retry_after == pytest.approx(202)
    assert (await limiter.check(a, now=T0 + 303)).allowed


def test_headers_follow_the_ietf_draft() -> None:
    from edgeline.filtering._ratelimit import Decision
    refused = Decision(False, 100, 0, 17.2, 17.2, policy="api", window=60)
    assert refused.headers() == {"ratelimit-policy": '"api";q=100;w=60',
                                 "ratelimit": '"api";r=0;t=18', "retry-after": "18"}


def test_options_are_validated_eagerly() -> None:
    with pytest.raises(FilterConfigError, match="algorithm"):
        RateLimiter("x", limit=1, period=1, algorithm="leaky")
    with pytest.raises(FilterConfigError, match="10 or 60"):
        RateLimiter("x", limit=1, period=30, store="binding:LIMITER")
    with pytest.raises(RuleError, match="unknown field"):
        RateLimiter("x", limit=1, period=10, key="ip.source")


def test_memory_store_is_bounded() -> None:
    store = MemoryStore(max_keys=100)
    for i in range(1000):
        store.put(f"k{i}", [0.0])
    assert len(store) <= 100 and store.get("k999") is not None


async def test_binding_store_through_the_emulated_binding() -> None:
    clock = [T0]
    bindings = bindings_from_config([{"name": "LIMITER", "namespace_id": "1001",
                                      "simple": {"limit": 2, "period": 10}}])
    binding = bindings["LIMITER"]
    binding._clock = lambda: clock[0]  # type: ignore[attr-defined]
    env = Bindings({"LIMITER": binding})
    limiter = RateLimiter("b", limit=2, period=10, store="binding:LIMITER", algorithm="fixed")
    view = make_view("/", headers={"cf-connecting-ip": "192.0.2.9"})
    results = [await limiter.check(view, env) for _ in range(3)]
    assert [d.allowed for d in results] == [True, True, False]
    assert results[0].remaining is None and results[2].retry_after == 10
    assert "ratelimit" not in results[0].headers()  # the binding does not say what remains
    clock[0] += 10
    assert (await limiter.check(view, env)).allowed


async def test_emulated_binding_call_shapes_and_errors() -> None:
    binding = RateLimitBinding(limit=1, period=60, namespace_id="shapes")
    assert (await binding.limit(key="a")).success is True
    assert (await binding.limit({"key": "a"}))["success"] is False
    with pytest.raises(TypeError):
        await binding.limit()
    with pytest.raises(ValueError, match="10 or 60"):
        RateLimitBinding(limit=1, period=30)
    with pytest.raises(ValueError, match=r"ratelimits\[0\]"):
        bindings_from_config([{"name": "X", "simple": {"limit": 0, "period": 10}}])


def test_a_callers_empty_memory_store_is_the_one_used() -> None:
    from edgeline.filtering import MemoryStore, RateLimiter

    store = MemoryStore()
    limiter = RateLimiter("shared", limit=5, period=60, memory=store)
    assert limiter._backend is not None and limiter._backend.store is store

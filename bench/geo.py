"""Benchmark the personalization stage: its CPU cost per request.

Configuration: 50 geo policies (countries, continents and US regions, with
language lists, currencies, units, values; a few with path-limited
redirects and blocks that these requests do not trigger), global language
settings, and one active experiment (two arms, every path). Requests: a
rotating mix of 24 client locations, 6 Accept-Language values and returning
visitors (id and exposure cookies already set: the steady state), plus
client-sent ``x-edgeline-*`` fields to strip.

``us_per_request`` is the stage's own cost: the time per request of
``personalize(plan)`` around a handler that returns a fixed response, minus
the time of a bare pass-through middleware around the same handler
(``baseline_us_per_request``), both driven without an event loop, building
each request and context the same way (target: under 5 µs on CPython).
``us_per_request_new_visitor`` is the same for first visits (an id is
made, both cookies are set and an exposure is logged to a no-op sink).
``stage_vs_baseline`` is the ratio of the two raw times.

The stage remembers answers keyed by request strings (places, Accept-Language
values, a returning client's Cookie field), and CPython caches a string's
hash in the string: two more figures show what that leaves out.
``us_per_request_fresh_strings`` is ``us_per_request`` with every header and
``cf`` value a new string object per request (as parsed from the wire: each
hash is computed again), against a baseline run on the same fresh copies.
``us_per_request_unique_visitors`` gives every request its own returning
visitor, so no Cookie field repeats (its outcome is computed each time:
cookie parsing and one SHA-256 per experiment). ``load_average_1m`` is read
before and after the rounds (the machine may be shared), and
``cpu_us_per_request`` is ``us_per_request`` in thread CPU time
(``time.thread_time``) instead of wall time: time the process spends
descheduled on a busy machine does not count (contention for caches still does).

Usage: ``edgeline bench geo [--quick]`` or ``python bench/geo.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

COUNTRIES = ("US CA MX BR AR CL CO PE GB IE FR DE AT CH IT ES PT NL BE LU DK SE NO FI PL CZ SK HU "
             "RO BG GR TR IL AE SA EG ZA NG KE MA IN PK BD JP KR CN TW HK SG MY TH VN ID PH AU "
             "NZ").split()


def document() -> dict[str, Any]:
    """Return the benchmark configuration: 50 policies and one experiment."""
    policies: list[dict[str, Any]] = []
    for i in range(46):
        country = COUNTRIES[i + 1]  # US is covered by the region policies below
        policies.append({
            "name": f"p{i}-{country.lower()}", "countries": [country],
            "locale": "en", "languages": ["en", "en-GB", "de", "fr", "es", "ja"],
            "currency": "EUR" if i % 2 else "USD", "units": "metric",
            "values": {"promo": f"Offer {i}"},
            **({"redirect": {"path_prefix": "/intl", "paths": ["/shop-intl"]}} if i % 9 == 0 else {}),
            **({"block": {"reason": "legal", "paths": ["/restricted/"]}} if i % 11 == 0 else {}),
        })
    policies.append({"name": "us-west", "regions": ["US-CA", "US-OR", "US-WA"], "locale": "en",
                     "currency": "USD", "units": "imperial", "variant": "west"})
    policies.append({"name": "us-east", "regions": ["US-NY", "US-NJ", "US-MA"], "locale": "en",
                     "currency": "USD", "units": "imperial"})
    policies.append({"name": "oceania", "continents": ["OC"], "locale": "en-GB", "currency": "AUD"})
    policies.append({"name": "africa", "continents": ["AF"], "locale": "en", "currency": "USD"})
    return {
        "version": 2,
        "geo": {"default_locale": "en", "languages": ["en", "de", "fr"],
                "redirect_hosts": ["example.com"]},
        "geo_policies": policies,
        "experiments": [{"name": "hero", "arms": [{"name": "control", "weight": 1},
                                                  {"name": "new", "weight": 1}]}],
    }


LOCATIONS = [
    {"country": "US", "regionCode": "CA", "continent": "NA"},
    {"country": "US", "regionCode": "TX", "continent": "NA"},
    {"country": "DE", "continent": "EU", "isEUCountry": "1", "city": "Berlin"},
    {"country": "FR", "continent": "EU", "isEUCountry": "1"},
    {"country": "JP", "continent": "AS"}, {"country": "BR", "continent": "SA"},
    {"country": "GB", "continent": "EU"}, {"country": "IN", "continent": "AS"},
    {"country": "AU", "continent": "OC"}, {"country": "ZA", "continent": "AF"},
    {"country": "FJ", "continent": "OC"}, {"country": "NL", "continent": "EU"},
    {"country": "XX"}, {}, {"country": "SE", "continent": "EU"}, {"country": "MX"},
    {"country": "KR"}, {"country": "SG"}, {"country": "IT"}, {"country": "ES"},
    {"country": "CH"}, {"country": "PL"}, {"country": "CA", "regionCode": "ON"}, {"country": "NZ"},
]
LANGUAGES = ["en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9", "ja,en;q=0.5",
             "es-ES,es;q=0.9,en;q=0.4", "*"]


def _requests(count: int, returning: bool, visitors: int = 997,
              ) -> list[tuple[list[tuple[str, str]], dict[str, Any]]]:
    from edgeline.personalize import CompiledExperiment

    hero = CompiledExperiment("hero", [("control", 1), ("new", 1)])
    out = []
    for i in range(count):
        uid = f"visitor-{i % visitors:010d}xyz"
        headers = [("host", "edge.test"), ("user-agent", "Mozilla/5.0 Firefox/126.0"),
                   ("accept", "text/html"), ("accept-language", LANGUAGES[i % len(LANGUAGES)]),
                   ("x-edgeline-variant", "forged")]
        if returning:
            headers.append(("cookie", f"session=abc; edgeline_uid={uid}; "
                                      f"edgeline_exp=hero:{hero.assign(uid)}"))
        out.append((headers, dict(LOCATIONS[i % len(LOCATIONS)])))
    return out


def _fresh(requests: list[Any]) -> list[Any]:
    """Return a copy of ``requests`` whose header and cf values are new string objects."""
    def new(value: Any) -> Any:
        return value.encode().decode() if isinstance(value, str) else value

    return [([(name, new(value)) for name, value in headers],
             {key: new(value) for key, value in cf.items()}) for headers, cf in requests]


def _drive(coro: Any) -> Any:
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("the middleware awaited something that suspends")


def _time(middleware: Any, requests: list[Any]) -> float:
    from edgeline import Context, Request, Response
    from edgeline.headers import Headers

    async def handler(request: Request, ctx: Context) -> Response:
        return Response(b"ok", 200, Headers.from_trusted([("content-type", "text/plain")]))

    started = time.perf_counter()
    cpu_started = time.thread_time()
    for headers, cf in requests:
        request = Request("GET", "https://edge.test/products/42", Headers.from_trusted(list(headers)),
                          cf=cf)
        ctx = Context(request)
        _drive(middleware(request, ctx, handler))
    cpu = time.thread_time() - cpu_started
    wall = time.perf_counter() - started
    _cpu.append(cpu / len(requests) * 1e6)
    return wall / len(requests) * 1e6


_cpu: list[float] = []  # the thread CPU time of each _time() call, in the same order


def run(quick: bool = False) -> dict[str, float]:
    """Measure and return the flat figures (microseconds per request and ratios)."""
    from edgeline.config import load_config
    from edgeline.personalize import personalize

    compiled = load_config(json.dumps(document()))
    plan = compiled["geo"]
    assert len(plan.policies) == 50 and len(plan.experiments) == 1
    stage = personalize(plan)
    newcomer_stage = personalize(plan, on_exposure=lambda event: None)

    async def passthrough(request: Any, ctx: Any, call_next: Any) -> Any:
        return await call_next(request, ctx)

    count = 20_000 if quick else 100_000
    rounds = 5 if quick else 9
    load_before = os.getloadavg()[0]
    returning = _requests(count, True)
    newcomers = _requests(count // 4, False)
    unique = _requests(count // 4, True, visitors=count // 4)
    _time(stage, returning[:2000])  # warm up: memo tables, code paths
    _time(passthrough, returning[:2000])
    base, geo, base_new, geo_new = [], [], [], []
    base_fresh, geo_fresh, base_unique, geo_unique = [], [], [], []
    cpu_base, cpu_geo = [], []
    for _ in range(rounds):
        base.append(_time(passthrough, returning))
        cpu_base.append(_cpu[-1])
        geo.append(_time(stage, returning))
        cpu_geo.append(_cpu[-1])
        base_new.append(_time(passthrough, newcomers))
        geo_new.append(_time(newcomer_stage, newcomers))
        base_fresh.append(_time(passthrough, _fresh(returning)))
        geo_fresh.append(_time(stage, _fresh(returning)))
        base_unique.append(_time(passthrough, unique))
        plan.visits.clear()  # every visitor is new to the tables in every round
        plan._assigned.clear()
        geo_unique.append(_time(stage, unique))
    load_after = os.getloadavg()[0]
    stage_cost = [g - b for g, b in zip(geo, base, strict=True)]
    cpu_cost = [g - b for g, b in zip(cpu_geo, cpu_base, strict=True)]
    new_cost = [g - b for g, b in zip(geo_new, base_new, strict=True)]
    fresh_cost = [g - b for g, b in zip(geo_fresh, base_fresh, strict=True)]
    unique_cost = [g - b for g, b in zip(geo_unique, base_unique, strict=True)]
    return {
        "policies": len(plan.policies),
        "experiments": len(plan.experiments),
        "requests_per_round": count,
        "rounds": rounds,
        "us_per_request": round(statistics.median(stage_cost), 3),
        "us_per_request_min": round(min(stage_cost), 3),
        "us_per_request_max": round(max(stage_cost), 3),
        "baseline_us_per_request": round(statistics.median(base), 3),
        "stage_total_us_per_request": round(statistics.median(geo), 3),
        "stage_vs_baseline": round(statistics.median(geo) / statistics.median(base), 2),
        "cpu_us_per_request": round(statistics.median(cpu_cost), 3),
        "cpu_baseline_us_per_request": round(statistics.median(cpu_base), 3),
        "us_per_request_new_visitor": round(statistics.median(new_cost), 3),
        "us_per_request_fresh_strings": round(statistics.median(fresh_cost), 3),
        "baseline_us_per_request_fresh_strings": round(statistics.median(base_fresh), 3),
        "us_per_request_unique_visitors": round(statistics.median(unique_cost), 3),
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_after": round(load_after, 2),
        "target_us": 5.0,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(quick=parser.parse_args().quick), indent=2))

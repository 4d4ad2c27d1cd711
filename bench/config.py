"""Benchmark loading the edge configuration at isolate start: decode + compile.

The document is a realistic one, generated with a fixed seed: 200 routes
(forward/respond/redirect, static and parameterized paths, some per host),
10 origins, 100 rules, one 10,000-entry IPv4 list (random /24s and single
addresses, unsorted), 50 geo policies. ``load_ms`` is what the first request
of an isolate pays: ``edgeline.config.load_config`` on the JSON bytes, which
decodes with the prebuilt msgspec decoder, checks the size limit, builds the
origin transports, compiles the IP list, the geo index, the rules and the
router, and hashes the document (target: under 20 ms on CPython). The
document is as ``edgeline config push``/``bulk`` store it (IP list entries
in address order); ``load_unsorted_ms`` is the same document with the list
in random order (a hand-written value put with ``edgeline kv put``).

Baseline, same process and document: ``json_loads_ms``, the standard
library's ``json.loads`` (untyped, unvalidated, nothing compiled);
``load_vs_json_loads`` is the ratio. Breakdown: ``decode_ms`` (msgspec typed
decode alone), ``compile_ms`` (all compilers), ``ip_list_ms``,
``router_ms``, and ``stage_<compiler>_ms``: the time of each registered
compiler within one ``compile_config`` run (medians; they add up to about
``compile_ms``). ``cold_load_ms`` is the first load in a fresh interpreter
(one subprocess; imports excluded, reported as ``import_ms``).

Usage: ``edgeline bench config [--quick]`` or ``python bench/config.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from string import ascii_uppercase
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def document(seed: int = 7, *, as_pushed: bool = True) -> bytes:
    """Return the benchmark configuration as JSON bytes.

    ``as_pushed``: IP list entries in address order, as ``edgeline config
    push``/``bulk`` store them; otherwise in random order.
    """
    rng = random.Random(seed)
    words = ["users", "items", "orders", "carts", "search", "teams", "repos", "files", "admin",
             "billing", "reports", "events", "media", "tags", "docs", "v1", "v2", "auth"]
    origins = [{"name": f"origin-{i}", "urls": [f"https://api{i}.example.com",
                                                f"https://backup{i}.example.com"],
                "timeout": 10.0, "retry": {"attempts": 3}} for i in range(10)]
    routes: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    while len(routes) < 200:
        depth = rng.randint(1, 4)
        parts = []
        for level in range(depth):
            roll = rng.random()
            if level and roll < 0.25:
                parts.append(f"{{p{level}}}")
            elif level and roll < 0.35:
                parts.append(f"{{n{level}:int}}")
            else:
                parts.append(rng.choice(words) + str(rng.randint(0, 30)))
        if rng.random() < 0.1:
            parts.append("{rest:path}")
        path = "/" + "/".join(parts)
        host = rng.choice([None, None, None, "api.example.com", "*.example.org"])
        if (path, host) in seen:
            continue
        seen.add((path, host))
        kind = rng.random()
        if kind < 0.7:
            action: dict[str, Any] = {"type": "forward", "origin": rng.choice(origins)["name"],
                                      "strip_prefix": "/" + parts[0]}
        elif kind < 0.9:
            action = {"type": "respond", "status": 200, "body": "ok " * rng.randint(1, 50),
                      "headers": {"cache-control": "public, max-age=60"}}
        else:
            action = {"type": "redirect", "location": "/moved" + path.split("{")[0], "status": 308}
        route: dict[str, Any] = {"path": path, "action": action, "name": f"route-{len(routes)}",
                                 "methods": rng.sample(["GET", "POST", "PUT", "DELETE"],
                                                       rng.randint(1, 3))}
        if host:
            route["host"] = host
        routes.append(route)
    entries = []
    for _ in range(10_000):
        if rng.random() < 0.7:
            entries.append(f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24")
        else:
            entries.append(f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
                           f"{rng.randint(1, 254)}")
    from edgeline.personalize._countries import known_country

    # Real ISO 3166-1 codes: configuration refuses codes no country has.
    countries = sorted(c for c in (a + b for a in ascii_uppercase for b in ascii_uppercase)
                       if known_country(c))
    rng.shuffle(countries)
    geo = [{"name": f"geo-{i}", "countries": countries[3 * i: 3 * i + 3],
            "locale": "en-US", "currency": "USD", "origin": origins[i % 10]["name"],
            "headers": {"x-region": f"r{i}"}} for i in range(50)]
    rules = []
    for i in range(100):
        match: dict[str, Any] = {"path_prefix": "/" + rng.choice(words)}
        if i % 3 == 0:
            match["ip_list"] = "abusers"
        if i % 4 == 0:
            match["countries"] = rng.sample(countries[:150], 3)
        if i % 5 == 0:
            match["methods"] = ["POST"]
        rules.append({"id": f"rule-{i}", "match": match,
                      "action": rng.choice([{"type": "block", "status": 403}, {"type": "log"},
                                            {"type": "allow"}])})
    if as_pushed:
        from edgeline.config import sort_entries

        entries = sort_entries(entries)
    doc = {"version": 1, "description": "bench", "origins": origins, "routes": routes,
           "rules": rules, "ip_lists": [{"name": "abusers", "entries": entries}],
           "geo_policies": geo}
    return json.dumps(doc).encode()


class _Base:
    """A platform transport stand-in: loading builds transports over it, never calls it."""

    async def handle(self, request: Any) -> Any:
        raise RuntimeError("not used")


def _median_ms(function: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        samples.append((time.perf_counter() - began) * 1000.0)
    return statistics.median(samples), min(samples), max(samples)


_COLD = """
import json, sys, time
began = time.perf_counter()
from edgeline.config import load_config
imported = time.perf_counter()
data = open(sys.argv[1], "rb").read()
class Base:
    async def handle(self, request): raise RuntimeError
start = time.perf_counter()
load_config(data, base=Base())
print(json.dumps({"import_ms": (imported - began) * 1e3, "cold_load_ms": (time.perf_counter() - start) * 1e3}))
"""


def _cold(data: bytes) -> dict[str, float]:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(data)
        handle.flush()
        done = subprocess.run([sys.executable, "-c", _COLD, handle.name], capture_output=True,
                              text=True, timeout=120, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return {k: round(v, 3) for k, v in json.loads(done.stdout).items()}


def run(quick: bool = False) -> dict[str, float]:
    """Measure and return the flat figures (milliseconds and ratios)."""
    import kv_schemas
    from edgeline.config import IPSet, compile_config, compilers, load_config
    from edgeline.config._compile import Build, _compile_router

    data = document()
    unsorted = document(as_pushed=False)
    repeat = 15 if quick else 60
    base = _Base()
    config = kv_schemas.DECODERS["edge-config"].decode(data)
    load_config(data, base=base)  # warm up (and prove it loads)

    figures: dict[str, float] = {"document_bytes": len(data), "routes": len(config.routes),
                                 "rules": len(config.rules),
                                 "ip_entries": len(config.ip_lists[0].entries),
                                 "geo_policies": len(config.geo_policies)}
    results = {
        "load": _median_ms(lambda: load_config(data, base=base), repeat),
        "load_unsorted": _median_ms(lambda: load_config(unsorted, base=base), repeat),
        "json_loads": _median_ms(lambda: json.loads(data), repeat),
        "decode": _median_ms(lambda: kv_schemas.DECODERS["edge-config"].decode(data), repeat),
        "compile": _median_ms(lambda: compile_config(config, base=base), repeat),
        "ip_list": _median_ms(lambda: IPSet(config.ip_lists[0].entries), repeat),
        "router": _median_ms(lambda: _compile_router(config, Build(None, None)), repeat),
    }
    stages: dict[str, list[float]] = {}

    def timed(name: str, function: Any) -> Any:
        def run_stage(config: Any, build: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(config, build)
            finally:
                stages.setdefault(name, []).append((time.perf_counter() - began) * 1000.0)
        return run_stage

    staged = {name: timed(name, function) for name, function in compilers().items()}
    for _ in range(repeat):
        compile_config(config, base=base, only=staged)
    for name, samples in stages.items():
        figures[f"stage_{name}_ms"] = round(statistics.median(samples), 3)
    for name, (median, low, high) in results.items():
        figures[f"{name}_ms"] = round(median, 3)
        figures[f"{name}_ms_min"] = round(low, 3)
        figures[f"{name}_ms_max"] = round(high, 3)
    figures["load_vs_json_loads"] = round(results["load"][0] / results["json_loads"][0], 2)
    figures["decode_vs_json_loads"] = round(results["decode"][0] / results["json_loads"][0], 2)
    figures["load_target_ms"] = 20.0
    figures.update(_cold(data))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    sys.path.insert(0, str(REPO))
    print(json.dumps(run(quick=options.quick), indent=2, sort_keys=True))

"""Benchmark the compiled rules engine against a plain interpreter of the same trees.

100 rules of the shapes operators write (path prefixes, method and country
sets, header and cookie tests, regexes, ASN and IP-list membership) plus one
100,000-entry IP list are evaluated for a mix of requests. Both evaluators see
the same RequestView objects (fresh per request, so field parsing and
normalization are paid in both), and every rule's verdict is checked to be
the same before anything is timed.

Figures: ``us_per_request`` (compiled: fresh view + all 100 rules, median
over repeats, with ``_min``/``_max``), ``interpreter_us_per_request``,
``speedup_vs_interpreter`` (target >= 10), ``ip_lookup_us`` (one lookup in the
100k list, address parsing included), ``compile_ms`` (100 rules) and
``list_build_ms`` (100k entries).

Usage: ``python bench/rules.py [--quick]`` prints the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from edgeline.filtering import (
    ASNList,
    IPRangeSet,
    RequestView,
    Rule,
    compile_ruleset,
    interpret,
    parse,
)
from edgeline.messages import Request


def make_ip_list(count: int, seed: int = 7) -> list[str]:
    """Return ``count`` distinct IPv4 /32s and /24s plus some IPv6 networks."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        roll = rng.random()
        if roll < 0.7:
            out.add(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}")
        elif roll < 0.95:
            out.add(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24")
        else:
            out.add(f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::/64")
    return sorted(out)


def make_rules(count: int = 100) -> list[Rule]:
    """Return ``count`` rules cycling through realistic shapes (log actions: all run)."""
    shapes = [
        'http.path starts_with "/admin/{i}" and not ip.src in $blocklist',
        'http.method in {{"PUT" "DELETE"}} and http.path starts_with "/api/v{i}/"',
        'geo.country in {{"KP" "IR" "SY" "C{i}"}}',
        'lower(http.user_agent) contains "scanner-{i}"',
        'http.header["x-api-version"] == "{i}" and http.host ends_with ".example.com"',
        'http.cookie["role"] == "admin-{i}" and ip.src in $blocklist',
        'http.path matches r"^/v[0-9]+/items/{i}[0-9]*$"',
        'geo.asn in $bad_asns and http.path contains "/login{i}"',
        'ip.src in {{10.{i}.0.0/16 192.0.2.{i}}} or http.query contains "debug={i}"',
        'len(http.query) > {n} and http.method == "GET"',
    ]
    rules = []
    for i in range(count):
        shape = shapes[i % len(shapes)]
        rules.append(Rule(f"r{i}", shape.format(i=i % 250, n=900 + i), {"type": "log"}))
    return rules


def make_requests(ips: list[str], count: int, seed: int = 11) -> list[Request]:
    rng = random.Random(seed)
    paths = ["/", "/api/v2/items/17", "/admin/3/settings", "/v1/items/42", "/login5", "/static/app.js",
             "/search", "/api/v1/users/9/orders"]
    agents = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0", "curl/8.5.0", "scanner-4 bot",
              "Mozilla/5.0 (iPhone) Safari/604.1"]
    out = []
    for n in range(count):
        if n % 3 == 0:
            ip = ips[rng.randrange(len(ips))].partition("/")[0]
        else:
            ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        path = rng.choice(paths)
        query = rng.choice(["", "q=shoes&page=2", "debug=3", "x=" + "a" * 20])
        headers = {
            "host": rng.choice(["shop.example.com", "api.example.com", "other.test"]),
            "user-agent": rng.choice(agents), "cf-connecting-ip": ip,
            "accept": "text/html", "x-api-version": str(rng.randrange(5)),
            "cookie": f"session=abc123; role=admin-{rng.randrange(20)}",
        }
        method = rng.choice(["GET", "GET", "GET", "POST", "PUT", "DELETE"])
        cf = {"country": rng.choice(["US", "DE", "KP", "C3", "FR"]),
              "asn": str(rng.choice([13335, 15169, 4134, 64512]))}
        url = f"https://{headers['host']}{path}" + (f"?{query}" if query else "")
        out.append(Request(method, url, headers, cf=cf))
    return out


def _time(function: Any, rounds: int) -> float:
    began = time.perf_counter()
    function(rounds)
    return time.perf_counter() - began


def run(quick: bool = False) -> dict[str, float]:
    """Run the benchmark; return flat named figures."""
    list_size = 100_000
    ips = make_ip_list(list_size)
    began = time.perf_counter()
    blocklist = IPRangeSet(ips, name="blocklist")
    list_build_ms = (time.perf_counter() - began) * 1000
    lists = {"blocklist": blocklist, "bad_asns": ASNList(["4134", "AS64512", "9009"])}
    rules = make_rules(100)
    began = time.perf_counter()
    ruleset = compile_ruleset(rules, lists=lists)
    compile_ms = (time.perf_counter() - began) * 1000
    phase = ruleset.phases[0]
    evaluate = phase.evaluate
    trees = [parse(rule.expression) for rule in phase.rules]
    requests = make_requests(ips, 200 if quick else 1000)
    now = 1_700_000_000.0

    # Both evaluators must agree on every rule for every request.
    for request in requests:
        compiled_hits = evaluate(RequestView(request, None, now=now))
        view = RequestView(request, None, now=now)
        interpreted = [i for i, tree in enumerate(trees) if interpret(tree, view, lists)]
        if compiled_hits != interpreted:
            raise AssertionError(f"compiled and interpreted disagree on {request}: "
                                 f"{compiled_hits} != {interpreted}")

    def compiled(rounds: int) -> None:
        for _ in range(rounds):
            for request in requests:
                evaluate(RequestView(request, None, now=now))

    def interpreted(rounds: int) -> None:
        for _ in range(rounds):
            for request in requests:
                view = RequestView(request, None, now=now)
                for tree in trees:
                    interpret(tree, view, lists)

    repeats = 5 if quick else 9
    per = len(requests)
    compiled_us = [_time(compiled, 3 if quick else 5) / (per * (3 if quick else 5)) * 1e6
                   for _ in range(repeats)]
    interp_us = [_time(interpreted, 1) / per * 1e6 for _ in range(3 if quick else 5)]
    probe = [ips[i].partition("/")[0] for i in range(0, list_size, 97)]
    lookups = 20 if quick else 100

    def lookup(rounds: int) -> None:
        contains = blocklist.__contains__
        for _ in range(rounds):
            for address in probe:
                contains(address)

    lookup_us = [_time(lookup, lookups) / (lookups * len(probe)) * 1e6 for _ in range(repeats)]
    compiled_median = statistics.median(compiled_us)
    interp_median = statistics.median(interp_us)
    return {
        "rules": float(len(rules)),
        "ip_list_entries": float(list_size),
        "us_per_request": round(compiled_median, 3),
        "us_per_request_min": round(min(compiled_us), 3),
        "us_per_request_max": round(max(compiled_us), 3),
        "interpreter_us_per_request": round(interp_median, 3),
        "speedup_vs_interpreter": round(interp_median / compiled_median, 2),
        "ip_lookup_us": round(statistics.median(lookup_us), 3),
        "compile_ms": round(compile_ms, 2),
        "list_build_ms": round(list_build_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()

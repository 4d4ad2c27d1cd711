"""Break the in-process cost of the benchmark worker's requests down layer by layer.

Each row adds one layer of ``_e2e_worker.py`` to the one before and times
the ASGI call per request (no sockets, no server), so the difference
between rows is that layer's cost. ``--profile SCENARIO`` prints a cProfile
of the whole worker serving that scenario instead.

Times are the process's CPU time (other processes on a shared machine slow
it less than wall time), in batches interleaved across rows and scenarios
so that drift is shared; each figure is the median batch, with the fastest
beside it.

Run: ``PYTHONPATH=src python bench/_profile.py [--rounds N] [--profile hit]``.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
BODY = b"x" * 1024


def scope_for(path: str, headers: dict[str, str]) -> dict[str, Any]:
    """Return an ASGI http scope for ``GET path`` as uvicorn builds it."""
    raw_path, _, query = path.partition("?")
    return {"type": "http", "method": "GET", "path": raw_path, "raw_path": raw_path.encode(),
            "query_string": query.encode(), "scheme": "http", "http_version": "1.1",
            "headers": [(b"host", b"127.0.0.1:8080"), (b"user-agent", b"wrk"),
                        (b"accept", b"*/*")] + [(k.encode(), v.encode())
                                                for k, v in headers.items()],
            "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000)}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    pass


async def per_request_ns(app: Any, scope: dict[str, Any], iterations: int) -> float:
    """Return the median CPU ns per call of ``app`` over five batches."""
    for _ in range(300):
        await app(scope, _receive, _send)
    return statistics.median([await _batch(app, scope, iterations) for _ in range(5)])


async def _batch(app: Any, scope: dict[str, Any], iterations: int) -> float:
    started = time.process_time_ns()
    for _ in range(iterations):
        await app(scope, _receive, _send)
    return (time.process_time_ns() - started) / iterations


def layers() -> list[tuple[str, Any, str]]:
    """Return (label, ASGI app, path) for the bare handler and each added layer."""
    from _e2e_worker import _filter, _geo, build, cf_from_header, server_timing

    from edgeline import App, Response
    from edgeline.adapters.asgi import AsgiAdapter

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"1024")]})
        await send({"type": "http.response.body", "body": BODY})

    rows: list[tuple[str, Any, str]] = [("bare ASGI handler", bare, "/obj")]
    stack: list[Any] = []
    for label, middleware in (("adapter + app + route", None),
                              ("+ server_timing middleware", server_timing),
                              (f"+ filter: {_filter()[1]}", _filter()[0]),
                              (f"+ geo: {_geo()[1]}", _geo()[0])):
        if middleware is not None:
            stack.append(middleware)
        app = App()
        if stack:
            app.use(*stack)

        async def constant(request: Any, ctx: Any) -> Response:
            return Response(BODY, 200, {"content-type": "text/plain"})

        app.get("/{rest:path}")(constant)
        rows.append((label, AsgiAdapter(app, cf=cf_from_header), "/obj"))
    full = build("http://127.0.0.1:9")  # nothing listens: the hit is served from the store
    rows.append(("+ forward -> cache hit (the full worker)", full, "/obj"))
    return rows


async def _prime(app: Any, scope: dict[str, Any]) -> None:
    # Fill the worker's cache with an entry for /obj without an origin.
    from edgeline.messages import Request, Response

    cache = _find_cache(app)
    if cache is None:
        return
    hop = cache.inner

    class Canned:
        async def handle(self, request: Request) -> Response:
            return Response(BODY, 200, {"cache-control": "max-age=3600",
                                        "content-type": "text/plain"})

    real = hop.transport
    hop.transport = Canned()
    try:
        await app(scope, _receive, _send)
    finally:
        hop.transport = real


def _find_cache(app: Any) -> Any:
    from edgeline.cache import CachingTransport

    # forward(cache) keeps the transport in the closure of its ``pick`` function.
    found = app.app.router.match("GET", "/obj", "127.0.0.1:8080")
    handler = found[0] if found else None
    for cell in getattr(handler, "__closure__", None) or ():
        value = cell.cell_contents
        if isinstance(value, CachingTransport):
            return value
        if callable(value) and not isinstance(value, type):
            for inner in getattr(value, "__closure__", None) or ():
                if isinstance(inner.cell_contents, CachingTransport):
                    return inner.cell_contents
    return None


def main() -> None:
    from _e2e_worker import build
    from e2e import SCENARIOS, US

    if "--profile" in sys.argv:
        scenario = sys.argv[sys.argv.index("--profile") + 1]
        path, headers, _ = SCENARIOS[scenario]
        app = build("http://127.0.0.1:9")
        scope = scope_for(path, headers)

        async def go() -> None:
            await _prime(app, scope)
            await per_request_ns(app, scope, 200)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(20_000):
                await app(scope, _receive, _send)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)

        asyncio.run(go())
        return

    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 7

    async def go() -> None:
        rows = [(label, app, scope_for(path, US)) for label, app, path in layers()]
        ladder = len(rows)
        for scenario, (path, headers, _) in SCENARIOS.items():
            if scenario != "miss":
                rows.append((f"full worker, scenario {scenario}", build("http://127.0.0.1:9"),
                             scope_for(path, headers)))
        for _, app, scope in rows:
            if hasattr(app, "app"):
                await _prime(app, scope)
            for _ in range(300):
                await app(scope, _receive, _send)
        batches: list[list[float]] = [[] for _ in rows]
        for _ in range(rounds):  # interleaved: drift on a shared machine hits every row alike
            for i, (_, app, scope) in enumerate(rows):
                batches[i].append(await _batch(app, scope, 2_000))
        floor = statistics.median(batches[0])
        previous = 0.0
        for i, (label, _, _) in enumerate(rows):
            ns = statistics.median(batches[i])
            step = f"(+{(ns - previous) / 1000:6.2f})" if i < ladder else " " * 9
            print(f"{label:60s} {ns / 1000:7.2f} us {step}  min {min(batches[i]) / 1000:6.2f}"
                  f"  x{ns / floor:6.1f} floor")
            previous = ns

    asyncio.run(go())


if __name__ == "__main__":
    main()

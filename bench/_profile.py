"""Break the in-process cost of the benchmark worker's requests down layer by layer.

Each row adds one layer of ``_e2e_worker.py`` to the one before and times
the ASGI call per request (no sockets, no server), so the difference
between rows is that layer's cost. ``--profile SCENARIO`` prints a cProfile
of the whole worker serving that scenario instead.

Times are the process's CPU time (other processes on a shared machine slow
it less than wall time), in batches interleaved across rows and scenarios
so that drift is shared; each figure is the median batch, with the fastest
beside it.

``--http`` serves each row on edgeline's uvicorn setup (one process per
row, the way ``bench/e2e.py`` serves the worker) and loads it with wrk on
127.0.0.1 instead: the figure is the server's CPU time (user + system) per
request, rounds interleaved, so the step between rows is what that layer
costs over HTTP, uvicorn's share of its extra response fields included.

Run: ``PYTHONPATH=src python bench/_profile.py [--rounds N] [--profile hit] [--http]``.
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


def serve_row(index: int, port: int) -> None:
    """Serve ladder row ``index`` (its cache primed) on 127.0.0.1:``port`` until terminated."""
    from e2e import US

    from edgeline.cli import _bind, _server

    label, app, path = layers()[index]

    async def serve() -> None:
        if hasattr(app, "app"):
            scope = scope_for(path, US)
            # The cache key holds the Host the load generator will send.
            scope["headers"] = [(b"host", f"127.0.0.1:{port}".encode())] + scope["headers"][1:]
            await _prime(app, scope)
        await _server(app).serve(sockets=[_bind("127.0.0.1", port)])

    asyncio.run(serve())


def http_ladder(rounds: int, seconds: float = 2.0) -> None:
    """Print each row's server CPU time per request over HTTP (wrk, interleaved rounds)."""
    import os
    import subprocess

    from _load import wrk
    from cache import _free_port, _stop, _wait_port
    from e2e import US, _cpu_seconds

    rows = layers()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src"))
    servers: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for index in range(len(rows)):
            port = _free_port()
            servers.append((subprocess.Popen(
                [sys.executable, __file__, "--serve", str(index), str(port)], env=env), port))
        for _, port in servers:
            _wait_port(port, timeout=20)
            wrk(f"http://127.0.0.1:{port}/obj", 1, headers=US)  # warm
        cpu: list[list[float]] = [[] for _ in rows]
        for _ in range(rounds):
            for i, (process, port) in enumerate(servers):
                before = _cpu_seconds(process.pid)
                result = wrk(f"http://127.0.0.1:{port}/obj", seconds, headers=US)
                cpu[i].append((_cpu_seconds(process.pid) - before) * 1e6
                              / max(1, result["requests"]))
    finally:
        for process, _ in servers:
            _stop(process)
    previous = previous_min = 0.0
    for (label, _, _), values in zip(rows, cpu, strict=True):
        us, fastest = statistics.median(values), min(values)
        print(f"{label:60s} {us:6.1f} us CPU (+{us - previous:5.1f})"
              f"  min {fastest:6.1f} (+{fastest - previous_min:5.1f})")
        previous, previous_min = us, fastest


def main() -> None:
    from _e2e_worker import build
    from e2e import SCENARIOS, US

    if "--serve" in sys.argv:
        at = sys.argv.index("--serve")
        serve_row(int(sys.argv[at + 1]), int(sys.argv[at + 2]))
        return
    if "--http" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
        http_ladder(rounds)
        return

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

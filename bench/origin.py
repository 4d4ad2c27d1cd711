"""The cost of edgeline's origin path over a direct httpx call to the same local origin.

An origin process (uvicorn + httptools, this file with ``--serve PORT``)
answers ``GET /ok`` with a small JSON body on 127.0.0.1. In one event loop,
with one keep-alive connection each, sequential requests go:

* ``direct``: ``httpx.AsyncClient.get`` and ``.content`` (the baseline);
* ``transport``: the full stack ``build_origin_transport`` compiles for an
  ``Origin`` with default settings (hygiene, retry, failover, breaker,
  timeout) over ``HttpxTransport``, body read;
* ``bare``: ``HttpxTransport`` alone (no layers), to split the cost;
* ``bare_httpcore``: the same with httpx's own transport (httpcore) as the
  connection instead of the default ``H1Lane``; ``lane_ratio`` = bare /
  bare_httpcore;
* ``app``: an ``App`` route ``forward(transport)`` called through
  ``TestClient`` (routing and the handler included).

Variants are interleaved round by round so that drift is shared; figures are
medians over rounds of the mean per-request time, in µs, with ``_min`` and
``_max``. ``overhead_ratio`` = transport / direct (target ≤ 1.15).
``layers_us`` is the stack's own cost over an in-process transport that
answers at once (no network): what the origin path adds per request.

Usage: ``python bench/origin.py [--quick]`` prints the results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BODY = b'{"ok":true,"items":[1,2,3],"origin":"bench"}'


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run(_app, host="127.0.0.1", port=port, log_level="error", access_log=False,
                lifespan="off", http="httptools")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_origin() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("benchmark origin did not start")


async def _per_request_us(call: Callable[[], Awaitable[Any]], n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - began) / n * 1e6


async def _measure(url: str, rounds: int, n: int) -> dict[str, float]:
    import httpx

    from edgeline import App, Request, Response
    from edgeline.origin import HealthRegistry, build_origin_transport, forward
    from edgeline.origin.httpx_transport import HttpxTransport
    from edgeline.testing import TestClient
    from kv_schemas.origins import Origin

    client = httpx.AsyncClient(trust_env=False)
    bare = HttpxTransport()
    bare_httpcore = HttpxTransport(lane_factory=lambda: httpx.AsyncHTTPTransport(
        trust_env=False, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)))
    origin = Origin(name="bench", urls=[url])
    stack_base = HttpxTransport()
    stack = build_origin_transport(origin, stack_base, health=HealthRegistry())
    app = App()
    app.get("/ok")(forward(build_origin_transport(origin, HttpxTransport(),
                                                  health=HealthRegistry())))
    test_client = TestClient(app)
    client_headers = {"host": "shop.example", "user-agent": "bench/1.0", "accept": "*/*",
                      "cf-connecting-ip": "203.0.113.7"}

    async def canned(request: Request) -> Response:
        return Response(BODY, 200, {"content-type": "application/json",
                                    "content-length": str(len(BODY))})

    class Canned:
        async def handle(self, request: Request) -> Response:
            return await canned(request)

    layers = build_origin_transport(origin, Canned(), health=HealthRegistry())

    async def direct() -> None:
        r = await client.get(url + "/ok", headers={"user-agent": "bench/1.0", "accept": "*/*"})
        assert r.status_code == 200 and r.content == BODY

    async def via_bare() -> None:
        r = await bare.handle(Request("GET", url + "/ok", client_headers))
        assert await r.read() == BODY

    async def via_bare_httpcore() -> None:
        r = await bare_httpcore.handle(Request("GET", url + "/ok", client_headers))
        assert await r.read() == BODY

    async def via_stack() -> None:
        r = await stack.handle(Request("GET", "https://shop.example/ok", client_headers))
        assert r.status == 200 and await r.read() == BODY

    async def via_app() -> None:
        r = await test_client.get("/ok", headers=client_headers)
        assert r.status == 200 and await r.read() == BODY

    async def via_layers() -> None:
        r = await layers.handle(Request("GET", "https://shop.example/ok", client_headers))
        assert await r.read() == BODY

    variants = {"direct": direct, "bare": via_bare, "bare_httpcore": via_bare_httpcore,
                "transport": via_stack, "app": via_app}
    samples: dict[str, list[float]] = {name: [] for name in [*variants, "layers"]}
    for call in variants.values():  # warm up connections and code paths
        await _per_request_us(call, 50)
    for _ in range(rounds):
        for name, call in variants.items():
            samples[name].append(await _per_request_us(call, n))
        samples["layers"].append(await _per_request_us(via_layers, n))
    await client.aclose()
    await bare.aclose()
    await bare_httpcore.aclose()
    await stack_base.aclose()
    out: dict[str, float] = {}
    for name, values in samples.items():
        out[f"{name}_us"] = round(statistics.median(values), 1)
        out[f"{name}_us_min"] = round(min(values), 1)
        out[f"{name}_us_max"] = round(max(values), 1)
    ratios = [t / d for t, d in zip(samples["transport"], samples["direct"], strict=True)]
    out["overhead_ratio"] = round(statistics.median(ratios), 3)
    out["overhead_ratio_min"] = round(min(ratios), 3)
    out["overhead_ratio_max"] = round(max(ratios), 3)
    out["bare_ratio"] = round(statistics.median(
        [b / d for b, d in zip(samples["bare"], samples["direct"], strict=True)]), 3)
    out["lane_ratio"] = round(statistics.median(
        [b / h for b, h in zip(samples["bare"], samples["bare_httpcore"], strict=True)]), 3)
    out["app_ratio"] = round(statistics.median(
        [a / d for a, d in zip(samples["app"], samples["direct"], strict=True)]), 3)
    out["overhead_us"] = round(out["transport_us"] - out["direct_us"], 1)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return a flat dict of named figures."""
    rounds, n = (5, 300) if quick else (15, 1000)
    started = time.perf_counter()
    proc, url = _start_origin()
    try:
        result: dict[str, Any] = {"mode": "quick" if quick else "full", "rounds": rounds,
                                  "requests_per_round": n}
        result.update(asyncio.run(_measure(url, rounds, n)))
    finally:
        proc.kill()
        proc.wait(timeout=5)
    result["target_overhead_ratio"] = 1.15
    result["python"] = platform.python_version()
    result["cpu_count"] = os.cpu_count() or 0
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve)
        return 0
    print(json.dumps(run(quick=args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the edge cache: hit cost in process and over HTTP, against a floor and nginx.

Figures (one invocation, baselines beside):

* in process: a cache hit through the whole pipeline (ASGI adapter -> App ->
  CachingTransport -> memory store -> response) against a bare ASGI handler
  called the same way: ``inproc_hit_ns``, ``inproc_floor_ns``,
  ``inproc_hit_ratio_to_floor`` (floor / hit, so 1.0 is "free").
* over HTTP with wrk on 127.0.0.1: ``edgeline proxy`` serving a cached
  object, the same uvicorn configuration serving a bare ASGI handler (the
  floor; it is also the origin), and nginx with ``proxy_cache`` in front of
  the same origin: ``hit_rps``, ``floor_rps``, ``nginx_rps``, p99s, and
  ``hit_throughput_ratio_to_floor`` (target >= 0.7),
  ``hit_p99_ratio_to_floor`` (target <= 1.5), ``nginx_throughput_ratio``
  (edgeline / nginx).
* ``zipf_hit_ratio``: the memory store (SIEVE, the chosen policy) under a
  Zipf(0.9) workload over 20,000 objects of 1-16 KiB with a capacity of
  ``zipf_capacity_bytes`` (10% of the catalogue), and the same for LRU.

Every server is started here on a free loopback port and stopped by PID.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BODY = b"x" * 1024

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _nginx import CACHED_LOCATION, nginx_conf  # noqa: E402

FLOOR_SERVER = r'''
import asyncio, sys
sys.path.insert(0, {src!r})
from edgeline.cli import _bind, _server
BODY = b"x" * 1024
HEADERS = [(b"content-type", b"text/plain"), (b"cache-control", b"max-age=3600"),
           (b"content-length", str(len(BODY)).encode())]
async def app(scope, receive, send):
    await send({{"type": "http.response.start", "status": 200, "headers": HEADERS}})
    await send({{"type": "http.response.body", "body": BODY}})
async def main():
    server = _server(app)
    await server.serve(sockets=[_bind("127.0.0.1", {port})])
asyncio.run(main())
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, seconds: int, connections: int = 32) -> tuple[float, float]:
    """Return (requests/s, p99 ms) from one bounded wrk run against a loopback URL."""
    assert url.startswith("http://127.0.0.1:")
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")
    return rps, p99


def _nginx_conf(prefix: Path, port: int, origin_port: int) -> Path:
    server = f"""
    server {{
        listen 127.0.0.1:{port};{CACHED_LOCATION}
    }}"""
    return nginx_conf(prefix, origin_port, server)


def zipf_hit_ratios(requests: int, objects: int = 20_000, alpha: float = 0.9,
                    capacity_fraction: float = 0.1) -> dict[str, float]:
    """Return hit ratios of SIEVE and LRU memory stores under one Zipf request trace."""
    from edgeline.cache import Entry, EntryFacts, MemoryStore

    rng = random.Random(20240613)
    sizes = [rng.randint(1024, 16 * 1024) for _ in range(objects)]
    weights = [1.0 / (i + 1) ** alpha for i in range(objects)]
    trace = rng.choices(range(objects), weights=weights, k=requests)
    facts = EntryFacts()
    bodies = {s: b"x" * s for s in set(sizes)}
    capacity = int(sum(sizes) * capacity_fraction)
    out: dict[str, float] = {"zipf_capacity_bytes": capacity, "zipf_objects": objects,
                             "zipf_alpha": alpha, "zipf_requests": requests}
    for policy in ("sieve", "lru"):
        store = MemoryStore(capacity, policy=policy)
        hits = 0
        for obj in trace:
            key = f"k{obj}"
            if store.get_now(key) is not None:
                hits += 1
                continue
            store.put_now(key, Entry(200, [], bodies[sizes[obj]], initial_age=0, response_time=0,
                                     request_time=0, facts=facts), 1e9)
        out[f"zipf_hit_ratio_{policy}"] = hits / requests
    out["zipf_hit_ratio"] = out["zipf_hit_ratio_sieve"]
    return out


def inprocess(iterations: int) -> dict[str, float]:
    """Time a cache hit through AsgiAdapter + App + CachingTransport against a bare handler."""
    from edgeline.messages import Response
    from edgeline.proxy import build_app
    from edgeline.testing import FunctionTransport

    async def origin(request: Any) -> Response:
        return Response(BODY, 200, {"cache-control": "max-age=3600", "content-type": "text/plain"})

    app = build_app("http://origin.test", transport=FunctionTransport(origin))
    scope = {"type": "http", "method": "GET", "path": "/hit", "raw_path": b"/hit",
             "query_string": b"", "scheme": "http", "http_version": "1.1",
             "headers": [(b"host", b"edge.test"), (b"accept", b"*/*")],
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def floor(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"1024")]})
        await send({"type": "http.response.body", "body": BODY})

    async def timed(target: Any) -> float:
        for _ in range(200):
            await target(scope, receive, send)
        best = []
        for _ in range(5):
            started = time.perf_counter_ns()
            for _ in range(iterations):
                await target(scope, receive, send)
            best.append((time.perf_counter_ns() - started) / iterations)
        return statistics.median(best)

    async def main() -> tuple[float, float]:
        hit = await timed(app)
        return hit, await timed(floor)

    hit_ns, floor_ns = asyncio.run(main())
    return {"inproc_hit_ns": round(hit_ns), "inproc_floor_ns": round(floor_ns),
            "inproc_hit_ratio_to_floor": floor_ns / hit_ns}


def over_http(seconds: int, rounds: int) -> dict[str, float]:
    """Run wrk against the floor server, edgeline proxy and nginx (if installed)."""
    src = str(ROOT / "src")
    env = dict(os.environ, PYTHONPATH=src)
    floor_port, proxy_port, nginx_port = _free_port(), _free_port(), _free_port()
    processes: list[subprocess.Popen[bytes]] = []
    results: dict[str, list[float]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="edgeline-bench-cache-"))
    tmp.chmod(0o755)  # NOTE: nginx workers run as an unprivileged user when started as root
    try:
        floor = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER.format(src=src, port=floor_port)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(floor)
        proxy = subprocess.Popen([sys.executable, "-m", "edgeline.proxy", "proxy", "--origin",
                                  f"http://127.0.0.1:{floor_port}", "--listen",
                                  f"127.0.0.1:{proxy_port}"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(proxy)
        targets = {"floor": f"http://127.0.0.1:{floor_port}/obj",
                   "hit": f"http://127.0.0.1:{proxy_port}/obj"}
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if nginx:
            conf = _nginx_conf(tmp, nginx_port, floor_port)
            ngx = subprocess.Popen([nginx, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(ngx)
            targets["nginx"] = f"http://127.0.0.1:{nginx_port}/obj"
        for port in (floor_port, proxy_port) + ((nginx_port,) if nginx else ()):
            _wait_port(port)
        import urllib.request

        for url in targets.values():  # warm: fill the caches
            for _ in range(3):
                try:
                    urllib.request.urlopen(url, timeout=5).read()
                except OSError as exc:
                    raise RuntimeError(f"warm-up of {url} failed: {exc}") from None
        for _ in range(rounds):  # interleaved so drift is shared
            for name, url in targets.items():
                rps, p99 = _wrk(url, seconds)
                results.setdefault(f"{name}_rps", []).append(rps)
                results.setdefault(f"{name}_p99_ms", []).append(p99)
    finally:
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(tmp, ignore_errors=True)
    out: dict[str, float] = {}
    for name, values in results.items():
        out[name] = round(statistics.median(values), 3)
        if len(values) > 1:
            out[name + "_min"] = round(min(values), 3)
            out[name + "_max"] = round(max(values), 3)
    out["hit_throughput_ratio_to_floor"] = out["hit_rps"] / out["floor_rps"]
    out["hit_p99_ratio_to_floor"] = out["hit_p99_ms"] / out["floor_p99_ms"]
    if "nginx_rps" in out:
        out["nginx_throughput_ratio"] = out["hit_rps"] / out["nginx_rps"]
        out["nginx_p99_ratio"] = out["hit_p99_ms"] / out["nginx_p99_ms"]
    return out


def run(quick: bool = False) -> dict[str, float]:
    """Run every part; quick mode keeps the whole under two minutes."""
    sys.path.insert(0, str(ROOT / "src"))
    figures: dict[str, float] = {}
    figures.update(zipf_hit_ratios(50_000 if quick else 400_000))
    figures.update(inprocess(2_000 if quick else 20_000))
    figures.update(over_http(2 if quick else 10, 1 if quick else 3))
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))

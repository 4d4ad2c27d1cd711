"""Generate HTTP load on 127.0.0.1: closed loop with wrk, open loop at a fixed rate.

* :func:`wrk` runs one bounded wrk run and returns requests/s, errors and a
  latency distribution (a Lua ``done`` hook prints wrk's own HDR percentiles
  as JSON, enough points for a CDF).
* :func:`open_loop` sends requests on a schedule fixed in advance (rate x
  seconds, bounded in count and time) over a pool of keep-alive
  connections, and measures each latency from the request's *scheduled*
  time, so a stalled server is charged for the requests it delayed (no
  coordinated omission; wrk2's method, which Debian does not package).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

# Percentiles sampled for CDFs (wrk keeps an HDR histogram in microseconds).
CDF_POINTS = (1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9,
              99.99, 100)

_DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('EDGELINE-WRK {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,' ..
    '"timeouts":%d,"mean_us":%f,"percentiles":{',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean))
  local points = {POINTS}
  for i, p in ipairs(points) do
    if i > 1 then io.write(",") end
    local v = latency:percentile(p)
    if p >= 100 then v = latency.max end
    io.write(string.format('"%g":%d', p, v))
  end
  io.write("}}\\n")
end
"""

_DYNAMIC_LUA = """
local counter = 0
local span = %d
math.randomseed(%d)
request = function()
  counter = counter + 1
  local roll = math.random(100)
  if roll <= 70 then
    return wrk.format(nil, "/obj/" .. math.random(span))
  elseif roll <= 85 then
    return wrk.format(nil, "/hello/u" .. (counter %% 1000))
  elseif roll <= 95 then
    return wrk.format(nil, "/obj")
  end
  return wrk.format(nil, "/nostore")
end
"""


def _script(extra: str = "") -> Path:
    points = ",".join(f"{p:g}" for p in CDF_POINTS)
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="edgeline-wrk-",
                                         delete=False)
    with handle:
        handle.write(extra + _DONE_LUA.replace("POINTS", points, 1))
    return Path(handle.name)


def wrk(url: str, seconds: float, *, connections: int = 32, threads: int = 1,
        headers: dict[str, str] | None = None, mixed_span: int = 0) -> dict[str, Any]:
    """Run wrk once against a loopback URL; return rps, errors and latency percentiles (ms).

    ``mixed_span`` > 0 replaces the fixed path by a mix over that many cache
    keys (70% ``/obj/N``, 15% edge answers, 10% one hot object, 5% misses),
    used to load a server while its memory is watched.
    """
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"load goes to 127.0.0.1 only, not {url}")
    extra = _DYNAMIC_LUA % (mixed_span, 20240613) if mixed_span else ""
    script = _script(extra)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               "--timeout", "5s", "-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    finally:
        script.unlink(missing_ok=True)
    for line in done.stdout.splitlines():
        if line.startswith("EDGELINE-WRK "):
            raw = json.loads(line[len("EDGELINE-WRK "):])
            break
    else:
        raise RuntimeError(f"wrk gave no summary for {url}: {done.stdout[-500:]} {done.stderr[-500:]}")
    duration = raw["duration_us"] / 1e6
    errors = (raw["connect_errors"] + raw["read_errors"] + raw["write_errors"]
              + raw["timeouts"])
    return {
        "rps": raw["requests"] / duration if duration else 0.0,
        "requests": raw["requests"],
        "socket_errors": errors,
        "status_4xx_5xx": raw["status_errors"],
        "mean_ms": raw["mean_us"] / 1000.0,
        "cdf_ms": {float(p): v / 1000.0 for p, v in raw["percentiles"].items()},
    }


def percentile(sorted_values: list[float], p: float) -> float:
    """Return the ``p``-th percentile (nearest rank) of ascending values."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[rank]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:  # RFC 9112 §7.1
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length > 0:
        await reader.readexactly(length)
    return status


async def _open_loop(port: int, path: str, headers: dict[str, str], rate: float,
                     seconds: float, connections: int) -> dict[str, Any]:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    writers = []
    for _ in range(connections):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        pool.put_nowait((reader, writer))
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0

    async def one(scheduled: float) -> None:
        nonlocal errors
        reader, writer = await pool.get()
        try:
            writer.write(request)
            await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writers.append(writer)
        else:
            latencies.append(loop.time() - scheduled)
        pool.put_nowait((reader, writer))

    count = int(rate * seconds)
    start = loop.time() + 0.05
    tasks = []
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(scheduled)))
    _, pending = await asyncio.wait(tasks, timeout=10.0)
    for task in pending:
        task.cancel()
    for writer in writers:
        writer.close()
    latencies.sort()
    ms = [v * 1000.0 for v in latencies]
    return {"sent": count, "completed": len(ms), "errors": errors + len(pending),
            "cdf_ms": {float(p): percentile(ms, p) for p in CDF_POINTS}}


def open_loop(port: int, path: str, *, rate: float, seconds: float,
              headers: dict[str, str] | None = None, connections: int = 32) -> dict[str, Any]:
    """Send ``rate`` requests/s to 127.0.0.1:``port`` for ``seconds``; return latency percentiles (ms)."""
    if rate <= 0 or seconds <= 0 or rate * seconds > 200_000:
        raise ValueError("open loop: rate and seconds must be positive, at most 200,000 requests")
    return asyncio.run(_open_loop(port, path, headers or {}, rate, seconds, connections))

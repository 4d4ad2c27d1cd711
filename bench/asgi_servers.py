"""Compare ASGI servers as candidates for the ``edgeline dev`` emulator.

Each candidate serves the bare ASGI ``app`` below in its own subprocess on a
free loopback port (one worker, access log off). For every run we measure:

* ``startup_ms``: process start to first successful response;
* ``rps``, ``p50_ms``, ``p99_ms``: ``wrk`` against the small route;
* ``stream_ms``: median round trip of sequential requests that upload 64 KiB
  (chunked) and download 256 KiB streamed in 16 KiB chunks;
* ``rss_mib``: resident memory of the server's process tree after the load;
* ``shutdown_ms``: SIGTERM to process exit.

Runs are repeated (3 in full mode, 1 in quick mode) and interleaved across
candidates so that slow drift of the machine is shared rather than pinned on
one server. Medians are reported with ``_min``/``_max`` and ratios to
uvicorn with httptools+uvloop, the baseline.

Usage: ``python bench/asgi_servers.py [--quick]`` prints the results as JSON.

This module's top level imports only the standard library, because the server
subprocesses import it to load ``app`` and their startup time is measured.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------
# The application under test
# --------------------------------------------------------------------------

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SMALL_BODY = b"hello from edgeline\n"
UPLOAD_SIZE = 64 * 1024
DOWNLOAD_SIZE = 256 * 1024
CHUNK_SIZE = 16 * 1024
_CHUNK = b"x" * CHUNK_SIZE
_SMALL_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(SMALL_BODY)).encode()),
]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve a small text body on any path, and the streaming round trip on /stream."""
    if scope["type"] == "lifespan":
        # Answer lifespan explicitly: hypercorn and granian log an error for
        # apps that raise on it, and that would add noise to startup.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await _stream(receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": _SMALL_HEADERS})
    await send({"type": "http.response.body", "body": SMALL_BODY})


async def _stream(receive: Receive, send: Send) -> None:
    """Read the whole request body, then stream 256 KiB back without a length."""
    received = 0
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        received += len(message.get("body", b""))
        more_body = message.get("more_body", False)
    if received != UPLOAD_SIZE:
        # Refuse a short or long upload, so a server that drops request
        # chunks fails the benchmark instead of looking fast.
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"bad upload size"})
        return
    # No content-length: the server must frame the body itself (chunked), as
    # it will for a worker that streams a response of unknown length.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/octet-stream")],
        }
    )
    for _ in range(DOWNLOAD_SIZE // CHUNK_SIZE):
        await send({"type": "http.response.body", "body": _CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


# --------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------

BASELINE = "uvicorn_httptools"
_APP_TARGET = "asgi_servers:app"
_HOST = "127.0.0.1"


def _uvicorn(loop: str, http: str) -> Callable[[int], list[str]]:
    """Return a command builder for uvicorn with the given loop and HTTP parser."""

    def build(port: int) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", _APP_TARGET,
            "--host", _HOST, "--port", str(port),
            "--workers", "1", "--loop", loop, "--http", http,
            "--lifespan", "on", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip

    return build


def _hypercorn(port: int) -> list[str]:
    """Return the hypercorn command for one in-process asyncio worker."""
    # --workers 0 runs the worker in the main process (no spawned child),
    # which is how we would embed it via hypercorn.asyncio.serve(); with
    # --workers 1 startup would also pay for a second interpreter.
    # Hypercorn writes no access log unless --access-logfile is given.
    return [
        sys.executable, "-m", "hypercorn", _APP_TARGET,
        "--bind", f"{_HOST}:{port}", "--workers", "0", "--worker-class", "asyncio",
        "--log-level", "warning",
    ]  # fmt: skip


def _granian(port: int) -> list[str]:
    """Return the granian command for the ASGI interface with one worker."""
    # Granian always runs its worker in a child process; the loop is left at
    # its default ("auto", uvloop when installed) as a user would get it.
    return [
        sys.executable, "-m", "granian", "--interface", "asgi",
        "--host", _HOST, "--port", str(port), "--workers", "1",
        "--no-access-log", "--log-level", "warning", _APP_TARGET,
    ]  # fmt: skip


CANDIDATES: dict[str, Callable[[int], list[str]]] = {
    "uvicorn_httptools": _uvicorn("uvloop", "httptools"),
    "uvicorn_h11": _uvicorn("asyncio", "h11"),
    # Not one of the four briefed candidates: uvloop is not a declared
    # dependency of edgeline and Server.serve() runs on whatever loop we
    # already run, so this is what an embedded uvicorn gets without uvloop.
    "uvicorn_httptools_asyncio": _uvicorn("asyncio", "httptools"),
    "hypercorn": _hypercorn,
    "granian": _granian,
}

METRICS = ("startup_ms", "rps", "p50_ms", "p99_ms", "stream_ms", "rss_mib", "shutdown_ms")


@dataclass(frozen=True)
class Settings:
    """Hold the knobs that differ between quick and full mode."""

    repeats: int
    wrk_duration_s: int
    warmup_s: int
    stream_requests: int


FULL = Settings(repeats=3, wrk_duration_s=5, warmup_s=1, stream_requests=300)
QUICK = Settings(repeats=1, wrk_duration_s=1, warmup_s=0, stream_requests=100)

STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0


# --------------------------------------------------------------------------
# Process helpers
# --------------------------------------------------------------------------


def _free_port() -> int:
    """Ask the kernel for an unused loopback port."""
    # The port is released before the server binds it; the window is tiny and
    # nothing else on this machine races for loopback ports during a run.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """List the direct children of ``pid`` from /proc."""
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids.extend(int(p) for p in fh.read().split())
    except (FileNotFoundError, ProcessLookupError):
        pass
    return kids


def _descendants(pid: int) -> list[int]:
    """List every process below ``pid`` in the tree, depth first."""
    found: list[int] = []
    for child in _children(pid):
        found.append(child)
        found.extend(_descendants(child))
    return found


def _vm_rss_kib(pid: int) -> int:
    """Read VmRSS of one process in KiB, or 0 if it has gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def _alive(pid: int) -> bool:
    """Tell whether ``pid`` is running (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # The state letter follows the parenthesised command name.
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _probe(port: int, path: str = "/") -> bool:
    """Send one GET and tell whether it got a 200."""
    conn = http.client.HTTPConnection(_HOST, port, timeout=1.0)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class ServerProcess:
    """Run one candidate server in a subprocess and stop it by PID."""

    def __init__(self, name: str, port: int) -> None:
        """Remember what to start; nothing runs until :meth:`start`."""
        self.name = name
        self.port = port
        self.argv = CANDIDATES[name](port)
        self.proc: subprocess.Popen[bytes] | None = None
        # Server output goes to a file, not a pipe, so a chatty server can
        # never block on a full pipe buffer mid-benchmark.
        self._log = tempfile.TemporaryFile()
        self._known_children: set[int] = set()

    def start(self) -> float:
        """Start the server and return milliseconds until it first answered 200."""
        env = dict(os.environ)
        here = str(Path(__file__).resolve().parent)
        env["PYTHONPATH"] = here + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
        )
        deadline = t0 + STARTUP_TIMEOUT_S
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            if _probe(self.port):
                elapsed = (time.perf_counter() - t0) * 1000.0
                self._known_children.update(_descendants(self.proc.pid))
                return elapsed
            time.sleep(0.002)
        raise TimeoutError(f"{self.name} did not answer within {STARTUP_TIMEOUT_S}s")

    def rss_mib(self) -> tuple[float, int]:
        """Return the RSS of the whole process tree in MiB and how many processes it has."""
        assert self.proc is not None
        pids = [self.proc.pid, *_descendants(self.proc.pid)]
        self._known_children.update(pids[1:])
        return sum(_vm_rss_kib(p) for p in pids) / 1024.0, len(pids)

    def stop(self) -> float:
        """Send SIGTERM to the server's PID, wait for it, and return milliseconds taken."""
        if self.proc is None:
            return 0.0
        self._known_children.update(_descendants(self.proc.pid))
        t0 = time.perf_counter()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        elapsed = (time.perf_counter() - t0) * 1000.0
        # A supervisor that died before its worker would leave an orphan
        # holding the port; stop any such child by its own PID.
        for pid in self._known_children:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()
        return elapsed

    def output(self) -> str:
        """Return what the server has printed so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]


# --------------------------------------------------------------------------
# Load generators
# --------------------------------------------------------------------------

_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY_RE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_SOCKET_ERR_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def parse_wrk(output: str) -> dict[str, float]:
    """Extract req/s, p50, p99 (ms) and error count from ``wrk --latency`` output."""
    rps = _RPS_RE.search(output)
    if rps is None:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    result = {"rps": float(rps.group(1))}
    for pct, value, unit in _LATENCY_RE.findall(output):
        result[f"p{pct}_ms"] = float(value) * _UNIT_MS[unit]
    if "p50_ms" not in result or "p99_ms" not in result:
        raise ValueError(f"no latency distribution in wrk output:\n{output}")
    errors = sum(int(n) for m in _SOCKET_ERR_RE.findall(output) for n in m)
    errors += sum(int(n) for n in _NON2XX_RE.findall(output))
    result["wrk_errors"] = float(errors)
    return result


def run_wrk(port: int, duration_s: int) -> dict[str, float]:
    """Run wrk with one thread and 32 connections against the small route."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk not found; install it (apt-get install -y wrk)")
    argv = [wrk, "-t1", "-c32", f"-d{duration_s}s", "--latency", f"http://{_HOST}:{port}/"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 30, check=True)
    return parse_wrk(done.stdout)


def _upload_chunks() -> Iterator[bytes]:
    """Yield the 64 KiB upload in 16 KiB pieces, so httpx sends it chunked."""
    for _ in range(UPLOAD_SIZE // CHUNK_SIZE):
        yield _CHUNK


def stream_round_trips(port: int, requests: int) -> float:
    """Time sequential upload+download round trips on /stream and return the median ms."""
    import httpx  # imported here so the server subprocesses never pay for it

    url = f"http://{_HOST}:{port}/stream"
    timings: list[float] = []
    # One keep-alive connection, as a browser or test client would reuse.
    with httpx.Client(timeout=10.0) as client:
        for i in range(requests + 5):
            t0 = time.perf_counter()
            with client.stream("POST", url, content=_upload_chunks()) as resp:
                size = sum(len(part) for part in resp.iter_raw())
            elapsed = (time.perf_counter() - t0) * 1000.0
            if resp.status_code != 200 or size != DOWNLOAD_SIZE:
                raise RuntimeError(f"/stream returned {resp.status_code} with {size} bytes")
            if i >= 5:  # the first few warm the connection and code paths
                timings.append(elapsed)
    return statistics.median(timings)


# --------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------


def measure_once(name: str, settings: Settings) -> dict[str, float]:
    """Start one candidate, measure everything once, and stop it."""
    server = ServerProcess(name, _free_port())
    sample: dict[str, float] = {}
    try:
        sample["startup_ms"] = server.start()
        if settings.warmup_s:
            run_wrk(server.port, settings.warmup_s)
        sample.update(run_wrk(server.port, settings.wrk_duration_s))
        sample["stream_ms"] = stream_round_trips(server.port, settings.stream_requests)
        sample["rss_mib"], processes = server.rss_mib()
        sample["processes"] = float(processes)
    except Exception:
        sys.stderr.write(f"--- {name} output ---\n{server.output()}\n")
        raise
    finally:
        shutdown_ms = server.stop()
    sample["shutdown_ms"] = shutdown_ms
    return sample


def _versions() -> dict[str, str]:
    """Return installed versions of the servers and tools involved."""
    found: dict[str, str] = {}
    for dist in ("uvicorn", "httptools", "uvloop", "h11", "hypercorn", "granian", "httpx"):
        try:
            found[f"version_{dist}"] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[f"version_{dist}"] = "missing"
    wrk = shutil.which("wrk")
    if wrk:
        done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        found["version_wrk"] = (done.stdout or done.stderr).split("\n", 1)[0].strip()
    return found


def _cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform string."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except FileNotFoundError:
        pass
    return platform.processor() or platform.machine()


def summarise(samples: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """Reduce samples to median/min/max per metric plus ratios to the baseline."""
    out: dict[str, float] = {}
    for name, runs in samples.items():
        for metric in (*METRICS, "wrk_errors", "processes"):
            values = [run[metric] for run in runs]
            out[f"{name}_{metric}"] = round(statistics.median(values), 3)
            out[f"{name}_{metric}_min"] = round(min(values), 3)
            out[f"{name}_{metric}_max"] = round(max(values), 3)
    if BASELINE in samples:
        for name in samples:
            for metric in METRICS:
                base = out[f"{BASELINE}_{metric}"]
                # Ratio > 1 means "more of it" than the baseline: better for
                # rps, worse for times and memory.
                if base:
                    out[f"{name}_{metric}_vs_{BASELINE}"] = round(out[f"{name}_{metric}"] / base, 3)
    return out


def run(quick: bool = False) -> dict[str, float | str]:
    """Benchmark every candidate and return a flat dict of named results."""
    settings = QUICK if quick else FULL
    started = time.perf_counter()
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in CANDIDATES}
    # Interleave: round r runs every candidate once before round r+1.
    for _ in range(settings.repeats):
        for name in CANDIDATES:
            samples[name].append(measure_once(name, settings))
    result: dict[str, float | str] = {
        "mode": "quick" if quick else "full",
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": float(os.cpu_count() or 0),
        "repeats": float(settings.repeats),
        "wrk_args": f"-t1 -c32 -d{settings.wrk_duration_s}s --latency",
        "stream_requests": float(settings.stream_requests),
        "baseline": BASELINE,
    }
    result.update(_versions())
    result.update(summarise(samples))
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the benchmark, and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one short run per server")
    args = parser.parse_args(argv)
    print(json.dumps(run(quick=args.quick), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

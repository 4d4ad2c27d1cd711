"""Benchmark edgeline end to end over HTTP, beside its floor and its peers, in one run.

Scenarios, each through the whole pipeline of ``bench/_e2e_worker.py``
(middleware -> filter -> geo -> router -> cache -> origin):

=========  ======================================  =================
scenario   request                                 answer
=========  ======================================  =================
edge       ``GET /hello/ada``                      200 from the edge
hit        ``GET /obj``                            200 from the cache
blocked    ``GET /search?q=1' OR '1'='1``          403 from the filter
geo        ``GET /`` from DE                       302 to ``/de/``
miss       ``GET /nostore``                        200 from the origin
=========  ======================================  =================

Servers, all started here on free loopback ports and stopped by PID:

* ``edgeline``: the worker above, AsgiAdapter on edgeline's uvicorn setup;
* ``floor``: a bare ASGI handler on the same uvicorn setup (the floor for a
  Python worker; it is also the origin: ``/nostore`` answers ``no-store``);
* ``starlette``: the same edge logic as a Starlette user writes it
  (``bench/_starlette_app.py``), same uvicorn setup;
* ``nginx``: Debian's nginx with ``proxy_cache`` and the same answers in its
  configuration language (the C reference);
* ``hono``: the same worker in JavaScript on Hono, run by workerd
  (``bench/hono/``);
* ``origin``: the origin asked directly for ``/nostore``.

Load: wrk (closed loop, 32 connections, bounded in time), rounds
interleaved so drift is shared; an open-loop run at a fixed rate for the
latency of a hit (``_load.open_loop``); and a sustained mixed load on the
edgeline server while its RSS is sampled. ``--quick`` (under two minutes
with the rest of the suite) asks the peers for a hit only, runs the open
loop on the floor and edgeline only, and samples RSS for 5 s.

Figures (medians over rounds; ``_min``/``_max`` over rounds): for each
server and scenario ``{server}_{scenario}_rps``, ``_p50_ms``, ``_p99_ms``;
``floor_rps``, ``origin_direct_rps``; the targets
``hit_throughput_ratio_to_floor`` (>= 0.7), ``hit_p99_ratio_to_floor``
(<= 1.5; ``hit_p50_ratio_to_floor`` beside it), ``starlette_throughput_ratio``
(edgeline / Starlette on a hit, >= 2), ``hono_throughput_ratio`` and
``nginx_throughput_ratio`` (edgeline / peer on a hit), the same ratios per scenario (``..._ratio_{scenario}``),
open-loop ``openloop_{server}_p50_ms``/``_p99_ms``, and ``rss_*_mb``. Ratios
are computed per round (paired) and their median and spread reported.

Beside requests/s, each closed-loop run records the CPU time its server
spent per request (``{server}_{scenario}_cpu_us``: user + system time of
the server's processes over the run, over the requests wrk completed), and
``hit_cpu_ratio_to_floor`` (floor CPU / edgeline CPU per hit, paired per
round) and ``{peer}_cpu_ratio`` (peer / edgeline). On a machine shared with
other work, requests/s moves with whatever else runs; CPU time per request
moves much less, so these read what the throughput ratio would be with a
core to spare. They are reported beside the targets, not instead of them.
``load_1min_start``/``_end`` give the machine's load around the run.

NOTE: edgeline's uvicorn setup (``edgeline.cli._server``) settles the heap
(``gc.freeze`` after a collection) once the app is built; the floor and the
origin run on the same setup, so it applies to them too. In a closed loop
of 32 connections a request waits behind the others, so the p99 ratio
follows the inverse of the throughput ratio; the open-loop figures at a
fixed rate are the latency a server adds when it is not saturated.
``bench/_profile.py`` breaks a hit down layer by layer, in process or, with
``--http``, as server CPU time per request over HTTP.

It also writes ``bench/results/REPORT.md`` with PNG plots (``_report.py``)
and ``bench/results/e2e_samples.json`` (the distributions behind them).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# NOTE: always inserted: `edgeline bench` removes the entry it added once the
# module is loaded, and run() imports more helpers from here later.
sys.path.insert(0, str(BENCH))

from _load import open_loop, wrk  # noqa: E402
from _nginx import CACHED_LOCATION, nginx_conf  # noqa: E402
from _progress import Progress  # noqa: E402
from cache import _free_port, _stop, _wait_port  # noqa: E402

US = {"cf-blob": '{"country":"US","colo":"IAD"}', "cf-ipcountry": "US"}
DE = {"cf-blob": '{"country":"DE","colo":"FRA"}', "cf-ipcountry": "DE"}
# scenario -> (path, headers, expected status)
SCENARIOS: dict[str, tuple[str, dict[str, str], int]] = {
    "edge": ("/hello/ada", US, 200),
    "hit": ("/obj", US, 200),
    "blocked": ("/search?q=1%27%20OR%20%271%27%3D%271", US, 403),
    "geo": ("/", DE, 302),
    "miss": ("/nostore", US, 200),
}
PEERS = ("edgeline", "starlette", "hono", "nginx")
OPEN_LOOP_RATE = 1000.0

ORIGIN_SERVER = r'''
import asyncio, sys
sys.path.insert(0, {src!r})
from edgeline.cli import _bind, _server
BODY = b"x" * 1024
LENGTH = (b"content-length", str(len(BODY)).encode())
CACHEABLE = [(b"content-type", b"text/plain"), (b"cache-control", b"max-age=3600"), LENGTH]
NO_STORE = [(b"content-type", b"text/plain"), (b"cache-control", b"no-store"), LENGTH]
async def app(scope, receive, send):
    headers = NO_STORE if scope["path"].startswith("/nostore") else CACHEABLE
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    await send({{"type": "http.response.body", "body": BODY}})
async def main():
    await _server(app).serve(sockets=[_bind("127.0.0.1", {port})])
asyncio.run(main())
'''

NGINX_HTTP = """
    map $http_cf_ipcountry $home {{ default ""; DE /de/; FR /fr/; JP /ja/; BR /pt-br/; }}
    map $http_cf_ipcountry $greeting {{ default Hello; DE Hallo; FR Bonjour; ES Hola; IT Ciao;
                                        JP Konnichiwa; BR Ola; NL Hallo; SE Hej; }}
    server {{
        listen 127.0.0.1:{port};
        absolute_redirect off;
        # The signature filter, on the raw request line (nginx does not decode $args).
        if ($request_uri ~* "(union(\\s|%20|\\+)+(all(\\s|%20|\\+)+)?select|(<|%3c)(\\s|%20)*script|(%27|')(\\s|%20|\\+)*or(\\s|%20|\\+)*(%27|')?[0-9]|\\.\\./|/etc/passwd|sleep(\\s|%20)*\\()") {{
            return 403 "Forbidden\\n";
        }}
        location = / {{
            if ($home != "") {{
                add_header Cache-Control private;
                return 302 $home;
            }}
            default_type application/json;
            return 200 '{{"service":"nginx bench worker","country":"$http_cf_ipcountry"}}';
        }}
        location ~ ^/hello/([^/]+)$ {{
            default_type text/plain;
            return 200 "$greeting, $1! (from the edge)\\n";
        }}
{cached_location}
    }}
"""


class Servers:
    """Start every server on a free loopback port; stop each by PID on close."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.skipped: dict[str, str] = {}
        self.env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))

    def _spawn(self, name: str, command: list[str], **kwargs: Any) -> None:
        log = open(self.tmp / f"{name}.log", "wb")  # closed with the process
        self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                **kwargs)

    def start(self) -> None:
        src = str(ROOT / "src")
        for name in ("origin", "edgeline", "starlette", "nginx", "hono"):
            self.ports[name] = _free_port()
        origin = f"http://127.0.0.1:{self.ports['origin']}"
        self._spawn("origin", [sys.executable, "-c",
                               ORIGIN_SERVER.format(src=src, port=self.ports["origin"])],
                    env=self.env)
        self._spawn("edgeline", [sys.executable, str(BENCH / "_e2e_worker.py"),
                                 str(self.ports["edgeline"]), origin], env=self.env)
        self._spawn("starlette", [sys.executable, str(BENCH / "_starlette_app.py"),
                                  str(self.ports["starlette"]), origin], env=self.env)
        self._start_nginx()
        self._start_hono(origin)
        for name, process in self.processes.items():
            try:
                _wait_port(self.ports[name], timeout=20)
            except RuntimeError:
                log = (self.tmp / f"{name}.log").read_text(errors="replace")[-2000:]
                code = process.poll()
                raise RuntimeError(f"{name} did not start (exit {code}): {log}") from None
        self.ports["floor"] = self.ports["origin"]

    def _start_nginx(self) -> None:
        nginx = shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
        if nginx is None:
            self.skipped["nginx"] = "nginx not installed (apt-get install -y nginx-light)"
            del self.ports["nginx"]
            return
        prefix = self.tmp / "nginx"
        prefix.mkdir()
        prefix.chmod(0o755)  # NOTE: nginx workers run as an unprivileged user when started as root
        conf = nginx_conf(prefix, self.ports["origin"], NGINX_HTTP.format(
            port=self.ports["nginx"], cached_location=CACHED_LOCATION))
        self._spawn("nginx", [nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])

    def _start_hono(self, origin: str) -> None:
        workerd = workerd_binary()
        esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
        if workerd is None or not esbuild.exists() or not (ROOT / "node_modules/hono").is_dir():
            self.skipped["hono"] = "npm packages missing (npm ci: hono, workerd)"
            del self.ports["hono"]
            return
        folder = self.tmp / "hono"
        folder.mkdir()
        built = subprocess.run([str(esbuild), str(BENCH / "hono" / "worker.js"), "--bundle",
                                "--format=esm", "--platform=neutral", "--minify",
                                f"--outfile={folder / 'worker.js'}"],
                               capture_output=True, text=True, cwd=ROOT, timeout=60)
        if built.returncode != 0:
            raise RuntimeError(f"esbuild could not bundle bench/hono/worker.js: {built.stderr}")
        shutil.copy(BENCH / "hono" / "config.capnp", folder / "config.capnp")
        self._spawn("hono", [workerd, "serve", "config.capnp", "--socket-addr",
                             f"http=127.0.0.1:{self.ports['hono']}"],
                    cwd=folder, env=dict(os.environ, EDGELINE_BENCH_ORIGIN=origin))

    def close(self) -> None:
        for process in reversed(list(self.processes.values())):
            _stop(process)


def workerd_binary() -> str | None:
    """Return the workerd executable npm installed (the platform package carries it)."""
    for candidate in (ROOT / "node_modules/@cloudflare/workerd-linux-64/bin/workerd",
                      ROOT / "node_modules/workerd/bin/workerd"):
        if candidate.exists():
            return str(candidate)
    return None


def fetch(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` from 127.0.0.1:``port`` without following redirects."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def check(servers: Servers) -> None:
    """Ask every server each scenario twice (filling caches); fail naming what answered wrong."""
    wrong = []
    for server in PEERS:
        if server not in servers.ports:
            continue
        for scenario, (path, headers, expected) in SCENARIOS.items():
            for _ in range(2):
                status, got, _ = fetch(servers.ports[server], path, headers)
            if status != expected:
                wrong.append(f"{server} {scenario} {path}: {status}, expected {expected}")
            if scenario == "geo" and status == 302 and got.get("location") != "/de/":
                wrong.append(f"{server} geo: Location {got.get('location')!r}, expected '/de/'")
    if wrong:
        raise RuntimeError("servers answered wrongly:\n  " + "\n  ".join(wrong))


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of ``pid`` and its children (nginx's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                pids += [int(child) for child in children.read().split()]
    except OSError:
        pass
    for one in pids:
        try:
            with open(f"/proc/{one}/stat") as stat:
                # NOTE: the command name may hold spaces; the fields after it do not.
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (proc(5))
    return total


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(servers: Servers, seconds: float, progress: Progress) -> tuple[dict[str, float],
                                                                          list[list[float]]]:
    """Load the edgeline server with a mixed workload over many cache keys; sample its RSS."""
    pid = servers.processes["edgeline"].pid
    samples: list[list[float]] = []
    stop = threading.Event()
    began = time.monotonic()

    def sample() -> None:
        while not stop.is_set():
            samples.append([round(time.monotonic() - began, 2), _rss_kib(pid) / 1024.0])
            stop.wait(0.25)

    start_mb = _rss_kib(pid) / 1024.0
    progress.step(f"memory: mixed load on edgeline for {seconds:.0f} s, RSS sampled", seconds + 2)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    result = wrk(f"http://127.0.0.1:{servers.ports['edgeline']}/", seconds, headers=US,
                 mixed_span=1_000_000)
    time.sleep(1.0)
    stop.set()
    thread.join()
    end_mb = _rss_kib(pid) / 1024.0
    values = [mb for _, mb in samples]
    from _e2e_worker import CACHE_BYTES

    figures = {
        "rss_start_mb": round(start_mb, 1), "rss_peak_mb": round(max(values), 1),
        "rss_end_mb": round(end_mb, 1),
        # Bounded means flat once the store is full: growth over the last quarter.
        "rss_growth_last_quarter_mb": round(values[-1] - values[3 * len(values) // 4], 1)
        if values else 0.0,
        "memory_load_seconds": seconds, "memory_load_rps": round(result["rps"], 1),
        "memory_load_requests": result["requests"],
        "memory_cache_capacity_mb": CACHE_BYTES / 2**20,
    }
    return figures, samples


def _summarize(values: list[float], digits: int = 3) -> dict[str, float]:
    out = {"": round(statistics.median(values), digits)}
    if len(values) > 1:
        out["_min"] = round(min(values), digits)
        out["_max"] = round(max(values), digits)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """Run the end-to-end suite; quick mode keeps it under two minutes."""
    sys.path.insert(0, str(ROOT / "src"))
    from _e2e_worker import implementations

    seconds = 1.0 if quick else 5.0
    rounds = 2 if quick else 3
    open_seconds = 2.0 if quick else 5.0
    memory_seconds = 5.0 if quick else 30.0
    # NOTE: a quick run measures the open loop on the floor and edgeline only
    # (the pair the targets compare), to stay within two minutes.
    open_servers = ("floor", "edgeline") if quick else ("floor", *PEERS)
    targets: list[tuple[str, str]] = [("floor", "hit"), ("origin", "miss")]
    # NOTE: a quick run asks the peers for a hit only (the targets' scenario),
    # to stay within two minutes; edgeline still serves every scenario.
    targets += [(server, scenario) for scenario in SCENARIOS for server in PEERS
                if not quick or server == "edgeline" or scenario == "hit"]
    total = (rounds * len(targets) * (seconds + 0.3) + len(open_servers) * (open_seconds + 0.5)
             + memory_seconds + 10)
    progress = Progress("e2e", total)
    tmp = Path(tempfile.mkdtemp(prefix="edgeline-bench-e2e-"))
    tmp.chmod(0o755)
    servers = Servers(tmp)
    raw: dict[str, list[dict[str, Any]]] = {}
    open_raw: dict[str, list[dict[str, Any]]] = {}
    figures: dict[str, Any] = {"load_1min_start": round(os.getloadavg()[0], 2)}
    try:
        progress.step("starting servers (origin, edgeline, starlette, nginx, hono)", 5)
        servers.start()
        targets = [(s, sc) for s, sc in targets if s in servers.ports]
        progress.step("checking every answer, filling caches", 2)
        check(servers)
        for server in servers.ports:  # warm: JITs, pools, code paths
            if server != "floor":
                wrk_path = "/obj" if server != "origin" else "/nostore"
                wrk(f"http://127.0.0.1:{servers.ports[server]}{wrk_path}", 1, headers=US)
        for round_ in range(rounds):
            for server, scenario in targets:
                path, headers, _ = SCENARIOS[scenario]
                progress.step(f"round {round_ + 1}/{rounds}: wrk {server} {scenario}",
                              seconds + 0.3)
                pid = servers.processes["origin" if server == "floor" else server].pid
                cpu_before = _cpu_seconds(pid)
                result = wrk(f"http://127.0.0.1:{servers.ports[server]}{path}", seconds,
                             headers=headers)
                result["cpu_us"] = ((_cpu_seconds(pid) - cpu_before) * 1e6
                                    / max(1, result["requests"]))
                raw.setdefault(f"{server}_{scenario}", []).append(result)
        for server in open_servers:
            if server not in servers.ports:
                continue
            progress.step(f"open loop: {server} hit at {OPEN_LOOP_RATE:.0f}/s", open_seconds + 0.5)
            path, headers, _ = SCENARIOS["hit"]
            open_raw[server] = [open_loop(servers.ports[server], path, rate=OPEN_LOOP_RATE,
                                          seconds=open_seconds, headers=headers)]
        memory_figures, rss = memory(servers, memory_seconds, progress)
        figures.update(memory_figures)
    finally:
        servers.close()
        shutil.rmtree(tmp, ignore_errors=True)

    figures["load_1min_end"] = round(os.getloadavg()[0], 2)
    figures.update(_figures(raw, open_raw, rounds))
    figures.update(implementations())
    figures.update({"load_seconds_per_run": seconds, "rounds": rounds,
                    "wrk_connections": 32, "open_loop_rate": OPEN_LOOP_RATE,
                    "open_loop_seconds": open_seconds})
    for name, reason in servers.skipped.items():
        figures[f"{name}_skipped"] = reason
    samples = {"closed": {k: _median_run(v) for k, v in raw.items()},
               "open": {k: v[0] for k, v in open_raw.items()}, "rss": rss,
               "rounds": {k: [r["rps"] for r in v] for k, v in raw.items()}}
    progress.step("writing the report", 0)
    import _report

    written = _report.write(BENCH / "results", figures, samples, quick=quick)
    progress.finish(f"report: {written.relative_to(ROOT)}")
    return figures


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["rps"])
    return ordered[len(ordered) // 2]


def _figures(raw: dict[str, list[dict[str, Any]]], open_raw: dict[str, list[dict[str, Any]]],
             rounds: int) -> dict[str, float]:
    out: dict[str, float] = {}

    def put(name: str, values: list[float], digits: int = 3) -> None:
        for suffix, value in _summarize(values, digits).items():
            out[name + suffix] = value

    for key, runs in raw.items():
        name = {"floor_hit": "floor", "origin_miss": "origin_direct"}.get(key, key)
        put(f"{name}_rps", [r["rps"] for r in runs], 1)
        put(f"{name}_p50_ms", [r["cdf_ms"][50.0] for r in runs])
        put(f"{name}_p99_ms", [r["cdf_ms"][99.0] for r in runs])
        put(f"{name}_cpu_us", [r["cpu_us"] for r in runs], 1)
        errors = sum(r["socket_errors"] for r in runs)
        if errors:
            out[f"{name}_socket_errors"] = errors

    def paired(a: str, b: str, field: str = "rps", point: float | None = None) -> list[float]:
        if a not in raw or b not in raw:
            return []
        pairs = zip(raw[a], raw[b], strict=True)
        if point is None:
            return [x[field] / y[field] for x, y in pairs if y[field]]
        return [x["cdf_ms"][point] / y["cdf_ms"][point] for x, y in pairs if y["cdf_ms"][point]]

    def ratio(name: str, values: list[float]) -> None:
        if values:
            put(name, values)

    ratio("hit_throughput_ratio_to_floor", paired("edgeline_hit", "floor_hit"))
    ratio("hit_p99_ratio_to_floor", paired("edgeline_hit", "floor_hit", point=99.0))
    # Beside the p99: in a saturated closed loop the median moves with throughput too.
    ratio("hit_p50_ratio_to_floor", paired("edgeline_hit", "floor_hit", point=50.0))
    # CPU per request the other way round (floor / edgeline), so > 1 reads as above.
    ratio("hit_cpu_ratio_to_floor", paired("floor_hit", "edgeline_hit", field="cpu_us"))
    for peer in ("starlette", "hono", "nginx"):
        ratio(f"{peer}_cpu_ratio", paired(f"{peer}_hit", "edgeline_hit", field="cpu_us"))
    for scenario in SCENARIOS:
        ratio(f"{scenario}_throughput_ratio_to_floor", paired(f"edgeline_{scenario}", "floor_hit"))
        for peer in ("starlette", "hono", "nginx"):
            ratio(f"{peer}_throughput_ratio_{scenario}",
                  paired(f"edgeline_{scenario}", f"{peer}_{scenario}"))
            ratio(f"{peer}_p99_ratio_{scenario}",
                  paired(f"edgeline_{scenario}", f"{peer}_{scenario}", point=99.0))
    for peer in ("starlette", "hono", "nginx"):
        for suffix in ("", "_min", "_max"):
            if f"{peer}_throughput_ratio_hit{suffix}" in out:
                out[f"{peer}_throughput_ratio{suffix}"] = out[f"{peer}_throughput_ratio_hit{suffix}"]
            if f"{peer}_p99_ratio_hit{suffix}" in out:
                out[f"{peer}_p99_ratio{suffix}"] = out[f"{peer}_p99_ratio_hit{suffix}"]
    ratio("miss_throughput_ratio_to_origin", paired("edgeline_miss", "origin_miss"))
    for server, runs in open_raw.items():
        run_ = runs[0]
        out[f"openloop_{server}_p50_ms"] = round(run_["cdf_ms"][50.0], 3)
        out[f"openloop_{server}_p99_ms"] = round(run_["cdf_ms"][99.0], 3)
        out[f"openloop_{server}_p999_ms"] = round(run_["cdf_ms"][99.9], 3)
        if run_["errors"]:
            out[f"openloop_{server}_errors"] = run_["errors"]
    if "edgeline" in open_raw and "floor" in open_raw:
        out["openloop_hit_p99_ratio_to_floor"] = round(
            out["openloop_edgeline_p99_ms"] / out["openloop_floor_p99_ms"], 3)
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, sort_keys=True))

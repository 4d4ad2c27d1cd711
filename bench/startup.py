"""Cold start: import + init of a worker in a fresh interpreter, on Pyodide and on CPython.

Three workers with comparable routes, measured in the same run:

* ``floor``: a worker that only returns a response (the SDK and nothing else);
* ``edgeline``: the example worker (worker/entry.py + worker/app.py);
* ``starlette``: a Starlette app with the example's routes, served through
  the Workers SDK's own ASGI adapter (``workers.asgi``), as Python users
  deploy Starlette/FastAPI on Workers.

Under Pyodide (tests/pyodide/harness.mjs: real Pyodide under Node, the real
``workers-runtime-sdk``), every sample is a fresh interpreter: boot, install
the wheels, then time the import of the worker's entry module plus its first
request (``GET /hello/ada``) through the platform path. Interpreter boot is
the same for every worker and is reported on its own.

Under CPython every sample is a fresh ``python`` process that times the
import of the app module plus one request through the app's own interface
(edgeline ``App.handle``; the ASGI callable for Starlette; a function call
for the floor): there is no Workers SDK on CPython. All of them read
bytecode from one cache of the run's own, warmed by an uncounted first round
(before, with ``PYTHONDONTWRITEBYTECODE`` set as on these machines, edgeline
compiled its sources on every run while Starlette loaded its installed
bytecode). ``cpython_init_configured_ms`` is the example worker again with
``config/edge.toml`` in its ``EDGE_CONFIG`` KV, so its first request loads
and compiles the configuration (rules, managed rules, routes, origins, geo)
and passes the filters; Starlette has nothing to compare it with.

Figures (milliseconds, medians with ``_min``/``_max``):
``pyodide_init_ms`` / ``cpython_init_ms`` (edgeline), the same for
``floor_*`` and ``starlette_*`` (the CPython floor is a bare function call,
so no ratio is taken to it); ``pyodide_ratio_to_starlette`` (target at most
0.5), ``pyodide_ratio_to_starlette_above_floor`` (what each framework adds
over the floor), ``pyodide_ratio_to_floor``, ``cpython_ratio_to_starlette``;
``pyodide_boot_ms``; ``bundle_kib`` (the ``wrangler deploy --dry-run`` output).
``*_pyodide_init_cpu_ms`` and ``pyodide_cpu_ratio_to_starlette`` are the
same spans in CPU time of the Node process (V8's helper threads included):
on a machine whose cores other processes share, wall time grows with their
load and CPU time much less, so the CPU ratio is the steadier one.

Snapshot figures (added, the figures above unchanged)
    ``pyodide_init_ms`` counts the SDK's import and the worker's whole top
    level as part of every cold start. That is not how Cloudflare starts a
    Python Worker that has a dedicated memory snapshot. workerd's
    ``src/workerd/io/compatibility-date.capnp`` defines the flag
    ``python_dedicated_snapshot``: "Enables the generation of dedicated
    snapshots on Python Worker upload ... The snapshot will be taken after
    the top-level execution of the Worker"; it is implied by
    ``python_workers_20250116`` from compatibility date 2025-10-16 (and that
    flag by ``python_workers`` from 2025-09-29). workerd's
    ``src/pyodide/internal/snapshot.ts`` collects it after the top level has
    run and, on a cold start, restores the linear memory before the first
    request (``maybeRestoreSnapshot``). Cloudflare's blog ("Python Workers
    redux: fast cold starts, packages, and a uv-first workflow") describes
    the same dedicated snapshots; the 2024 launch post already imported the
    worker's packages at deploy time into a snapshot. So with a dedicated
    snapshot the cold start a client sees is restore + first request, and
    the SDK and every top-level import are paid once, at deploy.

    The ``*_pyodide_snapshot_*`` figures model that with Pyodide 0.28's own
    memory snapshot API (``loadPyodide({_makeSnapshot: true})``,
    ``makeMemorySnapshot``, ``loadPyodide({_loadSnapshot})``): per sample
    and worker, a fresh interpreter imports the entry module, its memory is
    snapshotted, a new interpreter is restored from it (timed:
    ``*_snapshot_restore_ms``), the files are mounted again, and the first
    request is timed (``*_snapshot_request_ms``); ``*_snapshot_init_ms`` is
    their sum and ``*_snapshot_mib`` the snapshot's size. Ratios:
    ``pyodide_snapshot_ratio_to_starlette``, ``pyodide_snapshot_ratio_to_floor``
    and ``pyodide_snapshot_request_ratio_to_starlette`` (the part a framework
    controls; ``*_snapshot_request_cpu_ms`` is its CPU time). Under Node the restore also instantiates the WebAssembly
    module and loads the standard library archive: the same work for every
    worker (only the copied memory grows with what the top level imported),
    and not necessarily what workerd pays. The repository's ``wrangler.toml`` names the flag
    (its compatibility date, 2025-10-01, would not imply it): docs/deploy.md. A first round of snapshots is run and not counted (Node warming up).

Usage: ``edgeline bench startup [--quick]`` or ``python bench/startup.py [--quick]``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.pyodide.runner import (  # noqa: E402 - after the path is set
    MICROPIP,
    SDK,
    PyodideHarness,
    fetch_wheels,
    unavailable_reason,
    unpack_wheels,
    vendor_modules,
)

# Pure-Python wheels Starlette needs, pinned exactly.
STARLETTE = ["starlette==1.10.0", "anyio==4.16.0", "sniffio==1.3.1", "idna==3.20",
             "typing_extensions==4.16.0"]

FLOOR_ENTRY = '''
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")
'''

# The example worker's routes, written the Starlette way.
STARLETTE_APP = '''
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

GREETINGS = {"DE": "Hallo", "FR": "Bonjour", "ES": "Hola", "IT": "Ciao", "JP": "こんにちは",
             "BR": "Olá", "NL": "Hallo", "SE": "Hej"}


def country(request):
    return request.headers.get("cf-ipcountry")


async def index(request):
    return JSONResponse({"service": "starlette example", "you_are_in": country(request)})


async def hello(request):
    greeting = GREETINGS.get(country(request) or "", "Hello")
    return PlainTextResponse(f"{greeting}, {request.path_params['name']}! (from the edge)\\n")


async def geo(request):
    return JSONResponse({"country": country(request)})


async def visits(request):
    kv = request.scope["env"].EDGE_STATE
    return JSONResponse({"visits": int(await kv.get("visits") or 0)})


async def api(request):
    return Response(status_code=502)


app = Starlette(routes=[
    Route("/", index), Route("/hello/{name}", hello), Route("/geo", geo),
    Route("/visits", visits), Route("/api/{rest:path}", api,
                                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
])
'''

STARLETTE_ENTRY = '''
from workers.asgi import entrypoint

from starlette_app import app

Default = entrypoint(app)
'''

# Runs in a fresh CPython: argv[1] kind, argv[2] folder holding the app module,
# argv[3] (kind "configured") a file holding the configuration document.
CPYTHON_PROBE = r'''
import json, sys, time
kind, folder = sys.argv[1], sys.argv[2]
document = open(sys.argv[3]).read() if kind == "configured" else None
sys.path.insert(0, folder)
start = time.perf_counter()
if kind == "configured":
    import asyncio
    import app as example
    from edgeline import Context, Request

    class KV:
        def __init__(self, values):
            self.values = values
        async def get(self, key, *args, **kwargs):
            return self.values.get(key)
        async def put(self, key, value, *args, **kwargs):
            self.values[key] = value

    env = {"EDGE_CONFIG": KV({"edge-config": document}), "EDGE_STATE": KV({})}
    request = Request("GET", "https://edge.example/hello/ada",
                      {"host": "edge.example", "user-agent": "Mozilla/5.0", "accept": "text/html"},
                      cf={"country": "DE"})
    response = asyncio.run(example.app.handle(request, Context(request, env=env)))
    assert response.status == 200 and example.plane.loads == 1, (response.status,
                                                                example.plane.error)
elif kind == "floor":
    def handle():
        return b"ok"
    handle()
elif kind == "edgeline":
    import asyncio
    from app import app
    from edgeline import Context, Request
    request = Request("GET", "http://edge.example/hello/ada", cf={"country": "DE"})
    response = asyncio.run(app.handle(request, Context(request)))
    assert response.status == 200, response.status
else:
    import asyncio
    from starlette_app import app
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "https", "path": "/hello/ada", "raw_path": b"/hello/ada",
             "query_string": b"", "root_path": "", "headers": [(b"host", b"edge.example")],
             "client": ("127.0.0.1", 1), "server": ("edge.example", 443)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200, sent[0]
print(json.dumps({"init_ms": (time.perf_counter() - start) * 1000.0}))
'''


def _workers(base: Path) -> dict[str, Path]:
    """Write the three workers into ``base``; return their folders."""
    floor = base / "floor"
    floor.mkdir()
    (floor / "entry.py").write_text(FLOOR_ENTRY)
    edgeline = base / "edgeline"
    shutil.copytree(ROOT / "worker", edgeline, ignore=shutil.ignore_patterns("__pycache__"))
    starlette = base / "starlette"
    starlette.mkdir()
    (starlette / "entry.py").write_text(STARLETTE_ENTRY)
    (starlette / "starlette_app.py").write_text(textwrap.dedent(STARLETTE_APP))
    return {"floor": floor, "edgeline": edgeline, "starlette": starlette}


def _summary(prefix: str, values: list[float]) -> dict[str, float]:
    return {prefix: round(statistics.median(values), 3), f"{prefix}_min": round(min(values), 3),
            f"{prefix}_max": round(max(values), 3)}


def _pyodide(workers: dict[str, Path], modules: Path, samples: int) -> dict[str, Any]:
    micropip, sdk, *starlette = fetch_wheels([MICROPIP, SDK, *STARLETTE])
    harness = PyodideHarness()
    inits: dict[str, list[float]] = {kind: [] for kind in workers}
    imports: dict[str, list[float]] = {kind: [] for kind in workers}
    cpus: dict[str, list[float]] = {kind: [] for kind in workers}
    boots: list[float] = []
    try:
        for _ in range(samples):
            # NOTE: interleaved, so that drift of the machine is shared by all three.
            for kind, folder in workers.items():
                booted = harness.boot(wheels=[sdk, *starlette], micropip=micropip,
                                      python_modules=modules)
                boots.append(booted["boot_ms"])
                loaded = harness.load(folder, kv=["EDGE_STATE"])
                reply = harness.fetch("GET", "https://edge.example/hello/ada",
                                      headers=[("cf-ipcountry", "DE")], cf={"country": "DE"})
                if reply.status != 200:
                    raise RuntimeError(f"{kind} answered {reply.status}: {reply.error}\n{harness.log}")
                imports[kind].append(loaded["import_ms"])
                inits[kind].append(loaded["import_ms"] + reply.total_ms)
                cpus[kind].append(loaded["import_cpu_ms"] + reply.total_cpu_ms)
    finally:
        harness.close()
    figures: dict[str, Any] = {}
    for kind in workers:
        name = "pyodide_init_ms" if kind == "edgeline" else f"{kind}_pyodide_init_ms"
        figures.update(_summary(name, inits[kind]))
        figures.update(_summary(name.replace("init", "import"), imports[kind]))
        figures.update(_summary(name.replace("init_ms", "init_cpu_ms"), cpus[kind]))
    figures.update(_summary("pyodide_boot_ms", boots))
    return figures


def _pyodide_snapshot(workers: dict[str, Path], modules: Path, site: Path,
                      samples: int) -> dict[str, Any]:
    """Cold start as a dedicated memory snapshot makes it: restore, then the first request."""
    harness = PyodideHarness()
    restores: dict[str, list[float]] = {kind: [] for kind in workers}
    requests: dict[str, list[float]] = {kind: [] for kind in workers}
    request_cpus: dict[str, list[float]] = {kind: [] for kind in workers}
    sizes: dict[str, int] = {}
    try:
        # NOTE: round 0 is not counted: the first interpreters of a Node process
        # pay for V8 warming up its own code, whichever worker comes first.
        for round_ in range(samples + 1):
            for kind, folder in workers.items():
                made = harness.snapshot(folder, site=site, python_modules=modules,
                                        kv=["EDGE_STATE"])
                reply = harness.fetch("GET", "https://edge.example/hello/ada",
                                      headers=[("cf-ipcountry", "DE")], cf={"country": "DE"})
                if reply.status != 200:
                    raise RuntimeError(f"{kind} (snapshot) answered {reply.status}: "
                                       f"{reply.error}\n{harness.log}")
                if round_ == 0:
                    continue
                restores[kind].append(made["restore_ms"])
                requests[kind].append(reply.total_ms)
                request_cpus[kind].append(reply.total_cpu_ms)
                sizes[kind] = made["snapshot_bytes"]
    finally:
        harness.close()
    figures: dict[str, Any] = {}
    for kind in workers:
        prefix = "pyodide_snapshot" if kind == "edgeline" else f"{kind}_pyodide_snapshot"
        figures.update(_summary(f"{prefix}_init_ms", [
            restore + request for restore, request in zip(restores[kind], requests[kind],
                                                          strict=True)]))
        figures.update(_summary(f"{prefix}_restore_ms", restores[kind]))
        figures.update(_summary(f"{prefix}_request_ms", requests[kind]))
        figures.update(_summary(f"{prefix}_request_cpu_ms", request_cpus[kind]))
        figures[f"{prefix}_mib"] = round(sizes[kind] / (1 << 20), 1)
    return figures


def _cpython(workers: dict[str, Path], samples: int, base: Path) -> dict[str, Any]:
    from msgspec import json as msgspec_json

    from edgeline.config import load_file

    document = base / "edge-config.json"
    document.write_bytes(msgspec_json.encode(load_file(str(ROOT / "config" / "edge.toml"))))
    runs = {"floor": workers["floor"], "edgeline": workers["edgeline"],
            "starlette": workers["starlette"], "configured": workers["edgeline"]}
    # NOTE: every process reads and writes bytecode in one cache of its own, warmed
    # by an uncounted first round, so that no app compiles its source while another
    # loads installed bytecode (with PYTHONDONTWRITEBYTECODE set, edgeline's
    # sources would be compiled on every run and Starlette's would not).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    inits: dict[str, list[float]] = {kind: [] for kind in runs}
    for round_ in range(samples + 1):
        for kind, folder in runs.items():
            done = subprocess.run(
                [sys.executable, "-c", CPYTHON_PROBE, kind, str(folder), str(document)],
                capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
            if done.returncode != 0:
                raise RuntimeError(f"CPython probe {kind} failed:\n{done.stderr[-2000:]}")
            if round_:
                inits[kind].append(json.loads(done.stdout.strip().splitlines()[-1])["init_ms"])
    figures: dict[str, Any] = {}
    names = {"edgeline": "cpython_init_ms", "configured": "cpython_init_configured_ms"}
    for kind in runs:
        figures.update(_summary(names.get(kind, f"{kind}_cpython_init_ms"), inits[kind]))
    return figures


def _bundle_kib(base: Path) -> float | None:
    from tests.test_packaging import WRANGLER, build_bundle

    if not WRANGLER.exists():
        return None
    project = base / "bundle"
    shutil.copytree(ROOT / "worker", project / "worker",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "wrangler.toml", project / "wrangler.toml")
    done = build_bundle(project, project / "dist")
    if done.returncode != 0:
        raise RuntimeError(f"wrangler failed:\n{done.stderr[-2000:]}")
    size = sum(p.stat().st_size for p in (project / "dist").rglob("*") if p.is_file())
    return round(size / 1024, 1)


def run(quick: bool = False) -> dict[str, Any]:
    """Measure cold start on Pyodide and CPython; return flat named figures."""
    samples = 3 if quick else 7
    base = Path(tempfile.mkdtemp(prefix="edgeline-startup-"))
    try:
        workers = _workers(base)
        figures: dict[str, Any] = {"samples": samples}
        figures.update(_cpython(workers, samples, base))
        reason = unavailable_reason()
        if reason is None:
            modules = vendor_modules(base / "python_modules")
            figures.update(_pyodide(workers, modules, samples))
            micropip, sdk, *starlette = fetch_wheels([MICROPIP, SDK, *STARLETTE])
            site = unpack_wheels([sdk, *starlette], base / "site")
            # NOTE: --quick takes one counted snapshot sample, to stay within two minutes.
            figures.update(_pyodide_snapshot(workers, modules, site, 1 if quick else samples))
            snapshot = figures["pyodide_snapshot_init_ms"]
            figures["pyodide_snapshot_ratio_to_starlette"] = round(
                snapshot / figures["starlette_pyodide_snapshot_init_ms"], 3)
            figures["pyodide_snapshot_ratio_to_floor"] = round(
                snapshot / figures["floor_pyodide_snapshot_init_ms"], 3)
            figures["pyodide_snapshot_request_ratio_to_starlette"] = round(
                figures["pyodide_snapshot_request_ms"]
                / figures["starlette_pyodide_snapshot_request_ms"], 3)
            figures["pyodide_cpu_ratio_to_starlette"] = round(
                figures["pyodide_init_cpu_ms"] / figures["starlette_pyodide_init_cpu_ms"], 3)
            edgeline = figures["pyodide_init_ms"]
            starlette = figures["starlette_pyodide_init_ms"]
            floor = figures["floor_pyodide_init_ms"]
            figures["pyodide_ratio_to_starlette"] = round(edgeline / starlette, 3)
            figures["pyodide_ratio_to_floor"] = round(edgeline / floor, 3)
            if starlette > floor:
                figures["pyodide_ratio_to_starlette_above_floor"] = round(
                    max(edgeline - floor, 0.0) / (starlette - floor), 3)
        else:
            print(f"bench startup: Pyodide figures skipped: {reason}", file=sys.stderr)
        figures["cpython_ratio_to_starlette"] = round(
            figures["cpython_init_ms"] / figures["starlette_cpython_init_ms"], 3)
        kib = _bundle_kib(base)
        if kib is not None:
            figures["bundle_kib"] = kib
        return figures
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, sort_keys=True))

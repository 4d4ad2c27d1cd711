"""The Cloudflare adapter's Pyodide code path, run in real Pyodide against Node's web APIs.

The conformance suite drives whole requests; these cases reach the edges a
request rarely hits: a stream that fails or is cancelled mid-body, ``cf``
with nested objects, a fetch that cannot connect, what the core imports,
and a worker served from a memory snapshot of its top level.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.pyodide.runner import (
    ROOT,
    SDK,
    HarnessError,
    PyodideHarness,
    fetch_wheels,
    require_harness,
    unpack_wheels,
    vendor_modules,
)


@pytest.fixture(scope="module")
def harness() -> PyodideHarness:
    return require_harness()


def test_runs_the_pinned_pyodide_with_python_313(harness: PyodideHarness) -> None:
    version = harness.run("import sys, pyodide; [pyodide.__version__, sys.version_info[:2]]")
    package = json.loads((ROOT / "node_modules" / "pyodide" / "package.json").read_text())
    assert version == [package["version"], [3, 13]]


def test_the_real_sdk_is_imported_not_the_emulator_standin(harness: PyodideHarness) -> None:
    found = harness.run(
        "import workers, importlib.metadata as md\n"
        "[workers.__file__, md.version('workers-runtime-sdk')]")
    assert found == ["/lib/python3.13/site-packages/workers/__init__.py", "1.9.5"]


def test_platform_stream_delivers_chunks_then_closes(harness: PyodideHarness) -> None:
    chunks = harness.run("""
from edgeline.adapters.cloudflare import _platform_stream

async def three():
    for part in (b"a", b"bc", b"def"):
        yield part

reader = _platform_stream(three()).getReader()
seen = []
while True:
    result = await reader.read()
    if result.done:
        break
    seen.append(result.value.to_bytes().decode())
seen
""")
    assert chunks == ["a", "bc", "def"]


def test_platform_stream_error_reaches_the_js_reader(harness: PyodideHarness) -> None:
    outcome = harness.run("""
from edgeline.adapters.cloudflare import _platform_stream

async def failing():
    yield b"first"
    raise ValueError("origin went away")

reader = _platform_stream(failing()).getReader()
first = (await reader.read()).value.to_bytes().decode()
try:
    await reader.read()
    error = None
except Exception as exc:
    error = str(exc)
[first, error]
""")
    assert outcome[0] == "first"
    assert outcome[1] is not None and "origin went away" in outcome[1]


def test_platform_stream_cancel_closes_the_python_iterator(harness: PyodideHarness) -> None:
    closed = harness.run("""
from edgeline.adapters.cloudflare import _platform_stream

closed = []

async def endless():
    try:
        while True:
            yield b"tick"
    finally:
        closed.append("closed")

reader = _platform_stream(endless()).getReader()
await reader.read()
await reader.cancel("client disconnected")
closed
""")
    assert closed == ["closed"]


def test_drain_reads_a_js_stream_as_bytes(harness: PyodideHarness) -> None:
    data = harness.run("""
from js import Response
from edgeline.adapters.cloudflare import _drain

parts = [part async for part in _drain(Response.new("hello, stream").body)]
[type(parts[0]).__name__, b"".join(parts).decode()]
""")
    assert data == ["bytes", "hello, stream"]


def test_cf_converts_nested_objects_to_python(harness: PyodideHarness) -> None:
    cf = harness.run("""
from js import JSON
from edgeline.adapters.cloudflare import _cf_dict

cf = _cf_dict(JSON.parse('{"country": "DE", "asn": 3320, "botManagement": {"score": 30}}'))
[type(cf).__name__, cf]
""")
    assert cf == ["dict", {"country": "DE", "asn": 3320, "botManagement": {"score": 30}}]


def test_js_headers_become_core_headers(harness: PyodideHarness) -> None:
    pairs = harness.run("""
from js import Headers
from edgeline.adapters.cloudflare import _headers_from_platform

js = Headers.new()
js.append("X-Multi", "a")
js.append("x-multi", "b")
js.append("Set-Cookie", "a=1")
js.append("Set-Cookie", "b=2")
_headers_from_platform(js).raw
""")
    # Node, like workerd, joins repeated fields and keeps Set-Cookie apart.
    assert pairs == [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-multi", "a, b"]]


def test_fetch_transport_failure_is_an_origin_error(harness: PyodideHarness) -> None:
    message = harness.run("""
from edgeline import Request
from edgeline.adapters.cloudflare import FetchTransport
from edgeline.errors import OriginError

try:
    await FetchTransport().handle(Request("GET", "http://127.0.0.1:1/nothing"))
    message = None
except OriginError as exc:
    message = str(exc)
message
""")
    assert message is not None and message.startswith("fetch to http://127.0.0.1:1 failed")


def test_core_imports_no_server_side_packages(harness: PyodideHarness) -> None:
    loaded = harness.run("""
import sys
import edgeline, edgeline.app, edgeline.origin, edgeline.adapters.cloudflare
sorted({name.partition(".")[0] for name in sys.modules}
       & {"httpx", "anyio", "uvicorn", "httptools", "h11", "sniffio", "msgspec"})
""")
    assert loaded == []


def test_emulator_is_not_shipped(harness: PyodideHarness) -> None:
    found = harness.run("""
import importlib.util
[importlib.util.find_spec(name) is not None
 for name in ("edgeline.emulator", "edgeline.cli", "edgeline.demo")]
""")
    assert found == [False, False, False]


def test_msgspec_is_in_pyodides_lock_but_not_offline(harness: PyodideHarness) -> None:
    """Document the gap: msgspec ships with Pyodide 0.28 but only from its CDN."""
    lock = json.loads((ROOT / "node_modules" / "pyodide" / "pyodide-lock.json").read_text())
    entry = lock["packages"]["msgspec"]
    assert entry["file_name"].endswith("-cp313-cp313-pyodide_2025_0_wasm32.whl")
    assert not (ROOT / "node_modules" / "pyodide" / entry["file_name"]).exists()
    missing = harness.run("""
import importlib.util
importlib.util.find_spec("msgspec") is None
""")
    assert missing is True


def test_workers_cache_over_a_platform_cache(harness: PyodideHarness) -> None:
    # A Cache-API-shaped JS object (Node has no caches.default): what crosses the
    # boundary is what crosses it on Workers: web Requests and Responses, undefined.
    outcome = harness.run("""
from pyodide.code import run_js
from edgeline.adapters.cloudflare import WorkersCache
from edgeline.cache import CacheApiStore, Entry, EntryFacts

platform = run_js('''(() => { const kept = new Map(); return {
  async match(request) { const found = kept.get(request.url); return found ? found.clone() : undefined; },
  async put(request, response) {
    kept.set(request.url, new Response(await response.arrayBuffer(),
                                       {status: response.status, headers: response.headers})); },
  async delete(request) { return kept.delete(request.url); } }; })()''')
store = CacheApiStore(WorkersCache(platform))
entry = Entry(200, [("cache-control", "max-age=60"), ("etag", '"1"')], b"body" * 100,
              initial_age=0.0, response_time=1.0, request_time=1.0, facts=EntryFacts(),
              tags=("t",))
await store.put("example.com/a", entry, 30)
got = await store.get("example.com/a")
missing = await store.get("example.com/b")
deleted = await store.delete("example.com/a")
[got.body == b"body" * 100, got.etag, got.tags, missing is None, deleted,
 await store.get("example.com/a") is None]
""")
    assert outcome == [True, '"1"', ["t"], True, True, True]


@pytest.fixture(scope="module")
def snapshot_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_harness()  # skip (or fail on CI) where Pyodide cannot run
    base = tmp_path_factory.mktemp("snapshot")
    (sdk,) = fetch_wheels([SDK])
    worker = base / "worker"
    shutil.copytree(ROOT / "worker", worker, ignore=shutil.ignore_patterns("__pycache__"))
    return {"site": unpack_wheels([sdk], base / "site"),
            "modules": vendor_modules(base / "python_modules"), "worker": worker}


def test_example_worker_serves_from_a_memory_snapshot(snapshot_files: dict[str, Path]) -> None:
    """Top-level state survives the snapshot; modules first imported after it still load."""
    harness = PyodideHarness()
    try:
        made = harness.snapshot(snapshot_files["worker"], site=snapshot_files["site"],
                                python_modules=snapshot_files["modules"], kv=["EDGE_STATE"])
        assert made["snapshot_bytes"] > 1 << 20
        # Imported by the worker's top level, so restored from memory; the auth
        # module is not, so it must come from the files mounted again.
        before = harness.run(
            "import sys; [name in sys.modules for name in "
            "('app', 'edgeline.filtering._engine', 'edgeline.filtering._auth')]")
        assert before == [True, True, False]
        reply = harness.fetch("GET", "https://edge.example/hello/ada",
                              headers=[("cf-ipcountry", "DE")], cf={"country": "DE"})
        assert (reply.status, reply.body) == (200, b"Hallo, ada! (from the edge)\n")
        # Nor did that first request (no configuration in KV) need what a configuration,
        # a uuid route or the admin route brings in.
        loaded = harness.run(
            "import sys; [name for name in ('edgeline.filtering._apply', "
            "'edgeline.filtering._ruleset', 'edgeline.filtering._view', "
            "'edgeline.personalize._plan', 'edgeline.personalize._stage', "
            "'edgeline.config._compile', 'uuid', 'hmac', 'secrets') if name in sys.modules]")
        assert loaded == []
        assert harness.run("import edgeline.filtering._auth as auth; auth.__name__") \
            == "edgeline.filtering._auth"
    finally:
        harness.close()


def test_snapshot_refuses_a_top_level_reference_to_a_js_object(
        snapshot_files: dict[str, Path], tmp_path: Path) -> None:
    """As on Workers: a JS object held at top level cannot go into the snapshot."""
    worker = tmp_path / "holds_js"
    worker.mkdir()
    (worker / "entry.py").write_text(
        "from _pyodide_entrypoint_helper import cloudflareWorkersModule as held\n")
    harness = PyodideHarness()
    try:
        with pytest.raises(HarnessError, match="cannot snapshot a reference to the JS value"):
            harness.snapshot(worker, site=snapshot_files["site"], python_modules=None)
    finally:
        harness.close()
